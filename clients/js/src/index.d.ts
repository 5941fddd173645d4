// index.d.ts: the types of `@chat/client` (declarations of index.js).

export { ChatClient } from './client.js';
export type {
  ChatClientEvents,
  ChatClientOptions,
  ChatEventType,
  CloseEvent,
  ConnectionState,
  JoinedEvent,
  OutboxEvent,
  RoomSnapshot,
  SessionEndedEvent,
  StateEvent,
  WebSocketConstructor,
} from './client.js';
export { ChatApi } from './api.js';
export type { ChatApiOptions, MessagePage, RoomDetails, Session, TokenSource } from './api.js';
export { ApiError, ChatError } from './errors.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { CloseCode, closeAction, handshakeAction } from './close-codes.js';
export { PROTOCOL_VERSION, parseFrames } from './frames.js';
export type * from './frames.js';
export { newClientId } from './outbox.js';
export type { PendingSend } from './outbox.js';
