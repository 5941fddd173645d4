// frames.d.ts: the objects of protocol 1 (docs/PROTOCOL.md) as the server sends them: the
// WebSocket frames and the JSON API's user, room and message objects. Fields keep the wire's
// snake_case. Servers may add fields and frame types within protocol 1.

export declare const PROTOCOL_VERSION: 1;

/** Splits one server text frame (with `batch=1`, one JSON object per line) into its frames. */
export declare function parseFrames(text: string): Array<ServerFrame | UnknownFrame>;

export interface User {
  id: number;
  username: string;
  is_admin: boolean;
  is_active: boolean;
  created_at: string;
}

export interface Room {
  id: number;
  name: string;
  description: string;
  created_by: number | null;
  created_at: string;
  last_seq: number;
  /** Whether the caller is a member, where known. */
  member?: boolean;
}

/** A message, in `message` frames, `history` pages and the JSON API. */
export interface Message {
  room: string;
  seq: number;
  id: number;
  author: string;
  body: string;
  created_at: string;
  /** Deleted messages have an empty body. */
  deleted: boolean;
  client_id?: string;
  edited_at?: string;
}

// ---- server to client -------------------------------------------------------------------------

export interface HelloFrame {
  type: 'hello';
  user: User;
  protocol: number;
  max_frame_bytes: number;
  max_rooms: number;
}

export interface JoinedFrame {
  type: 'joined';
  room: string;
  /** Newest seq when the subscription started. */
  last_seq: number;
  description: string;
  members: string[];
  online: string[];
}

export interface LeftFrame {
  type: 'left';
  room: string;
}

export interface MessageFrame extends Message {
  type: 'message';
}

export interface AckFrame {
  type: 'ack';
  room: string;
  client_id: string | null;
  seq: number;
  id: number;
  /** The client_id had been used: this is the original message. */
  duplicate: boolean;
}

export interface EditedFrame extends Message {
  type: 'edited';
  edited_at: string;
}

export interface DeletedFrame {
  type: 'deleted';
  room: string;
  seq: number;
  id: number;
}

export interface PresenceFrame {
  type: 'presence';
  room: string;
  online: string[];
  user: string;
  status: 'online' | 'offline';
}

export interface TypingFrame {
  type: 'typing';
  room: string;
  user: string;
}

export interface MemberJoinedFrame {
  type: 'member_joined';
  room: string;
  user: string;
}

export interface MemberLeftFrame {
  type: 'member_left';
  room: string;
  user: string;
}

export interface RoomDeletedFrame {
  type: 'room_deleted';
  room: string;
}

export interface HistoryFrame {
  type: 'history';
  room: string;
  /** Ascending by seq. */
  messages: Message[];
  /** Older messages exist. */
  has_more: boolean;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  ref: unknown;
  room?: string;
  client_id?: string;
}

export interface PongFrame {
  type: 'pong';
}

export type ServerFrame =
  | HelloFrame
  | JoinedFrame
  | LeftFrame
  | MessageFrame
  | AckFrame
  | EditedFrame
  | DeletedFrame
  | PresenceFrame
  | TypingFrame
  | MemberJoinedFrame
  | MemberLeftFrame
  | RoomDeletedFrame
  | HistoryFrame
  | ErrorFrame
  | PongFrame;

/** A frame type this client does not know (a later server may add some). */
export interface UnknownFrame {
  type: string;
  [field: string]: unknown;
}

// ---- client to server (what ChatClient sends; listed for apps that speak the protocol) ---------

export type ClientFrame =
  | { type: 'join'; room: string; after_seq?: number; ref?: unknown }
  | { type: 'leave'; room: string; ref?: unknown }
  | { type: 'send'; room: string; body: string; client_id?: string; ref?: unknown }
  | { type: 'edit'; room: string; seq: number; body: string; ref?: unknown }
  | { type: 'delete'; room: string; seq: number; ref?: unknown }
  | { type: 'typing'; room: string; ref?: unknown }
  | { type: 'history'; room: string; before_seq?: number; limit?: number; ref?: unknown }
  | { type: 'ping'; ref?: unknown };
