// client.js: ChatClient, the app's side of protocol 1. Over a Connection (which reconnects with
// backoff and follows the close codes) it joins rooms again with `after_seq` so the app sees
// every message once and in order, sends unacknowledged messages again with their client_id
// (the server stores each once), and matches answers to requests. The pieces live in their own
// files: connection, outbox, rooms (cursors), requests (answer matching).

import { ChatApi } from './api.js';
import { retryDelay } from './backoff.js';
import { Connection } from './connection.js';
import { ChatError } from './errors.js';
import { Emitter } from './events.js';
import { byteLength } from './frames.js';
import { newClientId, Outbox } from './outbox.js';
import { Requests } from './requests.js';
import { roomKey, Rooms } from './rooms.js';

const DEFAULTS = {
  batch: true,
  tokenTransport: 'auto',
  requestTimeoutMs: 30000,
  connectTimeoutMs: 15000,
  heartbeatMs: 25000,
  heartbeatTimeoutMs: 10000,
  stableMs: 5000,
  typingIntervalMs: 1000,
  maxInFlight: 8,
  checkSession: true,
};

export class ChatClient extends Emitter {
  #options;
  #conn;
  #outbox = new Outbox();
  #requests = new Requests();
  #rooms = new Rooms();
  #hello = null;
  /** Sends are paused until then after a rate-limit refusal. */
  #pausedUntil = 0;
  #pumpTimer = null;
  /** Requests waiting for an open connection. */
  #unsent = [];
  #connectWaiters = [];
  #lastTyping = new Map();

  /** @param {import('./client.js').ChatClientOptions} [options] */
  constructor(options = {}) {
    super();
    this.#options = { ...DEFAULTS, ...options };
    const { baseUrl, token, fetch, credentials } = this.#options;
    try {
      this.api = new ChatApi({ baseUrl, token, fetch, credentials });
    } catch {
      this.api = null;
    }
    this.#conn = new Connection(this.#options, this.api, {
      ready: (hello) => this.#onReady(hello),
      frame: (frame) => this.#dispatch(frame),
      lost: (error) => this.#onLost(error),
      closed: (end) => this.emit('close', end),
      state: (state, detail) => this.#onState(state, detail),
      gaveUp: (error, end) => this.#onGaveUp(error, end),
      error: (error) => this.emit('error', error),
      idle: () => this.#heartbeat(),
    });
  }

  /** `closed`, `connecting`, `open` or `reconnecting`. */
  get state() {
    return this.#conn.state;
  }

  /** The last `hello` frame (null before the first). */
  get hello() {
    return this.#hello;
  }

  /** The signed-in user, from `hello`. */
  get user() {
    return this.#hello ? this.#hello.user : null;
  }

  // ---- connection --------------------------------------------------------------------------

  /** Connects (and keeps reconnecting); resolves with `hello` once open. */
  connect() {
    const promise = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    promise.catch(() => {});
    if (!(this.#options.WebSocket || globalThis.WebSocket)) {
      const error = new ChatError('no_websocket', 'no WebSocket implementation: pass options.WebSocket');
      for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
    } else if (this.#conn.ready) {
      for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve(this.#hello);
    } else {
      this.#conn.start();
    }
    return promise;
  }

  /** Closes the connection for good: no reconnect; waiting requests and joins fail with
   * `closed`; iterators end. Unacknowledged sends stay in the outbox for a later connect(). */
  close() {
    const error = new ChatError('closed', 'the client was closed');
    this.#conn.stop(error);
    this.#failWaiting(error);
    this.endIterators();
  }

  /** Skips the wait before the next reconnect (say, when the browser is back online). */
  reconnectNow() {
    this.#conn.reconnectNow();
  }

  #onReady(hello) {
    this.#hello = hello;
    // In order: joins first (the server handles frames in order, so sends find the membership).
    for (const room of this.#rooms.all()) this.#sendJoin(room);
    this.#pump();
    for (const request of this.#unsent.splice(0)) this.#transmitRequest(request);
  }

  #onState(state, detail) {
    this.emit('state', { state, ...detail });
    if (state !== 'open') return;
    this.emit('open', this.#hello);
    for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve(this.#hello);
  }

  /** The socket is gone: nothing is subscribed, unacknowledged sends go again, requests fail. */
  #onLost(error) {
    this.#rooms.disconnected();
    this.#outbox.requeueSent();
    this.#requests.failAll(error);
  }

  #onGaveUp(error, end) {
    this.#failWaiting(error);
    if (error.code === 'session_ended') {
      this.emit('session_ended', { code: end.code, reason: end.reason, status: end.status });
    } else {
      this.emit('error', error);
    }
  }

  /** Fails what waits for a connection: connect(), queued requests, joins never answered. */
  #failWaiting(error) {
    for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
    for (const request of this.#unsent.splice(0)) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    for (const room of this.#rooms.all()) {
      for (const waiter of room.waiters.splice(0)) waiter.reject(error);
      if (!room.everJoined) this.#rooms.delete(room);
    }
  }

  /** A quiet connection: a ping, whose pong (or anything else) shows it is alive. */
  #heartbeat() {
    const ref = this.#requests.ref();
    this.#requests.expect(ref, 'pong', { onAnswer() {}, onError() {} });
    this.#conn.send(JSON.stringify({ type: 'ping', ref }));
  }

  // ---- incoming frames ---------------------------------------------------------------------

  #dispatch(frame) {
    this.emit('frame', frame);
    const room = typeof frame.room === 'string' ? this.#rooms.get(frame.room) : undefined;
    const live = room && !room.leaving;
    switch (frame.type) {
      case 'joined':
        return void this.#requests.answer(`joined:${roomKey(frame.room)}`, frame);
      case 'left':
        this.#requests.answer(`left:${roomKey(frame.room)}`, frame);
        if (room) this.#forget(room, new ChatError('left', `left ${frame.room}`));
        return this.emit('left', frame);
      case 'room_deleted':
        if (room) this.#forget(room, new ChatError('room_deleted', `${frame.room} was deleted`));
        return this.emit('room_deleted', frame);
      case 'message':
        if (room && room.accept(frame.seq)) this.emit('message', frame);
        return;
      case 'ack':
        return this.#onAck(frame);
      case 'history':
        return void this.#requests.answer(`history:${roomKey(frame.room)}`, frame);
      case 'pong':
        return void this.#requests.answer('pong', frame);
      case 'error':
        return this.#onError(frame);
      case 'presence':
        if (live && Array.isArray(frame.online)) room.online = [...frame.online];
        break;
      case 'member_joined':
        if (live && !room.members.includes(frame.user)) room.members.push(frame.user);
        break;
      case 'member_left':
        if (live) room.members = room.members.filter((name) => name !== frame.user);
        break;
      case 'edited':
      case 'deleted':
      case 'typing':
        break;
      default:
        return; // a frame type this client does not know: only the `frame` event has it
    }
    if (live) this.emit(frame.type, frame);
  }

  #onAck(frame) {
    const entry = typeof frame.client_id === 'string' ? this.#outbox.resolve(frame.client_id, frame) : undefined;
    this.emit('ack', frame);
    if (entry) {
      this.#emitOutbox();
      this.#pump();
    }
  }

  #onError(frame) {
    const error = ChatError.fromFrame(frame);
    const entry = typeof frame.client_id === 'string' ? this.#outbox.get(frame.client_id) : undefined;
    if (entry && entry.state === 'sent') return this.#onSendRefused(entry, error);
    if (frame.ref !== null && frame.ref !== undefined && this.#requests.refuse(frame.ref, error)) return;
    this.emit('error', error);
  }

  // ---- rooms -------------------------------------------------------------------------------

  /**
   * Joins a room (subscribes this connection; becomes a member if not yet). Resolves with the
   * `joined` frame (plus `resumed`). With `afterSeq`, every message after it is delivered
   * first; without, the room is followed from now on (or from where it was, if tracked).
   */
  join(name, { afterSeq } = {}) {
    let room = this.#rooms.get(name);
    if (room && room.leaving) {
      this.#rooms.delete(room);
      room = undefined;
    }
    room ??= this.#rooms.ensure(name);
    const resume = afterSeq !== undefined && afterSeq !== null;
    if (resume) room.lastSeq = afterSeq;
    else if (room.joined && room.lastJoined) return Promise.resolve(room.lastJoined);
    const promise = new Promise((resolve, reject) => room.waiters.push({ resolve, reject }));
    if (this.#conn.ready && (room.joining === 0 || resume)) this.#sendJoin(room);
    return promise;
  }

  #sendJoin(room) {
    const ref = this.#requests.ref();
    const frame = { type: 'join', room: room.name, ref };
    if (room.lastSeq !== null) frame.after_seq = room.lastSeq;
    room.joining += 1;
    this.#requests.expect(ref, `joined:${roomKey(room.name)}`, {
      onAnswer: (joined) => this.#onJoined(room, joined),
      onError: (error) => this.#onJoinRefused(room, error),
    });
    this.#conn.send(JSON.stringify(frame));
  }

  #onJoined(room, frame) {
    room.joining = Math.max(0, room.joining - 1);
    if (room.leaving || this.#rooms.get(room.name) !== room || room.joining > 0) return;
    room.name = frame.room;
    room.joined = true;
    room.description = frame.description ?? '';
    room.members = Array.isArray(frame.members) ? [...frame.members] : [];
    room.online = Array.isArray(frame.online) ? [...frame.online] : [];
    if (room.lastSeq === null) room.lastSeq = Number(frame.last_seq) || 0;
    const joined = { ...frame, resumed: room.everJoined };
    room.everJoined = true;
    room.lastJoined = joined;
    for (const waiter of room.waiters.splice(0)) waiter.resolve(joined);
    this.emit('joined', joined);
  }

  #onJoinRefused(room, error) {
    // A lost connection is not a refusal: the join is sent again on the next one.
    if (error.code === 'disconnected' || error.code === 'closed' || error.code === 'session_ended') return;
    room.joining = Math.max(0, room.joining - 1);
    const waiting = room.waiters.length > 0;
    this.#forget(room, error);
    if (!waiting) this.emit('error', error);
  }

  /** Stops tracking a room; its waiting join() calls fail with `error`. */
  #forget(room, error) {
    this.#rooms.delete(room);
    room.leaving = true;
    for (const waiter of room.waiters.splice(0)) waiter.reject(error);
  }

  /** Leaves a room (this connection stops following it; the membership stays). */
  async leave(name) {
    const room = this.#rooms.get(name);
    if (!room) return;
    const connected = this.#conn.ready && (room.joined || room.joining > 0);
    this.#forget(room, new ChatError('left', `left ${room.name}`));
    if (!connected) return;
    try {
      await this.#request({ type: 'leave', room: room.name }, `left:${roomKey(room.name)}`);
    } catch {
      // not_joined, a lost connection, a deleted room: it is left either way.
    }
  }

  /** The tracked rooms: name, cursor (`lastSeq`), whether joined now, members, online. */
  rooms() {
    return this.#rooms.all().map((room) => room.snapshot());
  }

  /** One tracked room, or undefined. */
  room(name) {
    return this.#rooms.get(name)?.snapshot();
  }

  // ---- sending and the outbox --------------------------------------------------------------

  /**
   * Sends a message; resolves with its `ack` frame (`seq`, `duplicate`) once it is stored. It
   * waits in the outbox while disconnected and goes again after a reconnect with the same
   * `clientId` (pass one to resend a message kept across page loads).
   */
  send(room, body, { clientId } = {}) {
    const entry = this.#outbox.add(String(room), String(body), clientId ?? newClientId());
    this.#pump();
    this.#emitOutbox();
    return entry.promise;
  }

  /** The unacknowledged sends, in order: `{clientId, room, body, state, retries}`. */
  pending() {
    return this.#outbox.pending();
  }

  /** Gives up a send (its promise rejects with `discarded`); one on the wire may still land. */
  discard(clientId) {
    if (this.#outbox.reject(clientId, new ChatError('discarded', 'the send was discarded'))) this.#emitOutbox();
  }

  /** Sends what the outbox holds, in order, up to `maxInFlight` unacknowledged at once. */
  #pump() {
    if (!this.#conn.ready || this.#pumpTimer) return;
    const wait = this.#pausedUntil - Date.now();
    if (wait > 0) {
      this.#pumpTimer = setTimeout(() => {
        this.#pumpTimer = null;
        this.#pump();
      }, wait);
      return;
    }
    let inFlight = this.#outbox.pending().filter((e) => e.state === 'sent').length;
    let changed = false;
    for (const entry of this.#outbox.queued()) {
      if (inFlight >= this.#options.maxInFlight) break;
      const text = JSON.stringify({ type: 'send', room: entry.room, body: entry.body, client_id: entry.clientId });
      const max = this.#hello.max_frame_bytes;
      if (max && byteLength(text) > max) {
        const error = new ChatError('frame_too_large', `the message is larger than ${max} bytes`);
        this.#outbox.reject(entry.clientId, error);
        this.#emitOutbox({ failed: entry.clientId, error });
        continue;
      }
      if (!this.#conn.send(text)) break;
      entry.state = 'sent';
      inFlight += 1;
      changed = true;
    }
    if (changed) this.#emitOutbox();
  }

  /** A send was refused: rate limited (or a server failure) goes again later, in its place;
   * anything else fails it. */
  #onSendRefused(entry, error) {
    const retry = error.code === 'rate_limited' || (error.code === 'internal' && entry.retries < 3);
    if (!retry) {
      this.#outbox.reject(entry.clientId, error);
      this.#emitOutbox({ failed: entry.clientId, error });
      return;
    }
    entry.retries += 1;
    entry.state = 'queued';
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + retryDelay(entry.retries));
    this.#emitOutbox();
    this.#pump();
  }

  #emitOutbox(extra = {}) {
    this.emit('outbox', { pending: this.#outbox.pending(), ...extra });
  }

  // ---- other requests ----------------------------------------------------------------------

  /** Edits one's own message; resolves once the server accepted it. */
  async edit(room, seq, body) {
    await this.#request({ type: 'edit', room, seq, body }, 'pong', { barrier: true });
  }

  /** Deletes one's own message (admins: any); resolves once the server accepted it. */
  async delete(room, seq) {
    await this.#request({ type: 'delete', room, seq }, 'pong', { barrier: true });
  }

  /** A page of older messages, ascending: the `history` frame (`messages`, `has_more`). */
  history(room, { beforeSeq, limit } = {}) {
    const frame = { type: 'history', room };
    if (beforeSeq !== undefined && beforeSeq !== null) frame.before_seq = beforeSeq;
    if (limit !== undefined && limit !== null) frame.limit = limit;
    return this.#request(frame, `history:${roomKey(room)}`, { retry: true });
  }

  /** Round trip to the server in ms. */
  async ping() {
    const started = Date.now();
    await this.#request({ type: 'ping' }, 'pong');
    return Date.now() - started;
  }

  /** Tells the room one is typing (at most once per `typingIntervalMs`; dropped when offline). */
  typing(room) {
    const key = roomKey(room);
    const now = Date.now();
    if (!this.#conn.ready || now - (this.#lastTyping.get(key) ?? -Infinity) < this.#options.typingIntervalMs) return false;
    this.#lastTyping.set(key, now);
    return this.#conn.send(JSON.stringify({ type: 'typing', room }));
  }

  /**
   * Sends `frame` when connected and waits for its answer of kind `key`. `barrier`: the frame
   * has no answer, a ping is sent after it. `retry`: sent again after a reconnect instead of
   * failing with `disconnected` (reads only).
   */
  #request(frame, key, { barrier = false, retry = false } = {}) {
    return new Promise((resolve, reject) => {
      const timeoutMs = this.#options.requestTimeoutMs;
      const request = { frame, key, barrier, retry, resolve, reject, deadline: Date.now() + timeoutMs, timer: null };
      if (this.#conn.ready) this.#transmitRequest(request);
      else this.#queueRequest(request);
    });
  }

  #queueRequest(request) {
    const left = request.deadline - Date.now();
    request.timer = setTimeout(() => {
      const at = this.#unsent.indexOf(request);
      if (at >= 0) this.#unsent.splice(at, 1);
      request.reject(new ChatError('timeout', 'not connected in time'));
    }, Math.max(0, left));
    this.#unsent.push(request);
  }

  #transmitRequest(request) {
    clearTimeout(request.timer);
    const ref = this.#requests.ref();
    const text = JSON.stringify({ ...request.frame, ref });
    const max = this.#hello.max_frame_bytes;
    if (max && byteLength(text) > max) {
      request.reject(new ChatError('frame_too_large', `the frame is larger than ${max} bytes`));
      return;
    }
    this.#requests.expect(ref, request.key, {
      onAnswer: request.resolve,
      onError: (error) => {
        if (error.code === 'disconnected' && request.retry) this.#queueRequest(request);
        else request.reject(error);
      },
      timeoutMs: Math.max(1, request.deadline - Date.now()),
      barrier: request.barrier,
    });
    this.#conn.send(text);
    if (request.barrier) this.#conn.send(JSON.stringify({ type: 'ping' }));
  }
}
