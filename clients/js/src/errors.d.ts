// errors.d.ts: declarations of errors.js.

import type { ErrorFrame } from './frames.js';

/** A refusal or failure on the WebSocket: the server's code, or `disconnected`, `timeout`,
 * `closed`, `session_ended`, `frame_too_large`, `discarded`, `left`, `room_deleted`, ... */
export declare class ChatError extends Error {
  constructor(code: string, message?: string, frame?: ErrorFrame | null);
  readonly code: string;
  /** The server's `error` frame, when it came from one. */
  readonly frame: ErrorFrame | null;
  static fromFrame(frame: ErrorFrame): ChatError;
}

/** An error of the JSON API. `status` 0 (code `network`): the server could not be reached. */
export declare class ApiError extends ChatError {
  constructor(status: number, code: string, message?: string, retryAfter?: number | null);
  readonly status: number;
  /** Seconds, from `Retry-After` (429, 503). */
  readonly retryAfter: number | null;
}
