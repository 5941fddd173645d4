// dom.js: the few DOM helpers every view of the UI uses (finding, hiding, cloning templates,
// showing an error, formatting a time), so that app.js and the room modules share one copy.
//
// Security rule: text from the server or from users is only ever written with textContent /
// createTextNode, never as HTML; these helpers keep to it.

export const $ = (sel, root = document) => root.querySelector(sel);

export function setHidden(el, hidden) {
  if (el) el.hidden = hidden;
}

/** Shows `err` (an Error or a string) in `el`, or hides `el` when `err` is empty. */
export function showError(el, err) {
  if (!el) return;
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}

/** A copy of the first element of the `<template id=...>`. */
export function clone(id) {
  const tpl = document.getElementById(id);
  return tpl.content.firstElementChild.cloneNode(true);
}

/** An element with a class and text (textContent: never HTML). */
export function textEl(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A message time: the hour today, else the day and the hour. */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
