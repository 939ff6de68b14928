// A subscription's health, read from its delivery log: the share of attempts answered 2xx
// over its latest 100 deliveries, the latest failed attempt among them, and the oldest
// delivery whose retry still waits (status `failed`; the log is newest first, so its last page).
import { api } from './api.js';
import { h, enc, time, outcome, isSuccess, deliveryLink } from './dom.js';

const RECENT = 100;
const WAITING_PAGE = 1000;
const WAITING_PAGES = 5;

export async function healthOf(id) {
  const base = `/v1/subscriptions/${enc(id)}/deliveries`;
  const recent = await api('GET', `${base}?limit=${RECENT}`);
  const attempts = recent.data.flatMap((d) => d.attempts.map((a) => ({ ...a, delivery_id: d.id })));
  const succeeded = attempts.filter(isSuccess).length;
  const failures = attempts.filter((a) => !isSuccess(a))
    .sort((a, b) => (a.sent_at < b.sent_at ? 1 : -1));
  let oldest = null;
  let cursor = null;
  let pages = 0;
  let more = false;
  do {
    const q = `?status=failed&limit=${WAITING_PAGE}${cursor ? `&cursor=${enc(cursor)}` : ''}`;
    const page = await api('GET', base + q);
    if (page.data.length) oldest = page.data[page.data.length - 1];
    cursor = page.next_cursor;
    pages += 1;
    more = Boolean(cursor) && pages >= WAITING_PAGES;
  } while (cursor && pages < WAITING_PAGES);
  return {
    attempts: attempts.length,
    succeeded,
    rate: attempts.length ? succeeded / attempts.length : null,
    lastError: failures[0] || null,
    oldestWaiting: oldest,
    moreWaiting: more,
  };
}

export function rateText(health) {
  if (health.rate === null) return 'no attempts yet';
  return `${Math.round(health.rate * 1000) / 10} % of ${health.attempts} attempts`;
}

export function lastErrorNode(health) {
  const e = health.lastError;
  if (!e) return h('span', { class: 'muted' }, 'none');
  return h('span', {}, outcome(e), h('br'), h('span', { class: 'muted' }, time(e.sent_at), ' · '), deliveryLink(e.delivery_id));
}

export function oldestWaitingNode(health) {
  const d = health.oldestWaiting;
  if (!d) return h('span', { class: 'muted' }, 'none');
  return h('span', {}, 'since ', time(d.created_at), health.moreWaiting ? ' (or earlier)' : '',
    h('br'), h('span', { class: 'muted' }, 'next try ', time(d.next_attempt_at), ' · '),
    deliveryLink(d.id));
}

/** The three figures side by side, for a subscription's page. */
export function healthPanel(health) {
  return h('div', { class: 'health', 'data-testid': 'health' },
    h('div', {}, h('span', { class: 'muted' }, 'Success rate (latest 100 deliveries)'),
      h('strong', { 'data-testid': 'success-rate' }, rateText(health))),
    h('div', {}, h('span', { class: 'muted' }, 'Last error'),
      h('div', { 'data-testid': 'last-error' }, lastErrorNode(health))),
    h('div', {}, h('span', { class: 'muted' }, 'Oldest waiting retry'),
      h('div', { 'data-testid': 'oldest-waiting' }, oldestWaitingNode(health))));
}
