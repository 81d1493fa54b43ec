// SPDX-License-Identifier: Apache-2.0
// board/js/pages/tokens.js: API tokens of the system (/tokens) or of one env (/tokens?env=E), for admins:
// list, create (the secret is shown once, with a copy button), change role or expiry, revoke.
import * as api from '../api.js';
import { h, clear, spinner, errorBox, emptyState, toast, openDialog, timeEl, badge, copyButton } from '../ui.js';
import { navigate } from '../router.js';
import { canAdmin, isAdminSomewhere, session, whenSessionKnown } from '../session.js';

const ROLES = ['READER', 'PINGER', 'PUBLISHER', 'OPERATOR', 'ADMIN'];
const ROLE_TEXT = {
  READER: 'read everything but tokens', PINGER: 'agents: ping (SYSTEM scope)', PUBLISHER: 'CI: publish builds',
  OPERATOR: 'deploy, configure stages', ADMIN: 'everything, including tokens',
};
const DAY = 24 * 3600 * 1000;
const EXPIRY = [['30', '30 days'], ['90', '90 days'], ['180', '180 days (default)'], ['365', '1 year'], ['never', 'never'], ['date', 'on a date…']];

// Expiry controls: a choice plus a date input; value() → ms, -1 (never) or throws a field error.
function expiryInput(current) {
  const choice = h('select', { name: 'expiryChoice', 'aria-label': 'Expires' }, EXPIRY.map(([v, t]) => h('option', { value: v }, t)));
  const date = h('input', { type: 'date', name: 'expireDate', 'aria-label': 'Expiry date', hidden: true });
  if (current === undefined) choice.value = '180';
  else if (current === null) choice.value = 'never';
  else { choice.value = 'date'; date.value = new Date(current).toISOString().slice(0, 10); }
  const sync = () => { date.hidden = choice.value !== 'date'; };
  choice.addEventListener('change', sync);
  sync();
  return {
    el: h('div.field', h('label', 'Expires'), h('div.inline', choice, date)),
    value() {
      if (choice.value === 'never') return -1;
      if (choice.value !== 'date') return Date.now() + parseInt(choice.value, 10) * DAY;
      if (!date.value) throw Object.assign(new Error('Pick a date.'), { field: 'expireDate' });
      const ms = new Date(date.value + 'T23:59:59').getTime();
      if (!(ms > Date.now())) throw Object.assign(new Error('The date must be in the future.'), { field: 'expireDate' });
      return ms;
    },
  };
}

export function roleSelect(current) {
  return h('select', { name: 'role' }, ROLES.map(r => h('option', { value: r, selected: r === (current || 'READER') }, `${r} — ${ROLE_TEXT[r]}`)));
}

// Tabs of the access pages (tokens, user roles, group roles), keeping the scope (?env=).
export function accessTabs(active, env) {
  const q = env ? '?env=' + encodeURIComponent(env) : '';
  return h('nav.section-tabs', { 'aria-label': 'Access' }, [['tokens', 'Tokens'], ['users', 'Users'], ['groups', 'Groups']].map(([k, label]) =>
    h(`a${k === active ? '.active' : ''}`, { href: `/${k}${q}`, 'data-link': true, dataset: { tab: k } }, label)));
}

// The scope picker of the access pages at path (/tokens, /users, /groups): SYSTEM (for SYSTEM admins) and the
// envs this principal administers. Returns null after redirecting an env-only admin to their first env.
export async function scopeSelect(ctx, path, env) {
  const sel = h('select', { 'aria-label': 'Scope', 'data-role': 'scope', onchange: () => navigate(path + (sel.value ? '?env=' + encodeURIComponent(sel.value) : '')) });
  if (canAdmin()) sel.append(h('option', { value: '' }, 'System (all envs)'));
  const envNames = canAdmin() ? await api.get('/v1/envs/names', { pageSize: 1000 }, { signal: ctx.signal }).catch(() => [])
    : (session.roles || []).filter(r => r.role === 'ADMIN' && r.type === 'ENV').map(r => r.resource);
  if (env && !envNames.includes(env)) envNames.push(env);
  envNames.sort().forEach(n => sel.append(h('option', { value: n, selected: n === env }, `env ${n}`)));
  if (!env && !canAdmin() && envNames.length) {
    navigate(path + '?env=' + encodeURIComponent(envNames[0]), { replace: true });
    return null;
  }
  return sel;
}

export async function render(ctx) {
  const env = ctx.query.env || null;
  document.title = (env ? `Tokens of ${env}` : 'System tokens') + ' · Slipway';
  await whenSessionKnown();
  if (!isAdminSomewhere()) {
    clear(ctx.root, h('div.page', emptyState('Admins only', 'Only an ADMIN manages API tokens. Ask one for a token with the role you need.')));
    return;
  }
  const base = env ? `/v1/envs/${api.enc(env)}/token_roles` : '/v1/system/token_roles';
  const scopeSel = await scopeSelect(ctx, '/tokens', env);
  if (!scopeSel) return;
  const body = h('div', spinner());
  const createBtn = h('button.btn.btn-primary', { type: 'button', 'data-action': 'create-token', onclick: createDialog }, 'New token');
  clear(ctx.root, h('div.page',
    h('div.page-head', h('div', h('h1', env ? `Tokens of ${env}` : 'System tokens'),
      h('p.subtitle', env ? `ENV tokens: their role applies to every stage of ${env}.` : 'SYSTEM tokens: their role applies everywhere (agents need a SYSTEM PINGER token).')),
    h('div.head-actions', scopeSel, createBtn)),
    accessTabs('tokens', env),
    h('section.panel', body)));

  let list;
  try {
    list = await api.get(base, null, { signal: ctx.signal });
  } catch (e) {
    if (e.name !== 'AbortError') clear(body, errorBox(e));
    return;
  }
  list.sort((a, b) => a.name.localeCompare(b.name));
  if (!list.length) clear(body, emptyState('No tokens', env ? `No token is scoped to ${env} yet.` : 'No SYSTEM token yet.'));
  else {
    clear(body, h('div.table-wrap', h('table.table', { 'aria-label': 'Tokens' },
      h('thead', h('tr', h('th', 'Name'), h('th', 'Scope'), h('th', 'Role'), h('th', 'Expires'), h('th', ''))),
      h('tbody', list.map(t => {
        const expired = t.expireDate !== null && t.expireDate <= Date.now();
        return h('tr', { dataset: { token: t.name } },
          h('td', h('strong.mono', t.name), session.name === t.name ? h('span.muted.small', ' (you)') : null),
          h('td', badge(t.type, 'plain'), ' ', h('span.mono.small', t.resource)),
          h('td', badge(t.role, t.role === 'ADMIN' ? 'warn' : 'plain')),
          h('td', t.expireDate === null ? h('span.muted', 'never') : [timeEl(t.expireDate), expired ? [' ', badge('EXPIRED', 'bad')] : null]),
          h('td.nowrap', h('button.btn.btn-xs', { type: 'button', 'data-action': 'edit', onclick: () => editDialog(t) }, 'Edit…'), ' ',
            h('button.btn.btn-xs.btn-danger', { type: 'button', 'data-action': 'revoke', onclick: () => revokeDialog(t) }, 'Revoke…')));
      })))));
  }
  const reload = () => navigate(location.pathname + location.search, { replace: true });

  function createDialog() {
    const name = h('input', { name: 'name', autocomplete: 'off', spellcheck: 'false', placeholder: 'ci-publisher', maxlength: 64, autofocus: true });
    const role = roleSelect('READER');
    const exp = expiryInput(undefined);
    let created = null;
    openDialog({
      title: env ? `New token for ${env}` : 'New SYSTEM token', confirmText: 'Create token',
      body: h('div.form-grid',
        h('p', 'The secret is shown once, right after creation; the server keeps only its SHA-256 hash.'),
        h('div.field', h('label', 'Name'), name, h('div.hint', 'Letters, digits and . _ @ -; used as the operator or publisher of what the token does.')),
        h('div.field', h('label', 'Role'), role), exp.el),
      onConfirm: async () => {
        const expireDate = exp.value();
        created = await api.post(base, { name: name.value.trim(), role: role.value, expireDate });
      },
    }).then(ok => { if (ok && created) showSecret(created); });
  }

  function showSecret(t) {
    const link = `${location.origin}/login#token=${t.token}`;
    openDialog({
      title: `Token ${t.name} created`, onConfirm: null, cancelText: 'Done',
      body: h('div.form-grid',
        h('div.warnbox', 'Copy the token now: it is not shown again. Anyone holding it acts as ', h('strong', t.name), ` (${t.role}).`),
        h('div.field', h('label', 'Token'), h('div.secret', h('code.mono', { 'data-role': 'secret' }, t.token), copyButton(t.token))),
        h('div.field', h('label', 'Sign-in link for the board'), h('div.secret', h('code.mono.small', link), copyButton(link))),
        h('p.muted.small', t.expireDate ? ['Expires ', timeEl(t.expireDate), '.'] : 'Never expires.')),
    }).then(reload);
  }

  function editDialog(t) {
    const role = roleSelect(t.role);
    const exp = expiryInput(t.expireDate);
    openDialog({
      title: `Edit token ${t.name}`, confirmText: 'Save',
      body: h('div.form-grid', h('p', 'The secret stays the same; the change applies to the next request made with it.'),
        h('div.field', h('label', 'Role'), role), exp.el),
      onConfirm: async () => {
        await api.put(`${base}/${api.enc(t.name)}`, { role: role.value, expireDate: exp.value() });
        toast(`Token ${t.name} updated`);
        reload();
      },
    });
  }

  function revokeDialog(t) {
    openDialog({
      title: `Revoke token ${t.name}?`, danger: true, confirmText: 'Revoke token',
      body: h('div', h('p', 'Every client using this token gets 401 from its next request on. This cannot be undone; create a new token to restore access.'),
        session.name === t.name ? h('p.warnbox', 'This is the token you are signed in with: the board signs you out.') : null),
      onConfirm: async () => {
        await api.del(`${base}/${api.enc(t.name)}`);
        toast(`Token ${t.name} revoked`);
        reload();
      },
    });
  }
}
