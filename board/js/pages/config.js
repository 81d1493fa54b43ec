// SPDX-License-Identifier: Apache-2.0
// board/js/pages/config.js: stage configuration: general fields (server validation shown next to the
// field), capacity (hosts and groups), script variables, agent configs, the pipeline sections of pipeline.js
// (promote, webhooks, deploy schedule, config history), alarms and metrics, enable/disable and a new stage cloned
// from this one, and stage deletion.
import * as api from '../api.js';
import { h, clear, spinner, errorBox, emptyState, link, toast, openDialog, showFieldError, clearFieldErrors, timeEl } from '../ui.js';
import { navigate } from '../router.js';
import { canOperate, canAdmin, whenSessionKnown } from '../session.js';
import { stageHeader, loadStages } from './common.js';
import * as pipeline from './pipeline.js';
import { analysisConfig } from './stage-analysis.js';
import * as zones from './zones.js';

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
    ['promote', 'Promote'], ['webhooks', 'Webhooks', SECRET], ['analysis', 'Analysis'], ['schedule', 'Deploy schedule'], ['constraint', 'Deploy constraint'],
    ['alarms', 'Alarms & metrics'], ['history', 'Config history'], ['stage', 'Enable · clone', SECRET], ['danger', 'Delete']]
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
  if (active === 'constraint') return zones.constraintSection(pc);
  if (active === 'history') return pipeline.history(pc);
  if (active === 'alarms') return jsonLists(pc);
  if (active === 'stage') return stageControls(pc);
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
// ---- alarms & metrics: JSON lists the API stores as given ----
async function jsonLists(pc) {
  const { content, base, operate } = pc;
  const kinds = [['alarms', 'Alarms', 'A JSON list, e.g. [{"name": "5xx", "alarmUrl": "https://…"}].'],
    ['metrics', 'Metrics', 'A JSON list, e.g. [{"title": "CPU", "url": "https://…"}].']];
  clear(content, spinner());
  let got;
  try { got = await Promise.all(kinds.map(([k]) => api.get(base + '/' + k))); } catch (e) { clear(content, errorBox(e)); return; }
  clear(content, ...kinds.map(([k, title, hint], i) => {
    const area = h('textarea.mono', { name: k, rows: 6, disabled: !operate, 'aria-label': title }, JSON.stringify(got[i], null, 2));
    const status = h('span.muted.small', { 'data-role': 'status' });
    const form = h('form', { novalidate: true, dataset: { role: k + '-form' } }, h('div.field', area, h('div.hint', hint)),
      h('div.form-actions', h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, 'Save ' + title.toLowerCase()), status));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      clearFieldErrors(form);
      let value;
      try { value = JSON.parse(area.value); } catch { showFieldError(form, k, 'Not valid JSON.'); return; }
      try {
        await api.put(base + '/' + k, value);
        status.textContent = 'Saved.';
        toast(title + ' saved');
      } catch (err) { showFieldError(form, k, err.message); }
    });
    return h('section.panel', h('div.panel-head', h('h2', title)), h('div.panel-body', form));
  }));
}

// ---- enable / disable, and a new stage from this one ----
function stageControls(pc) {
  const { content, env, stage, base, info } = pc;
  const disabled = info.state === 'DISABLED';
  const why = h('input', { name: 'description', placeholder: 'why (optional)', autocomplete: 'off' });
  const toggle = h('button.btn', {
    type: 'button', 'data-action': disabled ? 'enable' : 'disable',
    onclick: async () => {
      try {
        await api.post(base + '/actions', null, { actionType: disabled ? 'ENABLE' : 'DISABLE', description: why.value || 'from the board' });
        toast(`${env} / ${stage} ${disabled ? 'enabled' : 'disabled'}`);
        navigate(location.pathname + location.search, { replace: true });
      } catch (e) { toast(e.message, 'bad'); }
    },
  }, disabled ? 'Enable stage' : 'Disable stage');
  const toEnv = h('input', { name: 'envName', value: env, autocomplete: 'off', spellcheck: 'false' });
  const toStage = h('input', { name: 'stageName', placeholder: stage + '-2', autocomplete: 'off', spellcheck: 'false' });
  const withCapacity = h('input', { type: 'checkbox', name: 'capacity', checked: true, id: 'clone-capacity' });
  const form = h('form.config-form', { novalidate: true, 'data-role': 'clone-form' },
    h('div.field', h('label', 'New env'), toEnv),
    h('div.field', h('label', 'New stage'), toStage),
    h('div.field.field-check', h('label', { for: 'clone-capacity' }, withCapacity, ' Copy the capacity (hosts and groups)')),
    h('div.form-actions', h('button.btn.btn-primary', { type: 'submit', 'data-role': 'clone' }, 'Create the new stage')));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    clearFieldErrors(form);
    try {
      await api.post(base + '/clone', { envName: toEnv.value.trim(), stageName: toStage.value.trim(), capacity: withCapacity.checked });
      toast(`Created ${toEnv.value.trim()} / ${toStage.value.trim()}`);
      navigate(`/env/${encodeURIComponent(toEnv.value.trim())}/${encodeURIComponent(toStage.value.trim())}/config`);
    } catch (err) {
      if (err.field && form.querySelector(`[name="${err.field}"]`)) showFieldError(form, err.field, err.message);
      else toast(err.message, 'bad');
    }
  });
  clear(content,
    h('section.panel', h('div.panel-head', h('h2', 'Promote gate')), h('div.panel-body',
      h('p', disabled ? 'This stage is disabled: nothing is promoted to it (deploys by hand still work).' : 'This stage is enabled: promotions reach it.'),
      h('div.form-actions', why, toggle))),
    h('section.panel', h('div.panel-head', h('h2', 'New stage from this one')), h('div.panel-body',
      h('p', 'Copies the settings, script variables, agent configs, webhooks, promote config (as MANUAL), deploy schedule, alarms, metrics and, if you like, the capacity. Nothing is deployed.'),
      form)));
}

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
