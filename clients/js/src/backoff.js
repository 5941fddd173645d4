// backoff.js: how long to wait before reconnecting or retrying. Exponential backoff with full
// jitter: each delay is drawn uniformly from 0 to min(maxMs, initialMs * 2^attempt), so clients
// cut off together (a server restart) do not all come back at the same instant. A penalty (the
// server closed for abuse or a slow consumer, or refused the handshake as busy) adds a fixed
// floor, so those never come back immediately.

export class Backoff {
  /**
   * @param {{initialMs?: number, maxMs?: number, penaltyMs?: number, random?: () => number}} [options]
   */
  constructor({ initialMs = 500, maxMs = 30000, penaltyMs = 10000, random = Math.random } = {}) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.penaltyMs = penaltyMs;
    this.random = random;
    /** Delays handed out since the last reset. */
    this.attempt = 0;
  }

  /** The next delay in ms; `penalty` adds `penaltyMs`. */
  next(penalty = false) {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const delay = this.random() * ceiling;
    return Math.round(penalty ? this.penaltyMs + delay : delay);
  }

  /** Starts over from `initialMs` (after a connection that stayed up). */
  reset() {
    this.attempt = 0;
  }
}

/**
 * The delay before retry number `attempt` (1, 2, ...) of one refused request: "equal jitter",
 * half fixed and half random, so a retry never comes at once.
 */
export function retryDelay(attempt, initialMs = 250, maxMs = 10000, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
