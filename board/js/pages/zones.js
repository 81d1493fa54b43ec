// SPDX-License-Identifier: Apache-2.0
// board/js/pages/zones.js: zone-aware rollouts on the board: a host's tags (host page), a progress strip per tag
// value while the stage has a deploy constraint (stage page) and the constraint itself (config page).
import * as api from '../api.js';
import { h, clear, spinner, errorBox, toast, showFieldError, clearFieldErrors } from '../ui.js';

const TYPES = ['ALL_GROUPS_IN_PARALLEL', 'GROUP_BY_GROUP'];
const notFound = e => { if (e.status === 404) return null; throw e; };

// A host's tags, read through a stage it has an agent row in (the tags are the host's, not the stage's).
export function tagsPanel(host, env) {
  const body = h('div.panel-body', spinner());
  const panel = h('section.panel', { 'aria-label': 'Tags', 'data-role': 'host-tags' }, h('div.panel-head', h('h2', 'Tags')), body);
  if (!env) {
    clear(body, h('p.muted.small', 'No tags known: a host\'s tags come with its pings to a stage.'));
    return panel;
  }
  api.get(api.stagePath(env.envName, env.stageName) + '/host_tags').then(list => {
    const mine = list.filter(t => t.hostName === host || t.hostId === host);
    clear(body, mine.length
      ? h('div.chips', mine.map(t => h('span.chip', { dataset: { tag: t.tagName } }, h('span.muted', t.tagName + ' = '), t.tagValue)))
      : h('p.muted.small', 'This host reports no tags.'));
  }).catch(e => clear(body, errorBox(e)));
  return panel;
}

// The rollout order of the constraint's values: constraintOrder first, then ascending, the untagged last.
function ordered(values, c) {
  const order = c.constraintOrder || [];
  const rank = v => (order.indexOf(v) >= 0 ? order.indexOf(v) : order.length);
  return values.slice().sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

// The stage page's strip: per tag value of the constraint's key, how many of its hosts serve the current deploy.
export function zoneStrip() {
  const el = h('section.panel.zone-strip', { 'aria-label': 'Rollout by tag', 'data-role': 'zone-strip', hidden: true });
  let c = null, byValue = {}, readAt = 0;
  return {
    el,
    async update(base, agents, deployId, signal) {
      if (Date.now() - readAt > 30000) { // the constraint and the tags change rarely: read again every 30 s
        c = await api.get(base + '/deploy_constraint', null, { signal }).catch(notFound);
        byValue = c ? await api.get(base + '/host_tags/' + api.enc(c.constraintKey), null, { signal }) : {};
        readAt = Date.now();
      }
      el.hidden = !c;
      if (!c) return;
      const byHost = new Map((agents || []).map(a => [a.hostId, a]));
      const tagged = new Set();
      const groups = ordered(Object.keys(byValue), c).map(v => {
        const ids = byValue[v].map(t => t.hostId).filter(id => byHost.has(id));
        ids.forEach(id => tagged.add(id));
        return [v, ids];
      });
      const rest = [...byHost.keys()].filter(id => !tagged.has(id));
      if (rest.length) groups.push([null, rest]);
      const rows = groups.map(([v, ids]) => {
        const rows = ids.map(id => byHost.get(id)).filter(a => a.deployId === deployId);
        const done = rows.filter(a => a.deployStage === 'SERVING_BUILD').length;
        const going = rows.length - done;
        return h('div.zone-row', { dataset: { value: v === null ? '' : v } },
          h('span.zone-name', v === null ? h('span.muted', 'untagged') : v),
          h('progress', { max: ids.length || 1, value: done, 'aria-label': `${v === null ? 'untagged' : v}: ${done} of ${ids.length}` }),
          h('span.small', `${done} / ${ids.length}`, going ? h('span.muted', ` · ${going} deploying`) : null));
      });
      clear(el, h('div.panel-head', h('h2', 'By ', c.constraintKey),
        h('span.muted.small', `${c.constraintType === 'GROUP_BY_GROUP' ? 'one value at a time' : 'every value at once'}, at most ${c.maxParallel} each`)),
      h('div.panel-body', rows));
    },
  };
}

// The config page's section: show, set or remove the deploy constraint.
export async function constraintSection(pc) {
  const { content, base, operate } = pc;
  clear(content, spinner());
  let c;
  try { c = await api.get(base + '/deploy_constraint').catch(notFound); } catch (e) { clear(content, errorBox(e)); return; }
  const field = (name, label, input, hint) => { input.name = name; input.id = 'dc-' + name; input.disabled = !operate;
    return h('div.field', h('label', { for: input.id }, label), input, hint ? h('div.hint', hint) : null); };
  const key = h('input', { type: 'text', value: c ? c.constraintKey : 'availabilityZone', autocomplete: 'off', spellcheck: 'false' });
  const max = h('input', { type: 'text', inputmode: 'numeric', value: c ? String(c.maxParallel) : '1' });
  const type = h('select', TYPES.map(t => h('option', { value: t, selected: c ? c.constraintType === t : t === TYPES[0] }, t)));
  const order = h('input', { type: 'text', value: c && c.constraintOrder ? c.constraintOrder.join(', ') : '', autocomplete: 'off' });
  const form = h('form.config-form', { novalidate: true, 'data-role': 'constraint-form' },
    field('constraintKey', 'Host tag', key, 'Hosts are grouped by the value of this tag (availabilityZone, or an ec2Tags name).'),
    field('maxParallel', 'Hosts per value at once', max),
    field('constraintType', 'Type', type, 'ALL_GROUPS_IN_PARALLEL: every value at once; GROUP_BY_GROUP: one value after the other.'),
    field('constraintOrder', 'Values first (GROUP_BY_GROUP)', order, 'Comma-separated; the others follow in ascending order, hosts without the tag last.'));
  const remove = h('button.btn.btn-danger', { type: 'button', hidden: !c || !operate, 'data-action': 'remove-constraint', onclick: async () => {
    try { await api.del(base + '/deploy_constraint'); toast('Deploy constraint removed'); await constraintSection(pc); } catch (e) { toast(e.message, 'error'); }
  } }, 'Remove');
  form.append(h('div.form-actions', h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, c ? 'Save changes' : 'Set constraint'), remove));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    clearFieldErrors(form);
    const values = order.value.split(',').map(s => s.trim()).filter(Boolean);
    const body = { constraintKey: key.value.trim(), maxParallel: Number(max.value), constraintType: type.value, constraintOrder: values.length ? values : null };
    try { await api.post(base + '/deploy_constraint', body); toast('Deploy constraint saved'); await constraintSection(pc); } catch (err) {
      if (err.field) showFieldError(form, err.field, err.message); else toast(err.message, 'error');
    }
  });
  clear(content, h('section.panel', h('div.panel-head', h('h2', 'Deploy constraint')), h('div.panel-body',
    h('p.muted.small', c ? 'Rollouts of this stage follow the constraint below, together with its maxParallel.' : 'No constraint: rollouts count hosts only (maxParallel).'),
    form)));
}
