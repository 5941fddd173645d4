// endpoints.js: the one place that knows the JSON API's URLs and shapes (the UI's own; `api.js`
// next to it is the client SDK's).
//
// Every request goes through `request()`: same-origin, cookie-authenticated (the server sets the
// HttpOnly `chat_session` cookie on signup/login), JSON in and out. Errors come back as
// `{"error":{"code":...,"message":...}}` and are thrown as `ApiError`.
// Response shapes are normalized here (e.g. `{user: ...}` or a bare user) so the views do not
// care about small server-side changes. All paths live in `PATHS` so they are easy to adjust.
// They are relative: the page's `<base href>` (set by the server to where the app mounts the
// chat, such as `/chat/`) makes them resolve under the mount.

/** Where the app mounts the chat (`/chat`, or empty at the root), from the page's `<base>`. */
export const MOUNT = new URL(document.baseURI).pathname.replace(/\/+$/, '');

/** The chat's start page: the mount itself (`/chat`; axum's `nest` does not route `/chat/`). */
export const HOME = MOUNT || '/';

/** Points the start-page links (`href="./"`) under `root` at [`HOME`]. */
export function fixHomeLinks(root) {
  for (const a of root.querySelectorAll('a[href="./"]')) a.setAttribute('href', HOME);
}

/** Whether the chat's own accounts (log in, sign up, password) are on; off when the host app
 * brings its users (the server says so in the `chat-accounts` meta). */
export const OWN_ACCOUNTS =
  document.querySelector('meta[name="chat-accounts"]')?.getAttribute('content') !== 'host';

/** Where a signed-out visitor goes: the log-in page, or the chat's start page (which tells
 * them to sign in through the application). */
export const SIGN_IN_PAGE = OWN_ACCOUNTS ? 'login' : HOME;

/** URL builders for every endpoint the UI calls. */
export const PATHS = {
  signup: () => 'api/signup',
  login: () => 'api/login',
  logout: () => 'api/logout',
  logoutAll: () => 'api/logout-all',
  password: () => 'api/password',
  me: () => 'api/me',
  rooms: () => 'api/rooms',
  room: (name) => `api/rooms/${enc(name)}`,
  messages: (name) => `api/rooms/${enc(name)}/messages`,
  search: (name) => `api/rooms/${enc(name)}/search`,
  adminUsers: () => 'api/admin/users',
  adminUser: (id) => `api/admin/users/${enc(id)}`,
  adminRooms: () => 'api/admin/rooms',
  adminRoom: (name) => `api/admin/rooms/${enc(name)}`,
  adminMessages: (name) => `api/admin/rooms/${enc(name)}/messages`,
  adminMessage: (name, seq) => `api/admin/rooms/${enc(name)}/messages/${enc(seq)}`,
  /** The WebSocket; the client SDK adds its query options (`batch=1`). */
  ws: () => {
    const url = new URL('ws', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  },
};

function enc(v) {
  return encodeURIComponent(String(v));
}

/** An error answered by the API (or a network failure, with status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || 'error';
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Sends one request and returns the parsed JSON body (or null for an empty body). */
export async function request(method, path, body, params) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path + query(params), init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection.');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code, err.message || `${res.status} ${res.statusText}`);
  }
  return data;
}

function pick(data, key) {
  if (data && typeof data === 'object' && key in data) return data[key];
  return data;
}

function list(data, key) {
  const v = pick(data, key);
  return Array.isArray(v) ? v : [];
}

// ---- accounts -------------------------------------------------------------------------------

/** Creates an account; the server logs it in (cookie). Returns the user. */
export async function signup(username, password) {
  return pick(await request('POST', PATHS.signup(), { username, password }), 'user');
}

/** Logs in (cookie). Returns the user. */
export async function login(username, password) {
  return pick(await request('POST', PATHS.login(), { username, password }), 'user');
}

/** Ends the session. */
export async function logout() {
  await request('POST', PATHS.logout(), {});
}

/** Ends every session of the user, this one included. */
export async function logoutAll() {
  await request('POST', PATHS.logoutAll(), {});
}

/** Changes the password; the user's other sessions end, this one stays. */
export async function changePassword(oldPassword, newPassword) {
  await request('POST', PATHS.password(), {
    old_password: oldPassword,
    new_password: newPassword,
  });
}

/** The logged-in user, or null when there is no valid session. */
export async function me() {
  try {
    return pick(await request('GET', PATHS.me()), 'user');
  } catch (e) {
    if (e.status === 401 || e.status === 403) return null;
    throw e;
  }
}

// ---- rooms and messages ---------------------------------------------------------------------

/** Rooms, optionally filtered by a substring of the name. */
export async function rooms(q) {
  return list(await request('GET', PATHS.rooms(), undefined, { q, limit: 200 }), 'rooms');
}

/** Creates a room. Returns it. */
export async function createRoom(name, description) {
  return pick(await request('POST', PATHS.rooms(), { name, description }), 'room');
}

/** One room by name. */
export async function room(name) {
  return pick(await request('GET', PATHS.room(name)), 'room');
}

/** A page of messages: `{messages, has_more}` (ascending by seq). */
export async function messages(name, { beforeSeq, afterSeq, limit } = {}) {
  const data = await request('GET', PATHS.messages(name), undefined, {
    before_seq: beforeSeq,
    after_seq: afterSeq,
    limit,
  });
  return { messages: list(data, 'messages'), has_more: !!(data && data.has_more) };
}

/** Messages of a room matching `q`. */
export async function search(name, q) {
  return list(await request('GET', PATHS.search(name), undefined, { q }), 'messages');
}

// ---- admin ----------------------------------------------------------------------------------

/** Users (admins only), optionally filtered by a substring of the name. */
export async function adminUsers(q, after) {
  return list(await request('GET', PATHS.adminUsers(), undefined, { q, after, limit: 200 }), 'users');
}

/** Deactivates (`false`) or reactivates (`true`) a user. Returns the user. */
export async function adminSetActive(id, active) {
  return pick(await request('PATCH', PATHS.adminUser(id), { is_active: active }), 'user');
}

/** Grants (`true`) or revokes (`false`) admin rights. Returns the user. */
export async function adminSetAdmin(id, admin) {
  return pick(await request('PATCH', PATHS.adminUser(id), { is_admin: admin }), 'user');
}

/** Rooms for the admin panel. */
export async function adminRooms(q) {
  return list(await request('GET', PATHS.adminRooms(), undefined, { q, limit: 200 }), 'rooms');
}

/** Changes a room's description. Returns the room. */
export async function adminSetRoomDescription(name, description) {
  return pick(await request('PATCH', PATHS.adminRoom(name), { description }), 'room');
}

/** Deletes a room with all its messages. */
export async function adminDeleteRoom(name) {
  await request('DELETE', PATHS.adminRoom(name));
}

/** A page of a room's messages for the admin panel: `{messages, has_more}`. */
export async function adminMessages(name, beforeSeq, limit = 50) {
  const data = await request('GET', PATHS.adminMessages(name), undefined, {
    before_seq: beforeSeq,
    limit,
  });
  return { messages: list(data, 'messages'), has_more: !!(data && data.has_more) };
}

/** Deletes one message (any author). */
export async function adminDeleteMessage(name, seq) {
  await request('DELETE', PATHS.adminMessage(name, seq));
}
