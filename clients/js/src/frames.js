// frames.js: the wire format of protocol 1. A server text frame holds one JSON object, or with
// `batch=1` several, one per line (a frame never contains a raw newline: JSON escapes it inside
// strings). Client frames are one JSON object per text frame.

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/**
 * Splits one server text frame into its frames, in order. Lines that are not JSON objects with
 * a string `type` are skipped (the protocol lets servers add frame types; this drops only
 * garbage).
 * @param {string} text
 * @returns {Array<{type: string, [field: string]: unknown}>}
 */
export function parseFrames(text) {
  const frames = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let frame;
    try {
      frame = JSON.parse(line);
    } catch {
      continue;
    }
    if (frame && typeof frame === 'object' && !Array.isArray(frame) && typeof frame.type === 'string') {
      frames.push(frame);
    }
  }
  return frames;
}

const encoder = new TextEncoder();

/** The UTF-8 size of a string in bytes, to check frames against `max_frame_bytes`. */
export function byteLength(text) {
  return encoder.encode(text).length;
}
