// banner.js: the "Connection lost. Reconnecting in 3 s…" banner, driven by the client SDK's
// `state` events (the SDK does the reconnecting, with backoff). "Retry now", the browser coming
// back online and the tab becoming visible again skip the wait. Its elements belong to the
// page shell, outside the view, so it removes its listeners when the room page closes.

import { $, setHidden } from '../dom.js';

export class ReconnectBanner {
  /** @param {import('../client/index.js').ChatClient} client */
  constructor(client) {
    this.client = client;
    this.banner = $('#reconnect-banner');
    this.text = $('#reconnect-text');
    this.timer = null;
    this.listeners = [];
    const now = () => client.reconnectNow();
    this.listen($('#reconnect-now'), 'click', now);
    this.listen(window, 'online', now);
    this.listen(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible') now();
    });
  }

  listen(target, type, fn) {
    target.addEventListener(type, fn);
    this.listeners.push([target, type, fn]);
  }

  /** A `state` event of the client: `{state, delayMs?}`. */
  update({ state, delayMs }) {
    clearInterval(this.timer);
    if (state !== 'reconnecting') {
      this.hide();
      return;
    }
    const due = Date.now() + (delayMs || 0);
    const tick = () => {
      const s = delayMs === undefined ? 0 : Math.max(0, Math.ceil((due - Date.now()) / 1000));
      this.text.textContent = s > 0 ? `Connection lost. Reconnecting in ${s} s…` : 'Connection lost. Reconnecting…';
    };
    tick();
    this.timer = setInterval(tick, 500);
    this.banner.hidden = false;
    document.body.classList.add('offline');
  }

  hide() {
    clearInterval(this.timer);
    setHidden(this.banner, true);
    document.body.classList.remove('offline');
  }

  close() {
    this.hide();
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.listeners = [];
  }
}
