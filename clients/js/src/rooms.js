// rooms.js: the rooms the app has joined and, per room, its cursor: the highest seq delivered to
// the app. After a reconnect every room is joined again with `after_seq` = the cursor, and a
// message at or below the cursor is a duplicate (a replay overlapping what was seen): so the app
// gets every message once, in order. Room names are unique case-insensitively; the server's
// canonical spelling replaces the app's once `joined` arrives.

/** The key of a room name (names differ only in case: the same room). */
export function roomKey(name) {
  return String(name).trim().toLowerCase();
}

export class RoomState {
  constructor(name) {
    this.name = String(name).trim();
    /** Highest seq delivered; null until the first `joined` says where the room is. */
    this.lastSeq = null;
    /** Subscribed on the current connection. */
    this.joined = false;
    /** Was joined on some connection before (a later `joined` is a resume). */
    this.everJoined = false;
    /** `join` frames sent on this connection and not answered: messages of the stream they
     * replace are skipped, the new stream delivers them again. */
    this.joining = 0;
    /** A `leave` was asked for: nothing more is delivered. */
    this.leaving = false;
    this.description = '';
    /** @type {string[]} */
    this.members = [];
    /** @type {string[]} */
    this.online = [];
    /** `join()` calls waiting for `joined`. */
    this.waiters = [];
    /** The last `joined` (with `resumed`), answered to join() while still joined. */
    this.lastJoined = null;
  }

  /** Whether a `message` is new for the app; if so it moves the cursor. */
  accept(seq) {
    if (this.joining > 0 || this.leaving || !Number.isSafeInteger(seq)) return false;
    if (this.lastSeq !== null && seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    return true;
  }

  /** A public copy for the app. */
  snapshot() {
    const { name, lastSeq, joined, description, members, online } = this;
    return { name, lastSeq, joined, description, members: [...members], online: [...online] };
  }
}

export class Rooms {
  /** @type {Map<string, RoomState>} */
  #rooms = new Map();

  get(name) {
    return this.#rooms.get(roomKey(name));
  }

  /** The room, created when not tracked yet. */
  ensure(name) {
    const key = roomKey(name);
    let room = this.#rooms.get(key);
    if (!room) this.#rooms.set(key, (room = new RoomState(name)));
    return room;
  }

  delete(room) {
    if (this.#rooms.get(roomKey(room.name)) === room) this.#rooms.delete(roomKey(room.name));
  }

  all() {
    return [...this.#rooms.values()];
  }

  /** The connection ended: nothing is subscribed, no join is pending. */
  disconnected() {
    for (const room of this.#rooms.values()) {
      room.joined = false;
      room.joining = 0;
    }
  }
}
