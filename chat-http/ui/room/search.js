// search.js: the room's message search in the side panel, over the JSON API. Results are a
// plain list (author, time, body); an empty query clears it.
//
// Security rule: names and bodies are written with textContent only.

import * as api from '../endpoints.js';
import { formatTime, textEl } from '../dom.js';

export class MessageSearch {
  /**
   * @param {{form: HTMLFormElement, input: HTMLInputElement, results: HTMLElement}} el
   * @param {string} room
   * @param {{onSessionLost: () => void, isClosed: () => boolean}} hooks
   */
  constructor(el, room, hooks) {
    this.el = el;
    this.room = room;
    this.hooks = hooks;
    el.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.run();
    });
  }

  async run() {
    const q = this.el.input.value.trim();
    const out = this.el.results;
    if (!q) {
      out.replaceChildren();
      return;
    }
    try {
      const results = await api.search(this.room, q);
      if (this.hooks.isClosed()) return;
      if (!results.length) {
        out.replaceChildren(textEl('li', 'muted', 'No matches.'));
        return;
      }
      out.replaceChildren(...results.map((m) => result(m)));
    } catch (e) {
      if (e.status === 401) return this.hooks.onSessionLost();
      out.replaceChildren(textEl('li', 'error', e.message));
    }
  }
}

function result(m) {
  const li = document.createElement('li');
  li.dataset.seq = String(m.seq);
  const meta = textEl('div', 'meta');
  const time = textEl('time', 'time', ' ' + formatTime(m.created_at));
  meta.append(textEl('span', 'author', m.author || ''), time);
  li.append(meta, textEl('div', 'body', m.body || ''));
  return li;
}
