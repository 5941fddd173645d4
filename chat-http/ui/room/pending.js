// pending.js: the messages written but not shown as stored yet, greyed below the list. The
// client SDK's outbox does the sending (once, resent with the same client_id after a
// reconnect); this shows each entry's state (queued, sending, sent, failed) until the message
// itself appears, and keeps the unacknowledged ones in sessionStorage so that a reload sends
// them again (with their client_id: the server stores each once).
//
// Security rule: bodies are written with textContent only.

import { $, textEl } from '../dom.js';

export class PendingList {
  /**
   * @param {HTMLElement} el the <ol> of pending messages
   * @param {string} room
   * @param {() => any} me the signed-in user
   */
  constructor(el, room, me) {
    this.el = el;
    this.key = 'chat-outbox:' + room;
    this.me = me;
    /** clientId -> {body, li, ackedSeq} */
    this.entries = new Map();
  }

  /** The entries kept by an earlier page: `[{clientId, body}]`. */
  stored() {
    try {
      const items = JSON.parse(sessionStorage.getItem(this.key) || '[]');
      return items
        .filter((i) => typeof i.client_id === 'string' && typeof i.body === 'string')
        .map((i) => ({ clientId: i.client_id, body: i.body }));
    } catch (_) {
      return []; // a broken entry is dropped
    }
  }

  save() {
    try {
      const items = [...this.entries]
        .filter(([, e]) => !e.failed && e.ackedSeq === undefined)
        .map(([cid, e]) => ({ client_id: cid, body: e.body }));
      if (items.length) sessionStorage.setItem(this.key, JSON.stringify(items));
      else sessionStorage.removeItem(this.key);
    } catch (_) {
      // Storage full or disabled: the client's outbox still sends.
    }
  }

  /** A message written (or restored): shown as pending and stored. */
  add(clientId, body) {
    if (this.entries.has(clientId)) return;
    const li = textEl('li', 'message own pending');
    li.dataset.clientId = clientId;
    const meta = textEl('div', 'meta');
    const me = this.me();
    meta.append(
      textEl('span', 'author', (me && me.username) || ''),
      document.createTextNode(' '),
      textEl('span', 'status muted', 'queued'),
    );
    li.append(meta, textEl('div', 'body', body));
    this.entries.set(clientId, { body, li, ackedSeq: undefined, failed: false });
    this.el.appendChild(li);
    this.save();
  }

  /** The client's outbox changed (or the connection did): `pending` is `client.pending()`. */
  update(pending, connected) {
    const states = new Map(pending.map((p) => [p.clientId, p.state]));
    for (const [cid, entry] of this.entries) {
      if (entry.failed || entry.ackedSeq !== undefined || !states.has(cid)) continue;
      $('.status', entry.li).textContent =
        states.get(cid) === 'sent' ? 'sending…' : connected ? 'queued' : 'not sent yet: will retry';
    }
  }

  /** Stored as `seq`; it stays until the message itself shows (`seen`). */
  acked(clientId, seq) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    entry.ackedSeq = seq;
    entry.li.classList.add('acked');
    $('.status', entry.li).textContent = 'sent';
    this.save();
  }

  /** The message `seq` (with `clientId`, when its author gave one) is shown now. */
  seen(seq, clientId) {
    if (clientId) this.remove(clientId);
    for (const [cid, entry] of this.entries) if (entry.ackedSeq === seq) this.remove(cid);
  }

  remove(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    entry.li.remove();
    this.entries.delete(clientId);
    this.save();
  }

  /** Refused for good: it stays, marked, until dismissed. */
  fail(clientId, reason) {
    const entry = this.entries.get(clientId);
    if (!entry || entry.failed) return;
    entry.failed = true;
    this.save();
    entry.li.classList.add('failed');
    $('.status', entry.li).textContent = 'not sent: ' + reason;
    const dismiss = textEl('button', 'linkish dismiss', 'Dismiss');
    dismiss.type = 'button';
    dismiss.addEventListener('click', () => this.remove(clientId));
    entry.li.appendChild(dismiss);
  }
}
