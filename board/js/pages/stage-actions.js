// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-actions.js: the dialogs of the stage page's actions other than deploy (stage-deploy.js):
// pause/resume, restart, promote, rollback, accept/reject, reset failed hosts and the per-host actions. Each
// says what will happen before it is done. st is the stage page's state (stage.js).
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtNum, spinner, errorBox, toast, openDialog, shortId } from '../ui.js';
import { stageBefore, deployDone } from './common.js';

export function descField(label, required = false, value = '') {
  return h('div.field', h('label', { for: 'dlg-desc' }, label),
    h('input#dlg-desc', { name: 'description', autocomplete: 'off', maxlength: 2048, required, value }));
}

async function runAction(st, params, okText) {
  const res = await api.post(st.base + '/deploys/current/actions', undefined, params);
  toast(okText);
  await st.refresh();
  return res;
}

export function pauseDialog(st, pause) {
  const { env, stageName, hosts, current } = st;
  // every host when all are loaded, else the stage's summary (a larger stage is read a page at a time)
  const n = !hosts ? 0 : hosts.complete ? hosts.agents.length : hosts.summary ? hosts.summary.total : Math.max(hosts.agents.length, current ? current.total : 0);
  openDialog({
    title: pause ? `Pause deploys on ${env} / ${stageName}?` : `Resume deploys on ${env} / ${stageName}?`,
    body: h('div', pause
      ? h('p', 'Hosts of this stage get no new deploy goals while it is paused, and the current deploy’s state is frozen. Hosts keep serving what they have (', fmtNum(n), ' host', n === 1 ? '' : 's', ').')
      : h('p', 'Hosts of this stage pick up their deploy goals again on their next ping, and the stuck timer of the current deploy restarts now.')),
    confirmText: pause ? 'Pause stage' : 'Resume stage',
    danger: pause,
    onConfirm: () => runAction(st, { actionType: pause ? 'PAUSE' : 'RESUME' }, pause ? 'Stage paused' : 'Stage resumed'),
  });
}

export function restartDialog(st) {
  const { env, stageName, info, current, build } = st;
  if (!current) return;
  openDialog({
    title: `Restart ${env} / ${stageName}?`,
    body: h('div', h('p', 'Starts a RESTART deploy of the current build ', h('code', build ? build.commitShort : shortId(current.buildId)),
      ': every host runs its restart scripts again, ', fmtNum(info.maxParallel || 1), ' at a time', info.maxParallelPct ? ` (${info.maxParallelPct} %)` : '', '. The current deploy is finalised.'),
    descField('Why restart? (optional)')),
    confirmText: 'Restart hosts', danger: true,
    onConfirm: f => runAction(st, { actionType: 'RESTART', description: f.elements.description.value.trim() }, 'Restart started'),
  });
}

export async function promoteDialog(st) {
  const { env, stageName, stages, info } = st;
  const others = stages.filter(s => s.stageName !== stageName);
  const sel = h('select', { name: 'fromStage', required: true }, others.map(s => h('option', { value: s.stageName }, s.stageName)));
  const preview = h('div.build-preview');
  // Guard: a source deploy that is FAILING or not yet SUCCEEDING needs an explicit "promote anyway".
  const anyway = h('input', { type: 'checkbox', name: 'promoteAnyway' });
  const guard = h('div.field', { hidden: true, 'data-role': 'promote-guard' });
  let from = null;
  async function load() {
    from = null;
    guard.hidden = true;
    anyway.checked = false;
    clear(preview, spinner());
    try {
      const d = await api.get(api.stagePath(env, sel.value) + '/deploys/current');
      const b = await api.getBuild(d.buildId);
      from = d;
      clear(preview, h('div.build-summary', h('div', 'Current deploy of ', h('strong', sel.value), ': ', badge(d.state), ' ',
        b ? [h('code', b.commitShort), ` ${b.branch} · published `, timeEl(b.publishDate)] : h('code', d.buildId))));
      if (!deployDone(d)) {
        guard.hidden = false;
        clear(guard, h('div.warnbox.bad', h('strong', d.state === 'FAILING' ? `${sel.value} is FAILING` : `${sel.value} has not succeeded yet (${d.state.toLowerCase()})`),
          `: ${d.successTotal} of ${d.total} hosts succeeded${d.failTotal ? `, ${d.failTotal} failed` : ''}. Promoting it carries a build that has not proven itself.`),
        h('label.check', anyway, ' Promote anyway'));
      }
    } catch (e) {
      clear(preview, e.status === 404 ? h('div.warnbox', `${sel.value} has no deploy to promote.`) : errorBox(e));
    }
  }
  sel.addEventListener('change', load);
  const predDefault = stageBefore(stages, info) || others[0];
  if (predDefault) sel.value = predDefault.stageName;
  load();
  openDialog({
    title: `Promote to ${env} / ${stageName}`,
    body: h('div.form-grid', h('p', 'Deploys to this stage the build that another stage of ', h('strong', env), ' runs now.'),
      h('div.field', h('label', { for: 'dlg-from' }, 'From stage'), Object.assign(sel, { id: 'dlg-from' })), preview, guard, descField('Description (optional)')),
    confirmText: 'Promote',
    onConfirm: async f => {
      if (!from) throw Object.assign(new Error('The source stage has no deploy to promote.'), { field: 'fromStage' });
      if (!deployDone(from) && !anyway.checked) throw Object.assign(new Error(`The deploy of ${sel.value} is ${from.state}: tick “Promote anyway” to promote it.`), { field: 'promoteAnyway' });
      await runAction(st, { actionType: 'PROMOTE', fromDeployId: from.id, description: f.elements.description.value.trim() }, `Promoted from ${sel.value}`);
    },
  });
}

// Fills list with the stage's earlier deploys to roll back to; pick(d, tr) marks the chosen one (the newest
// SUCCEEDED deploy at first).
async function loadRollbackTargets(st, list, pick) {
  const { info, current } = st;
  try {
    const res = await api.get('/v1/deploys', { envId: info.id, pageSize: 20 });
    const deploys = (res.deploys || []).filter(d => !current || d.id !== current.id);
    if (!deploys.length) { clear(list, h('p.muted.small', 'There is no earlier deploy of this stage.')); return; }
    const builds = await Promise.all(deploys.map(d => api.getBuild(d.buildId).catch(() => null)));
    clear(list, h('table.table.table-compact.pick', h('thead', h('tr', h('th', ''), h('th', 'Started'), h('th', 'Commit'), h('th', 'Type'), h('th', 'State'), h('th', 'Operator'))),
      h('tbody', deploys.map((d, i) => {
        const b = builds[i];
        const tr = h('tr', {
          tabindex: '0', dataset: { deploy: d.id },
          onclick: () => pick(d, tr), onkeydown: e => { if (e.key === 'Enter') { e.preventDefault(); pick(d, tr); } },
        }, h('td', h('input', { type: 'radio', name: 'toDeploy', tabindex: '-1' })), h('td', timeEl(d.startDate)),
        h('td', b ? h('code', b.commitShort) : h('span.muted', 'build deleted')), h('td', badge(d.type)), h('td', badge(d.state)), h('td', d.operator));
        return tr;
      }))));
    const firstGood = list.querySelector('tbody tr');
    const good = deploys.findIndex(d => d.state === 'SUCCEEDED');
    const rowsEl = list.querySelectorAll('tbody tr');
    if (good >= 0) pick(deploys[good], rowsEl[good]); else if (firstGood) pick(deploys[0], firstGood);
  } catch (e) { clear(list, errorBox(e)); }
}

// opts.reason prefills the reason (the home page's incident banner does).
export async function rollbackDialog(st, opts = {}) {
  const { env, stageName, current, build } = st;
  const list = h('div.pick-list', spinner('Loading deploys…'));
  let chosen = null;
  const body = h('div.form-grid',
    h('p', 'Rolls ', h('strong', `${env} / ${stageName}`), ' back to the build of an earlier deploy. Hosts keep the previous build on disk, so a rollback is fast.'),
    h('div.field', h('label', 'Roll back to'), list),
    descField('Reason (required)', true, opts.reason),
    current ? h('label.check', h('input', { type: 'checkbox', name: 'markBad', checked: true }),
      ' Mark the current build ', h('code', build ? build.commitShort : shortId(current.buildId)), ' BAD_BUILD (the reason becomes the tag comment)') : null);
  function pick(d, tr) {
    chosen = d;
    list.querySelectorAll('tbody tr').forEach(x => { x.classList.toggle('chosen', x === tr); x.querySelector('input').checked = x === tr; });
  }
  loadRollbackTargets(st, list, pick);
  openDialog({
    title: `Roll back ${env} / ${stageName}`, wide: true, body, confirmText: 'Roll back', danger: true,
    onConfirm: async f => {
      const reason = f.elements.description.value.trim();
      if (!chosen) throw Object.assign(new Error('Choose the deploy to return to.'), { field: 'toDeploy' });
      if (!reason) throw Object.assign(new Error('Say why you roll back.'), { field: 'description' });
      const bad = f.elements.markBad && f.elements.markBad.checked && current && current.buildId !== chosen.buildId ? current.buildId : null;
      await runAction(st, { actionType: 'ROLLBACK', toDeployId: chosen.id, description: reason }, 'Rollback started');
      if (bad) {
        try {
          await api.post('/v1/tags', { value: 'BAD_BUILD', targetType: 'BUILD', targetId: bad, comments: reason });
          toast('Marked the rolled-back build BAD_BUILD');
        } catch (e) { toast('Rolled back, but tagging the build failed: ' + e.message, 'bad'); }
      }
    },
  });
}

export function acceptDialog(st, d, accept) {
  openDialog({
    title: `${accept ? 'Accept' : 'Reject'} deploy ${shortId(d.id)}?`,
    body: h('div.form-grid', h('p', accept
      ? 'Marks the deploy ACCEPTED: an auto-promote pipeline may carry it to the next stage.'
      : 'Marks the deploy REJECTED: it will not be promoted, and the promote fail policy applies.'),
    descField('Comment (optional)')),
    confirmText: accept ? 'Accept deploy' : 'Reject deploy', danger: !accept,
    onConfirm: async f => {
      await api.put('/v1/deploys/' + api.enc(d.id), { acceptanceStatus: accept ? 'ACCEPTED' : 'REJECTED', description: f.elements.description.value.trim() });
      toast(accept ? 'Deploy accepted' : 'Deploy rejected');
      await st.refresh();
    },
  });
}

export function resetFailedDialog(st) {
  const { env, stageName, current, base } = st;
  if (!current) return;
  openDialog({
    title: `Reset the failed hosts of ${env} / ${stageName}?`,
    body: h('p', `Every host of this stage whose last result for deploy ${shortId(current.id)} failed (${fmtNum(st.failedCount)} now) clears its failure state and redeploys the current build from the start.`),
    confirmText: 'Reset failed hosts', danger: true,
    onConfirm: async () => {
      await api.put(`${base}/agents/reset_failed_agents/${api.enc(current.id)}`);
      toast('Failed hosts reset');
      await st.refresh();
    },
  });
}

export function hostAction(st, action, hosts) {
  hosts = hosts.filter(r => r.hostId);
  if (!hosts.length) return;
  const what = {
    PAUSED_BY_USER: ['Pause', 'The host gets no new goals of this stage and frees its rollout slot until resumed.'],
    NORMAL: ['Resume', 'The host takes part in deploys of this stage again.'],
    RESET: ['Reset', 'The agent clears its failure state and redeploys the current build from the start.'],
  }[action];
  const names = hosts.slice(0, 8).map(r => r.hostName).join(', ') + (hosts.length > 8 ? ` and ${hosts.length - 8} more` : '');
  openDialog({
    title: `${what[0]} ${hosts.length === 1 ? hosts[0].hostName : fmtNum(hosts.length) + ' hosts'}?`,
    body: h('div', h('p', what[1]), h('p.muted.small', 'Hosts: ', names)),
    confirmText: `${what[0]} ${hosts.length === 1 ? 'host' : fmtNum(hosts.length) + ' hosts'}`,
    danger: action !== 'NORMAL',
    onConfirm: async () => {
      await api.put(st.base + '/deploys/hostactions', hosts.map(r => r.hostId), { actionType: action });
      toast(`${what[0]}: ${hosts.length} host${hosts.length === 1 ? '' : 's'}`);
      st.grid.clearSelection();
      await st.refresh();
    },
  });
}
