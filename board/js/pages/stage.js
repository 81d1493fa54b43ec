// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage.js: the stage page: current deploy, progress, host grid (polled), and the deploy actions.
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtDuration, fmtNum, spinner, errorBox, emptyState, link, toast, openDialog, shortId, copyButton, fmtLocal, fmtUtc, icon, debounce } from '../ui.js';
import { navigate, canOperate, whenSessionKnown } from '../app.js';
import { stageHeader, progressBar, recordVisit } from './common.js';
import { createHostGrid, STAGES } from '../grid.js';

const POLL_MS = 4000;

export async function render(ctx) {
  const env = ctx.params.env;
  let stageName = ctx.params.stage;
  // The stage's own data is requested at once, alongside the env's stage list (one round trip less).
  let prefetched = stageName ? fetchStage(api.stagePath(env, stageName), ctx.signal) : null;
  const [stages] = await Promise.all([api.get('/v1/envs', { envName: env }, { signal: ctx.signal }), whenSessionKnown()]);
  if (!stages.length) {
    document.title = `${env} · Slipway`;
    clear(ctx.root, h('div.page', emptyState('No such environment', `There is no environment called “${env}”.`, link('/', 'Back to environments'))));
    return;
  }
  if (!stageName) {
    navigate(`/env/${encodeURIComponent(env)}/${encodeURIComponent(stages[0].stageName)}`, { replace: true });
    return;
  }
  let info = stages.find(s => s.stageName === stageName);
  if (!info) {
    clear(ctx.root, h('div.page', stageHeader({ env, stage: stageName, stages }),
      emptyState('No such stage', `Environment ${env} has no stage “${stageName}”.`)));
    return;
  }
  recordVisit(env, stageName);
  document.title = `${env} / ${stageName} · Slipway`;
  const base = api.stagePath(env, stageName);
  const operate = canOperate(env);

  // ---- state ----
  let current = null;   // Deploy or null
  let build = null;     // Build of the current deploy
  let progress = null;  // DeployProgress
  let timer = null, tick = null, stopped = false;
  let actionsKey = '';
  let failedCount = 0;

  // ---- layout ----
  const actionBar = h('div.action-bar');
  const deployCard = h('section.panel.deploy-card', { 'aria-label': 'Current deploy' }, spinner());
  const counts = h('div.stage-counts');
  const grid = createHostGrid({
    canAct: operate,
    onOpenHost: r => navigate('/hosts/' + encodeURIComponent(r.hostName)),
    onHostAction: hostAction,
  });
  const updated = h('span.muted.small.live', { 'data-role': 'last-refresh' });
  const resetFailedBtn = h('button.btn.btn-sm', { type: 'button', hidden: true, 'data-action': 'reset-failed', onclick: resetFailedDialog }, 'Reset failed hosts');
  const hostPanel = h('section.panel', { 'aria-label': 'Hosts' },
    h('div.panel-head', h('h2', 'Hosts'), h('div.head-actions', operate ? resetFailedBtn : null, updated)),
    grid.el);

  function renderShell() {
    clear(ctx.root, h('div.page.page-wide',
      stageHeader({ env, stage: stageName, stages, section: '', stageInfo: info, actions: actionBar }),
      deployCard,
      hostPanel));
  }
  renderShell();
  renderActions();

  // ---- actions ----
  function renderActions() {
    if (!operate) { clear(actionBar, h('span.muted.small', 'read-only access')); return; }
    const paused = info.envState !== 'NORMAL';
    // Rebuild only when something the buttons depend on changed (keeps keyboard focus across polls).
    const key = `${paused}|${!!current}|${stages.length}`;
    if (key === actionsKey && actionBar.childElementCount) return;
    actionsKey = key;
    clear(actionBar,
      h('button.btn.btn-primary', { type: 'button', onclick: deployDialog, 'data-action': 'deploy' }, 'Deploy'),
      stages.length > 1 ? h('button.btn', { type: 'button', onclick: promoteDialog, 'data-action': 'promote' }, 'Promote') : null,
      h('button.btn', { type: 'button', onclick: rollbackDialog, 'data-action': 'rollback' }, 'Rollback'),
      h('button.btn', { type: 'button', onclick: restartDialog, disabled: !current, 'data-action': 'restart' }, 'Restart'),
      paused
        ? h('button.btn.btn-warn', { type: 'button', onclick: () => pauseDialog(false), 'data-action': 'resume' }, icon('play'), 'Resume')
        : h('button.btn', { type: 'button', onclick: () => pauseDialog(true), 'data-action': 'pause' }, icon('pause'), 'Pause'));
  }

  async function runAction(params, okText) {
    const res = await api.post(base + '/deploys/current/actions', undefined, params);
    toast(okText);
    await refresh();
    return res;
  }

  function pauseDialog(pause) {
    const n = progress ? progress.agents.length : 0;
    openDialog({
      title: pause ? `Pause deploys on ${env} / ${stageName}?` : `Resume deploys on ${env} / ${stageName}?`,
      body: h('div', pause
        ? h('p', 'Hosts of this stage get no new deploy goals while it is paused, and the current deploy’s state is frozen. Hosts keep serving what they have (', fmtNum(n), ' host', n === 1 ? '' : 's', ').')
        : h('p', 'Hosts of this stage pick up their deploy goals again on their next ping, and the stuck timer of the current deploy restarts now.')),
      confirmText: pause ? 'Pause stage' : 'Resume stage',
      danger: pause,
      onConfirm: () => runAction({ actionType: pause ? 'PAUSE' : 'RESUME' }, pause ? 'Stage paused' : 'Stage resumed'),
    });
  }

  function restartDialog() {
    if (!current) return;
    openDialog({
      title: `Restart ${env} / ${stageName}?`,
      body: h('div', h('p', 'Starts a RESTART deploy of the current build ', h('code', build ? build.commitShort : shortId(current.buildId)),
        ': every host runs its restart scripts again, ', fmtNum(info.maxParallel || 1), ' at a time', info.maxParallelPct ? ` (${info.maxParallelPct} %)` : '', '. The current deploy is finalised.'),
      descField('Why restart? (optional)')),
      confirmText: 'Restart hosts', danger: true,
      onConfirm: f => runAction({ actionType: 'RESTART', description: f.elements.description.value.trim() }, 'Restart started'),
    });
  }

  function descField(label, required = false) {
    return h('div.field', h('label', { for: 'dlg-desc' }, label),
      h('input#dlg-desc', { name: 'description', autocomplete: 'off', maxlength: 2048, required }));
  }

  async function deployDialog() {
    const buildIn = h('input', { name: 'buildId', autocomplete: 'off', placeholder: 'build id', spellcheck: 'false', required: true });
    const preview = h('div.build-preview');
    const forceBox = h('input', { type: 'checkbox', name: 'force' });
    const forceRow = h('label.check.force-row', { hidden: true }, forceBox, ' Deploy anyway (force)');
    const list = h('div.pick-list', spinner('Loading builds…'));
    let chosen = null, tag = null;
    const branchSel = h('select', { name: 'branch', 'aria-label': 'Branch' }, h('option', { value: '' }, 'All branches'));
    const commitIn = h('input', { name: 'commit', autocomplete: 'off', spellcheck: 'false', placeholder: 'commit (prefix)', 'aria-label': 'Commit' });
    const body = h('div.form-grid',
      h('p', 'Deploy a build of ', h('code', info.buildName), ' to ', h('strong', `${env} / ${stageName}`), '. Pick one of the recent builds (narrow them by branch or commit) or paste a build id.'),
      h('div.field', h('label', 'Recent builds'), h('div.inline.pick-filters', branchSel, commitIn), list),
      h('div.field', h('label', { for: 'dlg-build' }, 'Build id'), Object.assign(buildIn, { id: 'dlg-build' })),
      preview, forceRow,
      descField('Description (optional)'));
    api.get(`/v1/builds/names/${api.enc(info.buildName)}/branches`).then(names => {
      names.forEach(n => branchSel.append(h('option', { value: n }, n)));
    }).catch(() => {});
    let listSeq = 0;
    // Builds of the build name, by branch; a commit of 7+ characters asks the server (it matches the first 7),
    // a shorter one filters what is shown.
    async function loadList() {
      const my = ++listSeq;
      const commit = commitIn.value.trim();
      clear(list, spinner('Loading builds…'));
      try {
        let builds = commit.length >= 7
          ? await api.get('/v1/builds', { name: info.buildName, commit })
          : await api.get('/v1/builds', { name: info.buildName, branch: branchSel.value, pageSize: 50 });
        if (my !== listSeq) return;
        if (branchSel.value) builds = builds.filter(b => b.branch === branchSel.value);
        if (commit) builds = builds.filter(b => b.commit.startsWith(commit));
        builds = builds.slice(0, 50);
        if (!builds.length) {
          clear(list, h('p.muted.small', commit || branchSel.value ? 'No build matches.' : `No build named ${info.buildName} was published yet.`));
          return;
        }
        clear(list, h('table.table.table-compact.pick', h('thead', h('tr', h('th', ''), h('th', 'Commit'), h('th', 'Branch'), h('th', 'Published'), h('th', 'Publisher'))),
          h('tbody', builds.map(b => h('tr', {
            tabindex: '0', dataset: { build: b.id }, class: [current && current.buildId === b.id ? 'is-current' : '', b.id === buildIn.value.trim() ? 'chosen' : ''].join(' ').trim(),
            onclick: () => { buildIn.value = b.id; choose(); },
            onkeydown: e => { if (e.key === 'Enter') { e.preventDefault(); buildIn.value = b.id; choose(); } },
          }, h('td', h('input', { type: 'radio', name: 'pick', tabindex: '-1', checked: b.id === buildIn.value.trim() })), h('td', h('code', { title: b.commit }, b.commitShort)),
          h('td', b.branch), h('td', timeEl(b.publishDate)), h('td', b.publisher))))));
      } catch (e) {
        if (my === listSeq) clear(list, errorBox(e));
      }
    }
    branchSel.addEventListener('change', loadList);
    commitIn.addEventListener('input', debounce(loadList, 250));
    commitIn.addEventListener('keydown', e => { if (e.key === 'Enter') e.preventDefault(); });
    loadList();
    let seq = 0;
    async function choose() {
      const id = buildIn.value.trim();
      const my = ++seq;
      chosen = null; tag = null;
      forceRow.hidden = true;
      list.querySelectorAll('tr[data-build]').forEach(tr => {
        tr.classList.toggle('chosen', tr.dataset.build === id);
        const r = tr.querySelector('input[type=radio]');
        if (r) r.checked = tr.dataset.build === id;
      });
      if (!id) { clear(preview); return; }
      clear(preview, spinner('Checking build…'));
      try {
        const b = await api.getBuild(id);
        if (my !== seq) return;
        if (!b) { clear(preview, h('div.warnbox', 'No build with this id.')); return; }
        chosen = b;
        const [t, pred] = await Promise.all([
          api.get(`/v1/builds/${api.enc(id)}/tags`).catch(() => null),
          predecessor().catch(() => null)]);
        tag = t && t.tag;
        // Was the build ever deployed on the predecessor stage?
        const onPred = pred ? await api.get('/v1/deploys', { envId: pred.id, buildId: id, pageSize: 1 }).then(r => r.total ?? (r.deploys || []).length).catch(() => null) : null;
        if (my !== seq) return;
        clear(preview, h('div.build-summary', h('div', h('code', b.commitShort), ' ', b.repo, ' @ ', b.branch, ' · published ', timeEl(b.publishDate), ' by ', b.publisher),
          b.name !== info.buildName ? h('div.warnbox', `This build is named ${b.name}, but the stage deploys ${info.buildName}: the server will refuse it.`) : null,
          tag && tag.value === 'BAD_BUILD' ? h('div.warnbox.bad', { 'data-role': 'bad-build' }, h('strong', 'Tagged BAD_BUILD'),
            tag.comments ? ` — “${tag.comments}”` : '', ` by ${tag.operator || 'unknown'} `, timeEl(tag.createdDate), '. The server refuses it unless you force the deploy.') : null,
          tag && tag.value !== 'BAD_BUILD' ? h('div', badge(tag.value)) : null,
          pred && onPred === 0 ? h('div.warnbox', { 'data-role': 'not-on-pred' }, 'This build was never deployed on ', h('strong', pred.stageName),
            ', the stage before this one. Consider deploying it there first.') : null));
        forceRow.hidden = !(tag && tag.value === 'BAD_BUILD');
      } catch (e) {
        if (my === seq) clear(preview, errorBox(e));
      }
    }
    // The predecessor stage: the promote config's predStage when it names a stage, else the stage listed
    // before this one (none for the first stage, or when builds come straight from BUILD).
    let predP = null;
    function predecessor() {
      if (!predP) {
        predP = api.get(base + '/promotes').catch(() => null).then(p => {
          if (p && p.predStage === 'BUILD') return null;
          if (p && p.predStage) return stages.find(s => s.stageName === p.predStage) || null;
          const i = stages.findIndex(s => s.stageName === stageName);
          return i > 0 ? stages[i - 1] : null;
        });
      }
      return predP;
    }
    buildIn.addEventListener('change', choose);
    buildIn.addEventListener('input', () => { if (/^[A-Za-z0-9_-]{23,30}$/.test(buildIn.value.trim())) choose(); });
    openDialog({
      title: `Deploy to ${env} / ${stageName}`, wide: true, body, confirmText: 'Deploy',
      onConfirm: async f => {
        const id = buildIn.value.trim();
        if (!id) throw Object.assign(new Error('Choose a build.'), { field: 'buildId' });
        if (!chosen || chosen.id !== id) await choose();
        if (!chosen) throw Object.assign(new Error('No build with this id.'), { field: 'buildId' });
        if (tag && tag.value === 'BAD_BUILD' && !forceBox.checked) throw Object.assign(new Error('This build is tagged BAD_BUILD: tick “Deploy anyway” to force it.'), { field: 'force' });
        const d = await api.post(base + '/deploys', undefined, {
          buildId: id, description: f.elements.description.value.trim(), force: forceBox.checked ? 'true' : undefined,
        });
        toast(`Deploy ${shortId(d && d.id)} started`);
        await refresh();
      },
    });
  }

  async function promoteDialog() {
    const others = stages.filter(s => s.stageName !== stageName);
    const sel = h('select', { name: 'fromStage', required: true }, others.map(s => h('option', { value: s.stageName }, s.stageName)));
    const preview = h('div.build-preview');
    let from = null;
    async function load() {
      from = null;
      clear(preview, spinner());
      try {
        const d = await api.get(api.stagePath(env, sel.value) + '/deploys/current');
        const b = await api.getBuild(d.buildId);
        from = d;
        clear(preview, h('div.build-summary', h('div', 'Current deploy of ', h('strong', sel.value), ': ', badge(d.state), ' ',
          b ? [h('code', b.commitShort), ` ${b.branch} · published `, timeEl(b.publishDate)] : h('code', d.buildId))));
      } catch (e) {
        clear(preview, e.status === 404 ? h('div.warnbox', `${sel.value} has no deploy to promote.`) : errorBox(e));
      }
    }
    sel.addEventListener('change', load);
    const predDefault = others.find(s => stages.indexOf(s) < stages.indexOf(info)) || others[0];
    if (predDefault) sel.value = predDefault.stageName;
    load();
    openDialog({
      title: `Promote to ${env} / ${stageName}`,
      body: h('div.form-grid', h('p', 'Deploys to this stage the build that another stage of ', h('strong', env), ' runs now.'),
        h('div.field', h('label', 'From stage'), sel), preview, descField('Description (optional)')),
      confirmText: 'Promote',
      onConfirm: async f => {
        if (!from) throw Object.assign(new Error('The source stage has no deploy to promote.'), { field: 'fromStage' });
        await runAction({ actionType: 'PROMOTE', fromDeployId: from.id, description: f.elements.description.value.trim() }, `Promoted from ${sel.value}`);
      },
    });
  }

  async function rollbackDialog() {
    const list = h('div.pick-list', spinner('Loading deploys…'));
    let chosen = null;
    const body = h('div.form-grid',
      h('p', 'Rolls ', h('strong', `${env} / ${stageName}`), ' back to the build of an earlier deploy. Hosts keep the previous build on disk, so a rollback is fast.'),
      h('div.field', h('label', 'Roll back to'), list),
      descField('Reason (required)', true),
      current ? h('label.check', h('input', { type: 'checkbox', name: 'markBad', checked: true }),
        ' Mark the current build ', h('code', build ? build.commitShort : shortId(current.buildId)), ' BAD_BUILD (the reason becomes the tag comment)') : null);
    (async () => {
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
    })();
    function pick(d, tr) {
      chosen = d;
      list.querySelectorAll('tbody tr').forEach(x => { x.classList.toggle('chosen', x === tr); x.querySelector('input').checked = x === tr; });
    }
    openDialog({
      title: `Roll back ${env} / ${stageName}`, wide: true, body, confirmText: 'Roll back', danger: true,
      onConfirm: async f => {
        const reason = f.elements.description.value.trim();
        if (!chosen) throw Object.assign(new Error('Choose the deploy to return to.'), { field: 'toDeploy' });
        if (!reason) throw Object.assign(new Error('Say why you roll back.'), { field: 'description' });
        const bad = f.elements.markBad && f.elements.markBad.checked && current && current.buildId !== chosen.buildId ? current.buildId : null;
        await runAction({ actionType: 'ROLLBACK', toDeployId: chosen.id, description: reason }, 'Rollback started');
        if (bad) {
          try {
            await api.post('/v1/tags', { value: 'BAD_BUILD', targetType: 'BUILD', targetId: bad, comments: reason });
            toast('Marked the rolled-back build BAD_BUILD');
          } catch (e) { toast('Rolled back, but tagging the build failed: ' + e.message, 'bad'); }
        }
      },
    });
  }

  function acceptDialog(d, accept) {
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
        await refresh();
      },
    });
  }

  function resetFailedDialog() {
    if (!current) return;
    openDialog({
      title: `Reset the failed hosts of ${env} / ${stageName}?`,
      body: h('p', `Every host of this stage whose last result for deploy ${shortId(current.id)} failed (${fmtNum(failedCount)} now) clears its failure state and redeploys the current build from the start.`),
      confirmText: 'Reset failed hosts', danger: true,
      onConfirm: async () => {
        await api.put(`${base}/agents/reset_failed_agents/${api.enc(current.id)}`);
        toast('Failed hosts reset');
        await refresh();
      },
    });
  }

  function hostAction(action, hosts) {
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
        await api.put(base + '/deploys/hostactions', hosts.map(r => r.hostId), { actionType: action });
        toast(`${what[0]}: ${hosts.length} host${hosts.length === 1 ? '' : 's'}`);
        grid.clearSelection();
        await refresh();
      },
    });
  }

  // ---- rendering of the deploy card ----
  function renderDeployCard() {
    if (!current) {
      clear(deployCard, h('div.panel-body', emptyState('No deploy yet', `Nothing was ever deployed to ${env} / ${stageName}.`,
        operate ? h('button.btn.btn-primary', { type: 'button', onclick: deployDialog }, 'Deploy a build') : null)));
      clear(counts);
      return;
    }
    const d = current;
    const active = ['RUNNING', 'FAILING', 'SUCCEEDING'].includes(d.state);
    const end = active ? Date.now() : (d.successDate || d.lastUpdateDate);
    const elapsed = h('span', { 'data-role': 'elapsed' }, fmtDuration(end - d.startDate));
    const b = build;
    const fields = [
      ['Build', b ? h('span', h('code', { title: b.id }, b.commitShort || shortId(b.id)), ' ', link('/builds/' + encodeURIComponent(b.name) + '?build=' + encodeURIComponent(b.id), b.name), copyButton(b.id)) : h('code', d.buildId)],
      ['Commit', b ? (b.commitInfo && /^https?:\/\//.test(b.commitInfo) ? h('a', { href: b.commitInfo, target: '_blank', rel: 'noopener' }, h('code', b.commit)) : h('code', b.commit)) : '—'],
      ['Branch', b ? b.branch : '—'],
      ['Repo', b ? b.repo : '—'],
      ['Type', badge(d.type)],
      ['Acceptance', h('span', badge(d.acceptanceStatus), d.acceptanceStatus === 'OUTSTANDING' && operate ? [' ',
        h('button.btn.btn-xs', { type: 'button', 'data-action': 'accept', onclick: () => acceptDialog(d, true) }, 'Accept'),
        h('button.btn.btn-xs', { type: 'button', 'data-action': 'reject', onclick: () => acceptDialog(d, false) }, 'Reject')] : null)],
      ['Operator', d.operator || '—'],
      ['Started', timeEl(d.startDate, true)],
      [active ? 'Elapsed' : 'Took', elapsed],
      ['Last progress', timeEl(d.lastUpdateDate, true)],
    ];
    if (!progress) clear(counts, h('h3', 'Hosts per deploy stage'), spinner('Loading hosts…'));
    const agents = progress ? progress.agents : [];
    const stageCounts = {};
    let onOther = 0;
    for (const a of agents) {
      if (a.deployId !== d.id) { onOther++; continue; }
      stageCounts[a.deployStage] = (stageCounts[a.deployStage] || 0) + 1;
    }
    const shownStages = STAGES.filter(s => s !== 'STOPPING' && s !== 'STOPPED' || stageCounts[s]);
    const maxCount = Math.max(1, ...Object.values(stageCounts), onOther);
    if (progress) clear(counts,
      h('h3', 'Hosts per deploy stage'),
      h('div.stage-bars', shownStages.map(s => h('div.stage-bar', { dataset: { stage: s } },
        h('span.sb-label', s.replaceAll('_', ' ').toLowerCase()),
        h('span.sb-track', h('span.sb-fill', { class: s === 'SERVING_BUILD' ? 'sb-ok' : '', style: { width: (100 * (stageCounts[s] || 0)) / maxCount + '%' } })),
        h('span.sb-count', fmtNum(stageCounts[s] || 0)))),
      onOther ? h('div.stage-bar', h('span.sb-label', 'other deploy'), h('span.sb-track', h('span.sb-fill.sb-old', { style: { width: (100 * onOther) / maxCount + '%' } })), h('span.sb-count', fmtNum(onOther))) : null));
    clear(deployCard,
      h('div.panel-head',
        h('h2', 'Current deploy ', h('span.muted.mono.small', { title: d.id }, shortId(d.id))),
        h('div.head-badges', badge(d.state), info.envState !== 'NORMAL' ? badge('PAUSED', 'warn') : null)),
      h('div.deploy-grid',
        h('div.deploy-main',
          h('div.deploy-progress',
            progressBar(d.successTotal, d.total, d.failTotal, { large: true, emptyFull: d.state === 'SUCCEEDED' || d.state === 'SUCCEEDING' }),
            h('div.progress-legend',
              h('span', h('strong', fmtNum(d.successTotal)), ' succeeded'),
              h('span', h('strong', fmtNum(d.failTotal)), ' failed'),
              h('span', h('strong', fmtNum(d.total)), ' total'),
              h('span.muted', `success threshold ${(info.successThreshold / 100).toFixed(info.successThreshold % 100 ? 2 : 0)} %`))),
          h('dl.kv-grid', fields.map(([k, v]) => h('div', h('dt', k), h('dd', v)))),
          d.description ? h('p.deploy-desc', '“', d.description, '”') : null),
        counts));
    clearInterval(tick);
    if (active) tick = setInterval(() => { elapsed.textContent = fmtDuration(Date.now() - d.startDate); }, 1000);
  }

  // ---- polling ----
  let inFlight = false;
  async function refresh() {
    if (inFlight || stopped) return;
    inFlight = true;
    try {
      const f = prefetched || fetchStage(base, ctx.signal);
      prefetched = null;
      const [envNow, dep, depBuild] = await Promise.all([f.envP, f.depP, f.buildP]);
      if (stopped) return;
      const pausedChanged = envNow.envState !== info.envState;
      info = envNow;
      const idx = stages.findIndex(s => s.stageName === stageName);
      if (idx >= 0) stages[idx] = envNow;
      current = dep;
      build = depBuild;
      if (!progress) {
        // First load: the deploy's summary (state, succeeded / total) shows before the host list arrives.
        if (pausedChanged) renderShell();
        renderActions();
        renderDeployCard();
        performance.mark('slipway:deploy-summary');
      }
      const prog = await f.progP;
      if (stopped) return;
      if (prog) progress = prog;
      else {
        // No deploy yet: the agents list still shows the hosts of the stage.
        const agents = await api.get(base + '/agents', null, { signal: ctx.signal }).catch(() => []);
        progress = { agents, missingHosts: [], removedHosts: [] };
      }
      if (pausedChanged) renderShell();
      renderActions();
      renderDeployCard();
      const hostCounts = grid.update(progress.agents || [], progress.missingHosts || [], current && current.id, progress.removedHosts);
      failedCount = (hostCounts.failed || 0) + (hostCounts.retrying || 0);
      resetFailedBtn.hidden = !current || failedCount === 0;
      updated.textContent = 'updated ' + fmtLocal(Date.now(), true);
      updated.title = 'refreshes every few seconds · ' + fmtUtc(Date.now());
      updated.classList.remove('stale');
    } catch (e) {
      if (e.name === 'AbortError') return;
      updated.textContent = 'update failed: ' + e.message;
      updated.classList.add('stale');
      if (!current && !progress) clear(deployCard, errorBox(e, refresh));
    } finally {
      inFlight = false;
    }
  }

  await refresh();
  const schedule = () => {
    const big = progress && progress.agents && progress.agents.length > 3000;
    timer = setTimeout(async () => { if (!document.hidden) await refresh(); if (!stopped) schedule(); }, big ? POLL_MS * 2 : POLL_MS);
  };
  schedule();
  return () => { stopped = true; clearTimeout(timer); clearInterval(tick); grid.destroy(); };
}

// The requests of one refresh of the stage page: the stage, its current deploy and the deploy's build (the
// summary), and the progress (the whole host list: 4 MB for 10,000 hosts) at the same time — the server writes
// the host list straight from its rows (about 0.1 s for 10,000 hosts), so it no longer needs to wait for the
// small requests. Each promise is marked handled so that a page left early leaves no unhandled rejection behind.
function fetchStage(base, signal) {
  const orNull = e => { if (e.status === 404) return null; throw e; };
  const envP = api.get(base, null, { signal });
  const depP = api.get(base + '/deploys/current', null, { signal }).catch(orNull);
  const buildP = depP.then(d => (d ? api.getBuild(d.buildId).catch(() => null) : null), () => null);
  const f = {
    envP, depP, buildP,
    progP: api.request('PUT', base + '/deploys/current/progress', { signal }).catch(orNull),
  };
  Object.values(f).forEach(p => p.catch(() => {}));
  return f;
}
