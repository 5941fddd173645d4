// End-to-end test of the chat web UI in a real browser: Debian's headless Chromium driven by
// playwright-core (no browser download). scripts/browser-test.sh starts a server and runs this
// once per server (axum, warp).
//
// Environment:
//   BASE_URL        the server, e.g. http://127.0.0.1:38211 (required)
//   MOUNT           where the chat is mounted on it, e.g. /chat (default: the root)
//   ADMIN_USER      an admin created with `createsuperuser --password-stdin` (required)
//   ADMIN_PASSWORD  its password (required)
//   LABEL           name used in screenshot file names (default "server")
//   ARTIFACTS_DIR   where screenshots go (default ../../test-artifacts)
//   CHROMIUM        browser binary (default /usr/bin/chromium)
//   SERVER_PID_FILE, RESTART_FLAG  optional: where the server's PID is, and a file whose
//                   existence tells the supervisor in browser-test.sh to restart the server
//                   after it exits; with both, the test restarts the server once
//
// Scenario: two users sign up in two browser contexts (1280 px and 375 px wide), one creates a
// room, both join and see each other's messages live, typing and presence show; a message
// `<img src=x onerror=alert(1)>` stays literal text; reload shows history; older history loads
// when scrolling up; a dropped connection shows the banner and resumes without loss or
// duplicates, sending what was typed while offline exactly once; edit and delete of own
// messages; the admin deletes a message in the admin panel and it disappears for the others;
// a non-admin cannot open /admin; a password change ends the user's other session; log out
// everywhere; log out. Screenshots at both widths.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.BASE_URL || '').replace(/\/$/, '');
const MOUNT = (process.env.MOUNT || '').replace(/\/$/, '');
// The chat's start page: the mount itself (axum's `nest` does not route `/chat/`).
const HOME = MOUNT || '/';
const ADMIN_USER = process.env.ADMIN_USER || '';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
const LABEL = process.env.LABEL || 'server';
const ARTIFACTS = path.resolve(process.env.ARTIFACTS_DIR || path.join(here, '..', '..', 'test-artifacts'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SERVER_PID_FILE = process.env.SERVER_PID_FILE || '';
const RESTART_FLAG = process.env.RESTART_FLAG || '';
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 375, height: 740 };
const TIMEOUT = 10_000;

if (!BASE || !ADMIN_USER || !ADMIN_PASSWORD) {
  console.error('BASE_URL, ADMIN_USER and ADMIN_PASSWORD must be set');
  process.exit(2);
}

const suffix = Math.random().toString(36).slice(2, 7);
const alice = { username: `alice_${suffix}`, password: 'correct horse 1' };
const bob = { username: `bob_${suffix}`, password: 'battery staple 2' };
const roomName = `lobby-${suffix}`;
const XSS = '<img src=x onerror=alert(1)>';

let browser;
let userDataDir;
/** Every page opened, with the dialogs it saw (confirm dialogs are accepted, others recorded). */
const pages = [];
const ctx = {};

async function openPage(viewport, name) {
  const context = await browser.newContext({ viewport, baseURL: BASE });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const record = { name, page, context, dialogs: [], errors: [] };
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'confirm') {
      await dialog.accept();
    } else {
      record.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    }
  });
  page.on('pageerror', (err) => record.errors.push(String(err)));
  pages.push(record);
  return record;
}

async function shot(page, name) {
  const width = page.viewportSize().width;
  const file = path.join(ARTIFACTS, `${LABEL}-${name}-${width}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

function bodies(page) {
  return page.locator('#message-list .message .body').allTextContents();
}

async function messageSeqs(page) {
  return page.locator('#message-list .message').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
}

function messageWithText(page, text) {
  return page.locator('#message-list .message', { has: page.locator('.body', { hasText: text }) });
}

async function waitForBody(page, text) {
  await page.locator('#message-list .message .body').filter({ hasText: text }).first().waitFor();
}

async function sendMessage(page, text) {
  await page.fill('#message-input', text);
  await page.click('#send-button');
}

async function signup(page, user) {
  await page.goto(MOUNT + '/signup');
  await page.fill('#signup-username', user.username);
  await page.fill('#signup-password', user.password);
  await page.click('#signup-submit');
  await page.locator('#create-room-form').waitFor();
  await page.locator('#whoami', { hasText: user.username }).waitFor();
}

async function waitOnline(page, username) {
  await page.locator(`#online-list li[data-user="${username}"]`).waitFor({ state: 'attached' });
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // A fresh, throw-away profile for this run.
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-browser-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--disk-cache-dir=${path.join(userDataDir, 'cache')}`,
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

test('two users sign up (1280 px and 375 px wide)', async () => {
  ctx.a = await openPage(WIDE, 'alice');
  ctx.b = await openPage(NARROW, 'bob');
  await ctx.a.page.goto(HOME);
  await ctx.a.page.waitForURL('**/login');
  await shot(ctx.a.page, 'login');
  await ctx.b.page.goto(MOUNT + '/login');
  await ctx.b.page.locator('#login-form').waitFor();
  await shot(ctx.b.page, 'login');
  await signup(ctx.a.page, alice);
  await signup(ctx.b.page, bob);
  // The session cookie is HttpOnly: scripts cannot read it.
  const cookies = await ctx.a.context.cookies();
  const session = cookies.find((c) => c.name === 'chat_session');
  assert.ok(session, 'chat_session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(await ctx.a.page.evaluate(() => document.cookie.includes('chat_session')), false);
});

test('a wrong password is refused with a message', async () => {
  const probe = await openPage(NARROW, 'probe');
  await probe.page.goto(MOUNT + '/login');
  await probe.page.fill('#login-username', alice.username);
  await probe.page.fill('#login-password', 'not the password');
  await probe.page.click('#login-submit');
  await probe.page.locator('#login-error:not([hidden])').waitFor();
  assert.equal(new URL(probe.page.url()).pathname, MOUNT + '/login');
  await probe.context.close();
});

test('alice creates a room; both join; presence shows both', async () => {
  const { page } = ctx.a;
  await page.fill('#room-name', roomName);
  await page.fill('#room-description', 'Where everyone meets');
  await page.click('#create-room-submit');
  await page.waitForURL(`**/rooms/${roomName}`);
  await waitOnline(page, alice.username);
  assert.equal(await page.textContent('#room-desc'), 'Where everyone meets');

  const b = ctx.b.page;
  await b.goto(HOME);
  const link = b.locator('#room-list a', { hasText: roomName });
  await link.waitFor();
  await shot(b, 'rooms');
  await link.click();
  await b.waitForURL(`**/rooms/${roomName}`);
  await waitOnline(b, bob.username);
  await waitOnline(b, alice.username);
  await waitOnline(page, bob.username);
  // At 375 px the online list is behind a toggle.
  assert.equal(await b.locator('#online-list').isVisible(), false);
  await b.click('#toggle-side');
  await b.locator(`#online-list li[data-user="${alice.username}"]`).waitFor();
  await shot(b, 'room-online');
  await b.click('#toggle-side');

  // Room search finds it.
  await page.goto(HOME);
  await page.fill('#room-search', roomName.slice(0, 8));
  await page.locator('#room-list a', { hasText: roomName }).waitFor();
  await shot(page, 'rooms');
  await page.locator('#room-list a', { hasText: roomName }).click();
  await page.waitForURL(`**/rooms/${roomName}`);
  await waitOnline(page, bob.username);
});

test('messages arrive live both ways; typing shows', async () => {
  const a = ctx.a.page;
  const b = ctx.b.page;
  await sendMessage(a, 'hello from alice');
  await waitForBody(b, 'hello from alice');
  await waitForBody(a, 'hello from alice');
  await sendMessage(b, 'hi alice');
  await waitForBody(a, 'hi alice');
  // Typing indicator: bob types without sending.
  const indicator = a.locator('#typing', { hasText: bob.username });
  for (let i = 0; i < 30 && !(await indicator.isVisible()); i++) {
    await b.locator('#message-input').press('a');
    await b.waitForTimeout(250);
  }
  await indicator.waitFor();
  await b.fill('#message-input', '');
  // Nothing is left pending once acked.
  await a.locator('#pending-list .message').waitFor({ state: 'detached' });
});

test('a message that looks like HTML is shown as text', async () => {
  const a = ctx.a.page;
  const b = ctx.b.page;
  await sendMessage(a, XSS);
  for (const p of [a, b]) {
    await waitForBody(p, XSS);
    const texts = await bodies(p);
    assert.ok(texts.includes(XSS), 'literal text shown');
    assert.equal(await p.locator('#message-list img').count(), 0, 'no img element');
    assert.equal(await p.locator('img[src=x]').count(), 0, 'no img element anywhere');
  }
  await a.waitForTimeout(300);
  for (const r of pages) assert.deepEqual(r.dialogs, [], `no dialog in ${r.name}`);
});

test('reload shows the history exactly once, in order', async () => {
  const b = ctx.b.page;
  await b.reload();
  await waitForBody(b, XSS);
  const texts = await bodies(b);
  const want = ['hello from alice', 'hi alice', XSS];
  assert.deepEqual(texts.slice(-3), want);
  const seqs = await messageSeqs(b);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'ascending');
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  await waitOnline(b, alice.username);
});

test('older history loads when scrolling to the top', async () => {
  const a = ctx.a.page;
  // Post 70 messages over alice's own socket (same cookie) to build a long history.
  const posted = await a.evaluate(async (room) => {
    const url = new URL('ws', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url.href);
    const acks = new Set();
    await new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error('socket error'));
      ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        if (f.type === 'hello') ws.send(JSON.stringify({ type: 'join', room }));
        if (f.type === 'joined') {
          for (let i = 1; i <= 70; i++) {
            ws.send(JSON.stringify({ type: 'send', room, body: `bulk ${i}`, client_id: `bulk-${i}` }));
          }
        }
        if (f.type === 'ack') acks.add(f.client_id);
        if (f.type === 'error') reject(new Error(f.code + ': ' + f.message));
        if (acks.size === 70) resolve();
      };
    });
    ws.close();
    return acks.size;
  }, roomName);
  assert.equal(posted, 70);
  const b = ctx.b.page;
  await waitForBody(b, 'bulk 70');
  await b.reload();
  await waitForBody(b, 'bulk 70');
  // Only the latest page is loaded at first.
  assert.equal(await messageWithText(b, 'hello from alice').count(), 0, 'old messages not loaded yet');
  for (let i = 0; i < 20 && (await messageWithText(b, 'hello from alice').count()) === 0; i++) {
    await b.locator('#messages').evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    await b.waitForTimeout(250);
  }
  await waitForBody(b, 'hello from alice');
  await b.locator('#history-status', { hasText: 'Start of the conversation' }).waitFor();
  const seqs = await messageSeqs(b);
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'ascending');
  assert.equal(seqs.length, 73);
  await b.locator('#messages').evaluate((el) => {
    el.scrollTop = el.scrollHeight;
  });
});

test('a dropped connection resumes without loss or duplicates and sends the outbox once', async () => {
  const a = ctx.a.page;
  const b = ctx.b.page;
  try {
    await resumeScenario(a, b);
  } finally {
    await ctx.b.context.setOffline(false);
  }
});

async function resumeScenario(a, b) {
  await ctx.b.context.setOffline(true);
  await b.evaluate(() => window.chatDebug.dropConnection());
  await b.locator('#reconnect-banner').waitFor({ state: 'visible' });
  await shot(b, 'reconnecting');
  // While bob is away: alice posts, bob writes a message that waits in the outbox.
  await sendMessage(a, 'posted while bob was away');
  await waitForBody(a, 'posted while bob was away');
  await sendMessage(b, 'written while offline');
  await b.locator('#pending-list .message', { hasText: 'written while offline' }).waitFor();
  await b.waitForTimeout(600);
  await ctx.b.context.setOffline(false);
  await b.click('#reconnect-now').catch(() => {});
  await b.locator('#reconnect-banner').waitFor({ state: 'hidden', timeout: 20_000 });
  await waitForBody(b, 'posted while bob was away');
  await waitForBody(a, 'written while offline');
  await waitForBody(b, 'written while offline');
  await b.locator('#pending-list .message').waitFor({ state: 'detached' });
  await a.waitForTimeout(500);
  for (const p of [a, b]) {
    const texts = await bodies(p);
    assert.equal(texts.filter((t) => t === 'written while offline').length, 1, 'sent once');
    assert.equal(texts.filter((t) => t === 'posted while bob was away').length, 1, 'received once');
    const seqs = await messageSeqs(p);
    assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'ascending');
  }
}

test(
  'a server restart: sockets close with "going away", pages resume without loss or duplicates',
  { skip: !(SERVER_PID_FILE && RESTART_FLAG) && 'no SERVER_PID_FILE/RESTART_FLAG: the server is not restartable' },
  async () => {
    const a = ctx.a.page;
    const b = ctx.b.page;
    const before = await bodies(b);
    const oldPid = fs.readFileSync(SERVER_PID_FILE, 'utf8').trim();
    fs.writeFileSync(RESTART_FLAG, '');
    process.kill(Number(oldPid), 'SIGTERM');
    await b.locator('#reconnect-banner').waitFor({ state: 'visible' });
    await a.locator('#reconnect-banner').waitFor({ state: 'visible' });
    const closed = await b.evaluate(() => window.chatDebug.lastClose);
    assert.equal(closed && closed.code, 1001, 'closed with 1001 going away');
    await sendMessage(b, 'sent during the restart');
    for (let i = 0; i < 100 && fs.readFileSync(SERVER_PID_FILE, 'utf8').trim() === oldPid; i++) {
      await b.waitForTimeout(100);
    }
    await b.click('#reconnect-now').catch(() => {});
    await a.click('#reconnect-now').catch(() => {});
    await b.locator('#reconnect-banner').waitFor({ state: 'hidden', timeout: 30_000 });
    await a.locator('#reconnect-banner').waitFor({ state: 'hidden', timeout: 30_000 });
    await waitForBody(a, 'sent during the restart');
    await sendMessage(a, 'after the restart');
    await waitForBody(b, 'after the restart');
    await b.locator('#pending-list .message').waitFor({ state: 'detached' });
    for (const p of [a, b]) {
      const texts = await bodies(p);
      assert.equal(texts.filter((t) => t === 'sent during the restart').length, 1, 'sent once');
      const seqs = await messageSeqs(p);
      assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'ascending');
    }
    const after = await bodies(b);
    for (const t of before) assert.ok(after.includes(t), `still shown: ${t}`);
  },
);

test('message search finds a message', async () => {
  const a = ctx.a.page;
  await a.fill('#message-search', 'offline');
  await a.click('#message-search-form button[type=submit]');
  await a.locator('#search-results li', { hasText: 'written while offline' }).waitFor();
  await a.fill('#message-search', '');
  await a.click('#message-search-form button[type=submit]');
});

test('authors edit and delete their own messages', async () => {
  const a = ctx.a.page;
  const b = ctx.b.page;
  const mine = messageWithText(a, 'hello from alice');
  await mine.hover();
  await mine.locator('.edit-btn').click();
  const editor = a.locator('#message-list .message.editing .edit-input');
  await editor.fill('hello from alice, edited');
  await editor.press('Enter');
  await waitForBody(b, 'hello from alice, edited');
  await messageWithText(b, 'hello from alice, edited').locator('.edited:not([hidden])').waitFor();
  // Bob cannot edit or delete alice's message.
  assert.equal(await messageWithText(b, 'hello from alice, edited').locator('.edit-btn:visible').count(), 0);
  await sendMessage(b, 'oops, wrong room');
  await waitForBody(a, 'oops, wrong room');
  const oops = messageWithText(b, 'oops, wrong room');
  await oops.locator('.delete-btn').click(); // confirm() is accepted
  await messageWithText(a, 'oops, wrong room').waitFor({ state: 'detached' });
  await oops.waitFor({ state: 'detached' });
  for (const p of [a, b]) {
    await p.mouse.move(0, 0);
    await p.locator('#messages').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await shot(p, 'room');
  }
});

test('an unknown room shows "not found"', async () => {
  const b = ctx.b.page;
  await b.goto(MOUNT + `/rooms/no-such-room-${suffix}`);
  await b.locator('[data-view=notfound]').waitFor();
  await b.waitForTimeout(300);
  assert.equal(await b.locator('#reconnect-banner').isVisible(), false);
});

test('a non-admin cannot open the admin panel', async () => {
  const b = ctx.b.page;
  const res = await b.goto(MOUNT + '/admin');
  const status = res ? res.status() : 0;
  const landed = new URL(b.url()).pathname;
  assert.ok(status === 403 || landed === MOUNT + '/login', `got ${status} at ${landed}`);
});

test('the admin deletes a message and it disappears for the others', async () => {
  // Bob goes back to the room and stays there while the admin works.
  const b = ctx.b.page;
  await b.goto(MOUNT + `/rooms/${roomName}`);
  const doomed = 'posted while bob was away';
  await waitForBody(b, doomed);
  const a = ctx.a.page;
  await waitForBody(a, doomed);

  ctx.admin = await openPage(WIDE, 'admin');
  const admin = ctx.admin.page;
  await admin.goto(MOUNT + '/login');
  await admin.fill('#login-username', ADMIN_USER);
  await admin.fill('#login-password', ADMIN_PASSWORD);
  await admin.click('#login-submit');
  await admin.locator('#admin-link:not([hidden])').waitFor();
  await admin.click('#admin-link');
  await admin.waitForURL('**/admin**');
  await admin.locator(`#user-list tr[data-username="${alice.username}"]`).waitFor();
  await admin.locator(`#user-list tr[data-username="${bob.username}"]`).waitFor();
  await shot(admin, 'admin-users');
  await admin.click('#tab-rooms');
  const roomRow = admin.locator(`#admin-room-list tr[data-room="${roomName}"]`);
  await roomRow.locator('input').fill('Edited by the admin');
  await roomRow.locator('button[type=submit]').click();
  await admin.locator('#admin-status', { hasText: 'saved' }).waitFor();
  await shot(admin, 'admin-rooms');
  await admin.click('#tab-messages');
  await admin.selectOption('#message-room', roomName);
  const found = admin.locator('#admin-message-list tr', { hasText: doomed });
  await found.waitFor();
  const row = admin.locator(`#admin-message-list tr[data-seq="${await found.getAttribute('data-seq')}"]`);
  await shot(admin, 'admin-messages');
  await row.locator('.delete-message').click(); // confirm() is accepted
  await row.locator('.body', { hasText: 'deleted' }).waitFor();
  await messageWithText(a, doomed).waitFor({ state: 'detached' });
  await messageWithText(b, doomed).waitFor({ state: 'detached' });
  // And it stays gone after a reload, which also shows the new description.
  await b.reload();
  await waitForBody(b, 'written while offline');
  assert.equal(await messageWithText(b, doomed).count(), 0);
  assert.equal(await b.textContent('#room-desc'), 'Edited by the admin');

  // The admin panel at 375 px.
  const narrow = await openPage(NARROW, 'admin-narrow');
  await narrow.context.addCookies(await ctx.admin.context.cookies());
  await narrow.page.goto(MOUNT + '/admin#messages');
  await narrow.page.selectOption('#message-room', roomName);
  await narrow.page.locator('#admin-message-list tr', { hasText: 'bulk 70' }).waitFor();
  await shot(narrow.page, 'admin-messages');
  await narrow.page.goto(MOUNT + '/admin#users');
  await narrow.page.locator(`#user-list tr[data-username="${bob.username}"]`).waitFor();
  await shot(narrow.page, 'admin-users');
});

test('the admin deactivates bob, who can no longer log in; reactivation restores him', async () => {
  const admin = ctx.admin.page;
  await admin.goto(MOUNT + '/admin#users');
  const row = admin.locator(`#user-list tr[data-username="${bob.username}"]`);
  await row.locator('.deactivate').click();
  await row.locator('.reactivate').waitFor();
  const probe = await openPage(NARROW, 'probe2');
  await probe.page.goto(MOUNT + '/login');
  await probe.page.fill('#login-username', bob.username);
  await probe.page.fill('#login-password', bob.password);
  await probe.page.click('#login-submit');
  await probe.page.locator('#login-error:not([hidden])').waitFor();
  await row.locator('.reactivate').click();
  await row.locator('.deactivate').waitFor();
  await probe.page.click('#login-submit');
  await probe.page.locator('#create-room-form').waitFor();
  await probe.context.close();
});

test('the admin deletes the room; a member on its page is told', async () => {
  const a = ctx.a.page;
  await a.goto(MOUNT + `/rooms/${roomName}`);
  await waitForBody(a, 'written while offline');
  const admin = ctx.admin.page;
  await admin.goto(MOUNT + '/admin#rooms');
  const row = admin.locator(`#admin-room-list tr[data-room="${roomName}"]`);
  await row.locator('.delete-room').click(); // confirm() is accepted
  await row.waitFor({ state: 'detached' });
  await a.locator('#room-error', { hasText: 'deleted' }).waitFor();
  assert.equal(await a.locator('#message-input').isDisabled(), true);
  await a.goto(HOME);
  await a.locator('#create-room-form').waitFor();
  assert.equal(await a.locator('#room-list a', { hasText: roomName }).count(), 0);
});

test('bob changes his password, which ends his other session, then logs out everywhere', async () => {
  const other = await openPage(NARROW, 'bob-elsewhere');
  await other.page.goto(MOUNT + '/login');
  await other.page.fill('#login-username', bob.username);
  await other.page.fill('#login-password', bob.password);
  await other.page.click('#login-submit');
  await other.page.locator('#create-room-form').waitFor();
  // Bob's first session ended when the admin deactivated him: he logs in again.
  const b = ctx.b.page;
  await b.goto(MOUNT + '/login');
  await b.fill('#login-username', bob.username);
  await b.fill('#login-password', bob.password);
  await b.click('#login-submit');
  await b.locator('#create-room-form').waitFor();
  await b.click('#account-link');
  await b.fill('#password-old', 'not the password');
  await b.fill('#password-new', 'a-new-password-1');
  await b.click('#password-form button[type=submit]');
  await b.locator('#password-error:not([hidden])').waitFor();
  await b.fill('#password-old', bob.password);
  await b.fill('#password-new', 'a-new-password-1');
  await b.click('#password-form button[type=submit]');
  await b.locator('#password-done:not([hidden])').waitFor();
  await shot(b, 'account');
  bob.password = 'a-new-password-1';
  await other.page.reload();
  await other.page.waitForURL('**/login');
  await b.goto(HOME);
  await b.locator('#create-room-form').waitFor();
  await b.goto(MOUNT + '/account');
  await b.click('#logout-all');
  await b.waitForURL('**/login');
  await b.goto(HOME);
  await b.waitForURL('**/login');
  await other.context.close();
});

test('log out', async () => {
  const a = ctx.a.page;
  await a.goto(HOME);
  await a.click('#logout');
  await a.waitForURL('**/login');
  await a.goto(HOME);
  await a.waitForURL('**/login');
});

test('no page errors and no unexpected dialogs', () => {
  for (const r of pages) {
    assert.deepEqual(r.dialogs, [], `dialogs in ${r.name}`);
    assert.deepEqual(r.errors, [], `page errors in ${r.name}`);
  }
});
