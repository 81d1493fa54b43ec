// SPDX-License-Identifier: Apache-2.0
// board/js/router.js: the client-side router (history API). It knows no page: routes.js hands it the table
// and app.js starts it. A page module exports render(ctx) and may return a cleanup function.
import { h, clear } from './ui.js';
import { isSignedIn } from './session.js';

let table = [];       // [{ re, page, nav, params, public }]
let root = null;
let onRender = () => {};
let cleanup = null;
let renderSeq = 0;

// routes: [{ path: RegExp, page: module, nav: key of the main nav or null, params: names of the groups,
// public: shown without credentials }]; el: where pages render; beforeRender(hit): top bar and nav.
export function start(routes, el, beforeRender) {
  table = routes;
  root = el;
  onRender = beforeRender || onRender;
  window.addEventListener('popstate', render);
  document.addEventListener('click', interceptLink);
}

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search && !replace) return render();
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

function match(pathname) {
  for (const r of table) {
    const m = pathname.match(r.path);
    if (!m) continue;
    const params = {};
    (r.params || []).forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    return { route: r, params };
  }
  return null;
}

export async function render() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  const pathname = location.pathname;
  const query = Object.fromEntries(new URLSearchParams(location.search));
  const hit = match(pathname);
  const signed = isSignedIn();
  onRender(hit && hit.route);
  if (!signed && (!hit || !hit.route.public)) {
    const next = pathname + location.search;
    history.replaceState(null, '', '/login' + (next !== '/' ? '?next=' + encodeURIComponent(next) : ''));
    return render();
  }
  document.body.classList.toggle('signed-out', !signed);
  if (!hit) {
    clear(root, h('div.page', h('div.empty', h('div.empty-title', 'Page not found'),
      h('p', `Nothing lives at ${pathname}.`), h('a.btn', { href: '/', 'data-link': true }, 'Go to environments'))));
    document.title = 'Not found · Slipway';
    return;
  }
  const controller = new AbortController();
  const ctx = { params: hit.params, query, root, signal: controller.signal, isCurrent: () => seq === renderSeq };
  clear(root);
  root.scrollTop = 0;
  window.scrollTo(0, 0);
  try {
    const c = await hit.route.page.render(ctx);
    if (seq !== renderSeq) { controller.abort(); if (typeof c === 'function') c(); return; }
    cleanup = () => { controller.abort(); if (typeof c === 'function') c(); };
  } catch (e) {
    if (seq !== renderSeq || e.name === 'AbortError') return;
    clear(root, h('div.page', h('div.errorbox', { role: 'alert' }, h('strong', 'Something went wrong: '), e.message || String(e))));
    cleanup = () => controller.abort();
  }
}

// Same-origin links marked data-link navigate inside the board.
function interceptLink(e) {
  const a = e.target.closest('a[data-link]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
}
