// SPDX-License-Identifier: Apache-2.0
// board/js/pages/config.js: stage configuration: general fields (server validation shown next to the
// field), capacity (hosts and groups), script variables, agent configs, the pipeline sections of pipeline.js
// (promote, webhooks, deploy schedule, config history) and stage deletion.
import * as api from '../api.js';
import { h, clear, spinner, errorBox, emptyState, link, toast, openDialog, showFieldError, clearFieldErrors, timeEl } from '../ui.js';
import { navigate } from '../router.js';
import { canOperate, canAdmin, whenSessionKnown } from '../session.js';
import { stageHeader, loadStages } from './common.js';
import * as pipeline from './pipeline.js';
import { analysisConfig } from './stage-analysis.js';

// [field, label, kind, options/hint]
const GENERAL = [
  ['description', 'Description', 'textarea', 'Shown on the board.'],
  ['buildName', 'Build name', 'text', 'Deploys must use builds with exactly this name.'],
  ['branch', 'Branch', 'text', 'Used by auto-promote from BUILD.'],
  ['stageType', 'Stage type', 'select', ['DEFAULT', 'PRODUCTION', 'CONTROL', 'CANARY', 'LATEST', 'DEV', 'STAGING']],
  ['maxParallel', 'Max parallel hosts', 'int', 'How many hosts deploy at once (0..10000).'],
  ['maxParallelPct', 'Max parallel %', 'int', 'Rollout width as % of hosts (0..100); setting one clears the other.'],
  ['priority', 'Priority', 'select', ['HIGHER', 'HIGH', 'NORMAL', 'LOW', 'LOWER']],
  ['stuckThreshold', 'Stuck threshold (s)', 'int', 'Seconds without progress before the deploy turns FAILING.'],
  ['successThreshold', 'Success threshold (basis points)', 'int', '10000 = 100 %, 9500 = 95 %.'],
  ['acceptanceType', 'Acceptance', 'select', ['AUTO', 'MANUAL']],
  ['failurePolicy', 'Failure policy', 'select', ['HALT', 'CONTINUE', 'ROLLBACK', 'REMOVE_HOST']],
  ['maxDeployNum', 'Keep deploys (count)', 'int', 'Retention.'],
  ['maxDeployDay', 'Keep deploys (days)', 'int', 'Retention.'],
  ['chatroom', 'Chat room', 'text', 'Deploy notifications go to this channel (server setting chat_webhook_url).'],
  ['emailRecipients', 'Email recipients', 'text', 'Comma-separated; deploy notifications are mailed to them (server setting smtp_url).'],
  ['watchRecipients', 'Watch recipients', 'text', 'Comma-separated.'],
  ['isDocker', 'Docker deploys', 'bool', 'Copied into the agents’ goals.'],
  ['notifyAuthors', 'Notify commit authors', 'bool', ''],
  ['signingKey', 'Signing key (Ed25519, base64)', 'text', 'When set, agents refuse unsigned builds. Needs ADMIN. Empty clears it.'],
];

const SECRET = true;

export async function render(ctx) {
  const { env, stage } = ctx.params;
  const [stages] = await Promise.all([loadStages(env, ctx.signal), whenSessionKnown()]);
  const info = stages.find(s => s.stageName === stage);
  if (!info) {
    clear(ctx.root, h('div.page', emptyState('No such stage', `${env} / ${stage} does not exist.`, link('/', 'Back to environments'))));
    return;
  }
  document.title = `Config · ${env} / ${stage} · Slipway`;
  const base = api.stagePath(env, stage);
  const operate = canOperate(env);
  // Script variables, agent configs and webhooks hold secrets the server shows to OPERATORs of the env only.
  const sections = [['general', 'General'], ['capacity', 'Capacity'], ['scripts', 'Script variables', SECRET], ['agent', 'Agent configs', SECRET],
    ['promote', 'Promote'], ['webhooks', 'Webhooks', SECRET], ['analysis', 'Analysis'], ['schedule', 'Deploy schedule'], ['history', 'Config history'], ['danger', 'Delete']]
    .filter(([, , secret]) => operate || !secret);
  const active = sections.some(([k]) => k === ctx.query.tab) ? ctx.query.tab : 'general';
  const content = h('div.config-body');
  clear(ctx.root, h('div.page.page-wide',
    stageHeader({ env, stage, stages, section: 'config', stageInfo: info }),
    h('div.config-layout',
      h('nav.side-nav', { 'aria-label': 'Config sections' }, sections.map(([k, label]) =>
        h(`a${k === active ? '.active' : ''}`, { href: `${location.pathname}?tab=${k}`, 'data-link': true, dataset: { tab: k } }, label)),
      canAdmin(env) ? h('a', { href: '/tokens?env=' + encodeURIComponent(env), 'data-link': true, dataset: { tab: 'tokens' } }, 'Tokens of ' + env) : null),
      content)));

  // pc: what every section gets (the pipeline sections of pipeline.js too)
  const pc = { content, ctx, base, env, stage, stages, operate, info };
  if (active === 'general') return general(pc);
  if (active === 'capacity') return capacity(pc);
  if (active === 'scripts') return kvEditor(pc, 'script_configs', 'Script variables', 'Delivered to the deploy scripts as environment variables.');
  if (active === 'agent') return kvEditor(pc, 'agent_configs', 'Agent configs', 'Settings the agents of this stage apply (values are trimmed).');
  if (active === 'promote') return pipeline.promote(pc);
  if (active === 'webhooks') return pipeline.webhooks(pc);
  if (active === 'analysis') return analysisConfig(pc);
  if (active === 'schedule') return pipeline.schedule(pc);
  if (active === 'history') return pipeline.history(pc);
  return danger(pc);
}

// ---- general ----
function general(pc) {
  const { content, base, operate } = pc;
  let info = pc.info;
  const form = h('form.config-form', { novalidate: true, 'data-role': 'general-form' });
  const inputs = {};
  for (const [k, label, kind, extra] of GENERAL) {
    let input;
    const v = info[k];
    if (kind === 'select') input = h('select', { name: k }, extra.map(o => h('option', { value: o, selected: v === o }, o)));
    else if (kind === 'bool') input = h('input', { type: 'checkbox', name: k, checked: !!v });
    else if (kind === 'textarea') input = h('textarea', { name: k, rows: 2 }, v ?? '');
    else input = h('input', { name: k, type: 'text', inputmode: kind === 'int' ? 'numeric' : undefined, value: v ?? '', autocomplete: 'off', spellcheck: 'false' });
    input.id = 'cfg-' + k;
    if (!operate) input.disabled = true;
    inputs[k] = input;
    form.append(h(`div.field${kind === 'bool' ? '.field-check' : ''}`,
      kind === 'bool' ? h('label', { for: input.id }, input, ' ', label) : [h('label', { for: input.id }, label), input],
      kind !== 'select' && extra ? h('div.hint', extra) : null));
  }
  const save = h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, 'Save changes');
  const status = h('span.muted.small');
  form.append(h('div.form-actions', save, h('button.btn.btn-ghost', { type: 'button', onclick: () => navigate(location.pathname + location.search, { replace: true }) }, 'Discard'), status));
  clear(content, h('section.panel', h('div.panel-head', h('h2', 'General'),
    h('span.muted.small', 'last changed by ', info.lastOperator || '—', ' ', timeEl(info.lastUpdate))), h('div.panel-body', form)));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    clearFieldErrors(form);
    const patch = {};
    for (const [k, , kind] of GENERAL) {
      const input = inputs[k];
      let v;
      if (kind === 'bool') v = input.checked;
      else if (kind === 'int') {
        const s = input.value.trim();
        if (!/^-?\d+$/.test(s)) { showFieldError(form, k, 'Enter a whole number.'); return; }
        v = parseInt(s, 10);
      } else v = input.value;
      const old = info[k] ?? (kind === 'bool' ? false : '');
      if (v !== old && !(v === '' && old === null)) patch[k] = v;
    }
    if (!Object.keys(patch).length) { status.textContent = 'No changes.'; return; }
    save.disabled = true;
    status.textContent = 'Saving…';
    try {
      await api.put(base, patch);
      info = await api.get(base);
      status.textContent = '';
      toast('Saved ' + Object.keys(patch).join(', '));
      for (const [k, , kind] of GENERAL) {
        if (kind === 'bool') inputs[k].checked = !!info[k];
        else inputs[k].value = info[k] ?? '';
      }
    } catch (err) {
      status.textContent = '';
      if (!(err.field && showFieldError(form, err.field, err.message))) {
        status.replaceChildren(h('span.error-text', { role: 'alert' }, err.message));
      }
    } finally {
      save.disabled = false;
    }
  });
}

// ---- capacity ----
async function capacity(pc) {
  const { content, base, ctx } = pc;
  const box = h('div', spinner());
  clear(content, box);
  let hosts, groups;
  try {
    [hosts, groups] = await Promise.all([
      api.get(base + '/capacity', { capacityType: 'HOST' }, { signal: ctx.signal }),
      api.get(base + '/capacity', { capacityType: 'GROUP' }, { signal: ctx.signal }),
    ]);
  } catch (e) { if (e.name !== 'AbortError') clear(box, errorBox(e)); return; }
  clear(box,
    capPanel(pc, 'HOST', 'Hosts', 'Host names that belong to this stage.', hosts, /^[A-Za-z0-9._-]{1,64}$/),
    capPanel(pc, 'GROUP', 'Groups', 'Hosts that report one of these groups in their ping belong to this stage.', groups, /^[A-Za-z0-9._:-]{1,128}$/));
}

function capPanel(pc, type, title, text, names, re) {
  const { env, stage, base, operate } = pc;
  const input = h('input', { name: 'capacity-' + type, placeholder: type === 'HOST' ? 'host name' : 'group name', autocomplete: 'off' });
  const list = h('div.chips');
  const render = () => clear(list, names.length ? names.slice().sort().map(n => h('span.chip', { dataset: { name: n } }, n,
    operate ? h('button.chip-x', { type: 'button', 'aria-label': 'Remove ' + n, onclick: () => remove(n) }, '×') : null))
    : h('span.muted.small', 'None.'));
  render();
  const form = h('form.inline-form', {
    onsubmit: async e => {
      e.preventDefault();
      clearFieldErrors(form);
      const v = input.value.trim();
      if (!re.test(v) || v === 'NULL') { showFieldError(form, input.name, `Not a valid ${type.toLowerCase()} name.`); return; }
      try {
        await api.post(base + '/capacity', v, { capacityType: type });
        if (!names.includes(v)) names.push(v);
        input.value = '';
        render();
        toast(`Added ${v}`);
      } catch (err) { showFieldError(form, input.name, err.message); }
    },
  }, input, h('button.btn', { type: 'submit', disabled: !operate }, 'Add'));
  function remove(n) {
    openDialog({
      title: `Remove ${n} from ${env} / ${stage}?`,
      body: h('p', type === 'HOST' ? `Host ${n} no longer belongs to this stage; its agent stops getting goals for it.`
        : `Hosts of group ${n} no longer belong to this stage (unless listed by name).`),
      confirmText: 'Remove', danger: true,
      onConfirm: async () => {
        await api.del(base + '/capacity', n, { capacityType: type });
        names.splice(names.indexOf(n), 1);
        render();
        toast(`Removed ${n}`);
      },
    });
  }
  return h('section.panel', h('div.panel-head', h('h2', title, ' ', h('span.count', String(names.length)))),
    h('div.panel-body', h('p.muted.small', text), operate ? form : null, list));
}

// ---- key/value editors ----
async function kvEditor(pc, what, title, text) {
  const { content, base, ctx, operate } = pc;
  const box = h('div', spinner());
  clear(content, box);
  let obj;
  try { obj = await api.get(`${base}/${what}`, null, { signal: ctx.signal }); } catch (e) { if (e.name !== 'AbortError') clear(box, errorBox(e)); return; }
  const tbody = h('tbody');
  const addRow = (k = '', v = '') => {
    const tr = h('tr',
      h('td', h('div.field', h('input.mono', { name: `key-${tbody.children.length}`, value: k, placeholder: 'NAME', 'aria-label': 'Name', disabled: !operate }))),
      h('td', h('div.field', h('input.mono', { name: `value-${tbody.children.length}`, value: v, placeholder: 'value', 'aria-label': 'Value', disabled: !operate }))),
      h('td', operate ? h('button.icon-btn', { type: 'button', 'aria-label': 'Remove row', onclick: () => tr.remove() }, '×') : null));
    tbody.append(tr);
  };
  Object.entries(obj || {}).sort(([a], [b]) => a.localeCompare(b)).forEach(([k, v]) => addRow(k, v));
  if (!tbody.children.length) addRow();
  const status = h('span.muted.small');
  const form = h('form', { novalidate: true },
    h('table.table.kv-table', h('thead', h('tr', h('th', 'Name'), h('th', 'Value'), h('th', ''))), tbody),
    h('div.form-actions',
      operate ? h('button.btn', { type: 'button', onclick: () => addRow() }, '+ Add variable') : null,
      h('button.btn.btn-primary', { type: 'submit', disabled: !operate }, 'Save'), status));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    clearFieldErrors(form);
    const out = {};
    for (const tr of tbody.children) {
      const [ki, vi] = tr.querySelectorAll('input');
      const k = ki.value.trim();
      if (!k && !vi.value) continue;
      if (!k || k.length > 128 || k.includes('=') || /[\x00-\x1f]/.test(k)) { showFieldError(form, ki.name, 'Names are 1–128 characters, without “=” or control characters.'); return; }
      if (k in out) { showFieldError(form, ki.name, 'Duplicate name.'); return; }
      if (vi.value.length > 8192) { showFieldError(form, vi.name, 'At most 8192 characters.'); return; }
      out[k] = vi.value;
    }
    status.textContent = 'Saving…';
    try {
      await api.put(`${base}/${what}`, out);
      status.textContent = '';
      toast(`${title} saved (${Object.keys(out).length})`);
    } catch (err) {
      status.replaceChildren(h('span.error-text', { role: 'alert' }, err.message));
    }
  });
  clear(box, h('section.panel', h('div.panel-head', h('h2', title)), h('div.panel-body', h('p.muted.small', text), form)));
}

// ---- delete ----
function danger(pc) {
  const { content, env, stage, base, operate } = pc;
  const input = h('input', { name: 'confirmName', placeholder: stage, autocomplete: 'off' });
  clear(content, h('section.panel.danger-zone', h('div.panel-head', h('h2', 'Delete this stage')),
    h('div.panel-body',
      h('p', 'Deleting removes the stage and its configuration (promote, scripts, agent configs, webhooks, schedule, history). Deploys and builds are kept. The server refuses while the stage has capacity or agents.'),
      h('button.btn.btn-danger', {
        type: 'button', disabled: !operate,
        onclick: () => openDialog({
          title: `Delete ${env} / ${stage}?`, danger: true, confirmText: 'Delete stage',
          body: h('div.form-grid', h('p', 'This cannot be undone. Type the stage name to confirm.'), h('div.field', input)),
          onConfirm: async () => {
            if (input.value !== stage) throw Object.assign(new Error('The name does not match.'), { field: 'confirmName' });
            await api.del(base);
            toast(`Deleted ${env} / ${stage}`);
            navigate('/');
          },
        }),
      }, 'Delete stage…'))));
}
