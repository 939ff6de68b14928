// The delivery log across subscriptions (`GET /v1/deliveries`), newest first, with filters by
// status, event type, organization, subscription and time; the filters live in the page's
// address, so a filtered view can be bookmarked, and pages follow the API's cursor.
import { api, query, describe } from './api.js';
import {
  h, fill, table, notice, pill, time, deliveryLink, subscriptionLink, link, outcome,
  fromLocalInput, toLocalInput,
} from './dom.js';

const FILTERS = ['status', 'type', 'organization_id', 'subscription_id', 'since', 'until'];
const PAGE = 50;

export function render(main, ctx) {
  document.title = 'Delivery log · hookfleet console';
  const params = Object.fromEntries(FILTERS.map((f) => [f, ctx.params.get(f) || '']));
  const results = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', {}, 'Delivery log'), filterForm(params), results);
  load(results, params, ctx.params.get('cursor'));
}

function filterForm(params) {
  const status = h('select', { id: 'filter-status', name: 'status' },
    ['', 'pending', 'delivered', 'failed', 'exhausted'].map((s) =>
      h('option', { value: s, selected: s === params.status }, s || 'any')));
  const input = (name, id, attrs) => h('input', { id, name, value: params[name], ...attrs });
  const type = input('type', 'filter-type', { placeholder: 'order.created' });
  const org = input('organization_id', 'filter-organization', {});
  const sub = input('subscription_id', 'filter-subscription', { placeholder: 'sub_…' });
  const since = h('input', { id: 'filter-since', type: 'datetime-local', step: 1,
    value: toLocalInput(params.since) });
  const until = h('input', { id: 'filter-until', type: 'datetime-local', step: 1,
    value: toLocalInput(params.until) });
  const form = h('form', { class: 'inline', id: 'log-filters' },
    h('label', {}, 'Status', status), h('label', {}, 'Event type', type),
    h('label', {}, 'Organization', org), h('label', {}, 'Subscription', sub),
    h('label', {}, 'Created since', since), h('label', {}, 'Created before', until),
    h('button', { type: 'submit', id: 'apply-filters' }, 'Apply'),
    link('#/deliveries', 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/deliveries${query({
      status: status.value, type: type.value.trim(), organization_id: org.value.trim(),
      subscription_id: sub.value.trim(), since: fromLocalInput(since.value),
      until: fromLocalInput(until.value),
    })}`;
  });
  return h('section', { class: 'card' }, form);
}

async function load(results, params, cursor) {
  let page;
  try {
    page = await api('GET', `/v1/deliveries${query({ ...params, limit: PAGE, cursor })}`);
  } catch (e) {
    fill(results, notice('error', `Could not read the log: ${describe(e)}`));
    return;
  }
  if (!page.data.length) {
    fill(results, h('p', { class: 'muted', 'data-testid': 'log-empty' }, 'No deliveries match.'));
    return;
  }
  const rows = page.data.map((d) => {
    const last = d.attempts && d.attempts.length ? d.attempts[d.attempts.length - 1] : null;
    return [time(d.created_at), deliveryLink(d.id), subscriptionLink(d.subscription_id),
      h('span', { class: 'mono' }, d.event_type ?? '—'), d.organization_id ?? '—',
      pill(d.status, 'status'), String(d.attempt_count), last ? outcome(last) : '—',
      d.is_test ? 'test send' : 'event'];
  });
  const here = query(params);
  const next = page.next_cursor
    ? link(`#/deliveries${query({ ...params, cursor: page.next_cursor })}`, 'Next page') : null;
  fill(results, table(['Created', 'Delivery', 'Subscription', 'Event type', 'Organization',
    'Status', 'Attempts', 'Last outcome', 'Sent by'], rows,
  { id: 'log', class: 'log', 'data-testid': 'log' }),
  h('div', { class: 'pager' }, cursor ? link(`#/deliveries${here}`, 'First page') : null, next));
}
