// SPDX-License-Identifier: Apache-2.0
// board/js/pages/login.js: the sign-in screen; also signs in directly from /login#token=T.
import * as api from '../api.js';
import { h, clear } from '../ui.js';
import { navigate, signedIn, session } from '../app.js';

function safeNext(query) {
  const n = query.next;
  return n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/login') ? n : '/';
}

export async function render(ctx) {
  document.title = 'Sign in · Slipway';
  const next = safeNext(ctx.query);
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('token');
  if (fromHash) {
    // Drop the token from the address bar and the history at once.
    history.replaceState(null, '', location.pathname + location.search);
  }

  const input = h('input#token', {
    name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'Paste your API token', 'aria-label': 'API token',
  });
  const error = h('div.field-error', { role: 'alert', hidden: true });
  const button = h('button.btn.btn-primary.btn-block', { type: 'submit' }, 'Sign in');
  const form = h('form.login-form', { onsubmit: e => { e.preventDefault(); attempt(input.value.trim()); } },
    h('label.label', { for: 'token' }, 'API token'),
    input, error, button,
    h('p.hint', 'An admin creates tokens through the ', h('code', '/v1/system/token_roles'), ' API. A new server writes an admin token to ',
      h('code', 'admin.token'), ' beside its database. The token is kept in this browser tab only.'));

  const card = h('div.login-card',
    h('div.login-brand', h('img', { src: '/favicon.svg', alt: '', width: 40, height: 40 }),
      h('div', h('h1', 'Slipway'), h('p.muted', 'Deploy board'))),
    form);
  clear(ctx.root, h('div.login-page', card));

  async function attempt(token) {
    if (!token) { showError('Paste a token first.'); return; }
    button.disabled = true;
    button.textContent = 'Signing in…';
    error.hidden = true;
    try {
      const info = await api.validateToken(token);
      api.setToken(token);
      signedIn(info);
      navigate(next, { replace: true });
    } catch (e) {
      showError(e.status === 401 ? 'This token is not valid (' + e.message + ').'
        : e.status === 403 ? 'This token may not read environments (' + e.message + ').'
          : e.message);
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }

  function showError(msg) {
    error.textContent = msg;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  if (fromHash) {
    input.value = fromHash;
    await attempt(fromHash);
  } else if (session.proxy || (api.getToken() && !ctx.query.next)) {
    navigate(session.proxy ? next : '/', { replace: true });
  } else {
    input.focus();
  }
}
