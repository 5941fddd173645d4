// index.js: the package's entry point, `@chat/client`: the socket client, the JSON API helpers
// and the small pieces an app may want on their own (errors, backoff, close-code policy, frame
// parsing).

export { ChatClient } from './client.js';
export { ChatApi } from './api.js';
export { ChatError, ApiError } from './errors.js';
export { Backoff } from './backoff.js';
export { CloseCode, closeAction, handshakeAction } from './close-codes.js';
export { PROTOCOL_VERSION, parseFrames } from './frames.js';
export { newClientId } from './outbox.js';
