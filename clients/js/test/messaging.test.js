// messaging.test.js: two clients on the real reference server: send and receive, acks, batch
// frames, edit/delete, history, typing, presence, ping, refusals, and the JSON API helpers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { serverForTests, waitFor } from './helpers/server.js';

let server;
let alice;
let bob;
let room;
const { skip } = serverForTests(['alice', 'bob'], async (ctx) => {
  ({ server } = ctx);
  ({ alice, bob } = ctx.users);
  room = (await alice.api.createRoom(`Lobby-${Date.now()}`, 'the lobby')).name;
});

test('messages go from one client to the other, once each, in order, with acks', { skip }, async () => {
  const a = testClient(server.url, alice.token);
  const b = testClient(server.url, bob.token);
  try {
    const hello = await a.client.connect();
    assert.equal(hello.user.username, alice.username);
    assert.equal(a.client.state, 'open');
    await b.client.connect();
    await a.client.join(room);
    const presence = a.client.once('presence', (p) => p.user === bob.username && p.status === 'online');
    // Names are case-insensitive: the answer has the canonical spelling.
    const joined = await b.client.join(room.toUpperCase());
    assert.equal(joined.room, room);
    assert.equal(joined.resumed, false);
    assert.ok(joined.members.includes(bob.username));
    assert.ok((await presence).online.includes(bob.username));

    const acks = await Promise.all([1, 2, 3, 4, 5].map((i) => a.client.send(room, `hello ${i}`)));
    assert.deepEqual(acks.map((x) => x.seq), [1, 2, 3, 4, 5]);
    assert.ok(acks.every((x) => x.duplicate === false && x.room === room));
    await waitFor(() => b.seen.messages.length >= 5, 10000, 'bob to get 5 messages');
    assert.deepEqual(b.seen.messages.map((m) => [m.seq, m.author, m.body]), [1, 2, 3, 4, 5].map((i) => [i, alice.username, `hello ${i}`]));
    assert.equal(a.client.pending().length, 0);
    assert.equal(b.client.room(room).lastSeq, 5);

    // edit, delete: accepted ones resolve, refused ones reject with the server's code.
    const edited = b.client.once('edited');
    await a.client.edit(room, 1, 'hello one');
    assert.equal((await edited).body, 'hello one');
    await assert.rejects(b.client.edit(room, 2, 'not mine'), { name: 'ChatError', code: 'forbidden' });
    const deleted = b.client.once('deleted');
    await a.client.delete(room, 2);
    assert.equal((await deleted).seq, 2);

    // history over the socket and over HTTP
    const page = await b.client.history(room, { limit: 2 });
    assert.deepEqual(page.messages.map((m) => m.seq), [4, 5]);
    assert.equal(page.has_more, true);
    const older = await b.client.history(room, { beforeSeq: 4 });
    assert.deepEqual(older.messages.map((m) => [m.seq, m.deleted]), [[1, false], [2, true], [3, false]]);
    const rest = await bob.api.messages(room, { afterSeq: 3 });
    assert.deepEqual(rest.messages.map((m) => m.seq), [4, 5]);

    const typing = a.client.once('typing');
    assert.equal(b.client.typing(room), true);
    assert.equal((await typing).user, bob.username);
    assert.equal(typeof (await a.client.ping()), 'number');

    const offline = a.client.once('presence', (p) => p.user === bob.username && p.status === 'offline');
    await b.client.leave(room);
    assert.equal(b.client.room(room), undefined);
    await offline;
    await a.client.send(room, 'after bob left');
    await assert.rejects(b.client.join('no-such-room'), { code: 'unknown_room' });
    assert.deepEqual(b.client.rooms(), []);
    assert.equal(b.seen.messages.length, 5, 'nothing after leave');
  } finally {
    a.client.close();
    b.client.close();
  }
});

test('with batch=1 several frames come in one text frame, and none are lost', { skip }, async () => {
  const name = (await alice.api.createRoom(`batch-${Date.now()}`)).name;
  await bob.api.joinRoom(name);
  const a = testClient(server.url, alice.token, { maxInFlight: 100 });
  const batched = testClient(server.url, bob.token);
  const plain = testClient(server.url, bob.token, { batch: false });
  try {
    await Promise.all([a.client.connect(), batched.client.connect(), plain.client.connect()]);
    await Promise.all([a.client.join(name), batched.client.join(name), plain.client.join(name)]);
    const bodies = Array.from({ length: 60 }, (_, i) => `burst ${i}`);
    await Promise.all(bodies.map((body) => a.client.send(name, body)));
    for (const c of [batched, plain]) {
      await waitFor(() => c.seen.messages.length >= 60, 10000, '60 messages');
      assert.deepEqual(c.seen.messages.map((m) => m.body), bodies);
    }
    assert.ok(batched.seen.raw.batched > 0, 'the batching client got joined frames');
    assert.ok(a.seen.raw.batched > 0, 'acks came batched too');
    assert.equal(plain.seen.raw.batched, 0, 'without batch=1 every text frame is one frame');
  } finally {
    a.client.close();
    batched.client.close();
    plain.client.close();
  }
});

test('the JSON API helpers: rooms, membership, me, errors', { skip }, async () => {
  const me = await alice.api.me();
  assert.equal(me.username, alice.username);
  const created = await alice.api.createRoom(`api-${Date.now()}`, 'first');
  assert.equal(created.description, 'first');
  assert.equal((await alice.api.updateRoom(created.name, 'second')).description, 'second');
  assert.ok((await alice.api.rooms({ q: 'api-' })).some((r) => r.name === created.name));
  await bob.api.joinRoom(created.name);
  assert.ok((await bob.api.myRooms()).some((r) => r.name === created.name));
  assert.ok((await bob.api.room(created.name)).members.includes(bob.username));
  await bob.api.leaveRoom(created.name);
  assert.ok(!(await bob.api.myRooms()).some((r) => r.name === created.name));
  const error = await alice.api.createRoom(created.name).catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.deepEqual([error.status, error.code], [409, 'conflict']);
  const stored = await alice.api.messages(room, { limit: 1 });
  const seq = stored.messages[0].seq;
  assert.equal((await alice.api.editMessage(room, seq, 'edited over HTTP')).body, 'edited over HTTP');
  assert.equal((await alice.api.deleteMessage(room, seq)).deleted, true);
  const found = await alice.api.search(room, 'hello');
  assert.ok(found.messages.length > 0);
});
