// SPDX-License-Identifier: Apache-2.0
// board/js/app.js: entry point: starts the router on the route table (routes.js), the top bar with sign-out,
// the keyboard shortcuts, and learns who the session is.
import * as api from './api.js';
import { h, clear, toast, openDialog } from './ui.js';
import { session, isSignedIn, signedIn, forget, isAdminSomewhere, setSessionKnown } from './session.js';
import { start, navigate, render } from './router.js';
import { routes } from './routes.js';

const app = document.getElementById('app');

// Before every page: the top bar and the active main-nav link.
function beforeRender(route) {
  renderTopbar();
  document.querySelectorAll('#mainnav a').forEach(a => a.classList.toggle('active', !!route && a.dataset.nav === route.nav));
}

function renderTopbar() {
  const right = document.getElementById('topbar-right');
  const token = isSignedIn();
  const tokensLink = document.querySelector('#mainnav [data-nav=tokens]');
  if (tokensLink) tokensLink.hidden = !token || !isAdminSomewhere();
  if (!token) { clear(right); return; }
  const who = session.name || 'token';
  clear(right,
    h('button.icon-btn.kbd-hint', { type: 'button', title: 'Keyboard shortcuts (?)', onclick: showShortcuts }, '?'),
    h('span.whoami', { title: (session.proxy ? 'signed in by the proxy · ' : '') + (session.roles ? session.roles.map(r => `${r.role} @ ${r.resource}`).join(', ') : 'token') },
      h('span.avatar', (who[0] || '?').toUpperCase()), who),
    // A proxy user cannot sign out of the proxy; a token pasted on /login still takes over.
    session.proxy ? null : h('button.btn.btn-sm.btn-ghost', { type: 'button', onclick: signOut, 'data-role': 'signout' }, 'Sign out'));
}

function signOut() {
  forget();
  navigate('/login', { replace: true });
}

api.onUnauthorized(err => {
  if (location.pathname.startsWith('/login')) return;
  api.setToken(null);
  session.proxy = false;
  toast('Your session ended: ' + err.message, 'bad');
  const next = location.pathname + location.search;
  navigate('/login?next=' + encodeURIComponent(next), { replace: true });
});

// ---- keyboard shortcuts ------------------------------------------------------------------------

let pendingG = false;
document.addEventListener('keydown', e => {
  if (e.defaultPrevented || e.metaKey || e.ctrlKey || e.altKey) return;
  const t = e.target;
  const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  if (typing || document.querySelector('dialog[open]')) return;
  if (pendingG) {
    pendingG = false;
    const go = { h: '/', d: '/deploys', b: '/builds', o: '/hosts' }[e.key];
    if (go) { e.preventDefault(); navigate(go); }
    return;
  }
  if (e.key === '/') {
    const s = document.querySelector('[data-search]');
    if (s) { e.preventDefault(); s.focus(); s.select && s.select(); }
  } else if (e.key === '?') {
    e.preventDefault();
    showShortcuts();
  } else if (e.key === 'g') {
    pendingG = true;
    setTimeout(() => { pendingG = false; }, 1200);
  }
});

function showShortcuts() {
  const rows = [
    ['/', 'Focus the search box'], ['g h', 'Environments'], ['g d', 'Deploys'], ['g b', 'Builds'], ['g o', 'Hosts'],
    ['← →', 'Previous / next stage tab'], ['↑ ↓', 'Move in lists, Enter opens'], ['Esc', 'Close a dialog'], ['?', 'This help'],
  ];
  openDialog({
    title: 'Keyboard shortcuts', onConfirm: null, cancelText: 'Close',
    body: h('table.kv', h('tbody', rows.map(([k, v]) => h('tr', h('th', h('kbd', k)), h('td', v))))),
  });
}

// A token kept from earlier in this tab: learn who it is (whoami when the server has it) while the first
// page loads its data; pages that hide what the principal may not do await whenSessionKnown() first.
start(routes, app, beforeRender);
if (api.getToken() && !location.pathname.startsWith('/login')) {
  setSessionKnown(api.validateToken(api.getToken()).then(info => { signedIn(info); renderTopbar(); }).catch(() => { /* a 401 signs out */ }));
  render();
} else if (!api.getToken()) {
  // No token: a trusted proxy may name the user (whoami answers USER); otherwise the sign-in screen.
  const known = api.proxyUser().then(info => { if (info) signedIn(info); });
  setSessionKnown(known);
  known.then(render);
} else {
  render();
}
