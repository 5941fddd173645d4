// socket.js: one WebSocket connection, whatever the implementation (the browser's, Node 22's
// global one, or a constructor such as the `ws` package). It hands on text frames, remembers
// when it last received anything (for the client's heartbeat) and reports its end exactly once,
// with the close code, or with the HTTP status of a refused handshake where the implementation
// tells it (`ws` does, in its error message; browsers never do).

const OPEN = 1;

export class Socket {
  #ws;
  #handlers;
  #ended = false;
  /** HTTP status of a refused handshake, when known. */
  #status = undefined;

  /**
   * @param {any} WebSocketImpl a WebSocket constructor
   * @param {string} url
   * @param {Record<string, string> | null} headers handshake headers: passed as
   *   `{headers}` in the second argument, which `ws` and undici accept; browsers cannot
   * @param {{onText: (text: string) => void, onClose: (end: SocketEnd) => void}} handlers
   */
  constructor(WebSocketImpl, url, headers, handlers) {
    this.#handlers = handlers;
    /** Whether the handshake completed. */
    this.opened = false;
    /** When the last frame arrived (or the socket was made). */
    this.lastReceivedAt = Date.now();
    const ws = headers ? new WebSocketImpl(url, { headers }) : new WebSocketImpl(url);
    this.#ws = ws;
    ws.onopen = () => {
      this.opened = true;
      this.lastReceivedAt = Date.now();
    };
    ws.onmessage = (event) => {
      if (this.#ended) return;
      this.lastReceivedAt = Date.now();
      // The protocol has text frames only; a binary one is not ours to read.
      if (typeof event.data === 'string') handlers.onText(event.data);
    };
    ws.onerror = (event) => {
      const text = String(event?.message || event?.error?.message || '');
      const match = /Unexpected server response: (\d{3})/.exec(text);
      if (match) this.#status = Number(match[1]);
    };
    ws.onclose = (event) => {
      this.#end({ code: event.code, reason: event.reason || '', status: this.#status, opened: this.opened });
    };
  }

  /** Sends one text frame; false when the socket is not open. */
  send(text) {
    if (this.#ended || this.#ws.readyState !== OPEN) return false;
    try {
      this.#ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the socket (answering nothing more); the end is reported as it happens. */
  close(code = 1000, reason = 'closed by client') {
    try {
      this.#ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  /**
   * Gives the socket up now, without waiting for a closing handshake that a dead connection
   * never completes: the end is reported at once with `code` 1006 and `reason`.
   */
  drop(reason) {
    if (this.#ended) return;
    const ws = this.#ws;
    this.#end({ code: 1006, reason, status: this.#status, opened: this.opened });
    try {
      if (typeof ws.terminate === 'function') ws.terminate();
      else ws.close();
    } catch {
      // already gone
    }
  }

  #end(end) {
    if (this.#ended) return;
    this.#ended = true;
    const ws = this.#ws;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // `ws` throws an error event with no listener, so one stays.
    ws.onerror = () => {};
    this.#handlers.onClose(end);
  }
}

/**
 * @typedef {{code: number, reason: string, status: number | undefined, opened: boolean}} SocketEnd
 */
