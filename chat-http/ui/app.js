// app.js: the chat web UI. A tiny client-side router on the path below the chat's mount (the
// page's `<base href>`: `/`, `/login`, `/signup`, `/rooms/{name}`) renders views cloned from the <template>s of index.html, and the
// room page keeps one WebSocket (cookie-authenticated) with reconnect, resume by seq and an
// outbox of unsent messages.
//
// Security rule of this file: data from the server or from users (names, bodies, descriptions,
// error messages) is only ever written with textContent / createTextNode, never as HTML.

import * as api from './endpoints.js';

const HISTORY_PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 4500;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;

/** Global state: the logged-in user (undefined until known) and the current view's cleanup. */
const state = { me: undefined, cleanup: null };

const $ = (sel, root = document) => root.querySelector(sel);

function setHidden(el, hidden) {
  if (el) el.hidden = hidden;
}

function showError(el, err) {
  if (!el) return;
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}

function clone(id) {
  const tpl = document.getElementById(id);
  return tpl.content.firstElementChild.cloneNode(true);
}

function mount(node) {
  const app = $('#app');
  api.fixHomeLinks(node);
  app.replaceChildren(node);
  return node;
}

function roomPath(name) {
  return '/rooms/' + encodeURIComponent(name);
}

/** The chat path (`/rooms/x`) of a browser path (`/chat/rooms/x`). */
function chatPath(pathname) {
  const mount = api.MOUNT;
  return pathname.startsWith(mount) ? pathname.slice(mount.length) || '/' : pathname;
}

/** The browser path of a chat path. */
function browserPath(path) {
  return path === '/' ? api.HOME : api.MOUNT + path;
}

// ---- routing --------------------------------------------------------------------------------

/** Goes to `path` without reloading the page. */
export function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', browserPath(path));
  else history.pushState(null, '', browserPath(path));
  route();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[data-link]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) {
    return;
  }
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  if (url.pathname !== location.pathname) navigate(chatPath(url.pathname) + url.search);
});

window.addEventListener('popstate', () => route());
api.fixHomeLinks(document);

async function route() {
  if (state.cleanup) {
    const fn = state.cleanup;
    state.cleanup = null;
    fn();
  }
  if (state.me === undefined) {
    try {
      state.me = await api.me();
    } catch (e) {
      state.me = null;
    }
  }
  updateNav();
  const path = chatPath(location.pathname).replace(/\/+$/, '') || '/';
  if (api.OWN_ACCOUNTS && (path === '/login' || path === '/signup')) {
    if (state.me) return navigate('/', true);
    return path === '/login' ? renderLogin() : renderSignup();
  }
  if (!state.me) {
    return api.OWN_ACCOUNTS ? navigate('/login', true) : mount(clone('tpl-signed-out'));
  }
  if (path === '/') return renderRooms();
  if (path === '/account') return renderAccount();
  const m = path.match(/^\/rooms\/([^/]+)$/);
  if (m) {
    let name;
    try {
      name = decodeURIComponent(m[1]);
    } catch (_) {
      return renderNotFound();
    }
    return renderRoom(name);
  }
  return renderNotFound();
}

function updateNav() {
  const me = state.me;
  const who = $('#whoami');
  who.textContent = me ? me.username : '';
  setHidden(who, !me);
  setHidden($('#admin-link'), !(me && me.is_admin));
  // With the host app's users, accounts (log in, sign up, password, log out) are the app's.
  const own = api.OWN_ACCOUNTS;
  const path = chatPath(location.pathname);
  setHidden($('#account-link'), !me || !own);
  setHidden($('#logout'), !me || !own);
  setHidden($('#login-link'), !own || !!me || path === '/login');
  setHidden($('#signup-link'), !own || !!me || path === '/signup');
}

$('#logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch (e) {
    // Logging out of an expired session is fine.
  }
  state.me = null;
  navigate('/login');
});

// ---- auth views -----------------------------------------------------------------------------

function authForm(view, formId, errorId, action) {
  const node = mount(clone(view));
  const form = $('#' + formId, node);
  const err = $('#' + errorId, node);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(err, null);
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      showError(err, 'Enter a username and a password.');
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const user = await action(username, password);
      state.me = user && user.username ? user : await api.me();
      navigate('/');
    } catch (e2) {
      showError(err, e2);
    } finally {
      button.disabled = false;
    }
  });
  form.elements.username.focus();
}

function renderLogin() {
  document.title = 'Log in · Chat';
  authForm('tpl-login', 'login-form', 'login-error', api.login);
}

function renderSignup() {
  document.title = 'Sign up · Chat';
  authForm('tpl-signup', 'signup-form', 'signup-error', api.signup);
}

// ---- account --------------------------------------------------------------------------------

function renderAccount() {
  document.title = 'Account · Chat';
  const node = mount(clone('tpl-account'));
  const form = $('#password-form', node);
  const err = $('#password-error', node);
  const done = $('#password-done', node);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(err, null);
    setHidden(done, true);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api.changePassword(form.elements.old.value, form.elements.new.value);
      form.reset();
      setHidden(done, false);
    } catch (e2) {
      if (e2.status === 401 && e2.code !== 'invalid_credentials') return sessionLost();
      showError(err, e2.code === 'invalid_credentials' ? 'The current password is wrong.' : e2);
    } finally {
      button.disabled = false;
    }
  });
  const allErr = $('#logout-all-error', node);
  $('#logout-all', node).addEventListener('click', async () => {
    showError(allErr, null);
    try {
      await api.logoutAll();
    } catch (e2) {
      if (e2.status !== 401) return showError(allErr, e2);
    }
    sessionLost();
  });
}

function renderNotFound() {
  document.title = 'Not found · Chat';
  mount(clone('tpl-notfound'));
}

// ---- room list ------------------------------------------------------------------------------

function renderRooms() {
  document.title = 'Rooms · Chat';
  const node = mount(clone('tpl-rooms'));
  const listEl = $('#room-list', node);
  const emptyEl = $('#room-list-empty', node);
  const searchForm = $('#room-search-form', node);
  const searchInput = $('#room-search', node);
  const createForm = $('#create-room-form', node);
  const createErr = $('#create-room-error', node);
  let alive = true;
  state.cleanup = () => {
    alive = false;
  };

  async function load() {
    let rooms;
    try {
      rooms = await api.rooms(searchInput.value.trim());
    } catch (e) {
      if (e.status === 401) return sessionLost();
      showError(createErr, e);
      return;
    }
    if (!alive) return;
    listEl.replaceChildren(
      ...rooms.map((r) => {
        const li = document.createElement('li');
        li.className = 'room-item';
        li.dataset.room = r.name;
        const a = document.createElement('a');
        a.href = browserPath(roomPath(r.name));
        a.setAttribute('data-link', '');
        a.className = 'room-name';
        a.textContent = r.name;
        li.appendChild(a);
        if (r.member) {
          const badge = document.createElement('span');
          badge.className = 'badge';
          badge.textContent = 'joined';
          li.appendChild(badge);
        }
        if (r.description) {
          const p = document.createElement('p');
          p.className = 'muted room-desc';
          p.textContent = r.description;
          li.appendChild(p);
        }
        return li;
      }),
    );
    emptyEl.textContent = searchInput.value.trim() ? 'No room matches.' : 'No rooms yet.';
    setHidden(emptyEl, rooms.length > 0);
  }

  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  let searchTimer = null;
  searchInput.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(load, 250);
  });

  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(createErr, null);
    const name = createForm.elements.name.value.trim();
    const description = createForm.elements.description.value.trim();
    if (!name) {
      showError(createErr, 'Give the room a name.');
      return;
    }
    const button = createForm.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const room = await api.createRoom(name, description);
      navigate(roomPath((room && room.name) || name));
    } catch (e2) {
      if (e2.status === 401) return sessionLost();
      showError(createErr, e2);
    } finally {
      button.disabled = false;
    }
  });

  load();
}

function sessionLost() {
  state.me = null;
  navigate(api.OWN_ACCOUNTS ? '/login' : '/', true);
}

// ---- room page ------------------------------------------------------------------------------

function renderRoom(name) {
  document.title = `${name} · Chat`;
  const node = mount(clone('tpl-room'));
  const page = new RoomPage(name, node);
  state.cleanup = () => page.close();
  page.start();
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * One open room: its messages (a Map by seq, so resends and replays never duplicate), the
 * WebSocket with reconnect and resume, the outbox, typing and presence.
 */
class RoomPage {
  constructor(name, node) {
    this.name = name;
    this.node = node;
    this.el = {
      title: $('#room-title', node),
      desc: $('#room-desc', node),
      scroller: $('#messages', node),
      list: $('#message-list', node),
      pending: $('#pending-list', node),
      historyStatus: $('#history-status', node),
      typing: $('#typing', node),
      form: $('#send-form', node),
      input: $('#message-input', node),
      send: $('#send-button', node),
      error: $('#room-error', node),
      online: $('#online-list', node),
      onlineCount: $('#online-count', node),
      side: $('#room-side', node),
      toggleSide: $('#toggle-side', node),
      searchForm: $('#message-search-form', node),
      searchInput: $('#message-search', node),
      searchResults: $('#search-results', node),
    };
    /** seq -> message (deleted ones stay, flagged, so a replay cannot bring them back). */
    this.messages = new Map();
    /** seq -> <li> of rendered messages. */
    this.rendered = new Map();
    /** Rendered seqs in ascending order (for insertion). */
    this.order = [];
    /** Highest seq received from the live stream: what a reconnect resumes after. */
    this.cursor = null;
    this.hasMore = true;
    this.loadingOlder = false;
    /** client_id -> {body, state}; persisted in sessionStorage until acked. */
    this.outbox = new Map();
    this.pendingEls = new Map();
    this.typers = new Map();
    this.lastTypingSent = 0;
    this.ws = null;
    this.joined = false;
    this.everOpened = false;
    this.attempts = 0;
    this.reconnectTimer = null;
    this.countdownTimer = null;
    this.closed = false;
    this.listeners = [];
    this.checkScheduled = false;
    /** While resuming: the last seq of the replay still to come (null when live). */
    this.replayUntil = null;
    // A debugging aid (also used by the browser test): drop the socket as a network failure would.
    // lastClose: code and reason of the last socket close.
    window.chatDebug = {
      dropConnection: () => this.ws && this.ws.close(4000, 'dropped for debugging'),
      lastClose: null,
    };
    /** Set after the first `joined`: later ones are rejoins after a reconnect. */
    this.everRejoined = false;
  }

  // ---- lifecycle ----

  async start() {
    this.el.title.textContent = this.name;
    this.bindUi();
    this.loadOutbox();
    let room;
    try {
      room = await api.room(this.name);
    } catch (e) {
      if (this.closed) return;
      if (e.status === 401 || e.status === 404) {
        this.close();
        return e.status === 401 ? sessionLost() : renderNotFound();
      }
      // Join without a resume point; `joined` tells where the room is.
      showError(this.el.error, e);
      room = null;
    }
    if (this.closed) return;
    if (room) {
      this.el.title.textContent = room.name || this.name;
      this.el.desc.textContent = room.description || '';
      const last = Number(room.last_seq) || 0;
      // Resume from one page before the end: the join replays the newest page, then goes live.
      this.cursor = Math.max(0, last - HISTORY_PAGE);
      this.hasMore = this.cursor > 0;
      this.updateHistoryStatus();
    }
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.countdownTimer);
    for (const t of this.typers.values()) clearTimeout(t);
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    if (this.resizeObserver) this.resizeObserver.disconnect();
    setHidden($('#reconnect-banner'), true);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'leave', room: this.name }));
        ws.close(1000, 'left the page');
      } catch (_) {
        // already closed
      }
    }
  }

  listen(target, type, fn) {
    target.addEventListener(type, fn);
    this.listeners.push([target, type, fn]);
  }

  // ---- UI wiring ----

  bindUi() {
    const { form, input, scroller, toggleSide, side, searchForm } = this.el;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    input.addEventListener('input', () => {
      this.autoGrow();
      if (input.value.trim()) this.sendTyping();
    });
    this.atBottom = true;
    scroller.addEventListener(
      'scroll',
      () => {
        this.atBottom = this.nearBottom();
        this.scheduleCheck();
      },
      { passive: true },
    );
    // When the list gets shorter (banner shown, keyboard opened, window resized), stay at the
    // newest message if that is where the reader was.
    if (window.ResizeObserver) {
      this.resizeObserver = new ResizeObserver(() => {
        if (this.atBottom) this.scrollToBottom();
      });
      this.resizeObserver.observe(scroller);
    }
    toggleSide.addEventListener('click', () => {
      const open = side.classList.toggle('open');
      toggleSide.setAttribute('aria-expanded', String(open));
    });
    searchForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.search();
    });
    this.listen($('#reconnect-now'), 'click', () => this.reconnectNow());
    this.listen(window, 'online', () => this.reconnectNow());
    this.listen(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible' && !this.isOpen()) this.reconnectNow();
    });
  }

  autoGrow() {
    const ta = this.el.input;
    ta.style.height = 'auto';
    ta.style.height = Math.min(ta.scrollHeight, 160) + 'px';
  }

  // ---- socket ----

  isOpen() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    this.joined = false;
    let ws;
    try {
      ws = new WebSocket(api.PATHS.ws());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.everOpened = true;
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      // The socket is opened with batch=1: one text frame may hold several frames, one per
      // line (a frame never holds a raw newline).
      for (const line of ev.data.split('\n')) {
        let frame;
        try {
          frame = JSON.parse(line);
        } catch (_) {
          continue;
        }
        if (this.ws !== ws) return;
        this.onFrame(frame);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      window.chatDebug.lastClose = { code: ev.code, reason: ev.reason };
      this.ws = null;
      this.joined = false;
      if (this.closed) return;
      this.markOutboxWaiting();
      if (!opened || ev.code === 4001) {
        // The handshake failed (a 401 gives browsers no close code) or the server ended the
        // session (4001): if it is gone, log in again; otherwise keep retrying.
        api
          .me()
          .then((me) => {
            if (this.closed) return;
            if (!me) sessionLost();
            else this.scheduleReconnect(ev);
          })
          .catch(() => this.scheduleReconnect(ev));
      } else {
        this.scheduleReconnect(ev);
      }
    };
    ws.onerror = () => {
      // onclose follows and does the work.
    };
  }

  send(frame) {
    if (!this.isOpen()) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch (_) {
      return false;
    }
  }

  scheduleReconnect(ev) {
    if (this.closed) return;
    const abuse = ev && ev.code === 4029;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempts);
    const delay = Math.round((abuse ? BACKOFF_MAX_MS : base) * (0.75 + Math.random() * 0.5));
    this.attempts += 1;
    const due = Date.now() + delay;
    const banner = $('#reconnect-banner');
    const text = $('#reconnect-text');
    const tick = () => {
      const s = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      text.textContent =
        s > 0 ? `Connection lost. Reconnecting in ${s} s…` : 'Connection lost. Reconnecting…';
    };
    tick();
    banner.hidden = false;
    document.body.classList.add('offline');
    clearInterval(this.countdownTimer);
    this.countdownTimer = setInterval(tick, 500);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      clearInterval(this.countdownTimer);
      text.textContent = 'Connection lost. Reconnecting…';
      this.connect();
    }, delay);
  }

  reconnectNow() {
    if (this.closed || this.ws) return;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.countdownTimer);
    this.connect();
  }

  onFrame(f) {
    switch (f.type) {
      case 'hello':
        if (f.user && f.user.username) state.me = { ...(state.me || {}), ...f.user };
        this.send(
          this.cursor === null
            ? { type: 'join', room: this.name }
            : { type: 'join', room: this.name, after_seq: this.cursor },
        );
        break;
      case 'joined':
        if (f.room !== this.name) break;
        this.onJoined(f);
        break;
      case 'message':
        if (f.room === this.name) this.onMessage(f, true);
        break;
      case 'ack':
        if (f.room === this.name) this.onAck(f);
        break;
      case 'edited':
        // Only messages already loaded: an edit must not punch a hole into the history.
        if (f.room === this.name && this.messages.has(Number(f.seq))) this.onMessage(f, false);
        break;
      case 'deleted':
        if (f.room === this.name) this.onDeleted(f.seq);
        break;
      case 'presence':
        if (f.room === this.name && Array.isArray(f.online)) this.renderOnline(f.online);
        if (f.room === this.name && f.status === 'offline' && f.user) this.stopTyping(f.user);
        break;
      case 'typing':
        if (f.room === this.name && f.user) this.onTyping(f.user);
        break;
      case 'history':
        if (f.room === this.name) this.onHistory(f.messages || [], !!f.has_more);
        break;
      case 'room_deleted':
      case 'left':
        if (f.room === this.name) this.onRoomGone(f.type);
        break;
      case 'error':
        this.onError(f);
        break;
      default:
        break;
    }
  }

  onJoined(f) {
    this.joined = true;
    this.attempts = 0;
    clearInterval(this.countdownTimer);
    setHidden($('#reconnect-banner'), true);
    document.body.classList.remove('offline');
    showError(this.el.error, null);
    if (typeof f.description === 'string') this.el.desc.textContent = f.description;
    if (Array.isArray(f.online)) this.renderOnline(f.online);
    if (this.cursor === null) {
      this.cursor = Number(f.last_seq) || 0;
      this.hasMore = this.cursor > 0;
    }
    // Messages up to last_seq are being replayed; look at the scroll position only after them.
    const last = Number(f.last_seq) || 0;
    this.replayUntil = this.cursor !== null && this.cursor < last ? last : null;
    if (this.replayUntil !== null) {
      // In case the replay skips its last seq (e.g. a deleted message): stop waiting anyway.
      setTimeout(() => {
        if (this.replayUntil === null || this.closed) return;
        this.replayUntil = null;
        this.scheduleCheck();
      }, 1500);
    }
    if (this.everRejoined) this.refreshLoaded();
    this.everRejoined = true;
    this.flushOutbox();
    this.scheduleCheck();
  }

  onRoomGone(kind) {
    showError(
      this.el.error,
      kind === 'room_deleted' ? 'This room was deleted.' : 'You left this room.',
    );
    this.el.send.disabled = true;
    this.el.input.disabled = true;
  }

  onError(f) {
    if (f.client_id && this.outbox.has(f.client_id)) {
      if (f.code === 'rate_limited') {
        // Retry this one later, a little slower each time.
        const cid = f.client_id;
        const entry = this.outbox.get(cid);
        entry.state = 'waiting';
        entry.retries = (entry.retries || 0) + 1;
        this.renderPending(cid);
        const delay = Math.min(10000, 1000 * entry.retries) * (0.75 + Math.random() * 0.5);
        setTimeout(() => {
          const e = this.outbox.get(cid);
          if (!this.closed && e && e.state === 'waiting' && this.joined) this.sendFromOutbox(cid);
        }, delay);
        return;
      }
      this.failPending(f.client_id, f.message || f.code);
      return;
    }
    if (f.code === 'unknown_room' && f.room === this.name) {
      this.onRoomGone('room_deleted');
      return;
    }
    showError(this.el.error, f.message || f.code || 'Something went wrong.');
  }

  // ---- messages ----

  nearBottom() {
    const s = this.el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToBottom() {
    const s = this.el.scroller;
    s.scrollTop = s.scrollHeight;
    this.atBottom = true;
  }

  /** A `message` (live) or `edited` frame, or a history entry. */
  onMessage(m, live) {
    const seq = Number(m.seq);
    if (!Number.isFinite(seq)) return;
    if (live) {
      if (this.cursor === null || seq > this.cursor) this.cursor = seq;
      if (this.replayUntil !== null && seq >= this.replayUntil) {
        this.replayUntil = null;
        this.scheduleCheck();
      }
      if (m.author) this.stopTyping(m.author);
    }
    if (m.client_id) this.removePending(m.client_id);
    for (const [cid, el] of this.pendingEls) {
      if (el.dataset.ackedSeq === String(seq)) this.removePending(cid);
    }
    const stick = this.nearBottom();
    const wasEmpty = this.rendered.size === 0;
    this.upsert(m);
    if (wasEmpty) this.updateHistoryStatus();
    if (stick) this.scrollToBottom();
  }

  upsert(m) {
    const seq = Number(m.seq);
    const prev = this.messages.get(seq);
    if (prev && prev.deleted) return; // deletion is final
    const msg = { ...(prev || {}), ...m, seq };
    this.messages.set(seq, msg);
    if (msg.deleted) {
      this.unrender(seq);
      return;
    }
    let li = this.rendered.get(seq);
    if (!li) {
      li = this.buildMessage(msg);
      this.insertSorted(seq, li);
    } else {
      this.fillMessage(li, msg);
    }
  }

  insertSorted(seq, li) {
    const order = this.order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    const before = lo < order.length ? this.rendered.get(order[lo]) : null;
    order.splice(lo, 0, seq);
    this.rendered.set(seq, li);
    this.el.list.insertBefore(li, before);
  }

  unrender(seq) {
    const li = this.rendered.get(seq);
    if (!li) return;
    li.remove();
    this.rendered.delete(seq);
    const i = this.order.indexOf(seq);
    if (i >= 0) this.order.splice(i, 1);
  }

  onDeleted(seq) {
    seq = Number(seq);
    const prev = this.messages.get(seq) || { seq };
    this.messages.set(seq, { ...prev, deleted: true, body: '' });
    this.unrender(seq);
  }

  buildMessage(msg) {
    const li = clone('tpl-message');
    li.dataset.seq = String(msg.seq);
    this.fillMessage(li, msg);
    $('.edit-btn', li).addEventListener('click', () => this.startEdit(Number(li.dataset.seq)));
    $('.delete-btn', li).addEventListener('click', () => this.deleteMessage(Number(li.dataset.seq)));
    return li;
  }

  fillMessage(li, msg) {
    const me = state.me || {};
    const own = msg.author === me.username;
    li.dataset.author = msg.author || '';
    li.classList.toggle('own', own);
    $('.author', li).textContent = msg.author || '';
    const time = $('.time', li);
    time.dateTime = msg.created_at || '';
    time.textContent = formatTime(msg.created_at);
    time.title = msg.created_at ? new Date(msg.created_at).toLocaleString() : '';
    setHidden($('.edited', li), !msg.edited_at);
    if (!li.classList.contains('editing')) $('.body', li).textContent = msg.body || '';
    const canDelete = own || !!me.is_admin;
    setHidden($('.actions', li), !(own || canDelete));
    setHidden($('.edit-btn', li), !own);
    setHidden($('.delete-btn', li), !canDelete);
  }

  startEdit(seq) {
    const msg = this.messages.get(seq);
    const li = this.rendered.get(seq);
    if (!msg || !li || li.classList.contains('editing')) return;
    li.classList.add('editing');
    const body = $('.body', li);
    const form = document.createElement('form');
    form.className = 'edit-form';
    const ta = document.createElement('textarea');
    ta.value = msg.body || '';
    ta.rows = 2;
    ta.maxLength = 4000;
    ta.className = 'edit-input';
    ta.setAttribute('aria-label', 'Edit message');
    const save = document.createElement('button');
    save.type = 'submit';
    save.className = 'primary small';
    save.textContent = 'Save';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'small';
    cancel.textContent = 'Cancel';
    form.append(ta, save, cancel);
    body.replaceChildren(form);
    const finish = () => {
      li.classList.remove('editing');
      const current = this.messages.get(seq);
      body.textContent = current ? current.body || '' : '';
    };
    cancel.addEventListener('click', finish);
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') finish();
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = ta.value.trim();
      if (!text) return;
      if (text !== msg.body && !this.send({ type: 'edit', room: this.name, seq, body: text })) {
        showError(this.el.error, 'Not connected: the edit was not sent.');
        return;
      }
      finish();
    });
    ta.focus();
  }

  deleteMessage(seq) {
    if (!confirm('Delete this message?')) return;
    if (!this.send({ type: 'delete', room: this.name, seq })) {
      showError(this.el.error, 'Not connected: the message was not deleted.');
    }
  }

  // ---- history ----

  minSeq() {
    let min = Infinity;
    for (const seq of this.messages.keys()) if (seq < min) min = seq;
    if (min === Infinity) min = (this.cursor || 0) + 1;
    return min;
  }

  scheduleCheck() {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    requestAnimationFrame(() => {
      this.checkScheduled = false;
      if (this.closed || this.replayUntil !== null) return;
      if (this.el.scroller.scrollTop < 120) this.loadOlder();
    });
  }

  updateHistoryStatus() {
    const el = this.el.historyStatus;
    if (this.loadingOlder) el.textContent = 'Loading older messages…';
    else if (!this.hasMore) el.textContent = this.rendered.size ? 'Start of the conversation' : 'No messages yet. Say hello!';
    else el.textContent = '';
  }

  async loadOlder() {
    if (!this.hasMore || this.loadingOlder || this.closed) return;
    const before = this.minSeq();
    if (before <= 1) {
      this.hasMore = false;
      this.updateHistoryStatus();
      return;
    }
    this.loadingOlder = true;
    this.updateHistoryStatus();
    try {
      const page = await api.messages(this.name, { beforeSeq: before, limit: HISTORY_PAGE });
      if (this.closed) return;
      this.onHistory(page.messages, page.has_more);
    } catch (e) {
      if (e.status === 401) return sessionLost();
      showError(this.el.error, e);
      // Try again on the next scroll.
    } finally {
      this.loadingOlder = false;
      if (!this.closed) this.updateHistoryStatus();
    }
    if (!this.closed && this.hasMore) this.scheduleCheck();
  }

  onHistory(messages, hasMore) {
    const s = this.el.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const wasEmpty = this.rendered.size === 0;
    for (const m of messages) this.upsert(m);
    const min = messages.reduce((a, m) => Math.min(a, Number(m.seq)), Infinity);
    this.hasMore = !!hasMore && messages.length > 0 && min > 1;
    if (wasEmpty) this.scrollToBottom();
    else s.scrollTop = s.scrollHeight - fromBottom;
    this.updateHistoryStatus();
  }

  /** After a reconnect: re-read the loaded window so edits and deletions made while away show. */
  async refreshLoaded() {
    const min = this.minSeq();
    if (!Number.isFinite(min) || this.cursor === null || this.cursor < min) return;
    try {
      let after = min - 1;
      for (let i = 0; i < 10 && after < this.cursor; i++) {
        const page = await api.messages(this.name, { afterSeq: after, limit: 200 });
        if (this.closed || page.messages.length === 0) return;
        for (const m of page.messages) {
          const seq = Number(m.seq);
          if (seq > this.cursor) continue; // the live stream delivers these
          const known = this.messages.get(seq);
          if (m.deleted) this.onDeleted(seq);
          else if (!known || known.body !== m.body || known.edited_at !== m.edited_at) this.upsert(m);
          after = Math.max(after, seq);
        }
      }
    } catch (_) {
      // Best effort: the live stream is correct either way.
    }
  }

  // ---- sending and the outbox ----

  storageKey() {
    return 'chat-outbox:' + this.name;
  }

  loadOutbox() {
    try {
      const raw = sessionStorage.getItem(this.storageKey());
      const items = raw ? JSON.parse(raw) : [];
      for (const { client_id: cid, body } of items) {
        if (typeof cid === 'string' && typeof body === 'string') {
          this.outbox.set(cid, { body, state: 'waiting' });
          this.renderPending(cid);
        }
      }
    } catch (_) {
      // A broken entry is dropped.
    }
  }

  saveOutbox() {
    try {
      const items = [...this.outbox].map(([cid, e]) => ({ client_id: cid, body: e.body }));
      if (items.length) sessionStorage.setItem(this.storageKey(), JSON.stringify(items));
      else sessionStorage.removeItem(this.storageKey());
    } catch (_) {
      // Storage full or disabled: the in-memory outbox still works.
    }
  }

  submit() {
    const body = this.el.input.value.trim();
    if (!body) return;
    const cid = newClientId();
    this.outbox.set(cid, { body, state: 'waiting' });
    this.saveOutbox();
    this.el.input.value = '';
    // The next keystroke is news again, once the server's 1 s typing throttle has passed.
    this.lastTypingSent = Date.now() - TYPING_SEND_EVERY_MS + 1100;
    this.autoGrow();
    this.renderPending(cid);
    this.scrollToBottom();
    if (this.joined) this.sendFromOutbox(cid);
  }

  sendFromOutbox(cid) {
    const entry = this.outbox.get(cid);
    if (!entry) return;
    if (this.send({ type: 'send', room: this.name, body: entry.body, client_id: cid })) {
      entry.state = 'sent';
    } else {
      entry.state = 'waiting';
    }
    this.renderPending(cid);
  }

  /** Sends every queued message not yet on the wire (after a (re)join). Messages sent but not
   * acked are reset to waiting when a connection drops, so they go again, with the same
   * client_id: the server deduplicates. */
  flushOutbox() {
    if (!this.joined) return;
    for (const [cid, entry] of this.outbox) if (entry.state === 'waiting') this.sendFromOutbox(cid);
  }

  markOutboxWaiting() {
    for (const [cid, entry] of this.outbox) {
      entry.state = 'waiting';
      this.renderPending(cid);
    }
  }

  onAck(f) {
    const cid = f.client_id;
    if (!cid) return;
    this.outbox.delete(cid);
    this.saveOutbox();
    const el = this.pendingEls.get(cid);
    if (!el) return;
    const seq = Number(f.seq);
    // Already shown, or (a duplicate resend of) a message older than the stream's position,
    // which will not arrive live again: nothing is pending any more.
    if (this.messages.has(seq) || (this.cursor !== null && seq <= this.cursor)) this.removePending(cid);
    else {
      el.dataset.ackedSeq = String(f.seq);
      el.classList.add('acked');
      $('.status', el).textContent = 'sent';
    }
  }

  renderPending(cid) {
    const entry = this.outbox.get(cid);
    if (!entry) return;
    let li = this.pendingEls.get(cid);
    if (!li) {
      li = document.createElement('li');
      li.className = 'message own pending';
      li.dataset.clientId = cid;
      const meta = document.createElement('div');
      meta.className = 'meta';
      const author = document.createElement('span');
      author.className = 'author';
      author.textContent = (state.me && state.me.username) || '';
      const status = document.createElement('span');
      status.className = 'status muted';
      meta.append(author, document.createTextNode(' '), status);
      const body = document.createElement('div');
      body.className = 'body';
      body.textContent = entry.body;
      li.append(meta, body);
      this.pendingEls.set(cid, li);
      this.el.pending.appendChild(li);
    }
    $('.status', li).textContent =
      entry.state === 'sent' ? 'sending…' : this.isOpen() ? 'queued' : 'not sent yet: will retry';
  }

  removePending(cid) {
    const li = this.pendingEls.get(cid);
    if (li) li.remove();
    this.pendingEls.delete(cid);
    if (this.outbox.delete(cid)) this.saveOutbox();
  }

  failPending(cid, reason) {
    this.outbox.delete(cid);
    this.saveOutbox();
    const li = this.pendingEls.get(cid);
    if (!li) return;
    li.classList.add('failed');
    $('.status', li).textContent = 'not sent: ' + reason;
    let dismiss = $('.dismiss', li);
    if (!dismiss) {
      dismiss = document.createElement('button');
      dismiss.type = 'button';
      dismiss.className = 'linkish dismiss';
      dismiss.textContent = 'Dismiss';
      dismiss.addEventListener('click', () => {
        li.remove();
        this.pendingEls.delete(cid);
      });
      li.appendChild(dismiss);
    }
  }

  // ---- typing and presence ----

  sendTyping() {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_SEND_EVERY_MS || !this.joined) return;
    this.lastTypingSent = now;
    this.send({ type: 'typing', room: this.name });
  }

  onTyping(user) {
    if (state.me && user === state.me.username) return;
    clearTimeout(this.typers.get(user));
    this.typers.set(
      user,
      setTimeout(() => this.stopTyping(user), TYPING_SHOW_MS),
    );
    this.renderTyping();
  }

  stopTyping(user) {
    if (!this.typers.has(user)) return;
    clearTimeout(this.typers.get(user));
    this.typers.delete(user);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typers.keys()];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.el.typing.textContent = text;
  }

  renderOnline(online) {
    const names = [...new Set(online.map((u) => (typeof u === 'string' ? u : u && u.username)).filter(Boolean))];
    names.sort((a, b) => a.localeCompare(b));
    this.el.online.replaceChildren(
      ...names.map((n) => {
        const li = document.createElement('li');
        li.dataset.user = n;
        li.textContent = n;
        if (state.me && n === state.me.username) li.classList.add('me');
        return li;
      }),
    );
    this.el.onlineCount.textContent = String(names.length);
  }

  // ---- search ----

  async search() {
    const q = this.el.searchInput.value.trim();
    const out = this.el.searchResults;
    if (!q) {
      out.replaceChildren();
      return;
    }
    try {
      const results = await api.search(this.name, q);
      if (this.closed) return;
      if (!results.length) {
        const li = document.createElement('li');
        li.className = 'muted';
        li.textContent = 'No matches.';
        out.replaceChildren(li);
        return;
      }
      out.replaceChildren(
        ...results.map((m) => {
          const li = document.createElement('li');
          li.dataset.seq = String(m.seq);
          const meta = document.createElement('div');
          meta.className = 'meta';
          const a = document.createElement('span');
          a.className = 'author';
          a.textContent = m.author || '';
          const t = document.createElement('time');
          t.className = 'time';
          t.textContent = ' ' + formatTime(m.created_at);
          meta.append(a, t);
          const b = document.createElement('div');
          b.className = 'body';
          b.textContent = m.body || '';
          li.append(meta, b);
          return li;
        }),
      );
    } catch (e) {
      if (e.status === 401) return sessionLost();
      const li = document.createElement('li');
      li.className = 'error';
      li.textContent = e.message;
      out.replaceChildren(li);
    }
  }
}

route();
