// SPDX-License-Identifier: Apache-2.0
// board/js/app.js: entry point: session, client-side router (history API), top bar and shortcuts.
import * as api from './api.js';
import { h, clear, toast, openDialog } from './ui.js';
import * as login from './pages/login.js';
import * as home from './pages/home.js';
import * as stage from './pages/stage.js';
import * as history from './pages/history.js';
import * as builds from './pages/builds.js';
import * as hosts from './pages/hosts.js';
import * as config from './pages/config.js';
import * as tokens from './pages/tokens.js';
import * as roles from './pages/roles.js';

const app = document.getElementById('app');

// [pattern, page module, nav key, extra params]
const routes = [
  [/^\/login\/?$/, login, null],
  [/^\/$/, home, 'home'],
  [/^\/deploys\/?$/, history, 'deploys'],
  [/^\/builds\/?$/, builds, 'builds'],
  [/^\/builds\/([^/]+)\/?$/, builds, 'builds', ['name']],
  [/^\/tokens\/?$/, tokens, 'tokens'],
  [/^\/(users|groups)\/?$/, roles, 'tokens', ['kind']],
  [/^\/hosts\/?$/, hosts, 'hosts'],
  [/^\/hosts\/([^/]+)\/?$/, hosts, 'hosts', ['host']],
  [/^\/env\/([^/]+)\/?$/, stage, 'home', ['env']],
  [/^\/env\/([^/]+)\/([^/]+)\/?$/, stage, 'home', ['env', 'stage']],
  [/^\/env\/([^/]+)\/([^/]+)\/history\/?$/, history, 'home', ['env', 'stage']],
  [/^\/env\/([^/]+)\/([^/]+)\/config\/?$/, config, 'home', ['env', 'stage']],
];

// proxy: signed in without a token, as the user a trusted proxy names (X-Forwarded-User, PROTOCOL §9.1).
export const session = { name: null, roles: null, proxy: false };

// Whether the board has credentials: a token of this tab, or the trusted proxy's user.
export function isSignedIn() {
  return !!api.getToken() || session.proxy;
}

let cleanup = null;
let renderSeq = 0;

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search && !replace) return render();
  if (replace) history_.replaceState(null, '', path);
  else history_.pushState(null, '', path);
  render();
}
const history_ = window.history;

function match(pathname) {
  for (const [re, mod, nav, names] of routes) {
    const m = pathname.match(re);
    if (!m) continue;
    const params = {};
    (names || []).forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    return { mod, nav, params };
  }
  return null;
}

async function render() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  const pathname = location.pathname;
  const query = Object.fromEntries(new URLSearchParams(location.search));
  const hit = match(pathname);
  const token = isSignedIn();
  renderTopbar();
  if (!token && (!hit || hit.mod !== login)) {
    const next = pathname + location.search;
    history_.replaceState(null, '', '/login' + (next !== '/' ? '?next=' + encodeURIComponent(next) : ''));
    return render();
  }
  document.querySelectorAll('#mainnav a').forEach(a => a.classList.toggle('active', !!hit && a.dataset.nav === hit.nav));
  document.body.classList.toggle('signed-out', !token);
  if (!hit) {
    clear(app, h('div.page', h('div.empty', h('div.empty-title', 'Page not found'),
      h('p', `Nothing lives at ${pathname}.`), h('a.btn', { href: '/', 'data-link': true }, 'Go to environments'))));
    document.title = 'Not found · Slipway';
    return;
  }
  const controller = new AbortController();
  const ctx = { params: hit.params, query, root: app, signal: controller.signal, isCurrent: () => seq === renderSeq };
  clear(app);
  app.scrollTop = 0;
  window.scrollTo(0, 0);
  try {
    const c = await hit.mod.render(ctx);
    if (seq !== renderSeq) { controller.abort(); if (typeof c === 'function') c(); return; }
    cleanup = () => { controller.abort(); if (typeof c === 'function') c(); };
  } catch (e) {
    if (seq !== renderSeq || e.name === 'AbortError') return;
    clear(app, h('div.page', h('div.errorbox', { role: 'alert' }, h('strong', 'Something went wrong: '), e.message || String(e))));
    cleanup = () => controller.abort();
  }
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

export function signOut() {
  api.setToken(null);
  session.name = null;
  session.roles = null;
  session.proxy = false;
  navigate('/login', { replace: true });
}

export function signedIn(info) {
  session.name = info.name;
  session.roles = info.roles;
  session.proxy = info.kind === 'USER' && !api.getToken();
}

// Whether the principal may do OPERATOR things on env; unknown roles → assume yes (server decides).
export function canOperate(env) {
  if (!session.roles) return true;
  const rank = { READER: 0, PINGER: 1, PUBLISHER: 1, OPERATOR: 2, ADMIN: 3 };
  return session.roles.some(r => (r.type === 'SYSTEM' || r.resource === env || r.resource === '*') && rank[r.role] >= 2);
}

// Whether the principal is ADMIN for env (SYSTEM scope when env is omitted); unknown roles → yes.
export function canAdmin(env) {
  if (!session.roles) return true;
  return session.roles.some(r => r.role === 'ADMIN' && (r.type === 'SYSTEM' || (env !== undefined && r.resource === env)));
}

// Whether the principal is ADMIN of the system or of some env (shows the token pages).
export function isAdminSomewhere() {
  return !session.roles || session.roles.some(r => r.role === 'ADMIN');
}

api.onUnauthorized(err => {
  if (location.pathname.startsWith('/login')) return;
  api.setToken(null);
  session.proxy = false;
  toast('Your session ended: ' + err.message, 'bad');
  const next = location.pathname + location.search;
  navigate('/login?next=' + encodeURIComponent(next), { replace: true });
});

// ---- link interception and keyboard shortcuts --------------------------------------------------

document.addEventListener('click', e => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', render);

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
let sessionKnown = Promise.resolve();
export function whenSessionKnown() { return sessionKnown; }
if (api.getToken() && !location.pathname.startsWith('/login')) {
  sessionKnown = api.validateToken(api.getToken()).then(info => { signedIn(info); renderTopbar(); }).catch(() => { /* a 401 signs out */ });
  render();
} else if (!api.getToken()) {
  // No token: a trusted proxy may name the user (whoami answers USER); otherwise the sign-in screen.
  sessionKnown = api.proxyUser().then(info => { if (info) signedIn(info); });
  sessionKnown.then(render);
} else {
  render();
}
