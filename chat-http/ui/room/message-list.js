// message-list.js: the messages of the open room, rendered in seq order. Live messages,
// history pages, edits and resends all go through `upsert`, keyed by seq, so a message shows
// once however often it arrives; a deleted seq stays known (flagged) so that nothing brings it
// back. It also keeps the reader at the newest message when that is where they were.
//
// Security rule: names and bodies are written with textContent only, never as HTML.

import { $, clone, formatTime, setHidden } from '../dom.js';

/** How close to the bottom (px) still counts as reading the newest message. */
const STICK_PX = 80;

export class MessageList {
  /**
   * @param {{scroller: HTMLElement, list: HTMLElement}} el
   * @param {{me: () => any, onEdit: (seq: number) => void, onDelete: (seq: number) => void}} hooks
   */
  constructor(el, hooks) {
    this.el = el;
    this.hooks = hooks;
    /** seq -> message (deleted ones stay, flagged, so a replay cannot bring them back). */
    this.messages = new Map();
    /** seq -> <li> of rendered messages. */
    this.rendered = new Map();
    /** Rendered seqs in ascending order (for insertion). */
    this.order = [];
    this.atBottom = true;
  }

  /** How many messages are shown. */
  get size() {
    return this.rendered.size;
  }

  has(seq) {
    return this.messages.has(Number(seq));
  }

  get(seq) {
    return this.messages.get(Number(seq));
  }

  /** The <li> of a shown message. */
  element(seq) {
    return this.rendered.get(Number(seq));
  }

  /** The lowest seq known (deleted ones included), or null when none is. */
  minSeq() {
    let min = Infinity;
    for (const seq of this.messages.keys()) if (seq < min) min = seq;
    return min === Infinity ? null : min;
  }

  nearBottom() {
    const s = this.el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICK_PX;
  }

  scrollToBottom() {
    const s = this.el.scroller;
    s.scrollTop = s.scrollHeight;
    this.atBottom = true;
  }

  /** A message at the live end: shown, and scrolled to when the reader was at the bottom. */
  addLive(m) {
    const stick = this.nearBottom();
    this.upsert(m);
    if (stick) this.scrollToBottom();
  }

  /** A page of (older) messages: shown without moving what the reader looks at. */
  addPage(messages) {
    const s = this.el.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const wasEmpty = this.size === 0;
    for (const m of messages) this.upsert(m);
    if (wasEmpty) this.scrollToBottom();
    else s.scrollTop = s.scrollHeight - fromBottom;
  }

  /** Adds or updates a message (a `message` or `edited` frame, or a history entry). */
  upsert(m) {
    const seq = Number(m.seq);
    if (!Number.isFinite(seq)) return;
    const prev = this.messages.get(seq);
    if (prev && prev.deleted) return; // deletion is final
    const msg = { ...(prev || {}), ...m, seq };
    this.messages.set(seq, msg);
    if (msg.deleted) {
      this.unrender(seq);
      return;
    }
    const li = this.rendered.get(seq);
    if (li) this.fill(li, msg);
    else this.insertSorted(seq, this.build(msg));
  }

  /** A deleted message: gone for good. */
  remove(seq) {
    seq = Number(seq);
    const prev = this.messages.get(seq) || { seq };
    this.messages.set(seq, { ...prev, deleted: true, body: '' });
    this.unrender(seq);
  }

  /** Redraws every message (the signed-in user became known: own messages get their buttons). */
  refill() {
    for (const [seq, li] of this.rendered) this.fill(li, this.messages.get(seq));
  }

  insertSorted(seq, li) {
    const order = this.order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    const before = lo < order.length ? this.rendered.get(order[lo]) : null;
    order.splice(lo, 0, seq);
    this.rendered.set(seq, li);
    this.el.list.insertBefore(li, before);
  }

  unrender(seq) {
    const li = this.rendered.get(seq);
    if (!li) return;
    li.remove();
    this.rendered.delete(seq);
    const i = this.order.indexOf(seq);
    if (i >= 0) this.order.splice(i, 1);
  }

  build(msg) {
    const li = clone('tpl-message');
    li.dataset.seq = String(msg.seq);
    this.fill(li, msg);
    $('.edit-btn', li).addEventListener('click', () => this.hooks.onEdit(Number(li.dataset.seq)));
    $('.delete-btn', li).addEventListener('click', () => this.hooks.onDelete(Number(li.dataset.seq)));
    return li;
  }

  fill(li, msg) {
    const me = this.hooks.me() || {};
    const own = msg.author === me.username;
    li.dataset.author = msg.author || '';
    li.classList.toggle('own', own);
    $('.author', li).textContent = msg.author || '';
    const time = $('.time', li);
    time.dateTime = msg.created_at || '';
    time.textContent = formatTime(msg.created_at);
    time.title = msg.created_at ? new Date(msg.created_at).toLocaleString() : '';
    setHidden($('.edited', li), !msg.edited_at);
    if (!li.classList.contains('editing')) $('.body', li).textContent = msg.body || '';
    const canDelete = own || !!me.is_admin;
    setHidden($('.actions', li), !canDelete);
    setHidden($('.edit-btn', li), !own);
    setHidden($('.delete-btn', li), !canDelete);
  }
}
