// Element helpers. Everything that comes from outside (event types, URLs, errors, response
// excerpts) is added as text nodes or attribute values, never parsed as markup.

/** An element with attributes (`on…` are listeners) and children (nodes or text). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A link inside the console (the hash names the page). */
export function link(hash, text, attrs) {
  return h('a', { href: hash, ...attrs }, text);
}

export const enc = encodeURIComponent;

export function subscriptionLink(id) {
  return link(`#/subscriptions/${enc(id)}`, id, { class: 'mono' });
}

export function deliveryLink(id) {
  return link(`#/deliveries/${enc(id)}`, id, { class: 'mono' });
}

/** A status as a coloured pill. */
export function pill(text, testid) {
  const known = ['delivered', 'failed', 'exhausted', 'pending', 'active', 'disabled', 'ok', 'bad'];
  const cls = known.includes(text) ? `status ${text}` : 'status';
  return h('span', { class: cls, 'data-testid': testid }, text);
}

/** `2026-12-01 15:04:05 UTC` from an RFC 3339 time; the text itself if it does not parse. */
export function timeText(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
}

/** A time as an element that does not wrap, with the original value as its tooltip. */
export function time(iso) {
  return h('time', { datetime: iso || undefined, title: iso || undefined }, timeText(iso));
}

/** A `datetime-local` input's value (the browser's zone) from an RFC 3339 time. */
export function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

/** RFC 3339 (UTC) from a `datetime-local` input's value; empty for none. */
export function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** A table with a header row; `rows` are arrays of cells (a cell is a node, text or a `td`). */
export function table(headers, rows, attrs) {
  const head = h('tr', {}, headers.map((t) => h('th', {}, t)));
  const body = rows.map((cells) =>
    h('tr', {}, cells.map((c) => (c instanceof HTMLTableCellElement ? c : h('td', {}, c)))));
  return h('table', attrs, h('thead', {}, head), h('tbody', {}, body));
}

/** A definition list of [label, value] pairs. */
export function fields(pairs, attrs) {
  return h('dl', { class: 'fields', ...attrs },
    pairs.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value ?? '—')]));
}

/** A message box: `ok` or `error`. */
export function notice(kind, ...children) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status',
    'data-testid': `notice-${kind}` }, ...children);
}

/** Whether an attempt was a pull subscription's put on its queue: recorded with no status
 * (nothing answered over HTTP) and no error. A failed HTTP attempt always has one of them. */
function isPut(attempt) {
  return (attempt.status_code === null || attempt.status_code === undefined) && !attempt.error;
}

/** What an attempt's outcome was, in a few words: the status code, else the error. */
export function outcome(attempt) {
  if (attempt.status_code !== null && attempt.status_code !== undefined) {
    return `HTTP ${attempt.status_code}`;
  }
  return isPut(attempt) ? 'queued for pull' : attempt.error;
}

export function isSuccess(attempt) {
  return (attempt.status_code >= 200 && attempt.status_code < 300) || isPut(attempt);
}

/** A button that runs `action` once per click, disabled while it runs. */
export function actionButton(label, attrs, action) {
  const button = h('button', { type: 'button', ...attrs }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  return button;
}
