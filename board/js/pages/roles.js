// SPDX-License-Identifier: Apache-2.0
// board/js/pages/roles.js: role bindings of users (/users) and of groups (/groups) behind the trusted proxy,
// at SYSTEM scope or of one env (?env=E), for admins: list, add, change the role, remove (PROTOCOL §4.10, §9.5).
import * as api from '../api.js';
import { h, clear, spinner, errorBox, emptyState, toast, openDialog, badge } from '../ui.js';
import { navigate } from '../router.js';
import { isAdminSomewhere, session, whenSessionKnown } from '../session.js';
import { roleSelect, accessTabs, scopeSelect } from './tokens.js';

const KINDS = {
  users: {
    api: 'user_roles', noun: 'user', Noun: 'User', placeholder: 'alice', pattern: '^[A-Za-z0-9._@-]{1,64}$',
    hint: 'The name the trusted proxy sends in its user header (e.g. X-Forwarded-User).',
    about: 'users signed in by the trusted proxy; a user without a binding has the server’s default user role (READER unless configured).',
  },
  groups: {
    api: 'group_roles', noun: 'group', Noun: 'Group', placeholder: 'sre', pattern: '^[A-Za-z0-9._:@-]{1,128}$',
    hint: 'A group name as the trusted proxy lists it in its groups header (e.g. X-Forwarded-Groups).',
    about: 'every member of a group the trusted proxy names gets the group’s role; a user gets the highest of its own and its groups’ roles.',
  },
};

export async function render(ctx) {
  const kind = KINDS[ctx.params.kind];
  const env = ctx.query.env || null;
  const path = '/' + ctx.params.kind;
  document.title = `${kind.Noun} roles${env ? ' of ' + env : ''} · Slipway`;
  await whenSessionKnown();
  if (!isAdminSomewhere()) {
    clear(ctx.root, h('div.page', emptyState('Admins only', `Only an ADMIN manages ${kind.noun} roles.`)));
    return;
  }
  const base = env ? `/v1/envs/${api.enc(env)}/${kind.api}` : `/v1/system/${kind.api}`;
  const scopeSel = await scopeSelect(ctx, path, env);
  if (!scopeSel) return;
  const body = h('div', spinner());
  const addBtn = h('button.btn.btn-primary', { type: 'button', 'data-action': 'add-binding', onclick: addDialog }, `Add ${kind.noun}`);
  clear(ctx.root, h('div.page',
    h('div.page-head', h('div', h('h1', `${kind.Noun} roles${env ? ' of ' + env : ''}`),
      h('p.subtitle', env ? `Roles on every stage of ${env} for ` : 'SYSTEM roles (every env) for ', kind.about)),
    h('div.head-actions', scopeSel, addBtn)),
    accessTabs(ctx.params.kind, env),
    h('section.panel', body)));

  let list;
  try {
    list = await api.get(base, null, { signal: ctx.signal });
  } catch (e) {
    if (e.name !== 'AbortError') clear(body, errorBox(e));
    return;
  }
  list.sort((a, b) => a.name.localeCompare(b.name));
  if (!list.length) clear(body, emptyState(`No ${kind.noun} roles`, env ? `No ${kind.noun} has a role on ${env} yet.` : `No ${kind.noun} has a SYSTEM role yet.`));
  else {
    clear(body, h('div.table-wrap', h('table.table', { 'aria-label': `${kind.Noun} roles` },
      h('thead', h('tr', h('th', kind.Noun), h('th', 'Scope'), h('th', 'Role'), h('th', ''))),
      h('tbody', list.map(b => h('tr', { dataset: { binding: b.name } },
        h('td', h('strong.mono', b.name), kind.noun === 'user' && session.proxy && session.name === b.name ? h('span.muted.small', ' (you)') : null),
        h('td', badge(b.type, 'plain'), ' ', h('span.mono.small', b.resource)),
        h('td', badge(b.role, b.role === 'ADMIN' ? 'warn' : 'plain')),
        h('td.nowrap', h('button.btn.btn-xs', { type: 'button', 'data-action': 'edit', onclick: () => editDialog(b) }, 'Change role…'), ' ',
          h('button.btn.btn-xs.btn-danger', { type: 'button', 'data-action': 'remove', onclick: () => removeDialog(b) }, 'Remove…'))))))));
  }
  const reload = () => navigate(location.pathname + location.search, { replace: true });
  const scopeText = env ? `every stage of ${env}` : 'every env (SYSTEM)';

  function addDialog() {
    const name = h('input', { name: 'name', autocomplete: 'off', spellcheck: 'false', placeholder: kind.placeholder, maxlength: 128, autofocus: true });
    const role = roleSelect('READER');
    openDialog({
      title: `Add a ${kind.noun} role${env ? ' on ' + env : ''}`, confirmText: `Add ${kind.noun}`,
      body: h('div.form-grid',
        h('p', `The ${kind.noun} gets the role on ${scopeText} from its next request on.`),
        h('div.field', h('label', kind.Noun), name, h('div.hint', kind.hint, ' Allowed: ', h('code', kind.pattern))),
        h('div.field', h('label', 'Role'), role)),
      onConfirm: async () => {
        await api.post(base, { name: name.value.trim(), role: role.value });
        toast(`${kind.Noun} ${name.value.trim()} added as ${role.value}`);
        reload();
      },
    });
  }

  function editDialog(b) {
    const role = roleSelect(b.role);
    openDialog({
      title: `Change the role of ${kind.noun} ${b.name}`, confirmText: 'Save',
      body: h('div.form-grid', h('p', `Applies to ${scopeText} from the ${kind.noun}’s next request on.`), h('div.field', h('label', 'Role'), role)),
      onConfirm: async () => {
        await api.put(`${base}/${api.enc(b.name)}`, { role: role.value });
        toast(`${kind.Noun} ${b.name} is now ${role.value}`);
        reload();
      },
    });
  }

  function removeDialog(b) {
    openDialog({
      title: `Remove the role of ${kind.noun} ${b.name}?`, danger: true, confirmText: 'Remove role',
      body: h('div', h('p', `${kind.Noun} ${b.name} loses its ${b.role} role on ${scopeText}; `,
        kind.noun === 'user' ? 'it keeps what its other bindings, its groups or the default user role give it.' : 'its members keep what their own bindings or the default user role give them.'),
      kind.noun === 'user' && session.proxy && session.name === b.name ? h('p.warnbox', 'This is you: you may lose access to this page.') : null),
      onConfirm: async () => {
        await api.del(`${base}/${api.enc(b.name)}`);
        toast(`Role of ${kind.noun} ${b.name} removed`);
        reload();
      },
    });
  }
}
