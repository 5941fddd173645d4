// composer.js: the message box. Enter (without Shift) or Send hands the trimmed text to
// `onSend` and clears the box; the box grows with its text up to a limit; typing tells the
// room (the client SDK throttles the notices).

/** The box's height limit, px. */
const MAX_HEIGHT_PX = 160;

export class Composer {
  /**
   * @param {{form: HTMLFormElement, input: HTMLTextAreaElement, send: HTMLButtonElement}} el
   * @param {{onSend: (body: string) => void, onTyping: () => void}} hooks
   */
  constructor(el, hooks) {
    this.el = el;
    el.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit(hooks);
    });
    el.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit(hooks);
      }
    });
    el.input.addEventListener('input', () => {
      this.autoGrow();
      if (el.input.value.trim()) hooks.onTyping();
    });
  }

  submit(hooks) {
    const body = this.el.input.value.trim();
    if (!body) return;
    this.el.input.value = '';
    this.autoGrow();
    hooks.onSend(body);
  }

  autoGrow() {
    const ta = this.el.input;
    ta.style.height = 'auto';
    ta.style.height = Math.min(ta.scrollHeight, MAX_HEIGHT_PX) + 'px';
  }

  /** The room is gone: nothing more can be sent. */
  disable() {
    this.el.send.disabled = true;
    this.el.input.disabled = true;
  }
}
