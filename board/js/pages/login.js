// SPDX-License-Identifier: Apache-2.0
// board/js/pages/login.js: the sign-in screen. A link /login#token=T shows whom T signs in as and waits for
// a click: a link from someone else must not silently switch this tab to their principal.
import * as api from '../api.js';
import { h, clear } from '../ui.js';
import { navigate } from '../router.js';
import { signedIn, session } from '../session.js';

function safeNext(query) {
  const n = query.next;
  return n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/login') ? n : '/';
}

const roleText = r => `${r.role} @ ${r.type === 'SYSTEM' ? 'system' : r.resource}${r.group ? ' (group ' + r.group + ')' : ''}`;

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
  const body = h('div.login-body', form);

  const card = h('div.login-card',
    h('div.login-brand', h('img', { src: '/favicon.svg', alt: '', width: 40, height: 40 }),
      h('div', h('h1', 'Slipway'), h('p.muted', 'Deploy board'))),
    body);
  clear(ctx.root, h('div.login-page', card));

  function finish(token, info) {
    api.setToken(token);
    signedIn(info);
    navigate(next, { replace: true });
  }

  function failText(e) {
    return e.status === 401 ? 'This token is not valid (' + e.message + ').'
      : e.status === 403 ? 'This token may not read environments (' + e.message + ').'
        : e.message;
  }

  async function attempt(token) {
    if (!token) { showError('Paste a token first.'); return; }
    button.disabled = true;
    button.textContent = 'Signing in…';
    error.hidden = true;
    try {
      finish(token, await api.validateToken(token));
    } catch (e) {
      showError(failText(e));
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

  function showForm() {
    clear(body, form);
    input.focus();
  }

  // The token of a link is checked (whoami) but kept nowhere until the user confirms whom it signs in as.
  async function confirmLink(token) {
    clear(body, h('p.muted', { 'data-role': 'checking' }, 'Checking the sign-in link…'));
    let info;
    try {
      info = await api.validateToken(token);
    } catch (e) {
      showForm();
      showError('The sign-in link did not work: ' + failText(e));
      return;
    }
    const who = info.name || 'an unnamed token';
    const current = session.name || (api.getToken() ? 'another token' : null);
    const yes = h('button.btn.btn-primary.btn-block', { type: 'button', 'data-role': 'confirm-signin', onclick: () => finish(token, info) },
      'Sign in as ' + who);
    const no = h('button.btn.btn-block', { type: 'button', 'data-role': 'cancel-signin', onclick: showForm }, 'Cancel');
    clear(body, h('div.login-confirm', { role: 'group', 'aria-label': 'Confirm sign-in' },
      h('p', 'This link signs you in as'),
      h('p.login-who', h('strong', { 'data-role': 'signin-name' }, who), ' ',
        h('span.muted', info.kind === 'USER' ? '(user)' : info.kind === 'ANONYMOUS' ? '(anonymous)' : '(token)')),
      info.roles && info.roles.length ? h('ul.login-roles', { 'aria-label': 'Roles' }, info.roles.map(r => h('li', roleText(r))))
        : info.roles ? h('p.muted.small', 'No roles.') : null,
      current ? h('p.hint', `You are signed in as ${current} now; signing in replaces that in this tab.`) : null,
      h('p.hint', 'Only continue if you expected this link: whoever made it chose the account.'),
      yes, no));
    yes.focus();
  }

  if (fromHash) {
    await confirmLink(fromHash);
  } else if (session.proxy || (api.getToken() && !ctx.query.next)) {
    navigate(session.proxy ? next : '/', { replace: true });
  } else {
    input.focus();
  }
}
