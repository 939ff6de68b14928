// One subscription: its settings, state and what waits, its health, its latest deliveries
// (refreshed every few seconds), and the actions: test send, disable or enable, rotate the
// secret, and recover what failed since a time.
import { api, describe } from './api.js';
import {
  h, fill, enc, table, fields, notice, pill, time, timeText, deliveryLink, link, outcome,
  fromLocalInput, toLocalInput, actionButton,
} from './dom.js';
import { healthOf, healthPanel } from './health.js';

const REFRESH_MS = 3000;
const HEALTH_MS = 30000;

export function render(main, id, ctx) {
  document.title = `${id} · hookfleet console`;
  const path = `/v1/subscriptions/${enc(id)}`;
  const message = h('div');
  const details = h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const health = h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const actions = h('section', { class: 'card' });
  const recent = h('div');
  const page = {
    id, path, message, details, health, actions, recent, view: null, seen: null, healthAt: 0,
  };
  page.refresh = () => refresh(page);
  fill(main, h('h1', {}, 'Subscription ', h('span', { class: 'mono' }, id)), message, details,
    h('h2', {}, 'Health'), health, h('h2', {}, 'Actions'), actions,
    h('h2', {}, 'Latest deliveries ', link(`#/deliveries?subscription_id=${enc(id)}`,
      'filter the log')), recent);
  refresh(page);
  ctx.every(REFRESH_MS, () => refresh(page));
}

async function refresh(page) {
  let view;
  try {
    view = await api('GET', page.path);
  } catch (e) {
    fill(page.details, notice('error', `Could not read the subscription: ${describe(e)}`));
    return;
  }
  const stateChanged = !page.view || page.view.state !== view.state;
  page.view = view;
  fill(page.details, detailFields(view));
  if (stateChanged) fill(page.actions, actionsOf(page));
  try {
    const log = await api('GET', `${page.path}/deliveries?limit=20`);
    fill(page.recent, deliveriesTable(log.data));
    // Health reads up to thousands of log rows: only again when the latest deliveries moved,
    // or every HEALTH_MS anyway (older ones may have changed).
    const seen = log.data.map((d) => `${d.id}:${d.status}:${d.attempt_count}`).join();
    if (seen !== page.seen || Date.now() - page.healthAt > HEALTH_MS) {
      page.seen = seen;
      page.healthAt = Date.now();
      fill(page.health, healthPanel(await healthOf(page.id)));
    }
  } catch (e) {
    fill(page.health, notice('error', `Could not read its log: ${describe(e)}`));
  }
}

function detailFields(v) {
  const list = (xs) => (xs ? xs.join(', ') : 'all');
  return fields([
    ['Endpoint', v.url ?? `(${v.delivery}: read from its queue)`],
    ['Description', v.description || '—'],
    ['State', h('span', {}, pill(v.state, 'sub-state'),
      v.disabled_reason ? h('span', { class: 'muted' }, ' ', v.disabled_reason) : null)],
    ['Event types', h('span', { class: 'mono' }, v.event_types.join(', '))],
    ['Organizations', list(v.organizations)],
    ['Partitions', list(v.partitions)],
    ['Profile', v.profile],
    ['Retry ladder', v.retry_ladder ? v.retry_ladder.join(', ') || 'no retries' : 'the fleet\'s'],
    ['Max in flight', v.max_in_flight],
    ['Ordering', v.ordering],
    ['Backlog (ready in its queue)', h('span', { 'data-testid': 'backlog' }, v.backlog ?? 'unknown')],
    ['Parked (given up)', h('span', { 'data-testid': 'parked' }, v.parked)],
    ['Created', time(v.created_at)],
  ], { 'data-testid': 'details' });
}

function deliveriesTable(rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'No deliveries yet.');
  return table(['Created', 'Delivery', 'Event type', 'Organization', 'Status', 'Attempts',
    'Last outcome', 'Sent by'], rows.map((d) => {
    const last = d.attempts[d.attempts.length - 1];
    return [time(d.created_at), deliveryLink(d.id), h('span', { class: 'mono' }, d.event_type ?? '—'),
      d.organization_id ?? '—', pill(d.status, 'status'), String(d.attempt_count),
      last ? outcome(last) : '—', d.is_test ? 'test send' : 'event'];
    }), { class: 'log', 'data-testid': 'sub-deliveries' });
}

function actionsOf(page) {
  const show = (node) => fill(page.message, node);
  const act = async (what, fn) => {
    fill(page.message);
    try {
      await fn();
      page.refresh();
    } catch (e) {
      show(notice('error', `${what} failed: ${describe(e)}`));
    }
  };
  const testType = h('input', { id: 'test-type', value: 'console.test' });
  const grace = h('input', { id: 'rotate-grace', value: '24h' });
  const since = h('input', { id: 'recover-since', type: 'datetime-local', step: 1,
    value: toLocalInput(new Date(Date.now() - 3600_000).toISOString()) });
  const disabled = page.view.state === 'disabled';
  return h('div', {},
    h('div', { class: 'actions' },
      h('label', {}, 'Event type', testType),
      actionButton('Send test event', { id: 'send-test' }, () => act('The test send', async () => {
        const r = await api('POST', `${page.path}/test`, { event_type: testType.value.trim() });
        show(notice('ok', 'Test event sent: delivery ', deliveryLink(r.delivery_id)));
      })),
      disabled
        ? actionButton('Enable', { id: 'enable' }, () => act('Enabling', async () => {
          await api('POST', `${page.path}/enable`, {});
          show(notice('ok', 'Enabled: what queued meanwhile is delivered now.'));
        }))
        : actionButton('Disable', { id: 'disable', class: 'danger' }, () => act('Disabling', async () => {
          await api('POST', `${page.path}/disable`, {});
          show(notice('ok', 'Disabled: nothing is sent to it until it is enabled; its queue keeps what arrives.'));
        }))),
    h('div', { class: 'actions' },
      h('label', {}, 'Previous secret valid for', grace),
      actionButton('Rotate secret', { id: 'rotate', class: 'secondary' }, () => act('The rotation', async () => {
        const r = await api('POST', `${page.path}/secret/rotate`, { previous_valid_for: grace.value.trim() });
        show(notice('ok', 'New signing secret (shown here once): ',
          h('span', { class: 'secret', 'data-testid': 'rotated-secret' }, r.key),
          r.previous_keys_expire_at ? ` · the previous one signs until ${timeText(r.previous_keys_expire_at)}` : ''));
      }))),
    h('div', { class: 'actions' },
      h('label', {}, 'Recover failed and exhausted deliveries created since', since),
      actionButton('Recover', { id: 'recover', class: 'secondary' }, () => act('The recovery', async () => {
        // The API recovers a bounded step per call; follow next_cursor to the window's end.
        const body = { since: fromLocalInput(since.value) };
        let recovered = 0;
        let removed = 0;
        for (;;) {
          const r = await api('POST', `${page.path}/recover`, body);
          recovered += r.recovered;
          removed += r.removed_from_dead;
          if (!r.next_cursor) break;
          body.cursor = r.next_cursor;
        }
        show(notice('ok', `Recovered ${recovered} deliveries (${removed} taken out of the dead queue).`));
      }))));
}
