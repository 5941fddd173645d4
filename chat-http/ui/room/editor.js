// editor.js: editing one's own message in place. Swaps the message's body for a small form
// (Enter or Save saves, Escape or Cancel gives up) and hands the new text to `save`; the body
// shows the stored text again when done, and the server's `edited` frame brings the new one.
//
// Security rule: the text goes into a textarea's value and back with textContent, never as HTML.

import { $ } from '../dom.js';

/**
 * Opens the editor in the message `li`.
 * @param {HTMLElement} li the message's element
 * @param {string} text the current body
 * @param {(text: string) => void} save called with the changed, non-empty text
 * @param {() => string} current the body to show when done
 */
export function openEditor(li, text, save, current) {
  if (li.classList.contains('editing')) return;
  li.classList.add('editing');
  const body = $('.body', li);
  const form = document.createElement('form');
  form.className = 'edit-form';
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.rows = 2;
  ta.maxLength = 4000;
  ta.className = 'edit-input';
  ta.setAttribute('aria-label', 'Edit message');
  const ok = document.createElement('button');
  ok.type = 'submit';
  ok.className = 'primary small';
  ok.textContent = 'Save';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'small';
  cancel.textContent = 'Cancel';
  form.append(ta, ok, cancel);
  body.replaceChildren(form);
  const finish = () => {
    li.classList.remove('editing');
    body.textContent = current();
  };
  cancel.addEventListener('click', finish);
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') finish();
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const changed = ta.value.trim();
    if (!changed) return;
    if (changed !== text) save(changed);
    finish();
  });
  ta.focus();
}
