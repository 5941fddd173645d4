// page.js: the open room, wiring the client SDK's ChatClient to the room's parts. The
// client (one per page, authenticated by the session cookie) owns everything about the
// protocol: the socket, reconnecting with backoff, resuming the room after the last seq seen,
// the outbox that sends each message once, batch frames, close codes. This file only turns its
// events into what the parts show (message list, history, pending messages, online list,
// typing, reconnect banner) and the parts' actions into client calls.
//
// The files are served under static/ as they lie on disk (room/, and the SDK in client/; see
// chat-http/src/ui.rs), so imports are ordinary relative paths.
//
// Security rule: data from the server or from users is only ever written with textContent /
// createTextNode, never as HTML (here and in every part).

import { ChatClient, newClientId } from '../client/index.js';
import * as api from '../endpoints.js';
import { $, showError } from '../dom.js';
import { ReconnectBanner } from './banner.js';
import { Composer } from './composer.js';
import { openEditor } from './editor.js';
import { History } from './history.js';
import { OnlineList } from './members.js';
import { MessageList } from './message-list.js';
import { PendingList } from './pending.js';
import { MessageSearch } from './search.js';
import { TypingIndicator } from './typing.js';

/** Typing notices go out at most this often. */
const TYPING_EVERY_MS = 3000;
const BACKOFF = { initialMs: 500, maxMs: 15000 };

/** The page's latest socket, for `chatDebug.dropConnection` (the SDK keeps its own private). */
let lastSocket = null;
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    lastSocket = this;
  }
}

export class RoomPage {
  /**
   * @param {string} name the room, as in the URL
   * @param {HTMLElement} node the view, cloned from `tpl-room`
   * @param {{me: () => any, setMe: (user: any) => void, sessionLost: () => void,
   *   notFound: () => void}} session the app around the page
   */
  constructor(name, node, session) {
    this.name = name;
    this.session = session;
    this.closed = false;
    const me = () => session.me();
    const isClosed = () => this.closed;
    this.errorEl = $('#room-error', node);
    this.titleEl = $('#room-title', node);
    this.descEl = $('#room-desc', node);
    this.scroller = $('#messages', node);
    this.client = new ChatClient({
      url: api.PATHS.ws(),
      baseUrl: api.MOUNT,
      WebSocket: TrackedWebSocket,
      typingIntervalMs: TYPING_EVERY_MS,
      backoff: BACKOFF,
    });
    this.list = new MessageList(
      { scroller: this.scroller, list: $('#message-list', node) },
      { me, onEdit: (seq) => this.edit(seq), onDelete: (seq) => this.delete(seq) },
    );
    this.history = new History(this.client, name, this.list, $('#history-status', node), {
      onError: (e) => this.showError(e),
      isClosed,
    });
    this.pending = new PendingList($('#pending-list', node), name, me);
    this.typing = new TypingIndicator($('#typing', node), me);
    this.online = new OnlineList({ list: $('#online-list', node), count: $('#online-count', node) }, me);
    this.composer = new Composer(
      { form: $('#send-form', node), input: $('#message-input', node), send: $('#send-button', node) },
      { onSend: (body) => this.write(body), onTyping: () => this.client.typing(this.name) },
    );
    this.search = new MessageSearch(
      {
        form: $('#message-search-form', node),
        input: $('#message-search', node),
        results: $('#search-results', node),
      },
      name,
      { onSessionLost: () => session.sessionLost(), isClosed },
    );
    this.banner = new ReconnectBanner(this.client);
    this.bindView(node);
    // A debugging aid (also used by the browser test): drop the socket as a network failure
    // would. lastClose: code and reason of the last close of an open socket.
    window.chatDebug = {
      dropConnection: () => lastSocket && lastSocket.close(4000, 'dropped for debugging'),
      lastClose: null,
    };
  }

  bindView(node) {
    const scroller = this.scroller;
    scroller.addEventListener(
      'scroll',
      () => {
        this.list.atBottom = this.list.nearBottom();
        this.history.check();
      },
      { passive: true },
    );
    // When the list gets shorter (banner shown, keyboard opened, window resized), stay at the
    // newest message if that is where the reader was.
    if (window.ResizeObserver) {
      this.resizeObserver = new ResizeObserver(() => {
        if (this.list.atBottom) this.list.scrollToBottom();
      });
      this.resizeObserver.observe(scroller);
    }
    const side = $('#room-side', node);
    const toggle = $('#toggle-side', node);
    toggle.addEventListener('click', () => {
      const open = side.classList.toggle('open');
      toggle.setAttribute('aria-expanded', String(open));
    });
  }

  // ---- lifecycle ----

  async start() {
    this.titleEl.textContent = this.name;
    let room = null;
    try {
      room = await api.room(this.name);
    } catch (e) {
      if (this.closed) return;
      if (e.status === 401 || e.status === 404) {
        this.close();
        return e.status === 401 ? this.session.sessionLost() : this.session.notFound();
      }
      this.showError(e); // the join still says where the room is
    }
    if (this.closed) return;
    if (room) {
      this.titleEl.textContent = room.name || this.name;
      this.descEl.textContent = room.description || '';
    }
    this.listen();
    this.client.join(this.name).then(
      () => this.history.loadLatest(),
      (e) => {
        if (this.closed) return;
        if (e.code === 'unknown_room') this.roomGone('room_deleted');
        else this.showError(e);
      },
    );
    this.client.connect();
    // Messages an earlier page wrote and did not see stored go again, with their client_id.
    for (const { clientId, body } of this.pending.stored()) this.send(clientId, body);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.banner.close();
    this.typing.close();
    if (this.resizeObserver) this.resizeObserver.disconnect();
  }

  // ---- the client's events ----

  listen() {
    const c = this.client;
    // The client follows this one room: its room events are all this room's.
    const live = () => !this.closed;
    c.on('state', (e) => {
      if (this.closed) return;
      this.banner.update(e);
      this.pending.update(c.pending(), e.state === 'open');
    });
    c.on('open', () => {
      if (this.closed || !c.user || !c.user.username) return;
      this.session.setMe(c.user);
      this.list.refill();
    });
    c.on('close', (end) => {
      if (!this.closed && end.opened) window.chatDebug.lastClose = { code: end.code, reason: end.reason };
    });
    c.on('session_ended', () => {
      if (this.closed) return;
      this.close();
      this.session.sessionLost();
    });
    c.on('outbox', (e) => {
      if (!this.closed) this.pending.update(e.pending, c.state === 'open');
    });
    c.on('error', (e) => {
      if (this.closed) return;
      if (e.code === 'unknown_room') this.roomGone('room_deleted');
      else this.showError(e);
    });
    c.on('joined', (f) => {
      if (!live()) return;
      showError(this.errorEl, null);
      if (typeof f.description === 'string') this.descEl.textContent = f.description;
      this.online.render(f.online);
      // Back after a drop: edits and deletions made meanwhile are not replayed.
      if (f.resumed) this.history.refreshLoaded(c.room(this.name)?.lastSeq ?? null);
    });
    c.on('message', (f) => {
      if (!live()) return;
      const wasEmpty = this.list.size === 0;
      this.list.addLive(f);
      this.pending.seen(Number(f.seq), f.client_id);
      if (f.author) this.typing.stop(f.author);
      if (wasEmpty) this.history.updateStatus();
    });
    c.on('edited', (f) => {
      // Only messages already loaded: an edit must not punch a hole into the history.
      if (live() && this.list.has(f.seq)) this.list.upsert(f);
    });
    c.on('deleted', (f) => {
      if (live()) this.list.remove(f.seq);
    });
    c.on('presence', (f) => {
      if (!live()) return;
      this.online.render(f.online);
      if (f.status === 'offline' && f.user) this.typing.stop(f.user);
    });
    c.on('typing', (f) => {
      if (live()) this.typing.show(f.user);
    });
    c.on('room_deleted', () => live() && this.roomGone('room_deleted'));
    c.on('left', () => live() && this.roomGone('left'));
  }

  roomGone(kind) {
    this.showError(kind === 'room_deleted' ? 'This room was deleted.' : 'You left this room.');
    this.composer.disable();
  }

  showError(e) {
    showError(this.errorEl, e || 'Something went wrong.');
  }

  // ---- actions ----

  /** A message from the composer: pending until stored, sent by the client's outbox. */
  write(body) {
    this.send(newClientId(), body);
    this.list.scrollToBottom();
  }

  send(clientId, body) {
    this.pending.add(clientId, body);
    this.client.send(this.name, body, { clientId }).then(
      (ack) => {
        if (this.closed) return;
        const seq = Number(ack.seq);
        const cursor = this.client.room(this.name)?.lastSeq;
        // Already shown, or older than the stream's position (a resend of a message the
        // replay brought): nothing is pending any more.
        if (this.list.has(seq) || (cursor !== null && cursor !== undefined && seq <= cursor)) {
          this.pending.remove(clientId);
        } else {
          this.pending.acked(clientId, seq);
        }
      },
      (e) => {
        if (!this.closed) this.pending.fail(clientId, e.message || e.code);
      },
    );
  }

  edit(seq) {
    const msg = this.list.get(seq);
    const li = this.list.element(seq);
    if (!msg || !li) return;
    const save = (text) => {
      this.client.edit(this.name, seq, text).catch((e) => !this.closed && this.showError(e));
    };
    openEditor(li, msg.body || '', save, () => this.list.get(seq)?.body || '');
  }

  delete(seq) {
    if (!confirm('Delete this message?')) return;
    this.client.delete(this.name, seq).catch((e) => !this.closed && this.showError(e));
  }
}
