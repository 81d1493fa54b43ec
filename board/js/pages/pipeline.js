// SPDX-License-Identifier: Apache-2.0
// board/js/pages/pipeline.js: the pipeline sections of a stage's config: promote config, webhooks, deploy
// schedule (with the cooldown override), and the config history with diffs. Server validation errors
// ({code, message, field}) appear next to the field they name.
import * as api from '../api.js';
import { h, clear, spinner, errorBox, emptyState, toast, openDialog, showFieldError, clearFieldErrors, timeEl, badge, fmtNum } from '../ui.js';

// ---- shared form plumbing ---------------------------------------------------------------------

function field(name, label, input, hint) {
  input.name = name;
  input.id = input.id || 'cfg-' + name.replace(/[^\w-]/g, '_');
  return h('div.field', h('label', { for: input.id }, label), input, hint ? h('div.hint', hint) : null);
}

function select(values, current, labels = {}) {
  return h('select', values.map(v => h('option', { value: v, selected: v === current }, labels[v] || v)));
}

function textInput(value, attrs = {}) {
  return h('input', { type: 'text', value: value ?? '', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

// Runs save(); a server error naming a field goes next to it (mapField may rename it), any other
// error into `status`. Returns true on success.
async function submit(form, status, button, save, mapField = f => f) {
  clearFieldErrors(form);
  status.replaceChildren('Saving…');
  button.disabled = true;
  try {
    await save();
    status.replaceChildren();
    return true;
  } catch (err) {
    status.replaceChildren();
    const f = err.field ? mapField(err.field) : null;
    if (!(f && showFieldError(form, f, err.message))) status.replaceChildren(h('span.error-text', { role: 'alert' }, err.message));
    return false;
  } finally {
    button.disabled = false;
  }
}

const fieldErr = (name, message) => Object.assign(new Error(message), { field: name });

function intOf(form, name, { optional = false } = {}) {
  const s = form.elements[name].value.trim();
  if (optional && s === '') return undefined;
  if (!/^-?\d+$/.test(s)) throw fieldErr(name, 'Enter a whole number.');
  return parseInt(s, 10);
}

function panel(title, sub, ...body) {
  return h('section.panel', h('div.panel-head', h('h2', title), sub || null), h('div.panel-body', ...body));
}

async function load(content, ctx, fn) {
  const box = h('div', spinner());
  clear(content, box);
  try {
    return { box, data: await fn() };
  } catch (e) {
    if (e.name !== 'AbortError') clear(box, errorBox(e));
    return null;
  }
}

// ---- promote config ---------------------------------------------------------------------------

export async function promote({ content, ctx, base, env, stage, stages, operate }) {
  const got = await load(content, ctx, () => Promise.all([
    api.get(base + '/promotes', null, { signal: ctx.signal }), api.get(base, null, { signal: ctx.signal })]));
  if (!got) return;
  let [p, info] = got.data;
  const others = stages.filter(s => s.stageName !== stage).map(s => s.stageName);
  const form = h('form.config-form', { novalidate: true, 'data-role': 'promote-form' });
  const type = select(['MANUAL', 'AUTO'], p.type, { MANUAL: 'MANUAL — deploys only when someone asks', AUTO: 'AUTO — the auto-promoter deploys' });
  const predValues = ['', 'BUILD', ...others];
  if (p.predStage && !predValues.includes(p.predStage)) predValues.push(p.predStage);
  const pred = select(predValues, p.predStage || '', { '': '(none)', BUILD: 'BUILD — new builds of the build name / branch' });
  const buildName = textInput(info.buildName);
  const branch = textInput(info.branch);
  const buildBox = h('div.field-group.span-all', { 'data-role': 'build-source' },
    field('buildName', 'Build name', buildName, 'Builds with exactly this name are promoted (a stage setting).'),
    field('branch', 'Branch', branch, 'Only builds of this branch (a stage setting; empty = any branch).'));
  const delay = textInput(p.delay, { inputmode: 'numeric' });
  const queue = textInput(p.queueSize, { inputmode: 'numeric' });
  const schedule = textInput(p.schedule, { placeholder: '0 0 9 ? * MON-FRI', class: 'mono' });
  const disable = select(['AUTO', 'MANUAL'], p.disablePolicy, {
    AUTO: 'AUTO — a manual deploy switches auto-promote off', MANUAL: 'MANUAL — only a user switches it off' });
  const fail = select(['CONTINUE', 'DISABLE', 'ROLLBACK'], p.failPolicy, {
    CONTINUE: 'CONTINUE — keep promoting', DISABLE: 'DISABLE — switch auto-promote off', ROLLBACK: 'ROLLBACK — roll back, then switch off' });
  form.append(
    field('type', 'Promote type', type),
    field('predStage', 'Promote from', pred, 'Another stage of this env (its ACCEPTED deploys), or BUILD (newly published builds).'),
    buildBox,
    field('delay', 'Delay (minutes)', delay, 'A candidate must be at least this old.'),
    field('queueSize', 'Queue size', queue, '1..10: promote the n-th newest candidate, so the newest n−1 can still be stopped.'),
    field('schedule', 'Schedule (cron, UTC)', schedule, h('span', 'Quartz cron with 6 or 7 fields (seconds first), evaluated in UTC; promotes only inside the window ',
      h('code', '[fire, fire + 2 min)'), '. Empty = any time.')),
    field('disablePolicy', 'Disable policy', disable),
    field('failPolicy', 'When a promoted deploy fails or is rejected', fail));
  // AUTO without a stage to promote from is accepted (upstream's board sends it) but never promotes: say so
  const incomplete = h('p.warnbox.span-all', { 'data-role': 'promote-incomplete', role: 'status' },
    'Incomplete: AUTO promotes nothing until "Promote from" names a stage or BUILD.');
  form.append(incomplete);
  const sync = () => {
    buildBox.hidden = pred.value !== 'BUILD';
    incomplete.hidden = !(type.value === 'AUTO' && !pred.value);
  };
  pred.addEventListener('change', sync);
  type.addEventListener('change', sync);
  sync();
  if (!operate) form.querySelectorAll('input,select').forEach(i => { i.disabled = true; });
  const save = h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, 'Save promote config');
  const status = h('span.muted.small', { 'data-role': 'status' });
  form.append(h('div.form-actions.span-all', save, status));
  const sub = h('span.muted.small', 'last changed by ', p.lastOperator || '—', ' ', timeEl(p.lastUpdate));
  clear(got.box, panel('Promote', sub, form));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const ok = await submit(form, status, save, async () => {
      const body = {
        type: type.value, predStage: pred.value, delay: intOf(form, 'delay'), queueSize: intOf(form, 'queueSize'),
        schedule: schedule.value.trim(), disablePolicy: disable.value, failPolicy: fail.value,
      };
      if (pred.value === 'BUILD') {
        const patch = {};
        if (buildName.value.trim() !== (info.buildName || '')) patch.buildName = buildName.value.trim();
        if (branch.value.trim() !== (info.branch || '')) patch.branch = branch.value.trim();
        if (Object.keys(patch).length) await api.put(base, patch);
      }
      await api.put(base + '/promotes', body);
      [p, info] = await Promise.all([api.get(base + '/promotes'), api.get(base)]);
    });
    if (ok) {
      toast('Promote config saved');
      sub.replaceChildren('last changed by ', p.lastOperator || '—', ' ', timeEl(p.lastUpdate));
    }
  });
}

// ---- webhooks ---------------------------------------------------------------------------------

const LISTS = [['preDeployHooks', 'Pre-deploy hooks', 'Called after every deploy is created.'],
  ['postDeployHooks', 'Post-deploy hooks', 'Called when a deploy first reaches SUCCEEDING.']];

export async function webhooks({ content, ctx, base, operate }) {
  const got = await load(content, ctx, () => api.get(base + '/web_hooks', null, { signal: ctx.signal }));
  if (!got) return;
  const data = got.data;
  const form = h('form', { novalidate: true, 'data-role': 'webhooks-form' });
  const bodies = {};
  for (const [list, title, text] of LISTS) {
    const rows = h('div.hook-list', { dataset: { list } });
    bodies[list] = rows;
    (data[list] || []).forEach(hook => addHook(list, hook));
    form.append(h('fieldset.hooks', h('legend', title, ' ', h('span.muted.small', text)), rows,
      operate ? h('button.btn.btn-sm', { type: 'button', 'data-action': 'add-' + list, onclick: () => addHook(list, {}) }, '+ Add hook') : null));
  }
  function renumber(list) {
    [...bodies[list].children].forEach((row, i) => {
      row.querySelectorAll('[data-key]').forEach(inp => { inp.name = `${list}[${i}].${inp.dataset.key}`; });
      row.querySelector('.hook-no').textContent = `#${i + 1}`;
    });
  }
  function addHook(list, hook) {
    const rows = bodies[list];
    if (rows.children.length >= 20) { toast('At most 20 hooks per list', 'bad'); return; }
    const method = h('select', { 'data-key': 'method', 'aria-label': 'Method' }, ['POST', 'GET', 'PUT', 'DELETE'].map(m => h('option', { value: m, selected: (hook.method || 'POST') === m }, m)));
    const url = textInput(hook.url, { 'data-key': 'url', placeholder: 'https://hooks.example.com/deploy?id=$TELETRAAN_DEPLOY_ID', 'aria-label': 'URL', class: 'mono' });
    const headers = textInput(hook.headers, { 'data-key': 'headers', placeholder: 'Content-Type:application/json;X-Token:abc', 'aria-label': 'Headers', class: 'mono' });
    const body = h('textarea.mono', { 'data-key': 'body', rows: 2, placeholder: '{"deploy": "$TELETRAAN_DEPLOY_ID", "state": $TELETRAAN_NUMERIC_DEPLOY_STATE}', 'aria-label': 'Body' }, hook.body ?? '');
    const row = h('div.hook', { dataset: { version: hook.version ?? '' } },
      h('div.hook-line', h('span.hook-no'), h('div.field.hook-method', method), h('div.field.hook-url', url),
        operate ? h('button.icon-btn', { type: 'button', 'aria-label': 'Remove hook', onclick: () => { row.remove(); renumber(list); } }, '×') : null),
      h('div.hook-line.hook-more', h('div.field', h('label', 'Headers ', h('span.muted.small', 'Name:value;Name2:value2')), headers),
        h('div.field', h('label', 'Body ', h('span.muted.small', 'not sent with GET')), body)));
    if (!operate) row.querySelectorAll('input,select,textarea').forEach(i => { i.disabled = true; });
    rows.append(row);
    renumber(list);
  }
  const save = h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, 'Save webhooks');
  const status = h('span.muted.small', { 'data-role': 'status' });
  form.append(h('div.form-actions', save, status));
  clear(got.box, panel('Webhooks', null,
    h('p.muted.small', 'Placeholders in URL, headers and body: ', ['$TELETRAAN_DEPLOY_ID', '$TELETRAAN_DEPLOY_START', '$TELETRAAN_NUMERIC_DEPLOY_STATE',
      '$TELETRAAN_DEPLOY_TYPE', '$TELETRAAN_ENV_NAME', '$TELETRAAN_STAGE_NAME', '$TELETRAAN_BUILD_COMMIT'].map((p, i) => [i ? ', ' : '', h('code', p)]),
    '. Calls time out after 20 s and are retried twice on 429, 5xx or connection errors; results never affect the deploy.'),
    form));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const ok = await submit(form, status, save, async () => {
      const out = {};
      for (const [list] of LISTS) {
        out[list] = [...bodies[list].children].map(row => {
          const v = k => row.querySelector(`[data-key=${k}]`).value;
          // An empty URL is sent as null, so the server names the field that needs one.
          return { method: v('method'), url: v('url').trim() || null, headers: v('headers').trim() || null, body: v('body') || null, version: row.dataset.version || null };
        }).filter(x => x.url || x.headers || x.body);
      }
      await api.put(base + '/web_hooks', out);
    }, f => (/^(pre|post)DeployHooks\[\d+\]$/.test(f) ? f + '.url' : f));
    if (ok) toast('Webhooks saved');
  });
}

// ---- deploy schedule --------------------------------------------------------------------------

const HOSTS_RE = /^\s*(\d+|(\d+)%)\s*$/;

export async function schedule({ content, ctx, base, env, stage, operate }) {
  const got = await load(content, ctx, async () => {
    const info = await api.get(base, null, { signal: ctx.signal });
    if (!info.scheduleId) return null;
    return api.get(`/v1/schedules/${api.enc(env)}/${api.enc(stage)}/${api.enc(info.scheduleId)}`, null, { signal: ctx.signal })
      .catch(e => { if (e.status === 404) return null; throw e; });
  });
  if (!got) return;
  const sch = got.data;
  const hostsOf = sch ? sch.hostNumbers.split(',').map(s => s.trim()) : ['10%'];
  const coolOf = sch ? sch.cooldownTimes.split(',').map(s => s.trim()) : ['30'];
  const tbody = h('tbody');
  const form = h('form', { novalidate: true, 'data-role': 'schedule-form' });
  function renumber() {
    [...tbody.children].forEach((tr, i) => {
      tr.querySelector('.sess-no').textContent = String(i + 1);
      tr.querySelector('[data-key=hosts]').name = `hostNumbers[${i}]`;
      tr.querySelector('[data-key=cooldown]').name = `cooldownTimes[${i}]`;
      tr.querySelector('[data-key=manual]').name = `manual[${i}]`;
      const cur = sch && sch.state !== 'NOT_STARTED' && sch.currentSession === i + 1;
      const done = sch && (sch.state === 'FINAL' || (sch.currentSession > i + 1));
      tr.classList.toggle('is-current', !!cur);
      clear(tr.querySelector('.sess-state'), cur ? badge(sch.state) : done ? badge('DONE', 'ok') : h('span.muted', '—'));
    });
  }
  function addRow(hosts = '', cool = '30') {
    const neg = /^-/.test(cool);
    const hostsIn = textInput(hosts, { 'data-key': 'hosts', placeholder: '5 or 10%', 'aria-label': 'Hosts', inputmode: 'numeric' });
    const coolIn = textInput(neg ? '' : cool, { 'data-key': 'cooldown', placeholder: 'minutes', 'aria-label': 'Cooldown (minutes)', inputmode: 'numeric', disabled: neg });
    const manual = h('input', { type: 'checkbox', 'data-key': 'manual', checked: neg, onchange: () => { coolIn.disabled = manual.checked || !operate; } });
    const tr = h('tr', h('td.sess-no'), h('td', h('div.field', hostsIn)), h('td', h('div.field', coolIn)),
      h('td', h('label.check', manual, ' wait for an override')), h('td.sess-state'),
      h('td', operate ? h('button.icon-btn', { type: 'button', 'aria-label': 'Remove session', onclick: () => { tr.remove(); renumber(); } }, '×') : null));
    if (!operate) tr.querySelectorAll('input').forEach(i => { i.disabled = true; });
    tbody.append(tr);
    renumber();
  }
  hostsOf.forEach((x, i) => addRow(x, coolOf[i] ?? '30'));
  const save = h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, sch ? 'Save schedule' : 'Create schedule');
  const status = h('span.muted.small', { 'data-role': 'status' });
  const del = sch && operate ? h('button.btn.btn-ghost', { type: 'button', 'data-action': 'delete-schedule', onclick: () => openDialog({
    title: `Delete the deploy schedule of ${env} / ${stage}?`, danger: true, confirmText: 'Delete schedule',
    body: h('p', 'Deploys then go to every host at once, limited only by the stage’s max parallel setting.'),
    onConfirm: async () => { await api.put(`/v1/schedules/${api.enc(env)}/${api.enc(stage)}/schedules`, { totalSessions: 0 }); toast('Schedule deleted'); rerender(); },
  }) }, 'Delete schedule') : null;
  form.append(
    h('table.table.sched-table', h('thead', h('tr', h('th', '#'), h('th', 'Hosts (count or %)'), h('th', 'Cooldown after (min)'), h('th', 'Manual'), h('th', 'State'), h('th', ''))), tbody),
    h('div.form-actions', operate ? h('button.btn', { type: 'button', 'data-action': 'add-session', onclick: () => addRow('', '30') }, '+ Add session') : null, save, del, status));

  const stateBox = h('div.sched-state', { 'data-role': 'schedule-state' });
  if (sch) {
    const cooling = sch.state === 'COOLING_DOWN';
    const c = cooling ? parseInt(coolOf[sch.currentSession - 1], 10) : NaN;
    stateBox.append(h('dl.kv-grid',
      h('div', h('dt', 'State'), h('dd', badge(sch.state))),
      h('div', h('dt', 'Session'), h('dd', sch.currentSession ? `${sch.currentSession} of ${sch.totalSessions}` : `— of ${sch.totalSessions}`)),
      h('div', h('dt', 'Since'), h('dd', timeEl(sch.stateStartTime, true))),
      cooling ? h('div', h('dt', 'Cooldown'), h('dd', c < 0 ? 'waits for a manual override' : `${c} min`)) : null),
    cooling && operate ? h('div.override', c < 0 ? h('p.warnbox', `Session ${sch.currentSession} is done and waits for someone to continue the rollout.`) : null,
      h('button.btn.btn-warn', { type: 'button', 'data-action': 'override', onclick: override },
        sch.currentSession >= sch.totalSessions ? 'End the cooldown (finish)' : `Start session ${sch.currentSession + 1} now`)) : null);
  }
  function override() {
    openDialog({
      title: `End the cooldown of session ${sch.currentSession}?`,
      body: h('p', sch.currentSession >= sch.totalSessions
        ? 'This was the last session: the schedule becomes FINAL and the deploy goes on without limits.'
        : `Session ${sch.currentSession + 1} starts now: up to ${hostsOf[sch.currentSession]} more hosts get the build.`),
      confirmText: 'End cooldown',
      onConfirm: async () => {
        await api.put(`/v1/schedules/${api.enc(env)}/${api.enc(stage)}/override`, undefined, { sessionNumber: sch.currentSession });
        toast('Cooldown ended');
        rerender();
      },
    });
  }
  function rerender() { schedule({ content, ctx, base, env, stage, operate }); }
  clear(got.box, panel('Deploy schedule', sch ? badge(sch.state) : h('span.muted.small', 'none'),
    h('p.muted.small', 'Rolls a deploy out in sessions: each session brings a number of hosts (a count, added up, or a % of the stage) to the build, then waits its cooldown. A deploy or restart starts again at session 1.'),
    stateBox, form));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const rows = [...tbody.children];
    const ok = await submit(form, status, save, async () => {
      if (!rows.length) throw new Error('Add at least one session (or delete the schedule).');
      const hosts = rows.map(tr => tr.querySelector('[data-key=hosts]').value.trim());
      const cools = rows.map(tr => (tr.querySelector('[data-key=manual]').checked ? '-1' : tr.querySelector('[data-key=cooldown]').value.trim()));
      await api.put(`/v1/schedules/${api.enc(env)}/${api.enc(stage)}/schedules`, {
        totalSessions: rows.length, hostNumbers: hosts.join(','), cooldownTimes: cools.join(','),
      });
    }, f => {
      // The server names the whole column: point at the first entry that looks wrong.
      if (f !== 'hostNumbers' && f !== 'cooldownTimes') return f;
      const key = f === 'hostNumbers' ? 'hosts' : 'cooldown';
      const bad = rows.findIndex(tr => {
        const v = tr.querySelector(`[data-key=${key}]`).value;
        if (key === 'cooldown') return !tr.querySelector('[data-key=manual]').checked && !/^\s*-?\d+\s*$/.test(v);
        const m = v.match(HOSTS_RE);
        return !m || (m[2] ? +m[2] < 1 || +m[2] > 100 : +m[1] < 1);
      });
      return `${f}[${Math.max(0, bad)}]`;
    });
    if (ok) { toast('Schedule saved'); rerender(); }
  });
}

// ---- config history ---------------------------------------------------------------------------

const PATCH_TYPES = new Set(['Env General Config', 'Env Promote Config']);

function parseChange(s) {
  if (s === null || s === undefined) return null;
  try { return JSON.parse(s); } catch { return s; }
}

const show = v => (v === undefined ? '∅' : v === '' ? '"" (cleared)' : typeof v === 'string' ? v : JSON.stringify(v));

// Field-level differences between two values: [{key, op: add|remove|change, from, to}].
export function diffValues(before, after) {
  const isObj = v => v && typeof v === 'object' && !Array.isArray(v);
  if (Array.isArray(before) && Array.isArray(after) && after.every(x => typeof x !== 'object') && before.every(x => typeof x !== 'object')) {
    const b = new Set(before.map(String)), a = new Set(after.map(String));
    return [...[...a].filter(x => !b.has(x)).map(x => ({ key: x, op: 'add' })), ...[...b].filter(x => !a.has(x)).map(x => ({ key: x, op: 'remove' }))];
  }
  if (!isObj(before) || !isObj(after)) {
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ key: '', op: before === undefined ? 'add' : 'change', from: before, to: after }];
  }
  const out = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!(k in after)) out.push({ key: k, op: 'remove', from: before[k] });
    else if (!(k in before)) out.push({ key: k, op: 'add', to: after[k] });
    else if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out.push({ key: k, op: 'change', from: before[k], to: after[k] });
  }
  return out;
}

// Annotates entries (newest first) with a diff against the state before them: whole-value types compare
// with the previous entry of the same type; patch types (general, promote) replay the patches in order.
export function annotate(entries) {
  const lastWhole = new Map(), state = new Map();
  for (const e of entries.slice().reverse()) {
    if (e.configHidden) { e.diff = null; e.value = null; continue; }
    const v = parseChange(e.configChange);
    if (PATCH_TYPES.has(e.type) && v && typeof v === 'object' && !Array.isArray(v)) {
      const st = state.get(e.type) || {};
      e.diff = Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) =>
        (k in st ? { key: k, op: JSON.stringify(st[k]) === JSON.stringify(x) ? 'same' : 'change', from: st[k], to: x } : { key: k, op: 'set', to: x }));
      state.set(e.type, { ...st, ...Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null)) });
    } else if (/Config$/.test(e.type) && !(v && typeof v === 'object' && !Array.isArray(v) && ('add' in v || 'remove' in v || 'action' in v))) {
      e.diff = lastWhole.has(e.type) ? diffValues(lastWhole.get(e.type), v) : null;
      lastWhole.set(e.type, v);
    } else {
      e.diff = null;
    }
    e.value = v;
  }
  return entries;
}

function diffView(e) {
  if (e.configHidden) return h('span.muted.small', { dataset: { hidden: 'true' } }, 'value hidden: reading it needs OPERATOR on this env');
  if (!e.diff) {
    const v = e.value;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return h('ul.diff', Object.entries(v).map(([k, x]) => h('li.diff-set', h('code', k), ' = ', h('span.mono', show(x)))));
    }
    return h('span.mono.small', show(v));
  }
  if (!e.diff.length) return h('span.muted.small', 'no change');
  return h('ul.diff', e.diff.map(d => h(`li.diff-${d.op}`, { dataset: { key: d.key, op: d.op } },
    d.op === 'add' ? ['+ ', h('code', d.key), d.to !== undefined ? [' = ', h('span.mono', show(d.to))] : null]
      : d.op === 'remove' ? ['− ', h('code', d.key), d.from !== undefined ? [' (was ', h('span.mono', show(d.from)), ')'] : null]
        : d.op === 'set' ? [h('code', d.key), ' = ', h('span.mono', show(d.to))]
          : d.op === 'same' ? [h('code', d.key), ' = ', h('span.mono', show(d.to)), h('span.muted', ' (unchanged)')]
            : [h('code', d.key || 'value'), ': ', h('del.mono', show(d.from)), ' → ', h('ins.mono', show(d.to))])));
}

const HIST_PAGE = 100;

export async function history({ content, ctx, base }) {
  const typeSel = h('select', { name: 'historyType', 'aria-label': 'Change type' }, h('option', { value: '' }, 'All changes'));
  const got = await load(content, ctx, () => api.get(base + '/history', { pageIndex: 1, pageSize: HIST_PAGE }, { signal: ctx.signal }));
  if (!got) return;
  const entries = annotate(got.data || []);
  const types = [...new Set(entries.map(e => e.type))].sort();
  types.forEach(t => typeSel.append(h('option', { value: t }, t)));
  const tbody = h('tbody');
  const render = () => clear(tbody, entries.filter(e => !typeSel.value || e.type === typeSel.value).map(e =>
    h('tr', { dataset: { change: e.changeId, type: e.type } }, h('td.nowrap', { 'data-label': 'When' }, timeEl(e.createTime, true)), h('td', { 'data-label': 'Who' }, e.operator),
      h('td.nowrap', { 'data-label': 'What' }, e.type.replace(/^Env /, '')), h('td', { 'data-label': 'Change' }, diffView(e)))));
  typeSel.addEventListener('change', render);
  render();
  clear(got.box, panel('Config history', typeSel,
    entries.length ? h('div.table-wrap', h('table.table.history-table.stack', { 'aria-label': 'Config history' },
      h('thead', h('tr', h('th', 'When'), h('th', 'Who'), h('th', 'What'), h('th', 'Change'))), tbody))
      : emptyState('No changes yet', 'Every change of this stage’s configuration is recorded here.'),
    entries.length >= HIST_PAGE ? h('p.muted.small', `The newest ${fmtNum(HIST_PAGE)} changes.`) : null));
}
