// app.js: the chat web UI. A tiny client-side router on the path below the chat's mount (the
// page's `<base href>`: `/`, `/login`, `/signup`, `/account`, `/rooms/{name}`) renders views
// cloned from the <template>s of index.html. The room page (room/page.js and its parts) talks to
// the server through the JavaScript client SDK.
//
// Security rule of this file: data from the server or from users (names, bodies, descriptions,
// error messages) is only ever written with textContent / createTextNode, never as HTML.

import { $, clone, setHidden, showError } from './dom.js';
import * as api from './endpoints.js';
import { RoomPage } from './room/page.js';

/** Global state: the logged-in user (undefined until known) and the current view's cleanup. */
const state = { me: undefined, cleanup: null };

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
  const page = new RoomPage(name, node, {
    me: () => state.me,
    setMe: (user) => {
      state.me = { ...(state.me || {}), ...user };
    },
    sessionLost,
    notFound: renderNotFound,
  });
  state.cleanup = () => page.close();
  page.start();
}

route();
