// usage.ts: compiled by `tsc --noEmit`, never run. It uses the public API the way an app does,
// so a declaration that drifts from the documented API fails the typecheck; the
// `@ts-expect-error` lines check that wrong uses are refused.

import {
  ApiError,
  Backoff,
  ChatApi,
  ChatClient,
  ChatError,
  CloseCode,
  closeAction,
  handshakeAction,
  newClientId,
  parseFrames,
  PROTOCOL_VERSION,
} from '@chat/client';
import type { AckFrame, ConnectionState, HistoryFrame, Message, MessageFrame, PendingSend, Room, User } from '@chat/client';

export async function app(): Promise<void> {
  const api = new ChatApi({ baseUrl: 'https://example.com/chat' });
  const session = await api.login('alice', 'secret');
  const user: User = session.user;
  const rooms: Room[] = await api.rooms({ q: 'gen', limit: 20 });
  const page = await api.messages('general', { beforeSeq: 10, limit: 50 });
  const first: Message | undefined = page.messages[0];
  void user, rooms, first, page.has_more;

  const chat = new ChatClient({
    baseUrl: 'https://example.com/chat',
    token: async () => session.token,
    backoff: { initialMs: 250, maxMs: 20000 },
    WebSocket: globalThis.WebSocket,
  });
  const off = chat.on('message', (m: MessageFrame) => console.log(m.room, m.seq, m.author, m.body));
  chat.on('state', ({ state, delayMs }) => console.log(state satisfies ConnectionState, delayMs));
  chat.on('session_ended', () => chat.close());
  chat.on('error', (e: ChatError) => console.log(e.code));
  chat.on('outbox', ({ pending }) => pending.map((p: PendingSend) => p.clientId));
  const hello = await chat.connect();
  console.log(hello.user.username, hello.max_frame_bytes);
  const joined = await chat.join('general', { afterSeq: 41 });
  console.log(joined.last_seq, joined.resumed, joined.online);
  const ack: AckFrame = await chat.send('general', 'hello', { clientId: newClientId() });
  console.log(ack.seq, ack.duplicate);
  await chat.edit('general', ack.seq, 'hello!');
  await chat.delete('general', ack.seq);
  const older: HistoryFrame = await chat.history('general', { beforeSeq: ack.seq, limit: 20 });
  console.log(older.has_more, await chat.ping(), chat.typing('general'), chat.pending().length);
  for await (const m of chat.events('message', { filter: (m) => m.room === 'general' })) {
    console.log(m.body);
    break;
  }
  const p = await chat.once('presence');
  console.log(p.status === 'online', chat.room('general')?.lastSeq, chat.rooms().length);
  off();

  // @ts-expect-error: not an event
  chat.on('messages', () => {});
  // @ts-expect-error: seq is a number
  await chat.edit('general', '3', 'x');
  // @ts-expect-error: the token transport is one of three
  new ChatClient({ tokenTransport: 'cookie' });

  const delay: number = new Backoff({ penaltyMs: 5000 }).next(true);
  const action: 'resume' | 'penalty' | 'session_ended' = closeAction(CloseCode.SESSION_ENDED);
  console.log(delay, action, handshakeAction(503), parseFrames('{"type":"pong"}').length, PROTOCOL_VERSION);
  try {
    await api.me();
  } catch (e) {
    if (e instanceof ApiError) console.log(e.status, e.code, e.retryAfter);
  }
}
