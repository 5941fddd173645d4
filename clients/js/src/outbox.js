// outbox.js: the sends not acknowledged yet. Each carries a client_id; after a reconnect the
// client sends the unacknowledged ones again with the same id and the server, which never stores
// one client_id twice, answers with the original seq (`duplicate: true`). Entries keep the order
// they were written in, which is the order they are sent again.

/** A new client_id: a random UUID (36 characters; the server allows 64). */
export function newClientId() {
  const crypto = globalThis.crypto;
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * @typedef {object} OutboxEntry
 * @property {string} clientId
 * @property {string} room
 * @property {string} body
 * @property {'queued' | 'sent'} state queued: to be sent when connected (again); sent: on the
 *   wire, waiting for the ack
 * @property {number} retries refusals so far (rate limited, internal) after which it was queued
 *   again
 * @property {Promise<any>} promise
 */

export class Outbox {
  /** @type {Map<string, OutboxEntry & {resolve: Function, reject: Function}>} */
  #entries = new Map();

  /** Adds a send; one already queued with the same client_id is returned as it is. */
  add(room, body, clientId) {
    const existing = this.#entries.get(clientId);
    if (existing) return existing;
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Awaiting it is optional: a failure is also reported as an `outbox` event.
    promise.catch(() => {});
    const entry = { clientId, room, body, state: 'queued', retries: 0, promise, resolve, reject };
    this.#entries.set(clientId, entry);
    return entry;
  }

  get(clientId) {
    return this.#entries.get(clientId);
  }

  get size() {
    return this.#entries.size;
  }

  /** Entries waiting to be sent, in order. */
  queued() {
    return [...this.#entries.values()].filter((e) => e.state === 'queued');
  }

  /** After a disconnect: what was on the wire unacknowledged goes again. */
  requeueSent() {
    for (const entry of this.#entries.values()) if (entry.state === 'sent') entry.state = 'queued';
  }

  /** Removes an entry and resolves its promise. */
  resolve(clientId, value) {
    const entry = this.#take(clientId);
    entry?.resolve(value);
    return entry;
  }

  /** Removes an entry and rejects its promise. */
  reject(clientId, error) {
    const entry = this.#take(clientId);
    entry?.reject(error);
    return entry;
  }

  /** Rejects every entry (the client is given up for good). */
  rejectAll(error) {
    for (const clientId of [...this.#entries.keys()]) this.reject(clientId, error);
  }

  #take(clientId) {
    const entry = this.#entries.get(clientId);
    if (!entry) return undefined;
    this.#entries.delete(clientId);
    return entry;
  }

  /** A snapshot for the app: `{clientId, room, body, state, retries}` in order. */
  pending() {
    return [...this.#entries.values()].map(({ clientId, room, body, state, retries }) => ({
      clientId,
      room,
      body,
      state,
      retries,
    }));
  }
}
