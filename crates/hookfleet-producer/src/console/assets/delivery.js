// One delivery: its status, every attempt with its time, answer, duration, error and the
// first KiB of the response, the request headers the fleet sends for it, and resend. While a
// retry is due the page refreshes itself, so new attempts appear as they happen.
import { api, ApiError, describe } from './api.js';
import {
  h, fill, enc, fields, notice, pill, time, timeText, subscriptionLink, isSuccess, actionButton,
} from './dom.js';

const REFRESH_MS = 2000;
const VERSION = document.querySelector('meta[name="hookfleet-version"]').content;

export function render(main, id, ctx) {
  document.title = `${id} · hookfleet console`;
  const message = h('div');
  const summary = h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const attempts = h('div');
  const page = { id, path: `/v1/deliveries/${enc(id)}`, summary, attempts, profile: null };
  const resend = actionButton('Resend', { id: 'resend' }, async () => {
    fill(message);
    try {
      const r = await api('POST', `${page.path}/retry`);
      fill(message, notice('ok', `Sent again as attempt ${r.attempt}.`));
      await refresh(page);
    } catch (e) {
      fill(message, notice('error', `The resend failed: ${describe(e)}`));
    }
  });
  fill(main, h('h1', {}, 'Delivery ', h('span', { class: 'mono' }, id)), message, summary,
    h('div', { class: 'actions' }, resend), h('h2', {}, 'Attempts'), attempts);
  refresh(page);
  ctx.every(REFRESH_MS, () => refresh(page));
}

async function refresh(page) {
  let d;
  try {
    d = await api('GET', page.path);
  } catch (e) {
    // A test send or replay is in the log once a worker has taken it, moments later.
    const text = e instanceof ApiError && e.status === 404
      ? 'Not in the log yet (a delivery is recorded when a worker first sends it); this page looks again every 2 s.'
      : `Could not read the delivery: ${describe(e)}`;
    fill(page.summary, notice('error', text));
    return;
  }
  if (page.profile === null) page.profile = await profileOf(d.subscription_id);
  fill(page.summary, fields([
    ['Status', pill(d.status, 'delivery-status')],
    ['Subscription', subscriptionLink(d.subscription_id)],
    ['Event', h('span', { class: 'mono' }, d.event_id)],
    ['Event type', d.event_type ?? '—'],
    ['Organization', d.organization_id ?? '—'],
    ['Partition', d.service_partition ?? '—'],
    ['Test send', d.is_test ? 'yes' : 'no'],
    ['Attempts', h('span', { 'data-testid': 'attempt-count' }, String(d.attempt_count))],
    ['Created', time(d.created_at)],
    ['Next attempt', d.status === 'failed' ? time(d.next_attempt_at) : '—'],
  ], { 'data-testid': 'delivery' }));
  if (!d.attempts.length) {
    fill(page.attempts, h('p', { class: 'muted' }, 'Not attempted yet.'));
    return;
  }
  fill(page.attempts, [...d.attempts].reverse().map((a) => attemptCard(d, a, page.profile)));
}

/** The subscription's profile decides which headers its requests carry. */
async function profileOf(subscriptionId) {
  try {
    return (await api('GET', `/v1/subscriptions/${enc(subscriptionId)}`)).profile;
  } catch {
    return 'standard-webhooks';
  }
}

function attemptCard(d, a, profile) {
  const ok = isSuccess(a);
  const excerpt = a.response_excerpt;
  return h('section', { class: 'card attempt', 'data-testid': 'attempt',
    'data-attempt': a.attempt },
  h('h3', {}, `Attempt ${a.attempt}`, h('span', { class: ok ? 'status ok' : 'status bad',
    'data-testid': 'attempt-outcome' },
    a.status_code ? `HTTP ${a.status_code}` : (ok ? 'queued for pull' : 'no answer')),
  h('span', { class: 'muted' }, `${timeText(a.sent_at)} · ${a.duration_ms} ms`)),
  a.error ? h('p', { 'data-testid': 'attempt-error' }, 'Error: ', a.error) : null,
  h('div', { class: 'two' },
    h('div', {}, h('strong', {}, 'Request headers'),
      h('p', { class: 'muted' }, 'As the fleet sends them for this delivery and attempt: ',
        'derived from the record, not recorded per attempt. Signatures and keys are not shown.'),
      headersTable(d, a, profile)),
    h('div', {}, h('strong', {}, 'Response (first KiB)'),
      excerpt === null || excerpt === undefined || excerpt === ''
        ? h('p', { class: 'muted' }, 'no body')
        : h('pre', { class: 'excerpt', 'data-testid': 'excerpt' }, excerpt))));
}

function headersTable(d, a, profile) {
  const seconds = String(Math.floor(new Date(a.sent_at).getTime() / 1000));
  const rows = [['content-type', 'application/json'], ['user-agent', `hookfleet/${VERSION}`]];
  const standard = [['webhook-id', d.id], ['webhook-timestamp', `${seconds} (about)`],
    ['webhook-signature', 'v1,… (one per valid secret)']];
  if (profile === 'innervoice') {
    rows.push(['x-innervoice-signature', '… (hex HMAC-SHA256 of the body)']);
  } else {
    rows.push(...standard);
  }
  if (profile === 'pca') {
    rows.push(['x-pca-event-type', d.event_type ?? '…'], ['x-pca-event-apikey', '(the secret; not shown)']);
    if (d.service_partition) rows.push(['x-pca-service-partition', d.service_partition]);
  }
  return h('table', { class: 'mono', 'data-testid': 'request-headers' },
    h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v)))));
}
