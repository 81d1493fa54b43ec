// SPDX-License-Identifier: Apache-2.0
// board/js/pages/zones.js: zone-aware rollouts on the board: a host's tags (host page), a progress strip per tag
// value while the stage has a deploy constraint (stage page) and the constraint itself (config page).
import * as api from '../api.js';
import { h, clear, spinner, errorBox, toast, showFieldError, clearFieldErrors, link } from '../ui.js';

const TYPES = ['ALL_GROUPS_IN_PARALLEL', 'GROUP_BY_GROUP'];
const notFound = e => { if (e.status === 404) return null; throw e; };

// A host's tags, read through a stage it has an agent row in (the tags are the host's, not the stage's): only this
// host's (…/host_tags?hostName=), not the stage's whole list.
export function tagsPanel(host, env) {
  const body = h('div.panel-body', spinner());
  const panel = h('section.panel', { 'aria-label': 'Tags', 'data-role': 'host-tags' }, h('div.panel-head', h('h2', 'Tags')), body);
  if (!env) {
    clear(body, h('p.muted.small', 'No tags known: a host\'s tags come with its pings to a stage.'));
    return panel;
  }
  api.get(api.stagePath(env.envName, env.stageName) + '/host_tags', { hostName: host }).then(mine => {
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

const VALUE_PAGE = 100;

// A value's hosts, read a page at a time only when the row is opened (…/host_tags/{key}?value=V&limit=&after=).
function valueHosts(base, key, value) {
  const list = h('ul.zone-hosts.small');
  const more = h('button.btn.btn-xs', { type: 'button', 'data-action': 'more-hosts', hidden: true }, 'More hosts');
  const box = h('details.zone-detail', { dataset: { value } }, h('summary.small.muted', 'hosts'), list, more);
  let next = null, loaded = false;
  const load = async () => {
    more.disabled = true;
    try {
      const q = { value, limit: VALUE_PAGE };
      if (next) q.after = next;
      const page = await api.get(base + '/host_tags/' + api.enc(key), q);
      (page.tags[value] || []).forEach(t => list.append(h('li', link('/hosts/' + api.enc(t.hostName), t.hostName))));
      next = page.next;
      more.hidden = !next;
    } catch (e) { list.append(h('li', errorBox(e))); }
    more.disabled = false;
  };
  more.addEventListener('click', load);
  box.addEventListener('toggle', () => { if (box.open && !loaded) { loaded = true; load(); } });
  return box;
}

// The stage page's strip: per tag value of the constraint's key, how many of its hosts serve the current deploy, from
// the counts the server keeps (…/host_tags/{key}/counts: one small read at any stage size); a value's hosts on demand.
export function zoneStrip() {
  const el = h('section.panel.zone-strip', { 'aria-label': 'Rollout by tag', 'data-role': 'zone-strip', hidden: true });
  let c = null, readAt = 0;
  const opened = new Map(); // value → its hosts' box, kept across refreshes (an open list stays open)
  const hostsOf = (base, v) => {
    const k = c.constraintKey + '\n' + v;
    if (!opened.has(k)) opened.set(k, valueHosts(base, c.constraintKey, v));
    return opened.get(k);
  };
  return {
    el,
    async update(base, deployId, signal) {
      if (Date.now() - readAt > 30000) { // the constraint changes rarely: read again every 30 s
        c = await api.get(base + '/deploy_constraint', null, { signal }).catch(notFound);
        readAt = Date.now();
      }
      el.hidden = !c;
      if (!c) return;
      const counts = await api.get(base + '/host_tags/' + api.enc(c.constraintKey) + '/counts', deployId ? { deployId } : null, { signal });
      const values = counts.values || {};
      const groups = ordered(Object.keys(values), c).map(v => [v, values[v], (counts.serving || {})[v] || 0, (counts.onDeploy || {})[v] || 0]);
      if (counts.untagged > 0) groups.push([null, counts.untagged, counts.untaggedServing || 0, counts.untaggedOnDeploy || 0]);
      const rows = groups.map(([v, total, done, on]) => {
        const going = on - done;
        return h('div.zone-row', { dataset: { value: v === null ? '' : v } },
          h('span.zone-name', v === null ? h('span.muted', 'untagged') : v),
          h('progress', { max: total || 1, value: done, 'aria-label': `${v === null ? 'untagged' : v}: ${done} of ${total}` }),
          h('span.small', `${done} / ${total}`, going ? h('span.muted', ` · ${going} deploying`) : null),
          v === null ? null : hostsOf(base, v));
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
