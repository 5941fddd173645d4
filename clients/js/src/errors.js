// errors.js: the errors the client rejects with and reports. A ChatError carries a stable
// snake_case `code`: the server's (the `error` frame's code, the same as in HTTP error bodies)
// or one of the client's own (`disconnected`, `timeout`, `closed`, `session_ended`,
// `frame_too_large`, `network`), so an app branches on codes, never on message text.

/** A refusal or failure on the WebSocket, or (as ApiError) of the JSON API. */
export class ChatError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {object | null} [frame] the server's `error` frame, when it came from one
   */
  constructor(code, message, frame = null) {
    super(message || code);
    this.name = 'ChatError';
    this.code = code;
    this.frame = frame;
  }

  /** The error an `error` frame describes. */
  static fromFrame(frame) {
    return new ChatError(String(frame.code || 'error'), frame.message, frame);
  }
}

/** An error answered by the JSON API; `status` is 0 when the server could not be reached. */
export class ApiError extends ChatError {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} [message]
   * @param {number | null} [retryAfter] seconds, from `Retry-After`
   */
  constructor(status, code, message, retryAfter = null) {
    super(code, message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfter = retryAfter;
  }
}
