// close-codes.d.ts: declarations of close-codes.js.

export declare const CloseCode: {
  readonly NORMAL: 1000;
  readonly GOING_AWAY: 1001;
  readonly INVALID_UTF8: 1007;
  readonly TOO_LARGE: 1009;
  readonly INTERNAL: 1011;
  readonly TRY_AGAIN_LATER: 1013;
  readonly IDLE_TIMEOUT: 4000;
  readonly SESSION_ENDED: 4001;
  readonly SLOW_CONSUMER: 4008;
  readonly ABUSE: 4029;
};

/** What to do after an open socket closed with `code`. */
export declare function closeAction(code: number): 'resume' | 'penalty' | 'session_ended';

/** What to do after the server refused the handshake with HTTP `status` (undefined: unknown). */
export declare function handshakeAction(status: number | undefined): 'resume' | 'penalty' | 'session_ended' | 'stop';
