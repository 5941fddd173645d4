// outbox.test.js: sends that did not get their ack. Through a TCP proxy the server's answers are
// dropped after a send reached it, then the connection is cut: the client sends it again with
// the same client_id, gets `duplicate: true` and the original seq, and the store holds it once.
// Against a server with a tight rate limit, refused sends are retried until all are stored once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allMessages, testClient } from './helpers/clients.js';
import { Proxy } from './helpers/proxy.js';
import { serverForTests, TestServer, waitFor, within } from './helpers/server.js';

const ctx = serverForTests(['alice']);
const { skip } = ctx;

test('a send whose ack was lost goes again with the same client_id and is stored once', { skip }, async () => {
  const { server } = ctx;
  const { alice } = ctx.users;
  const room = (await alice.api.createRoom(`outbox-${Date.now()}`)).name;
  const proxy = await Proxy.start(server.port);
  const a = testClient(proxy.url, alice.token);
  try {
    await a.client.connect();
    await a.client.join(room);
    await a.client.send(room, 'first');

    proxy.holdReplies();
    const clientId = `fixed-${Date.now()}`;
    const sent = a.client.send(room, 'exactly once', { clientId });
    await waitFor(async () => (await allMessages(alice.api, room)).some((m) => m.client_id === clientId), 10000, 'the send to be stored');
    assert.deepEqual(a.client.pending().map((e) => [e.clientId, e.state]), [[clientId, 'sent']]);
    const later = a.client.send(room, 'queued behind it');

    proxy.holdReplies(false);
    proxy.cut();
    const ack = await within(sent, 10000, () => `still pending: ${JSON.stringify(a.client.pending())}`);
    assert.equal(ack.duplicate, true, 'the server recognised the client_id');
    assert.equal(ack.client_id, clientId);
    assert.equal((await within(later, 10000, () => 'the send behind it')).seq, ack.seq + 1);
    assert.ok(proxy.connections >= 2, 'it reconnected');
    assert.equal(a.client.pending().length, 0);

    const stored = (await allMessages(alice.api, room)).filter((m) => m.client_id === clientId);
    assert.deepEqual(stored.map((m) => m.seq), [ack.seq], 'stored once');
    await waitFor(() => a.seen.messages.length >= 3, 10000, 'the resumed stream');
    assert.deepEqual(a.seen.messages.map((m) => m.body), ['first', 'exactly once', 'queued behind it']);
  } finally {
    a.client.close();
    await proxy.close();
  }
});

test('rate-limited sends are retried until each is stored once, without tripping 4029', { skip, timeout: 60000 }, async () => {
  const limited = await TestServer.start(['--rate-limit', '5:20']);
  const user = await limited.user('fast');
  const room = (await user.api.createRoom(`limited-${Date.now()}`)).name;
  const a = testClient(limited.url, user.token);
  let retried = 0;
  a.client.on('outbox', ({ pending }) => (retried = Math.max(retried, ...pending.map((e) => e.retries), 0)));
  try {
    await a.client.connect();
    await a.client.join(room);
    const bodies = Array.from({ length: 40 }, (_, i) => `burst ${i}`);
    const acks = await within(Promise.all(bodies.map((b) => a.client.send(room, b))), 30000, () => `${a.client.pending().length} pending`);
    assert.equal(new Set(acks.map((x) => x.seq)).size, 40);
    assert.ok(retried > 0, 'some sends were refused and retried');
    const stored = await allMessages(user.api, room);
    assert.deepEqual(stored.map((m) => m.body).sort(), [...bodies].sort(), 'each body once');
    assert.ok(!a.seen.closes.some((c) => c.code === 4029), 'no abuse close');
  } finally {
    a.client.close();
    await limited.stop();
  }
});
