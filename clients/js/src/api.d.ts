// api.d.ts: declarations of api.js.

import type { Message, Room, User } from './frames.js';

/** A token, or a function asked for one before every request and (re)connect. */
export type TokenSource =
  | string
  | null
  | undefined
  | (() => string | null | undefined | Promise<string | null | undefined>);

export interface ChatApiOptions {
  /** Where the chat is mounted: `https://example.com/chat`; '' (default): the page's origin. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer`; without one the session cookie is used. */
  token?: TokenSource;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Cookie policy (default `same-origin`; `include` for a chat on another origin). */
  credentials?: RequestCredentials;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
}

export interface Session {
  user: User;
  token: string;
}

export interface RoomDetails {
  room: Room;
  members: string[];
  online: string[];
}

export interface MessagePage {
  room: string;
  /** Ascending by seq (search: newest first). */
  messages: Message[];
  /** More messages exist beyond the page (older ones; newer ones for `afterSeq`). */
  has_more: boolean;
}

/** The JSON API under `baseUrl`. Every call throws ApiError on failure. */
export declare class ChatApi {
  constructor(options?: ChatApiOptions);
  readonly baseUrl: string;
  credentials: RequestCredentials;
  headers: Record<string, string>;

  /** Any call: `path` such as `/api/me`; `query` entries that are null/undefined/'' are left out. */
  request<T = any>(
    method: string,
    path: string,
    options?: { body?: unknown; query?: Record<string, string | number | boolean | null | undefined> },
  ): Promise<T>;

  /** Creates an account and signs in; this object uses the new token from then on. */
  signup(username: string, password: string): Promise<Session>;
  /** Signs in; this object uses the new token from then on. */
  login(username: string, password: string): Promise<Session>;
  /** Ends this session (its sockets close with 4001). */
  logout(): Promise<void>;
  /** Ends every session of the user. */
  logoutAll(): Promise<void>;
  /** Changes the password; the user's other sessions end. */
  changePassword(oldPassword: string, newPassword: string): Promise<void>;
  me(): Promise<User>;

  /** Rooms the caller is a member of. */
  myRooms(): Promise<Room[]>;
  /** Rooms by name; `after`: the last name of the previous page. */
  rooms(options?: { q?: string; after?: string; limit?: number }): Promise<Room[]>;
  createRoom(name: string, description?: string): Promise<Room>;
  room(name: string): Promise<RoomDetails>;
  /** Changes the description (the room's creator or an admin). */
  updateRoom(name: string, description: string): Promise<Room>;
  /** Becomes a member. */
  joinRoom(name: string): Promise<Room>;
  /** Ends the membership. */
  leaveRoom(name: string): Promise<void>;
  /** A page of history; at most one of `beforeSeq` and `afterSeq`. */
  messages(name: string, options?: { beforeSeq?: number; afterSeq?: number; limit?: number }): Promise<MessagePage>;
  search(name: string, q: string, options?: { beforeSeq?: number; limit?: number }): Promise<MessagePage>;
  editMessage(name: string, seq: number, body: string): Promise<Message>;
  deleteMessage(name: string, seq: number): Promise<Message>;
}
