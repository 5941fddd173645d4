// fake-socket.js (test helper): a WebSocket stand-in the test plays the server through: it
// records what the client sends and delivers frames, batches and closes on demand. For the
// client's logic where exact timing and close codes matter, without a server.

export class FakeServer {
  /** Every socket the client made, oldest first. */
  sockets = [];

  constructor() {
    const server = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url, init) {
        this.url = url;
        this.init = init;
        this.readyState = 0;
        /** Frames the client sent, parsed. */
        this.sent = [];
        server.sockets.push(this);
      }

      send(text) {
        if (this.readyState !== 1) throw new Error('not open');
        this.sent.push(JSON.parse(text));
      }

      close(code = 1005, reason = '') {
        if (this.readyState === 3) return;
        this.readyState = 3;
        queueMicrotask(() => this.onclose?.({ code, reason }));
      }

      // ---- the test's side ----

      /** Completes the handshake and says hello. */
      accept(user = 'me') {
        this.readyState = 1;
        this.onopen?.({});
        this.deliver({
          type: 'hello',
          user: { id: 1, username: user, is_admin: false, is_active: true, created_at: '2026-01-01T00:00:00.000Z' },
          protocol: 1,
          max_frame_bytes: 16384,
          max_rooms: 64,
        });
      }

      /** Delivers frames in one text frame, one per line (as `batch=1` does). */
      deliver(...frames) {
        this.onmessage?.({ data: frames.map((f) => (typeof f === 'string' ? f : JSON.stringify(f))).join('\n') });
      }

      /** The server closes the socket with `code`. */
      hangUp(code, reason = '') {
        this.readyState = 3;
        this.onclose?.({ code, reason });
      }

      /** The handshake fails (as `ws` reports a refused upgrade when `status` is given). */
      refuse(status) {
        this.readyState = 3;
        if (status) this.onerror?.({ message: `Unexpected server response: ${status}` });
        this.onclose?.({ code: 1006, reason: '' });
      }
    };
  }

  get last() {
    return this.sockets[this.sockets.length - 1];
  }
}

export function message(room, seq, body = `m${seq}`, extra = {}) {
  return { type: 'message', room, seq, id: seq, author: 'other', body, created_at: '2026-01-01T00:00:00.000Z', deleted: false, ...extra };
}

export function joined(room, lastSeq, extra = {}) {
  return { type: 'joined', room, last_seq: lastSeq, description: '', members: ['me'], online: ['me'], ...extra };
}

/** Lets pending promise callbacks and microtasks run. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));
