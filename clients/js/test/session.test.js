// session.test.js: close codes and handshakes that end the session. After a log out the socket
// closes with 4001 and the client stops (no reconnect) until the app signs in again and calls
// connect(), which resumes its rooms with a fresh token from the token callback. A token the
// server refuses (401) ends the client at once, whether the WebSocket reports the status (ws)
// or hides it as browsers do (then GET /api/me tells).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { testClient } from './helpers/clients.js';
import { PASSWORD, serverForTests, sleep, waitFor, within } from './helpers/server.js';

const ctx = serverForTests();
const { skip } = ctx;

test('4001 after logout: no reconnect; after signing in again connect() resumes the room', { skip }, async () => {
  const carol = await ctx.server.user('carol');
  const dave = await ctx.server.user('dave');
  const room = (await carol.api.createRoom(`session-${Date.now()}`)).name;
  await dave.api.joinRoom(room);
  let token = carol.token;
  let asked = 0;
  const c = testClient(ctx.server.url, () => (asked++, token));
  const d = testClient(ctx.server.url, dave.token);
  try {
    await Promise.all([c.client.connect(), d.client.connect()]);
    await Promise.all([c.client.join(room), d.client.join(room)]);
    await d.client.send(room, 'one');
    await waitFor(() => c.seen.messages.length === 1, 5000, 'the first message');

    const ended = c.client.once('session_ended');
    await carol.api.logout();
    assert.equal((await within(ended, 5000, () => 'no session_ended')).code, 4001);
    assert.equal(c.client.state, 'closed');
    const sockets = c.seen.raw.sockets;
    await d.client.send(room, 'two');
    await d.client.send(room, 'three');
    await sleep(1500);
    assert.equal(c.seen.raw.sockets, sockets, 'no reconnect after 4001');
    assert.equal(asked, 1);

    token = (await carol.api.login(carol.username, PASSWORD)).token;
    const resumed = c.client.once('joined');
    await c.client.connect();
    assert.equal((await within(resumed, 5000, () => 'no joined')).resumed, true);
    assert.equal(asked, 2, 'the token callback was asked again');
    await waitFor(() => c.seen.messages.length === 3, 5000, 'the missed messages');
    assert.deepEqual(c.seen.messages.map((m) => m.body), ['one', 'two', 'three']);
  } finally {
    c.client.close();
    d.client.close();
  }
});

test('a refused token ends the client at the handshake (401), without retrying', { skip }, async () => {
  const c = testClient(ctx.server.url, 'not-a-session');
  const ended = c.client.once('session_ended');
  await assert.rejects(c.client.connect(), { code: 'session_ended' });
  assert.equal((await ended).status, 401);
  await sleep(300);
  assert.equal(c.seen.raw.sockets, 1);
});

test('where the WebSocket hides the status (browsers), GET /api/me tells the session is dead', { skip }, async () => {
  class Opaque extends WebSocket {
    set onerror(fn) {
      super.onerror = fn && (() => fn({}));
    }
    get onerror() {
      return super.onerror;
    }
  }
  const c = testClient(ctx.server.url, 'not-a-session', { WebSocket: Opaque });
  await assert.rejects(c.client.connect(), { code: 'session_ended' });
  assert.equal(c.client.state, 'closed');
  assert.equal(c.seen.closes[0].status, undefined, 'the status was hidden');
});
