// client-logic.test.js: ChatClient against a scripted fake server: batch frames, dedupe on
// resume, outbox resends, answer matching, the reaction to each close code, the heartbeat and
// where the token goes. Exact and fast; the integration tests check the same against the real
// server.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatClient } from '../src/index.js';
import { FakeServer, joined, message, tick } from './helpers/fake-socket.js';

const PENALTY = 5000;

function setup(options = {}) {
  const server = new FakeServer();
  const client = new ChatClient({
    url: 'ws://chat.test/ws',
    token: 'tok',
    WebSocket: server.WebSocket,
    backoff: { initialMs: 10, maxMs: 20, penaltyMs: PENALTY },
    checkSession: false,
    heartbeatMs: 0,
    ...options,
  });
  const seen = { messages: [], states: [], errors: [], ended: 0 };
  client.on('message', (m) => seen.messages.push(m.seq));
  client.on('state', (s) => seen.states.push(s));
  client.on('error', (e) => seen.errors.push(e));
  client.on('session_ended', () => seen.ended++);
  return { server, client, seen };
}

/** Connects and joins `room` (answered with last_seq `lastSeq`). */
async function connected(options, room = 'general', lastSeq = 0) {
  const ctx = setup(options);
  const open = ctx.client.connect();
  await tick();
  ctx.server.last.accept();
  await open;
  const join = ctx.client.join(room);
  ctx.server.last.deliver(joined(room, lastSeq));
  await join;
  return ctx;
}

test('a batch frame is split into its frames, in order; unknown types and garbage are skipped', async () => {
  const { server, client, seen } = await connected({}, 'general', 2);
  const frames = [];
  client.on('frame', (f) => frames.push(f.type));
  server.last.deliver(message('general', 3), 'not json', message('general', 4, 'two\nlines'), { type: 'future_frame' }, message('general', 5));
  assert.deepEqual(seen.messages, [3, 4, 5]);
  assert.deepEqual(frames, ['message', 'message', 'future_frame', 'message']);
  client.close();
});

test('after a reconnect rooms resume after their cursor and replayed messages are not repeated', async () => {
  const { server, client, seen } = await connected({}, 'General', 2);
  server.last.deliver(message('General', 3), message('General', 4));
  server.last.hangUp(1001, 'server shutting down');
  const reconnecting = seen.states.at(-1);
  assert.equal(reconnecting.state, 'reconnecting');
  assert.ok(reconnecting.delayMs < PENALTY, 'a shutdown is not penalized');
  client.reconnectNow();
  await tick();
  const second = server.last;
  assert.equal(server.sockets.length, 2);
  second.accept();
  assert.deepEqual(second.sent[0], { type: 'join', room: 'General', after_seq: 4, ref: second.sent[0].ref });
  const resumed = client.once('joined');
  second.deliver(joined('General', 5), message('General', 3), message('General', 4), message('General', 5));
  assert.equal((await resumed).resumed, true);
  assert.deepEqual(seen.messages, [3, 4, 5]);
  assert.equal(client.room('general').lastSeq, 5);
  client.close();
});

test('messages of a stream a re-join replaces are skipped until its joined', async () => {
  const { server, client, seen } = await connected({}, 'r', 10);
  const replay = client.join('r', { afterSeq: 0 });
  server.last.deliver(message('r', 11));
  server.last.deliver(joined('r', 11), message('r', 1), message('r', 2));
  await replay;
  assert.deepEqual(seen.messages, [1, 2]);
  client.close();
});

test('unacknowledged sends go again after a reconnect, after the joins, with the same client_id', async () => {
  const { server, client } = await connected({}, 'r', 0);
  const first = client.send('r', 'hello');
  const sent = server.last.sent.find((f) => f.type === 'send');
  assert.equal(sent.body, 'hello');
  assert.equal(client.pending()[0].state, 'sent');
  server.last.hangUp(1006);
  assert.equal(client.pending()[0].state, 'queued');
  const offline = client.send('r', 'while away');
  client.reconnectNow();
  await tick();
  server.last.accept();
  const types = server.last.sent.map((f) => f.type);
  assert.deepEqual(types, ['join', 'send', 'send']);
  assert.equal(server.last.sent[1].client_id, sent.client_id);
  assert.equal(server.last.sent[2].body, 'while away');
  server.last.deliver(
    { type: 'ack', room: 'r', client_id: sent.client_id, seq: 1, id: 1, duplicate: true },
    { type: 'ack', room: 'r', client_id: server.last.sent[2].client_id, seq: 2, id: 2, duplicate: false },
  );
  assert.deepEqual([(await first).seq, (await first).duplicate, (await offline).seq], [1, true, 2]);
  assert.equal(client.pending().length, 0);
  client.close();
});

test('a rate-limited send is queued again in its place and sent after a pause', async () => {
  const { server, client } = await connected({}, 'r', 0);
  const p = client.send('r', 'x');
  const { client_id } = server.last.sent.at(-1);
  server.last.deliver({ type: 'error', code: 'rate_limited', message: 'slow down', ref: null, room: 'r', client_id });
  assert.equal(client.pending()[0].retries, 1);
  assert.equal(client.pending()[0].state, 'queued');
  const resent = await waitUntil(() => server.last.sent.filter((f) => f.type === 'send').length === 2);
  assert.ok(resent);
  server.last.deliver({ type: 'ack', room: 'r', client_id, seq: 1, id: 1, duplicate: false });
  assert.equal((await p).seq, 1);
  const refused = client.send('r', 'y');
  const second = server.last.sent.at(-1);
  server.last.deliver({ type: 'error', code: 'not_member', message: 'no', ref: null, room: 'r', client_id: second.client_id });
  await assert.rejects(refused, { code: 'not_member' });
  client.close();
});

test('a send larger than max_frame_bytes fails at once instead of closing the socket', async () => {
  const { server, client } = await connected({}, 'r', 0);
  await assert.rejects(client.send('r', 'x'.repeat(20000)), { code: 'frame_too_large' });
  assert.equal(server.last.sent.filter((f) => f.type === 'send').length, 0);
  client.close();
});

test('answers are matched in order, refusals by ref; edit and delete wait for a ping barrier', async () => {
  const { server, client } = await connected({}, 'r', 0);
  const h1 = client.history('r', { limit: 2 });
  const h2 = client.history('R', { beforeSeq: 5 });
  const edit = client.edit('r', 3, 'new');
  const del = client.delete('r', 4);
  const sent = server.last.sent.slice(-6);
  assert.deepEqual(sent.map((f) => f.type), ['history', 'history', 'edit', 'ping', 'delete', 'ping']);
  server.last.deliver(
    { type: 'history', room: 'r', messages: [], has_more: true },
    { type: 'history', room: 'r', messages: [], has_more: false },
    { type: 'pong' },
    { type: 'error', code: 'forbidden', message: 'not yours', ref: sent[4].ref, room: 'r' },
    { type: 'pong' },
  );
  assert.equal((await h1).has_more, true);
  assert.equal((await h2).has_more, false);
  await edit;
  await assert.rejects(del, { code: 'forbidden' });
  assert.equal(typeof (await pingAnswered(client, server)), 'number');
  client.close();
});

test('in-flight requests fail with disconnected; history is asked again after the reconnect', async () => {
  const { server, client } = await connected({}, 'r', 0);
  const edit = client.edit('r', 1, 'x');
  const history = client.history('r');
  server.last.hangUp(1006);
  await assert.rejects(edit, { code: 'disconnected' });
  client.reconnectNow();
  await tick();
  server.last.accept();
  assert.deepEqual(server.last.sent.map((f) => f.type), ['join', 'history']);
  server.last.deliver(joined('r', 0), { type: 'history', room: 'r', messages: [], has_more: false });
  assert.equal((await history).type, 'history');
  client.close();
});

for (const code of [4029, 4008, 1013]) {
  test(`close ${code}: reconnects after a penalty`, async () => {
    const { server, client, seen } = await connected({}, 'r', 0);
    server.last.hangUp(code);
    const state = seen.states.at(-1);
    assert.equal(state.state, 'reconnecting');
    assert.equal(state.code, code);
    assert.ok(state.delayMs >= PENALTY, `waits ${state.delayMs} ms`);
    client.close();
  });
}

for (const code of [1000, 1001, 1006, 1011, 4000]) {
  test(`close ${code}: reconnects soon and resumes`, async () => {
    const { server, client, seen } = await connected({}, 'r', 0);
    server.last.hangUp(code);
    assert.ok(seen.states.at(-1).delayMs < PENALTY);
    await waitUntil(() => server.sockets.length === 2);
    server.last.accept();
    assert.equal(server.last.sent[0].type, 'join');
    client.close();
  });
}

test('close 4001: the session ended, no reconnect, waiting calls fail', async () => {
  const { server, client, seen } = await connected({}, 'r', 0);
  const pendingSend = client.send('r', 'kept');
  const history = client.history('r');
  server.last.hangUp(4001, 'session ended');
  await assert.rejects(history, { code: 'session_ended' });
  assert.equal(seen.ended, 1);
  assert.equal(client.state, 'closed');
  client.reconnectNow();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(server.sockets.length, 1, 'no new socket');
  assert.equal(client.pending().length, 1, 'the outbox is kept for after signing in again');
  // Signing in again: connect() resumes the room and sends what waited.
  const again = client.connect();
  await tick();
  server.last.accept();
  await again;
  assert.deepEqual(server.last.sent.map((f) => f.type), ['join', 'send']);
  client.discard(client.pending()[0].clientId);
  await assert.rejects(pendingSend, { code: 'discarded' });
  client.close();
});

test('a handshake refused with 401 ends the session; 403 stops; 429 and 503 are penalized', async () => {
  for (const [status, expect] of [[401, 'session_ended'], [403, 'forbidden_origin'], [429, 'penalty'], [503, 'penalty']]) {
    const { server, client, seen } = setup();
    const open = client.connect();
    await tick();
    server.last.refuse(status);
    if (expect === 'penalty') {
      assert.ok(seen.states.at(-1).delayMs >= PENALTY, `${status} waits`);
      client.close();
      await assert.rejects(open, { code: 'closed' });
    } else {
      await assert.rejects(open, { code: expect });
      assert.equal(client.state, 'closed');
    }
  }
});

test('a join the server refuses rejects and the room is not tracked', async () => {
  const { server, client } = await connected({}, 'r', 0);
  const join = client.join('nope');
  const { ref } = server.last.sent.at(-1);
  server.last.deliver({ type: 'error', code: 'unknown_room', message: 'no such room', ref, room: 'nope' });
  await assert.rejects(join, { code: 'unknown_room' });
  assert.equal(client.room('nope'), undefined);
  client.close();
});

test('the heartbeat pings a quiet connection and drops a dead one', async () => {
  const { server, client, seen } = await connected({ heartbeatMs: 40, heartbeatTimeoutMs: 40 }, 'r', 0);
  await waitUntil(() => server.last.sent.some((f) => f.type === 'ping'));
  await waitUntil(() => seen.states.at(-1).state === 'reconnecting');
  assert.equal(client.state, 'reconnecting');
  client.close();
});

test('the token goes in the Authorization header in Node or with a given constructor, else in the query', async () => {
  const header = setup({ baseUrl: 'http://chat.test/chat', url: undefined });
  header.client.connect();
  await tick();
  assert.equal(header.server.last.url, 'ws://chat.test/chat/ws?batch=1');
  assert.equal(header.server.last.init.headers.Authorization, 'Bearer tok');
  header.client.close();

  // Node's own WebSocket takes headers too: no constructor given, still the header.
  const node = setup({ WebSocket: undefined });
  const global = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
  globalThis.WebSocket = node.server.WebSocket;
  try {
    node.client.connect();
    await tick();
    assert.equal(node.server.last.init.headers.Authorization, 'Bearer tok');
    node.client.close();
  } finally {
    if (global) Object.defineProperty(globalThis, 'WebSocket', global);
    else delete globalThis.WebSocket;
  }

  let calls = 0;
  const query = setup({ tokenTransport: 'query', batch: false, token: async () => `t${++calls}` });
  query.client.connect();
  await tick();
  assert.equal(query.server.last.url, 'ws://chat.test/ws?token=t1');
  assert.equal(query.server.last.init, undefined);
  query.server.last.refuse();
  query.client.reconnectNow();
  await tick();
  assert.equal(query.server.last.url, 'ws://chat.test/ws?token=t2', 'the callback is asked again');
  query.client.close();
});

test('typing is throttled per room and dropped while offline', async () => {
  const { server, client } = await connected({}, 'r', 0);
  assert.equal(client.typing('r'), true);
  assert.equal(client.typing('r'), false);
  assert.equal(client.typing('other'), true);
  server.last.hangUp(1006);
  assert.equal(client.typing('third'), false);
  client.close();
});

async function waitUntil(check, ms = 2000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

async function pingAnswered(client, server) {
  const p = client.ping();
  server.last.deliver({ type: 'pong' });
  return p;
}
