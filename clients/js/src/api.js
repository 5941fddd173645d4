// api.js: the JSON API calls an app needs besides the socket (accounts, rooms, history over
// HTTP). Authenticates with a bearer token when one is given (the header wins over the cookie on
// the server), else with the browser's session cookie. Answers are the server's JSON objects as
// they are; errors are thrown as ApiError with the server's stable code.

import { resolveToken } from './auth.js';
import { ApiError } from './errors.js';
import { apiUrl } from './urls.js';

const enc = (value) => encodeURIComponent(String(value));

export class ChatApi {
  #token;
  #fetch;

  /**
   * @param {{baseUrl?: string, token?: any, fetch?: typeof fetch,
   *   credentials?: RequestCredentials, headers?: Record<string, string>}} [options]
   */
  constructor({ baseUrl = '', token, fetch, credentials = 'same-origin', headers = {} } = {}) {
    this.baseUrl = baseUrl;
    this.#token = token;
    this.#fetch = fetch || globalThis.fetch?.bind(globalThis);
    this.credentials = credentials;
    this.headers = headers;
    if (!this.#fetch) throw new TypeError('ChatApi needs fetch (pass options.fetch)');
  }

  /**
   * One request: `body` is sent as JSON, `query` entries that are null or undefined are left
   * out. Resolves with the parsed JSON answer (null when empty).
   * @param {string} method
   * @param {string} path absolute path under the base URL, e.g. `/api/me`
   * @param {{body?: unknown, query?: Record<string, unknown>}} [options]
   */
  async request(method, path, { body, query } = {}) {
    const headers = { Accept: 'application/json', ...this.headers };
    const token = await resolveToken(this.#token);
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers, credentials: this.credentials };
    if (body !== undefined || method === 'POST') {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body ?? {});
    }
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== '') search.set(name, String(value));
    }
    const qs = search.toString();
    let res;
    try {
      res = await this.#fetch(apiUrl(this.baseUrl, path) + (qs ? `?${qs}` : ''), init);
    } catch (e) {
      throw new ApiError(0, 'network', `the server cannot be reached: ${e?.message || e}`);
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      const retry = res.headers.get('Retry-After');
      throw new ApiError(
        res.status,
        err.code || `http_${res.status}`,
        err.message || `${res.status} ${res.statusText}`,
        retry !== null && Number.isFinite(Number(retry)) ? Number(retry) : null,
      );
    }
    return data;
  }

  // ---- accounts: signing up or in makes this object use the new session's token, as a
  // browser's cookie would (unless the token is a function, which the app controls) ----------

  async signup(username, password) {
    return this.#session(await this.request('POST', '/api/signup', { body: { username, password } }));
  }

  async login(username, password) {
    return this.#session(await this.request('POST', '/api/login', { body: { username, password } }));
  }

  #session(data) {
    if (typeof this.#token !== 'function') this.#token = data.token;
    return data;
  }

  /** Ends this session everywhere (its sockets close with 4001). */
  async logout() {
    await this.request('POST', '/api/logout');
    if (typeof this.#token !== 'function') this.#token = undefined;
  }

  /** Ends every session of the user, this one included. */
  async logoutAll() {
    await this.request('POST', '/api/logout-all');
    if (typeof this.#token !== 'function') this.#token = undefined;
  }

  /** Changes the password; the user's other sessions end, this one stays. */
  async changePassword(oldPassword, newPassword) {
    await this.request('POST', '/api/password', {
      body: { old_password: oldPassword, new_password: newPassword },
    });
  }

  /** The signed-in user. */
  async me() {
    return (await this.request('GET', '/api/me')).user;
  }

  // ---- rooms and messages ----------------------------------------------------------------

  /** Rooms the caller is a member of. */
  async myRooms() {
    return (await this.request('GET', '/api/me/rooms')).rooms;
  }

  /** Rooms by name: `q` filters by substring, `after` is the last name of the previous page. */
  async rooms({ q, after, limit } = {}) {
    return (await this.request('GET', '/api/rooms', { query: { q, after, limit } })).rooms;
  }

  /** Creates a room (the caller becomes a member). */
  async createRoom(name, description = '') {
    return (await this.request('POST', '/api/rooms', { body: { name, description } })).room;
  }

  /** A room with its members and who is online: `{room, members, online}`. */
  async room(name) {
    return this.request('GET', `/api/rooms/${enc(name)}`);
  }

  /** Changes a room's description (its creator or an admin). */
  async updateRoom(name, description) {
    return (await this.request('PATCH', `/api/rooms/${enc(name)}`, { body: { description } })).room;
  }

  /** Becomes a member of a room. */
  async joinRoom(name) {
    return (await this.request('POST', `/api/rooms/${enc(name)}/join`)).room;
  }

  /** Ends the membership of a room. */
  async leaveRoom(name) {
    await this.request('POST', `/api/rooms/${enc(name)}/leave`);
  }

  /** A page of messages, ascending by seq: `{room, messages, has_more}`. */
  async messages(name, { beforeSeq, afterSeq, limit } = {}) {
    return this.request('GET', `/api/rooms/${enc(name)}/messages`, {
      query: { before_seq: beforeSeq, after_seq: afterSeq, limit },
    });
  }

  /** Messages matching every word of `q`, newest first: `{room, messages, has_more}`. */
  async search(name, q, { beforeSeq, limit } = {}) {
    return this.request('GET', `/api/rooms/${enc(name)}/search`, {
      query: { q, before_seq: beforeSeq, limit },
    });
  }

  /** Edits one's own message. */
  async editMessage(name, seq, body) {
    return (await this.request('PATCH', `/api/rooms/${enc(name)}/messages/${enc(seq)}`, { body: { body } }))
      .message;
  }

  /** Deletes one's own message (admins: any). */
  async deleteMessage(name, seq) {
    return (await this.request('DELETE', `/api/rooms/${enc(name)}/messages/${enc(seq)}`)).message;
  }
}
