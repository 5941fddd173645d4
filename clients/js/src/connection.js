// connection.js: the socket that stays up. It dials (asking the token callback each time), says
// when `hello` arrived, and after every end decides from the close code, or the refused
// handshake's status, whether to reconnect after a backoff delay, after a longer one, or to give
// up (session ended); a heartbeat drops a connection that went silent. It knows nothing of rooms
// or messages: ChatClient gets the frames and the ups and downs through hooks.

import { resolveToken } from './auth.js';
import { Backoff } from './backoff.js';
import { closeAction, handshakeAction } from './close-codes.js';
import { ChatError } from './errors.js';
import { parseFrames } from './frames.js';
import { Socket } from './socket.js';
import { socketUrl } from './urls.js';

/** Node's WebSocket (undici, like `ws`) takes handshake headers; a browser's cannot. */
const IN_NODE = typeof globalThis.process?.versions?.node === 'string';

/** Handshake statuses that end the client, with the code they are reported under. */
const REFUSED = { 400: 'bad_query', 403: 'forbidden_origin' };

const sessionEnded = () => new ChatError('session_ended', 'the session ended: sign in again');

/**
 * @typedef {object} ConnectionHooks
 * @property {(hello: any) => void} ready `hello` arrived; the socket takes frames
 * @property {(frame: any) => void} frame every frame (`hello` after `ready`)
 * @property {(error: ChatError) => void} lost the socket is gone: what was in flight failed
 * @property {(end: any) => void} closed a socket ended (code, reason, status, opened)
 * @property {(state: string, detail: object) => void} state the connection state changed
 * @property {(error: ChatError, end: any) => void} gaveUp no more reconnects (session ended, refused)
 * @property {(error: ChatError) => void} error a problem that does not stop the reconnects
 * @property {() => void} idle nothing came for `heartbeatMs`: send a ping
 */

export class Connection {
  #o;
  #api;
  /** @type {ConnectionHooks} */
  #hooks;
  #backoff;
  /** @type {Socket | null} */
  #socket = null;
  #ready = false;
  #state = 'closed';
  /** The app wants a connection (start() called, stop() not, the session not ended). */
  #wanted = false;
  /** Counts dials and stops, so a stale async step (a token callback) can tell. */
  #generation = 0;
  #openedAt = 0;
  #reconnectTimer = null;
  #connectTimer = null;
  #heartbeatTimer = null;

  /**
   * @param {any} options the ChatClient options
   * @param {import('./api.js').ChatApi | null} api for the session check
   * @param {ConnectionHooks} hooks
   */
  constructor(options, api, hooks) {
    this.#o = options;
    this.#api = api;
    this.#hooks = hooks;
    this.#backoff = new Backoff(options.backoff);
  }

  get state() {
    return this.#state;
  }

  /** `hello` arrived on the current socket. */
  get ready() {
    return this.#ready;
  }

  /** Sends a text frame on the ready socket; false when there is none. */
  send(text) {
    return this.#ready ? this.#socket.send(text) : false;
  }

  /** Starts connecting, unless already trying. */
  start() {
    if (this.#wanted) return;
    this.#wanted = true;
    this.#setState('connecting', {});
    this.#dial();
  }

  /** Closes the socket and stops reconnecting; what was in flight fails with `error`. */
  stop(error) {
    this.#wanted = false;
    this.#generation += 1;
    const socket = this.#socket;
    this.#lost(error);
    socket?.close(1000, 'closed by client');
    this.#setState('closed', {});
  }

  /** Skips the wait before the next reconnect. */
  reconnectNow() {
    if (!this.#wanted || !this.#reconnectTimer) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#dial();
  }

  async #dial() {
    const generation = ++this.#generation;
    const o = this.#o;
    let token;
    try {
      token = await resolveToken(o.token);
    } catch (error) {
      if (generation !== this.#generation || !this.#wanted) return;
      this.#hooks.error(new ChatError('token_failed', `the token callback failed: ${error?.message || error}`));
      this.#scheduleReconnect(true, { code: 1006, reason: 'no token', status: undefined });
      return;
    }
    if (generation !== this.#generation || !this.#wanted) return;
    const inHeader = o.tokenTransport === 'header' || (o.tokenTransport === 'auto' && (!!o.WebSocket || IN_NODE));
    const headers = { ...o.headers };
    if (token && inHeader) headers.Authorization = `Bearer ${token}`;
    const params = { batch: o.batch ? '1' : null, token: token && !inHeader ? token : null };
    let socket;
    try {
      const url = socketUrl({ url: o.url, baseUrl: o.baseUrl, params });
      socket = new Socket(o.WebSocket || globalThis.WebSocket, url, Object.keys(headers).length ? headers : null, {
        onText: (text) => this.#onText(socket, text),
        onClose: (end) => this.#onSocketEnd(socket, end),
      });
    } catch (error) {
      this.#giveUp(new ChatError('bad_options', `cannot open the socket: ${error?.message || error}`), {});
      return;
    }
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => socket.drop('no hello in time'), o.connectTimeoutMs);
  }

  #onText(socket, text) {
    for (const frame of parseFrames(text)) {
      if (socket !== this.#socket) return;
      if (frame.type === 'hello') this.#onHello(frame);
      if (socket === this.#socket) this.#hooks.frame(frame);
    }
  }

  #onHello(frame) {
    clearTimeout(this.#connectTimer);
    this.#ready = true;
    this.#openedAt = Date.now();
    this.#hooks.ready(frame);
    this.#startHeartbeat();
    this.#setState('open', {});
  }

  #onSocketEnd(socket, end) {
    if (socket !== this.#socket) return;
    const wasReady = this.#ready;
    this.#lost(new ChatError('disconnected', 'the connection was lost'));
    this.#hooks.closed({ ...end, opened: wasReady });
    if (!this.#wanted) return;
    if (wasReady && Date.now() - this.#openedAt >= this.#o.stableMs) this.#backoff.reset();
    const action = wasReady ? closeAction(end.code) : handshakeAction(end.status);
    if (action === 'session_ended') {
      this.#giveUp(sessionEnded(), end);
    } else if (action === 'stop') {
      const code = REFUSED[end.status] || `http_${end.status}`;
      this.#giveUp(new ChatError(code, `the server refused the connection (${end.status})`), end);
    } else if (!wasReady && end.status === undefined && this.#o.checkSession && this.#api) {
      this.#checkSessionThenReconnect(end);
    } else {
      this.#scheduleReconnect(action === 'penalty', end);
    }
  }

  /** Browsers hide why a handshake failed: a dead session shows as 401 on the JSON API. */
  #checkSessionThenReconnect(end) {
    const generation = this.#generation;
    const current = () => generation === this.#generation && this.#wanted;
    this.#setState('reconnecting', { code: end.code, reason: end.reason });
    this.#api.me().then(
      () => current() && this.#scheduleReconnect(false, end),
      (error) => {
        if (!current()) return;
        if (error?.status === 401) this.#giveUp(sessionEnded(), end);
        else this.#scheduleReconnect(error?.status === 429 || error?.status === 503, end);
      },
    );
  }

  /** The current socket is gone: its timers stop and the client fails what was in flight. */
  #lost(error) {
    this.#socket = null;
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#hooks.lost(error);
  }

  #scheduleReconnect(penalty, end) {
    const delayMs = this.#backoff.next(penalty);
    this.#setState('reconnecting', { attempt: this.#backoff.attempt, delayMs, code: end.code, reason: end.reason });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#dial();
    }, delayMs);
  }

  /** No more reconnects until start() (the session ended, or the server refuses for good). */
  #giveUp(error, end) {
    this.#wanted = false;
    this.#generation += 1;
    this.#lost(error);
    this.#setState('closed', { code: end.code, reason: end.reason, error });
    this.#hooks.gaveUp(error, end);
  }

  #setState(state, detail) {
    if (state === this.#state && state !== 'reconnecting') return;
    this.#state = state;
    this.#hooks.state(state, detail);
  }

  #startHeartbeat() {
    const { heartbeatMs, heartbeatTimeoutMs } = this.#o;
    if (!(heartbeatMs > 0)) return;
    const socket = this.#socket;
    this.#heartbeatTimer = setInterval(
      () => {
        const idle = Date.now() - socket.lastReceivedAt;
        if (idle >= heartbeatMs + heartbeatTimeoutMs) socket.drop('heartbeat timeout');
        else if (idle >= heartbeatMs) this.#hooks.idle();
      },
      Math.max(10, Math.min(heartbeatMs, heartbeatTimeoutMs)),
    );
  }
}
