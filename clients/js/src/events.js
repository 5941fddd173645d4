// events.js: a small event emitter with async iteration, the same in browsers and Node (no
// EventTarget or node:events). Every event carries one value. A listener that throws does not
// break the emitter: the error is rethrown on its own, outside the client's state changes.

export class Emitter {
  /** @type {Map<string, Set<(value: any) => void>>} */
  #listeners = new Map();
  /** Ends of the open iterators, called by `endIterators`. */
  #iterators = new Set();

  /** Calls `fn` with every `type` event; returns a function that removes it. */
  on(type, fn) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => this.off(type, fn);
  }

  /** Removes a listener added with `on`. */
  off(type, fn) {
    this.#listeners.get(type)?.delete(fn);
  }

  /** The next `type` event (that passes `filter`). */
  once(type, filter) {
    return new Promise((resolve) => {
      const off = this.on(type, (value) => {
        if (filter && !filter(value)) return;
        off();
        resolve(value);
      });
    });
  }

  /** @protected Calls the listeners of `type`. */
  emit(type, value) {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(value);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  /**
   * The `type` events from now on as an async iterator. Events wait in a queue until read. It
   * ends when the consumer breaks out, `signal` aborts, or the emitter ends its iterators.
   * @param {string} type
   * @param {{signal?: AbortSignal, filter?: (value: any) => boolean}} [options]
   */
  events(type, { signal, filter } = {}) {
    let queue = [];
    let head = 0;
    let done = false;
    /** Readers waiting for the next event. */
    const sleepers = [];
    const wake = () => {
      for (const resolve of sleepers.splice(0)) resolve();
    };
    const off = this.on(type, (value) => {
      if (filter && !filter(value)) return;
      queue.push(value);
      wake();
    });
    const finish = () => {
      if (done) return;
      done = true;
      off();
      this.#iterators.delete(finish);
      signal?.removeEventListener('abort', finish);
      wake();
    };
    this.#iterators.add(finish);
    if (signal?.aborted) finish();
    else signal?.addEventListener('abort', finish, { once: true });
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        for (;;) {
          if (head < queue.length) {
            const value = queue[head];
            queue[head++] = undefined;
            if (head === queue.length) {
              queue = [];
              head = 0;
            }
            return { value, done: false };
          }
          if (done) return { value: undefined, done: true };
          await new Promise((resolve) => sleepers.push(resolve));
        }
      },
      async return() {
        finish();
        queue = [];
        head = 0;
        return { value: undefined, done: true };
      },
    };
  }

  /** @protected Ends every open iterator (they finish their queued events first). */
  endIterators() {
    for (const finish of [...this.#iterators]) finish();
  }
}
