// members.js: who is online in the open room, from the `joined` and `presence` frames (the
// full list each time), sorted by name, oneself marked; the count shows on the toggle that
// opens the list on narrow screens.
//
// Security rule: names are written with textContent only.

export class OnlineList {
  /**
   * @param {{list: HTMLElement, count: HTMLElement}} el
   * @param {() => any} me the signed-in user
   */
  constructor(el, me) {
    this.el = el;
    this.me = me;
  }

  /** `online`: usernames (or user objects). */
  render(online) {
    if (!Array.isArray(online)) return;
    const names = [...new Set(online.map((u) => (typeof u === 'string' ? u : u && u.username)).filter(Boolean))];
    names.sort((a, b) => a.localeCompare(b));
    const me = this.me();
    this.el.list.replaceChildren(
      ...names.map((n) => {
        const li = document.createElement('li');
        li.dataset.user = n;
        li.textContent = n;
        if (me && n === me.username) li.classList.add('me');
        return li;
      }),
    );
    this.el.count.textContent = String(names.length);
  }
}
