// requests.js: client frames waiting for their answer on the current connection. The server
// handles a connection's frames one after the other and answers them in that order, so answers
// are matched first in, first out per kind (`joined:<room>`, `left:<room>`, `history:<room>`,
// `pong`), and an `error` frame by the `ref` it echoes. A frame without an answer of its own
// (`edit`, `delete`) is followed by a `ping`: its `pong` says the frame went through.

import { ChatError } from './errors.js';

/**
 * @typedef {object} Pending
 * @property {number} ref
 * @property {string} key the answer's kind
 * @property {(frame: any) => void} onAnswer
 * @property {(error: ChatError) => void} onError
 * @property {boolean} barrier answered by the `pong` of a following ping, even when refused
 * @property {boolean} settled answered, refused or timed out: it only holds its place in line
 * @property {any} timer
 */

export class Requests {
  #nextRef = 1;
  /** @type {Map<number, Pending>} */
  #byRef = new Map();
  /** @type {Map<string, Pending[]>} */
  #queues = new Map();

  /** A fresh `ref` for a client frame. */
  ref() {
    return this.#nextRef++;
  }

  /**
   * Waits for the answer of kind `key` to the frame sent with `ref`.
   * @param {number} ref
   * @param {string} key
   * @param {{onAnswer: (frame: any) => void, onError: (error: ChatError) => void,
   *   timeoutMs?: number, barrier?: boolean}} handlers
   */
  expect(ref, key, { onAnswer, onError, timeoutMs = 0, barrier = false }) {
    const pending = { ref, key, onAnswer, onError, barrier, settled: false, timer: null };
    if (timeoutMs > 0) {
      pending.timer = setTimeout(() => {
        this.#settle(pending)?.onError(new ChatError('timeout', `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    this.#byRef.set(ref, pending);
    let queue = this.#queues.get(key);
    if (!queue) this.#queues.set(key, (queue = []));
    queue.push(pending);
  }

  /** An answer of kind `key` arrived: it belongs to the oldest request of that kind. */
  answer(key, frame) {
    const queue = this.#queues.get(key);
    const pending = queue?.shift();
    if (!pending) return false;
    if (queue.length === 0) this.#queues.delete(key);
    this.#byRef.delete(pending.ref);
    this.#settle(pending)?.onAnswer(frame);
    return true;
  }

  /** An `error` frame echoed `ref`: the request is refused. False when no request has it. */
  refuse(ref, error) {
    const pending = this.#byRef.get(ref);
    if (!pending) return false;
    if (!pending.barrier) {
      // No answer of its kind will come: it leaves the line.
      this.#byRef.delete(ref);
      const queue = this.#queues.get(pending.key);
      const at = queue ? queue.indexOf(pending) : -1;
      if (at >= 0) queue.splice(at, 1);
      if (queue && queue.length === 0) this.#queues.delete(pending.key);
    }
    this.#settle(pending)?.onError(error);
    return true;
  }

  /** The connection ended: every request fails with `error`. */
  failAll(error) {
    const all = [...this.#byRef.values()];
    this.#byRef.clear();
    this.#queues.clear();
    for (const pending of all) this.#settle(pending)?.onError(error);
  }

  /** Marks a request settled; returns it when it was not yet. */
  #settle(pending) {
    if (pending.settled) return undefined;
    pending.settled = true;
    clearTimeout(pending.timer);
    return pending;
  }
}
