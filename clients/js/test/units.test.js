// units.test.js: the client's pieces alone: frame parsing, backoff, the close-code policy, room
// cursors, answer matching, the event iterator, URLs, and that index.d.ts declares exactly
// what index.js exports.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as pkg from '../src/index.js';
import { Backoff, closeAction, handshakeAction, parseFrames } from '../src/index.js';
import { ChatError } from '../src/errors.js';
import { Emitter } from '../src/events.js';
import { Requests } from '../src/requests.js';
import { RoomState } from '../src/rooms.js';
import { socketUrl } from '../src/urls.js';

test('parseFrames splits a batch on newlines and keeps escaped newlines inside strings', () => {
  const text = [
    JSON.stringify({ type: 'message', body: 'a\nb' }),
    '',
    JSON.stringify({ type: 'ack', seq: 2 }),
    '{broken',
    '[1,2]',
    '{"no":"type"}',
    JSON.stringify({ type: 'pong' }),
  ].join('\n');
  const frames = parseFrames(text);
  assert.deepEqual(frames.map((f) => f.type), ['message', 'ack', 'pong']);
  assert.equal(frames[0].body, 'a\nb');
  assert.deepEqual(parseFrames('{"type":"hello"}'), [{ type: 'hello' }]);
});

test('backoff: full jitter under a doubling ceiling, a penalty floor, reset', () => {
  const top = new Backoff({ initialMs: 100, maxMs: 1000, penaltyMs: 5000, random: () => 0.999999 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => top.next()), [100, 200, 400, 800, 1000, 1000]);
  const bottom = new Backoff({ initialMs: 100, maxMs: 1000, penaltyMs: 5000, random: () => 0 });
  assert.equal(bottom.next(), 0);
  assert.equal(bottom.next(true), 5000);
  top.reset();
  assert.equal(top.next(), 100);
});

test('close codes: 4001 ends the session, abuse and slow consumers wait longer, the rest resume', () => {
  assert.equal(closeAction(4001), 'session_ended');
  for (const code of [4008, 4029, 1013, 1009, 1007]) assert.equal(closeAction(code), 'penalty');
  for (const code of [1000, 1001, 1006, 1011, 4000, 4999]) assert.equal(closeAction(code), 'resume');
  assert.equal(handshakeAction(401), 'session_ended');
  assert.equal(handshakeAction(403), 'stop');
  assert.equal(handshakeAction(400), 'stop');
  assert.equal(handshakeAction(429), 'penalty');
  assert.equal(handshakeAction(503), 'penalty');
  assert.equal(handshakeAction(undefined), 'resume');
  assert.equal(handshakeAction(502), 'resume');
});

test('a room cursor passes each seq once, in order', () => {
  const room = new RoomState(' General ');
  assert.equal(room.name, 'General');
  room.lastSeq = 3;
  const passed = [2, 3, 4, 4, 5, 1, 6].filter((seq) => room.accept(seq));
  assert.deepEqual(passed, [4, 5, 6]);
  room.joining = 1;
  assert.equal(room.accept(7), false, 'a replaced stream is skipped');
});

test('requests: first in, first out per kind; a refusal by ref; a barrier keeps its place', () => {
  const requests = new Requests();
  const log = [];
  const expect = (key, barrier = false) => {
    const ref = requests.ref();
    requests.expect(ref, key, {
      onAnswer: (f) => log.push(`${ref}:${f.n}`),
      onError: (e) => log.push(`${ref}:${e.code}`),
      barrier,
    });
    return ref;
  };
  const a = expect('history:r');
  const b = expect('history:r');
  const c = expect('pong', true);
  const d = expect('pong');
  assert.equal(requests.refuse(b, new ChatError('rate_limited')), true);
  assert.equal(requests.refuse(c, new ChatError('forbidden')), true);
  requests.answer('history:r', { n: 1 });
  requests.answer('pong', { n: 2 }); // the barrier's own pong: swallowed
  requests.answer('pong', { n: 3 });
  assert.deepEqual(log, [`${b}:rate_limited`, `${c}:forbidden`, `${a}:1`, `${d}:3`]);
  assert.equal(requests.refuse(99, new ChatError('x')), false);
  expect('pong');
  requests.failAll(new ChatError('disconnected'));
  assert.equal(log.at(-1), `${a + 4}:disconnected`);
});

test('events() yields in order, buffers until read, ends on abort; once() filters', async () => {
  class Source extends Emitter {
    fire(v) {
      this.emit('x', v);
    }
  }
  const source = new Source();
  const abort = new AbortController();
  const iterator = source.events('x', { signal: abort.signal, filter: (v) => v !== 2 });
  source.fire(1);
  source.fire(2);
  source.fire(3);
  const got = [];
  setTimeout(() => {
    source.fire(4);
    abort.abort();
  }, 10);
  for await (const v of iterator) got.push(v);
  assert.deepEqual(got, [1, 3, 4]);
  const next = source.once('x', (v) => v > 5);
  source.fire(3);
  source.fire(6);
  assert.equal(await next, 6);
});

test('socket URLs: base paths, ws(s) schemes, options in the query', () => {
  assert.equal(socketUrl({ baseUrl: 'https://example.com/chat/', params: { batch: '1' } }), 'wss://example.com/chat/ws?batch=1');
  assert.equal(socketUrl({ baseUrl: 'http://127.0.0.1:8000', params: { batch: null, token: 'a&b' } }), 'ws://127.0.0.1:8000/ws?token=a%26b');
  assert.throws(() => socketUrl({ baseUrl: '/chat' }), TypeError);
});

test('index.d.ts declares every value index.js exports, and no other', () => {
  const dts = readFileSync(new URL('../src/index.d.ts', import.meta.url), 'utf8');
  const declared = new Set();
  for (const [, names] of dts.matchAll(/^export \{([^}]*)\}/gm)) {
    for (const name of names.split(',')) if (name.trim()) declared.add(name.trim());
  }
  assert.deepEqual([...declared].sort(), Object.keys(pkg).sort());
});
