// backoff.d.ts: declarations of backoff.js.

export interface BackoffOptions {
  /** Ceiling of the first delay (default 500 ms); it doubles with each attempt. */
  initialMs?: number;
  /** Largest ceiling (default 30 s). */
  maxMs?: number;
  /** Added to a delay after abuse, slow-consumer or busy refusals (default 10 s). */
  penaltyMs?: number;
  /** Source of randomness in [0, 1) (tests make it fixed). */
  random?: () => number;
}

/** Exponential backoff with full jitter. */
export declare class Backoff {
  constructor(options?: BackoffOptions);
  readonly initialMs: number;
  readonly maxMs: number;
  readonly penaltyMs: number;
  /** Delays handed out since the last reset. */
  readonly attempt: number;
  /** The next delay in ms; `penalty` adds `penaltyMs`. */
  next(penalty?: boolean): number;
  reset(): void;
}
