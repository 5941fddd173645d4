// close-codes.js: what the client does when a socket ends, from the close code table of
// docs/PROTOCOL.md (or, when the handshake was refused, from its HTTP status where the
// WebSocket implementation reports it). Kept apart so the policy is one table, testable alone.

/** Close codes the server sends (RFC 6455 codes and the chat's 4xxx ones). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  INVALID_UTF8: 1007,
  TOO_LARGE: 1009,
  INTERNAL: 1011,
  TRY_AGAIN_LATER: 1013,
  IDLE_TIMEOUT: 4000,
  SESSION_ENDED: 4001,
  SLOW_CONSUMER: 4008,
  ABUSE: 4029,
});

/**
 * After a socket that was open closes: `resume` (reconnect with backoff and resume),
 * `penalty` (the same, waiting longer first) or `session_ended` (do not reconnect: the
 * credential is dead, the app must sign in again).
 * @param {number} code
 * @returns {'resume' | 'penalty' | 'session_ended'}
 */
export function closeAction(code) {
  switch (code) {
    case CloseCode.SESSION_ENDED:
      return 'session_ended';
    case CloseCode.SLOW_CONSUMER:
    case CloseCode.ABUSE:
    case CloseCode.TRY_AGAIN_LATER:
    // Our own frames were refused by the transport: going again at once would repeat it.
    case CloseCode.INVALID_UTF8:
    case CloseCode.TOO_LARGE:
      return 'penalty';
    default:
      // 1000/1001 (shutdown), 1006 (connection lost), 1011, 4000 and anything unknown.
      return 'resume';
  }
}

/**
 * After a handshake the server refused with an HTTP status (undefined when unknown, as in
 * browsers): 401 is a dead session; 400 (a bad option) and 403 (a foreign Origin) do not get
 * better by retrying; 429 and 503 ask for patience; anything else is retried.
 * @param {number | undefined} status
 * @returns {'resume' | 'penalty' | 'session_ended' | 'stop'}
 */
export function handshakeAction(status) {
  if (status === 401) return 'session_ended';
  if (status === 400 || status === 403) return 'stop';
  if (status === 429 || status === 503) return 'penalty';
  return 'resume';
}
