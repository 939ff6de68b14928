// The subscriptions page: every subscription with its state, what waits in its queue, and its
// health (read from its log), a page at a time; and a form to create one.
import { api, query, describe } from './api.js';
import { h, fill, enc, table, notice, pill, subscriptionLink, link } from './dom.js';
import { healthOf, rateText, lastErrorNode, oldestWaitingNode } from './health.js';

const PAGE = 25;

export function render(main, ctx) {
  document.title = 'Subscriptions · hookfleet console';
  const message = h('div');
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', {}, 'Subscriptions'), message, createForm(message, () => load()),
    h('h2', {}, 'All subscriptions'), list);
  const cursor = ctx.params.get('cursor');
  const load = () => loadList(list, cursor);
  load();
}

function createForm(message, reload) {
  const url = h('input', { name: 'url', id: 'new-url', class: 'wide', type: 'url', required: true,
    placeholder: 'https://example.com/hooks' });
  const types = h('input', { name: 'event_types', id: 'new-types', value: '#',
    title: 'comma-separated patterns: * is one word, # is any number' });
  const description = h('input', { name: 'description', id: 'new-description' });
  const form = h('form', { class: 'inline', id: 'create-form' },
    h('label', {}, 'Endpoint URL', url),
    h('label', {}, 'Event types (comma-separated)', types),
    h('label', {}, 'Description (optional)', description),
    h('button', { type: 'submit', id: 'create' }, 'Create subscription'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      url: url.value.trim(),
      event_types: types.value.split(',').map((t) => t.trim()).filter(Boolean),
    };
    if (description.value.trim()) body.description = description.value.trim();
    try {
      const created = await api('POST', '/v1/subscriptions', body);
      fill(message, notice('ok', 'Created ', subscriptionLink(created.id),
        '. Its signing secret, shown this once: ',
        h('span', { class: 'secret', 'data-testid': 'new-secret' }, created.secret)));
      form.reset();
      reload();
    } catch (e) {
      fill(message, notice('error', `Could not create it: ${describe(e)}`));
    }
  });
  return h('section', { class: 'card' }, h('h2', {}, 'New subscription'), form);
}

async function loadList(list, cursor) {
  let page;
  try {
    page = await api('GET', `/v1/subscriptions${query({ limit: PAGE, cursor })}`);
  } catch (e) {
    fill(list, notice('error', `Could not read the subscriptions: ${describe(e)}`));
    return;
  }
  if (!page.data.length) {
    fill(list, h('p', { class: 'muted' }, 'No subscriptions yet.'));
    return;
  }
  const rows = page.data.map((s) => row(s));
  const pager = h('div', { class: 'pager' },
    cursor ? link('#/subscriptions', 'First page') : null,
    page.next_cursor ? link(`#/subscriptions?cursor=${enc(page.next_cursor)}`, 'Next page') : null);
  fill(list, table(['Subscription', 'Endpoint', 'Event types', 'State', 'Success rate',
    'Last error', 'Oldest waiting retry', 'Backlog', 'Parked'], rows.map((r) => r.cells),
  { id: 'subscriptions', 'data-testid': 'subscriptions' }), pager);
  await Promise.all(rows.map((r) => r.load()));
}

/** One subscription's row: what the list says now, then its health and queue, filled in. */
function row(s) {
  const cell = (testid) => h('td', { 'data-testid': testid }, h('span', { class: 'muted' }, '…'));
  const [rate, lastError, oldest, backlog, parked] =
    ['rate', 'last-error', 'oldest-waiting', 'backlog', 'parked'].map(cell);
  const cells = [
    h('td', { 'data-testid': 'id' }, subscriptionLink(s.id),
      s.description ? h('div', { class: 'muted' }, s.description) : null),
    h('td', { class: 'wrap', 'data-testid': 'url' }, s.url ?? `(${s.delivery})`),
    h('td', { class: 'mono' }, s.event_types.join(', ')),
    h('td', {}, pill(s.state, 'state')),
    rate, lastError, oldest, backlog, parked,
  ];
  const load = async () => {
    try {
      const [health, view] = await Promise.all([healthOf(s.id),
        api('GET', `/v1/subscriptions/${enc(s.id)}`)]);
      fill(rate, rateText(health));
      fill(lastError, lastErrorNode(health));
      fill(oldest, oldestWaitingNode(health));
      fill(backlog, view.backlog ?? '?');
      fill(parked, view.parked);
    } catch (e) {
      fill(rate, h('span', { class: 'muted', title: describe(e) }, 'unavailable'));
    }
  };
  return { cells, load };
}
