// admin.js: the admin panel at /admin. Three tabs: users (search, deactivate/reactivate, make
// admin/revoke), rooms (edit description, delete) and messages (browse a room, delete).
// Destructive actions ask confirm() first. Data is only ever written with textContent.

import * as api from './endpoints.js';

const $ = (sel, root = document) => root.querySelector(sel);

const ui = {
  who: $('#whoami'),
  status: $('#admin-status'),
  error: $('#admin-error'),
  userSearchForm: $('#user-search-form'),
  userSearch: $('#user-search'),
  userList: $('#user-list'),
  usersMore: $('#users-more'),
  roomSearchForm: $('#admin-room-search-form'),
  roomSearch: $('#admin-room-search'),
  roomList: $('#admin-room-list'),
  messageRoomForm: $('#message-room-form'),
  messageRoom: $('#message-room'),
  messageList: $('#admin-message-list'),
  messagesMore: $('#messages-more'),
};

let me = null;
let statusTimer = null;

function say(text) {
  ui.status.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    ui.status.textContent = '';
  }, 4000);
}

function fail(e) {
  if (e && e.status === 401) {
    location.assign(api.SIGN_IN_PAGE);
    return;
  }
  ui.error.textContent = e instanceof Error ? e.message : String(e);
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function button(text, onClick, className = 'small') {
  return el('button', { type: 'button', className, text, on: { click: onClick } });
}

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/** Runs an action with the error line cleared and every button of `row` disabled meanwhile. */
async function act(row, fn) {
  clearError();
  const buttons = row ? [...row.querySelectorAll('button')] : [];
  for (const b of buttons) b.disabled = true;
  try {
    await fn();
  } catch (e) {
    fail(e);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// ---- tabs -----------------------------------------------------------------------------------

const loaded = new Set();

function showTab(name) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const on = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(on));
    $('#panel-' + tab.dataset.tab).hidden = !on;
  }
  if (!loaded.has(name)) {
    loaded.add(name);
    if (name === 'users') loadUsers(false);
    if (name === 'rooms') loadRooms();
    if (name === 'messages') loadRoomChoices();
  }
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
}

for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => showTab(tab.dataset.tab));
}

window.addEventListener('hashchange', () => {
  const tab = location.hash.replace('#', '');
  if (me && me.is_admin && ['users', 'rooms', 'messages'].includes(tab)) showTab(tab);
});

$('#logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch (_) {
    // Already logged out.
  }
  location.assign(api.SIGN_IN_PAGE);
});

// ---- users ----------------------------------------------------------------------------------

let lastUserId = null;

async function loadUsers(more) {
  clearError();
  try {
    const users = await api.adminUsers(ui.userSearch.value.trim(), more ? lastUserId : undefined);
    const rows = users.map(userRow);
    if (more) ui.userList.append(...rows);
    else ui.userList.replaceChildren(...rows);
    if (users.length) lastUserId = users[users.length - 1].id;
    ui.usersMore.hidden = users.length < 200;
    if (!more && !users.length) {
      ui.userList.replaceChildren(el('tr', {}, el('td', { colSpan: 4, className: 'muted', text: 'No users match.' })));
    }
  } catch (e) {
    fail(e);
  }
}

function userRow(u) {
  const tr = el('tr', { dataset: { userId: String(u.id), username: u.username } });
  fillUserRow(tr, u);
  return tr;
}

function fillUserRow(tr, u) {
  const self = me && u.id === me.id;
  const status = el('td', { dataset: { label: 'Status' } });
  status.append(el('span', { className: u.is_active ? 'badge' : 'badge off', text: u.is_active ? 'active' : 'deactivated' }));
  if (u.is_admin) status.append(el('span', { className: 'badge', text: 'admin' }));

  const actions = el('div', { className: 'row-actions' });
  if (u.is_active) {
    const b = button('Deactivate', () => {
      if (!confirm(`Deactivate ${u.username}? They are logged out everywhere.`)) return;
      act(tr, async () => {
        fillUserRow(tr, await api.adminSetActive(u.id, false));
        say(`${u.username} deactivated.`);
      });
    }, 'small danger deactivate');
    b.disabled = !!self;
    actions.append(b);
  } else {
    actions.append(button('Reactivate', () => act(tr, async () => {
      fillUserRow(tr, await api.adminSetActive(u.id, true));
      say(`${u.username} reactivated.`);
    }), 'small reactivate'));
  }
  if (u.is_admin) {
    const b = button('Revoke admin', () => {
      if (!confirm(`Revoke the admin rights of ${u.username}?`)) return;
      act(tr, async () => {
        fillUserRow(tr, await api.adminSetAdmin(u.id, false));
        say(`${u.username} is no longer an admin.`);
      });
    }, 'small danger revoke-admin');
    b.disabled = !!self;
    actions.append(b);
  } else {
    actions.append(button('Make admin', () => {
      if (!confirm(`Make ${u.username} an admin?`)) return;
      act(tr, async () => {
        fillUserRow(tr, await api.adminSetAdmin(u.id, true));
        say(`${u.username} is now an admin.`);
      });
    }, 'small make-admin'));
  }

  tr.replaceChildren(
    el('td', { className: 'name', dataset: { label: 'User' } }, el('strong', { text: u.username }), self ? ' (you)' : ''),
    status,
    el('td', { dataset: { label: 'Joined' }, text: when(u.created_at) }),
    el('td', {}, actions),
  );
}

ui.userSearchForm.addEventListener('submit', (e) => {
  e.preventDefault();
  loadUsers(false);
});
ui.usersMore.addEventListener('click', () => loadUsers(true));

// ---- rooms ----------------------------------------------------------------------------------

async function loadRooms() {
  clearError();
  try {
    const rooms = await api.adminRooms(ui.roomSearch.value.trim());
    ui.roomList.replaceChildren(...rooms.map(roomRow));
    if (!rooms.length) {
      ui.roomList.replaceChildren(el('tr', {}, el('td', { colSpan: 4, className: 'muted', text: 'No rooms.' })));
    }
  } catch (e) {
    fail(e);
  }
}

function roomRow(r) {
  const tr = el('tr', { dataset: { room: r.name } });
  const input = el('input', { value: r.description || '', maxLength: 500, 'aria-label': `Description of ${r.name}` });
  const form = el('form', { className: 'desc-form' }, input, el('button', { type: 'submit', className: 'small', text: 'Save' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(tr, async () => {
      const room = await api.adminSetRoomDescription(r.name, input.value.trim());
      input.value = (room && typeof room.description === 'string') ? room.description : input.value.trim();
      say(`Description of ${r.name} saved.`);
    });
  });
  const actions = el(
    'div',
    { className: 'row-actions' },
    button('Messages', () => {
      showTab('messages');
      loadRoomChoices(r.name);
    }),
    button('Delete', () => {
      if (!confirm(`Delete the room ${r.name} and all its messages? This cannot be undone.`)) return;
      act(tr, async () => {
        await api.adminDeleteRoom(r.name);
        tr.remove();
        say(`Room ${r.name} deleted.`);
        loaded.delete('messages');
      });
    }, 'small danger delete-room'),
  );
  tr.append(
    el('td', { className: 'name', dataset: { label: 'Room' } }, el('a', { href: 'rooms/' + encodeURIComponent(r.name), text: r.name })),
    el('td', { dataset: { label: 'Description' } }, form),
    el('td', { dataset: { label: 'Last seq' }, text: String(r.last_seq ?? '') }),
    el('td', {}, actions),
  );
  return tr;
}

ui.roomSearchForm.addEventListener('submit', (e) => {
  e.preventDefault();
  loadRooms();
});

// ---- messages -------------------------------------------------------------------------------

let msgRoom = null;
let oldestSeq = null;

async function loadRoomChoices(select) {
  clearError();
  try {
    const rooms = await api.adminRooms('');
    const current = select || ui.messageRoom.value || (rooms[0] && rooms[0].name) || '';
    ui.messageRoom.replaceChildren(...rooms.map((r) => el('option', { value: r.name, text: r.name })));
    if (current) {
      ui.messageRoom.value = current;
      loadMessages(current, false);
    } else {
      ui.messageList.replaceChildren(el('tr', {}, el('td', { colSpan: 5, className: 'muted', text: 'No rooms.' })));
    }
  } catch (e) {
    fail(e);
  }
}

async function loadMessages(room, more) {
  clearError();
  if (!room) return;
  try {
    const page = await api.adminMessages(room, more ? oldestSeq : undefined);
    msgRoom = room;
    const msgs = [...page.messages].sort((a, b) => b.seq - a.seq); // newest first
    const rows = msgs.map((m) => messageRow(room, m));
    if (more) ui.messageList.append(...rows);
    else ui.messageList.replaceChildren(...rows);
    if (page.messages.length) oldestSeq = Math.min(...page.messages.map((m) => Number(m.seq)));
    ui.messagesMore.hidden = !page.has_more;
    if (!more && !msgs.length) {
      ui.messageList.replaceChildren(el('tr', {}, el('td', { colSpan: 5, className: 'muted', text: 'No messages in this room.' })));
    }
  } catch (e) {
    fail(e);
  }
}

function messageRow(room, m) {
  const tr = el('tr', { className: 'admin-message', dataset: { seq: String(m.seq) } });
  const body = el('td', { className: 'body', dataset: { label: 'Message' } });
  const actions = el('div', { className: 'row-actions' });
  if (m.deleted) {
    body.append(el('em', { className: 'muted', text: 'deleted' }));
  } else {
    body.textContent = m.body || '';
    actions.append(button('Delete', () => {
      if (!confirm(`Delete message #${m.seq} by ${m.author}?`)) return;
      act(tr, async () => {
        await api.adminDeleteMessage(room, m.seq);
        body.replaceChildren(el('em', { className: 'muted', text: 'deleted' }));
        actions.replaceChildren();
        say(`Message #${m.seq} deleted.`);
      });
    }, 'small danger delete-message'));
  }
  tr.append(
    el('td', { dataset: { label: '#' }, text: String(m.seq) }),
    el('td', { className: 'name', dataset: { label: 'Author' }, text: m.author || '' }),
    body,
    el('td', { dataset: { label: 'Posted' }, text: when(m.created_at) }),
    el('td', {}, actions),
  );
  return tr;
}

ui.messageRoomForm.addEventListener('submit', (e) => {
  e.preventDefault();
  loadMessages(ui.messageRoom.value, false);
});
ui.messageRoom.addEventListener('change', () => loadMessages(ui.messageRoom.value, false));
ui.messagesMore.addEventListener('click', () => loadMessages(msgRoom, true));

// ---- start ----------------------------------------------------------------------------------

async function start() {
  try {
    me = await api.me();
  } catch (e) {
    fail(e);
    return;
  }
  if (!me) {
    location.assign(api.SIGN_IN_PAGE);
    return;
  }
  ui.who.textContent = me.username;
  if (!me.is_admin) {
    $('#admin').replaceChildren(el('section', { className: 'card' }, el('h1', { text: 'Admins only' }), el('p', {}, el('a', { href: api.HOME, text: 'Back to the rooms' }))));
    return;
  }
  const tab = location.hash.replace('#', '');
  showTab(['users', 'rooms', 'messages'].includes(tab) ? tab : 'users');
}

api.fixHomeLinks(document);
start();
