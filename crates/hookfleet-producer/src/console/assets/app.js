// The console's router: the hash names the page (`#/subscriptions`, `#/subscriptions/ID`,
// `#/deliveries?filters`, `#/deliveries/ID`, `#/login`); each page module renders into <main>
// and may refresh its data on a timer, which stops when the page is left.
import { session, checkCredential } from './api.js';
import { h, fill, notice } from './dom.js';
import * as subscriptions from './subscriptions.js';
import * as subscription from './subscription.js';
import * as log from './log.js';
import * as delivery from './delivery.js';

const main = document.getElementById('main');
let timers = [];

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/subscriptions';
  const [path, search] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  return { parts, params: new URLSearchParams(search || '') };
}

function route() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const { parts, params } = parseHash();
  const signedIn = Boolean(session.get());
  document.getElementById('nav').hidden = !signedIn;
  if (!signedIn || parts[0] === 'login') return login(params);
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === parts[0]);
  }
  const ctx = {
    params,
    // A page refreshes only while it is seen: a tab left in the background asks nothing.
    every(ms, fn) { timers.push(setInterval(() => { if (!document.hidden) fn(); }, ms)); },
  };
  if (parts[0] === 'subscriptions' && parts[1]) return subscription.render(main, parts[1], ctx);
  if (parts[0] === 'deliveries' && parts[1]) return delivery.render(main, parts[1], ctx);
  if (parts[0] === 'deliveries') return log.render(main, ctx);
  return subscriptions.render(main, ctx);
}

function login(params) {
  document.title = 'Sign in · hookfleet console';
  const input = h('input', { type: 'password', id: 'credential', name: 'credential',
    autocomplete: 'off', placeholder: 'hfk_… or the admin token', required: true });
  const message = h('div');
  if (params.get('expired')) {
    message.append(notice('error', 'The API no longer accepts that credential; sign in again.'));
  }
  const form = h('form', { id: 'login-form' },
    h('p', { class: 'first' }, 'Sign in with the fleet\'s admin token (HOOKFLEET_ADMIN_TOKEN) or an API key ',
      'with the admin scope. It is kept in this tab only and sent to the API as a Bearer token.'),
    h('label', {}, 'Token or API key', input),
    h('p', {}, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const credential = input.value.trim();
    const problem = await checkCredential(credential);
    if (problem) {
      fill(message, notice('error', problem));
      return;
    }
    session.set(credential);
    go('#/subscriptions');
  });
  fill(main, h('section', { class: 'login' }, h('h1', {}, 'hookfleet console'), message,
    h('section', { class: 'card' }, form)));
  input.focus();
}

/** Shows the page of `hash`, also when the address already names it. */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.clear();
  go('#/login');
});
window.addEventListener('hashchange', route);
route();
