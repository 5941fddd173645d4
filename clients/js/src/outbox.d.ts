// outbox.d.ts: declarations of outbox.js (what the package exports of it).

/** A new client_id (a random UUID). */
export declare function newClientId(): string;

/** An unacknowledged send, as `ChatClient.pending()` lists it. */
export interface PendingSend {
  clientId: string;
  room: string;
  body: string;
  /** queued: sent when connected (again); sent: on the wire, waiting for the ack. */
  state: 'queued' | 'sent';
  /** Times it was refused as rate limited (or by a server failure) and queued again. */
  retries: number;
}
