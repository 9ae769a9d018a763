// Shared pieces of every view: headings, messages, form fields, buttons that show their work,
// a confirmation dialog, tables and the cursor pager.
import { h, replace, uid } from './dom.js';
import { canWrite, session } from './api.js';

/** The view's heading: the router moves focus to it. */
export function heading(text) {
  return h('h1', { tabindex: -1, id: 'view-title' }, text);
}

/** Says something in the polite live region (success) or the alert region (errors). */
export function say(text) {
  const el = document.getElementById('status');
  el.textContent = '';
  el.textContent = text;
}

export function errorText(err) {
  if (err && err.status) {
    const field = err.field ? ` (${err.field})` : '';
    return `${err.status} ${err.code || ''}: ${err.message}${field}`;
  }
  return String((err && err.message) || err);
}

export function showError(err) {
  const el = document.getElementById('alert');
  el.textContent = errorText(err);
  el.hidden = false;
}

export function clearError() {
  const el = document.getElementById('alert');
  el.textContent = '';
  el.hidden = true;
}

/** A labelled control: {label, control, hint}. The control gets an id if it has none. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

export function input(label, attrs = {}, hint) {
  return field(label, h('input', { type: 'text', ...attrs }), hint);
}

/** options: [[value, text]...] */
export function select(label, options, value, attrs = {}) {
  const el = h('select', attrs, options.map(([v, t]) => h('option', { value: v }, t)));
  el.value = value;
  return field(label, el);
}

/**
 * A button whose handler may be async: it is disabled while the work runs, and a failure is
 * shown in the alert region.
 */
export function button(text, action, attrs = {}) {
  const el = h('button', { type: 'button', ...attrs }, text);
  el.addEventListener('click', () => run(el, action));
  return el;
}

async function run(el, action) {
  el.disabled = true;
  el.setAttribute('aria-busy', 'true');
  clearError();
  try {
    await action();
  } catch (err) {
    showError(err);
  } finally {
    el.disabled = false;
    el.removeAttribute('aria-busy');
  }
}

/** The same, but only for a session that may write (read-only portals get nothing). */
export function writeButton(text, action, attrs) {
  return canWrite(session) ? button(text, action, attrs) : null;
}

/** A form whose submit runs onSubmit(formData-as-object) with the same busy/error handling. */
export function form(attrs, fields, submitText, onSubmit) {
  const submit = h('button', { type: 'submit' }, submitText);
  const el = h('form', { novalidate: true, ...attrs }, fields, h('div', { class: 'actions' }, submit));
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(submit, () => onSubmit(el));
  });
  return el;
}

/** A value of the form's control named name (trimmed for text). */
export function value(formEl, name) {
  const c = formEl.elements.namedItem(name);
  if (!c) return undefined;
  if (c.type === 'checkbox') return c.checked;
  return typeof c.value === 'string' ? c.value.trim() : c.value;
}

/** Asks before a destructive action, in a modal <dialog>; resolves true to go ahead. */
export function confirmAction(message, confirmText) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const ok = h('button', { type: 'button', class: 'danger' }, confirmText);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const dlg = h('dialog', { 'aria-labelledby': titleId },
      h('p', { id: titleId }, message), h('div', { class: 'actions' }, cancel, ok));
    const opener = document.activeElement;
    const done = (answer) => {
      dlg.close();
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

/** A secret shown once, with a copy button. */
export function secretBox(label, secret) {
  const code = h('code', { class: 'secret', 'data-secret': '' }, secret);
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      say(`${label} copied`);
    } catch {
      getSelection().selectAllChildren(code); // no clipboard access: select it for Ctrl+C
      say('Press Ctrl+C to copy the selected secret');
    }
  });
  return h('div', { class: 'secret-box', role: 'group', 'aria-label': label },
    h('p', null, h('strong', null, label), ' — shown only now, store it: '),
    code, ' ', copy);
}

export function badge(text, kind = text) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/**
 * A table: columns [{label, cell: row => node|string, class?}], rows; empty: what to say when
 * there are none.
 */
export function table(caption, columns, rows, empty = 'Nothing yet.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('table', null,
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', null, rows.map((r) => h('tr', null, columns.map((c) => h('td', { class: c.class }, c.cell(r)))))));
}

/**
 * A list paged with the API's cursors: load(cursor) → {data, next_cursor}; render(data) → node.
 * Only one page is ever in the DOM. Returns {el, reload}.
 */
export function pager(label, load, render) {
  const cursors = [null]; // cursors[i] loads page i+1
  let index = 0;
  let loading = 0;
  const body = h('div', { class: 'page-body', 'aria-busy': 'false' });
  const where = h('span', { class: 'page-number', 'aria-live': 'polite' }); // says "Page 3", not the rows
  const prev = h('button', { type: 'button', disabled: true }, 'Previous page');
  const next = h('button', { type: 'button', disabled: true }, 'Next page');
  const nav = h('nav', { class: 'pager', 'aria-label': `${label} pages` }, prev, ' ', where, ' ', next);

  async function show(i) {
    const ticket = ++loading;
    prev.disabled = next.disabled = true;
    body.setAttribute('aria-busy', 'true');
    try {
      const page = await load(cursors[i]);
      if (ticket !== loading) return; // a newer request won
      index = i;
      cursors.length = i + 1;
      if (page.next_cursor) cursors.push(page.next_cursor);
      replace(body, render(page.data));
      where.textContent = `Page ${index + 1}`;
    } catch (err) {
      replace(body, h('p', { class: 'error' }, errorText(err)));
    } finally {
      if (ticket === loading) {
        body.setAttribute('aria-busy', 'false');
        prev.disabled = index === 0;
        next.disabled = cursors.length <= index + 1;
      }
    }
  }
  prev.addEventListener('click', () => show(index - 1));
  next.addEventListener('click', () => show(index + 1));
  show(0);
  return { el: h('div', { class: 'paged' }, body, nav), reload: () => show(index), first: () => show(0) };
}

/** A link to a hash route. */
export function link(href, text) {
  return h('a', { href }, text);
}

/** A description list of [term, value] pairs (value: a node or text). */
export function facts(rows, cls = 'facts') {
  return h('dl', { class: cls }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/** HTTP headers as a description list. */
export function headerList(headers) {
  const entries = Object.entries(headers || {});
  if (entries.length === 0) return h('p', { class: 'empty' }, 'None recorded.');
  return facts(entries, 'headers');
}
