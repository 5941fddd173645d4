// history.js: the older messages of the open room. After the join it loads the newest page,
// then one more page each time the reader scrolls near the top, all over the socket with the
// client SDK's `history()`; after a resume it re-reads the loaded window over HTTP so edits and
// deletions made while away show (the SDK pages only backwards). It also says where the
// conversation starts.

import * as api from '../endpoints.js';

/** Messages per page. */
export const PAGE = 50;
/** How close to the top (px) asks for the next older page. */
const TOP_PX = 120;

export class History {
  /**
   * @param {import('../client/index.js').ChatClient} client
   * @param {string} room
   * @param {import('./message-list.js').MessageList} list
   * @param {HTMLElement} statusEl
   * @param {{onError: (e: Error) => void, isClosed: () => boolean}} hooks
   */
  constructor(client, room, list, statusEl, hooks) {
    this.client = client;
    this.room = room;
    this.list = list;
    this.statusEl = statusEl;
    this.hooks = hooks;
    /** The newest page is shown: scrolling up may ask for older ones. */
    this.started = false;
    this.hasMore = true;
    this.loading = false;
    this.checkScheduled = false;
  }

  /** The newest page, once joined. */
  async loadLatest() {
    await this.load(undefined);
    this.started = true;
    this.check();
  }

  /** Looks (once per frame) whether the reader is near the top, and loads older messages. */
  check() {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    requestAnimationFrame(() => {
      this.checkScheduled = false;
      if (!this.started || this.hooks.isClosed()) return;
      if (this.list.el.scroller.scrollTop < TOP_PX) this.loadOlder();
    });
  }

  async loadOlder() {
    if (!this.hasMore || this.loading || this.hooks.isClosed()) return;
    const before = this.list.minSeq();
    if (before !== null && before <= 1) {
      this.hasMore = false;
      this.updateStatus();
      return;
    }
    await this.load(before ?? undefined);
    if (!this.hooks.isClosed() && this.hasMore) this.check();
  }

  async load(beforeSeq) {
    this.loading = true;
    this.updateStatus();
    try {
      const page = await this.client.history(this.room, { beforeSeq, limit: PAGE });
      if (this.hooks.isClosed()) return;
      const messages = Array.isArray(page.messages) ? page.messages : [];
      this.list.addPage(messages);
      const min = messages.reduce((a, m) => Math.min(a, Number(m.seq)), Infinity);
      this.hasMore = !!page.has_more && messages.length > 0 && min > 1;
    } catch (e) {
      if (!this.hooks.isClosed()) this.hooks.onError(e);
      // Tried again on the next scroll.
    } finally {
      this.loading = false;
      if (!this.hooks.isClosed()) this.updateStatus();
    }
  }

  updateStatus() {
    const el = this.statusEl;
    if (this.loading) el.textContent = 'Loading older messages…';
    else if (!this.hasMore) el.textContent = this.list.size ? 'Start of the conversation' : 'No messages yet. Say hello!';
    else el.textContent = '';
  }

  /** After a resume: re-reads the loaded window up to `cursor` (the stream brings the rest). */
  async refreshLoaded(cursor) {
    const min = this.list.minSeq();
    if (min === null || cursor === null || cursor < min) return;
    try {
      let after = min - 1;
      for (let i = 0; i < 10 && after < cursor; i++) {
        const page = await api.messages(this.room, { afterSeq: after, limit: 200 });
        if (this.hooks.isClosed() || page.messages.length === 0) return;
        for (const m of page.messages) {
          const seq = Number(m.seq);
          if (seq > cursor) continue; // the live stream delivers these
          const known = this.list.get(seq);
          if (m.deleted) this.list.remove(seq);
          else if (!known || known.body !== m.body || known.edited_at !== m.edited_at) this.list.upsert(m);
          after = Math.max(after, seq);
        }
      }
    } catch (_) {
      // Best effort: the live stream is correct either way.
    }
  }
}
