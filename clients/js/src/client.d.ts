// client.d.ts: declarations of client.js, the ChatClient and its events.

import type { ChatApi, TokenSource } from './api.js';
import type { BackoffOptions } from './backoff.js';
import type { ChatError } from './errors.js';
import type {
  AckFrame,
  DeletedFrame,
  EditedFrame,
  HelloFrame,
  HistoryFrame,
  JoinedFrame,
  LeftFrame,
  MemberJoinedFrame,
  MemberLeftFrame,
  MessageFrame,
  PresenceFrame,
  RoomDeletedFrame,
  ServerFrame,
  TypingFrame,
  UnknownFrame,
  User,
} from './frames.js';
import type { PendingSend } from './outbox.js';

/** A WebSocket constructor: the browser's, Node 22's global one, or `ws`'s. Handshake headers
 * (bearer token, `headers`) are passed as `new WebSocket(url, {headers})`, which `ws` and
 * undici understand. */
export type WebSocketConstructor = new (url: string, options?: any) => object;

export interface ChatClientOptions {
  /** Where the chat is mounted (`https://example.com/chat`); in a browser '' means the page's
   * origin. The socket is `<baseUrl>/ws`. */
  baseUrl?: string;
  /** The socket URL itself, instead of `<baseUrl>/ws`. */
  url?: string;
  /** A token, or a function asked again before every (re)connect. None: the session cookie. */
  token?: TokenSource;
  /** How the token travels: `header` (Authorization: Bearer; needs a constructor that takes
   * headers), `query` (`?token=`, what browsers can do), `auto` (default): `header` in Node or
   * when `WebSocket` is given, else `query`. */
  tokenTransport?: 'auto' | 'header' | 'query';
  /** Extra handshake headers (Node only, e.g. a Cookie). */
  headers?: Record<string, string>;
  /** Default: the global WebSocket (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /** For the `api` helpers and the session check (default: the global fetch). */
  fetch?: typeof fetch;
  /** Cookie policy of the `api` helpers (default `same-origin`). */
  credentials?: RequestCredentials;
  /** Ask for `batch=1` (several frames per text frame). Default true. */
  batch?: boolean;
  /** Reconnect delays: full jitter, doubling from `initialMs` up to `maxMs`; `penaltyMs` more
   * after 4008, 4029, 1013 and busy refusals. */
  backoff?: BackoffOptions;
  /** A connection open at least this long starts the backoff over (default 5000). */
  stableMs?: number;
  /** Requests (history, edit, delete, ping) fail with `timeout` after this long, waiting for a
   * connection included (default 30000). Joins and sends do not time out. */
  requestTimeoutMs?: number;
  /** No `hello` this long after dialing: the attempt is dropped (default 15000). */
  connectTimeoutMs?: number;
  /** Ping after this long without a frame; 0 turns the heartbeat off (default 25000). */
  heartbeatMs?: number;
  /** Drop the socket when the ping gets nothing back in this long (default 10000). */
  heartbeatTimeoutMs?: number;
  /** At most one `typing` per room this often (default 1000, the server's own limit). */
  typingIntervalMs?: number;
  /** Unacknowledged sends on the wire at once (default 8). */
  maxInFlight?: number;
  /** When a handshake fails for a reason the WebSocket hides (browsers), ask `GET /api/me`
   * whether the session still lives; a 401 ends the client like 4001 (default true). */
  checkSession?: boolean;
}

export type ConnectionState = 'closed' | 'connecting' | 'open' | 'reconnecting';

export interface StateEvent {
  state: ConnectionState;
  /** reconnecting: which attempt comes next and after how long. */
  attempt?: number;
  delayMs?: number;
  /** The close code and reason that led here. */
  code?: number;
  reason?: string;
  /** closed by the client itself: why (session ended, refused). */
  error?: ChatError;
}

/** A socket ended. */
export interface CloseEvent {
  code: number;
  reason: string;
  /** HTTP status of a refused handshake, where the WebSocket implementation tells it. */
  status: number | undefined;
  /** Whether `hello` had arrived on it. */
  opened: boolean;
}

export interface SessionEndedEvent {
  code: number;
  reason: string;
  status: number | undefined;
}

export interface JoinedEvent extends JoinedFrame {
  /** A join again after a reconnect (the stream resumed after the room's cursor). */
  resumed: boolean;
}

export interface OutboxEvent {
  pending: PendingSend[];
  /** The client_id of a send that failed for good, with why. */
  failed?: string;
  error?: ChatError;
}

export interface RoomSnapshot {
  name: string;
  /** The highest seq delivered as a `message` event: the resume point. */
  lastSeq: number | null;
  /** Subscribed on the current connection. */
  joined: boolean;
  description: string;
  members: string[];
  online: string[];
}

export interface ChatClientEvents {
  state: StateEvent;
  /** `hello`: connected (again). */
  open: HelloFrame;
  close: CloseEvent;
  /** 4001 or a 401 handshake: sign in again, then call connect(). */
  session_ended: SessionEndedEvent;
  joined: JoinedEvent;
  left: LeftFrame;
  /** Each message once, in seq order per room. */
  message: MessageFrame;
  ack: AckFrame;
  edited: EditedFrame;
  deleted: DeletedFrame;
  presence: PresenceFrame;
  typing: TypingFrame;
  member_joined: MemberJoinedFrame;
  member_left: MemberLeftFrame;
  room_deleted: RoomDeletedFrame;
  /** A refusal no request was waiting for, or why the client closed itself. */
  error: ChatError;
  outbox: OutboxEvent;
  /** Every frame the server sent, as it came (frame types this client does not know too). */
  frame: ServerFrame | UnknownFrame;
}

export type ChatEventType = keyof ChatClientEvents;

export declare class ChatClient {
  constructor(options?: ChatClientOptions);

  /** The JSON API with the same base URL and credential (null without fetch). */
  readonly api: ChatApi | null;
  readonly state: ConnectionState;
  readonly hello: HelloFrame | null;
  readonly user: User | null;

  /** Connects and keeps reconnecting; resolves with `hello` once open. Rejects with
   * `session_ended`, `closed` or a handshake refusal if the client gives up first. */
  connect(): Promise<HelloFrame>;
  /** Closes for good (until connect()); waiting requests fail with `closed`, iterators end;
   * the outbox is kept. */
  close(): void;
  /** Skips the wait before the next reconnect. */
  reconnectNow(): void;

  /** Joins a room; with `afterSeq`, every message after it comes first. */
  join(room: string, options?: { afterSeq?: number }): Promise<JoinedEvent>;
  /** Stops following a room on this connection (the membership stays). */
  leave(room: string): Promise<void>;
  rooms(): RoomSnapshot[];
  room(name: string): RoomSnapshot | undefined;

  /** Sends a message; resolves with the `ack` once stored (kept and resent across reconnects). */
  send(room: string, body: string, options?: { clientId?: string }): Promise<AckFrame>;
  /** Unacknowledged sends, in order. */
  pending(): PendingSend[];
  /** Gives up an unacknowledged send (its promise rejects with `discarded`). */
  discard(clientId: string): void;

  edit(room: string, seq: number, body: string): Promise<void>;
  delete(room: string, seq: number): Promise<void>;
  /** A page of older messages (the newest page without `beforeSeq`). */
  history(room: string, options?: { beforeSeq?: number; limit?: number }): Promise<HistoryFrame>;
  /** Round trip in ms. */
  ping(): Promise<number>;
  /** Tells the room one is typing; false when not sent (offline or throttled). */
  typing(room: string): boolean;

  /** Calls `listener` with every `type` event; returns the function that removes it. */
  on<K extends ChatEventType>(type: K, listener: (value: ChatClientEvents[K]) => void): () => void;
  off<K extends ChatEventType>(type: K, listener: (value: ChatClientEvents[K]) => void): void;
  /** The next `type` event that passes `filter`. */
  once<K extends ChatEventType>(type: K, filter?: (value: ChatClientEvents[K]) => boolean): Promise<ChatClientEvents[K]>;
  /** The `type` events from now on, as an async iterator (ends on break, `signal`, close()). */
  events<K extends ChatEventType>(
    type: K,
    options?: { signal?: AbortSignal; filter?: (value: ChatClientEvents[K]) => boolean },
  ): AsyncIterableIterator<ChatClientEvents[K]>;
}
