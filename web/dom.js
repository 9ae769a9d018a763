// A tiny element builder. Text always goes in through textContent (never innerHTML), so data
// from the API cannot become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name.startsWith('on') && typeof value === 'function')
      el.addEventListener(name.slice(2), value);
    else if (name === 'style') throw new Error('no inline styles: use a class');
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h('button', {class: 'x', onclick: f}, 'text', child...): an HTML element. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** s('path', {d: ...}): an SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return build(el, null, children);
}

let idCounter = 0;
/** A fresh id for pairing a label with its control. */
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** "2026-04-24T18:30:00.000Z" → a short local time, or "—". */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** JSON pretty-printed in a <pre>. */
export function jsonBlock(value, label) {
  return h('pre', { class: 'code', tabindex: 0, 'aria-label': label },
    JSON.stringify(value, null, 2));
}
