// clients.js (test helper): ChatClients for the integration tests, on Node's `ws` package (Node
// 20 has no global WebSocket) with the token in the Authorization header, fast backoff, and a
// record of what each client saw.

import WebSocket from 'ws';
import { ChatClient } from '../../src/index.js';

/**
 * A client of `baseUrl` signed in with `token`, recording its `message` events, states and
 * socket closes, and counting the raw text frames that held several frames (`batch=1`).
 */
export function testClient(baseUrl, token, options = {}) {
  const raw = { texts: 0, batched: 0, sockets: 0 };
  class CountingWebSocket extends WebSocket {
    constructor(url, init) {
      super(url, init);
      raw.sockets += 1;
      this.addEventListener('message', (event) => {
        raw.texts += 1;
        if (typeof event.data === 'string' && event.data.includes('\n')) raw.batched += 1;
      });
    }
  }
  const client = new ChatClient({
    baseUrl,
    token,
    WebSocket: CountingWebSocket,
    backoff: { initialMs: 50, maxMs: 400, penaltyMs: 300 },
    stableMs: 60000,
    ...options,
  });
  const seen = { messages: [], states: [], closes: [], errors: [], raw };
  client.on('message', (m) => seen.messages.push(m));
  client.on('state', (s) => seen.states.push(s.state));
  client.on('close', (c) => seen.closes.push(c));
  client.on('error', (e) => seen.errors.push(e));
  return { client, seen };
}

/** Every message of a room over the JSON API, ascending. */
export async function allMessages(api, room) {
  const all = [];
  let after = 0;
  for (;;) {
    const page = await api.messages(room, { afterSeq: after, limit: 200 });
    all.push(...page.messages);
    if (!page.has_more || page.messages.length === 0) return all;
    after = page.messages[page.messages.length - 1].seq;
  }
}
