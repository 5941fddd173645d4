// typing.js: "alice is typing…" under the messages. A `typing` frame shows its user for a few
// seconds; their message, or their going offline, ends it sooner. One's own notices are not
// shown. Sending the notices is the composer's part (throttled by the client SDK).
//
// Security rule: names are written with textContent only.

/** How long a typing notice shows without a new one. */
const SHOW_MS = 4500;

export class TypingIndicator {
  /**
   * @param {HTMLElement} el
   * @param {() => any} me the signed-in user
   */
  constructor(el, me) {
    this.el = el;
    this.me = me;
    /** user -> timer that ends their notice. */
    this.typers = new Map();
  }

  /** `user` is typing. */
  show(user) {
    const me = this.me();
    if (!user || (me && user === me.username)) return;
    clearTimeout(this.typers.get(user));
    this.typers.set(
      user,
      setTimeout(() => this.stop(user), SHOW_MS),
    );
    this.render();
  }

  /** `user` sent their message or went away. */
  stop(user) {
    if (!this.typers.has(user)) return;
    clearTimeout(this.typers.get(user));
    this.typers.delete(user);
    this.render();
  }

  close() {
    for (const timer of this.typers.values()) clearTimeout(timer);
    this.typers.clear();
  }

  render() {
    const names = [...this.typers.keys()];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.el.textContent = text;
  }
}
