// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage.js: the stage page: current deploy (stage-card.js), host grid (read a page at a time by
// stage-hosts.js, polled), and the deploy actions (stage-deploy.js, stage-actions.js). The parts share one state
// object, st.
import * as api from '../api.js';
import { h, clear, fmtTime, fmtLocalFull, spinner, errorBox, emptyState, link, icon } from '../ui.js';
import { navigate } from '../router.js';
import { canOperate, whenSessionKnown } from '../session.js';
import { stageHeader, recordVisit, loadStages } from './common.js';
import { createHostGrid, classCounts } from '../grid.js';
import { renderDeployCard } from './stage-card.js';
import { renderErrors } from './stage-errors.js';
import { deployDialog } from './stage-deploy.js';
import { pauseDialog, restartDialog, promoteDialog, rollbackDialog, resetFailedDialog, hostAction } from './stage-actions.js';
import { zoneStrip } from './zones.js';
import { hostPager, hostPage, PAGE } from './stage-hosts.js';

const POLL_MS = 4000;

// The env's stages and the stage's entry, or null when the page showed why there is nothing to render.
async function findStage(ctx, prefetchedStage) {
  const env = ctx.params.env, stageName = ctx.params.stage;
  const [stages] = await Promise.all([loadStages(env, ctx.signal), whenSessionKnown()]);
  if (!stages.length) {
    document.title = `${env} · Slipway`;
    clear(ctx.root, h('div.page', emptyState('No such environment', `There is no environment called “${env}”.`, link('/', 'Back to environments'))));
    return null;
  }
  if (!stageName) {
    navigate(`/env/${encodeURIComponent(env)}/${encodeURIComponent(stages[0].stageName)}`, { replace: true });
    return null;
  }
  const info = stages.find(s => s.stageName === stageName);
  if (!info) {
    clear(ctx.root, h('div.page', stageHeader({ env, stage: stageName, stages }),
      emptyState('No such stage', `Environment ${env} has no stage “${stageName}”.`)));
    return null;
  }
  return { stages, info, prefetched: prefetchedStage };
}

// The action bar; rebuilt only when something the buttons depend on changed (keeps keyboard focus across polls).
function renderActions(st, actionBar) {
  if (!st.operate) { clear(actionBar, h('span.muted.small', 'read-only access')); return; }
  const paused = st.info.envState !== 'NORMAL';
  const key = `${paused}|${!!st.current}|${st.stages.length}`;
  if (key === st.actionsKey && actionBar.childElementCount) return;
  st.actionsKey = key;
  clear(actionBar,
    h('button.btn.btn-primary', { type: 'button', onclick: () => deployDialog(st), 'data-action': 'deploy' }, 'Deploy'),
    st.stages.length > 1 ? h('button.btn', { type: 'button', onclick: () => promoteDialog(st), 'data-action': 'promote' }, 'Promote') : null,
    h('button.btn', { type: 'button', onclick: () => rollbackDialog(st), 'data-action': 'rollback' }, 'Rollback'),
    h('button.btn', { type: 'button', onclick: () => restartDialog(st), disabled: !st.current, 'data-action': 'restart' }, 'Restart'),
    paused
      ? h('button.btn.btn-warn', { type: 'button', onclick: () => pauseDialog(st, false), 'data-action': 'resume' }, icon('play'), 'Resume')
      : h('button.btn', { type: 'button', onclick: () => pauseDialog(st, true), 'data-action': 'pause' }, icon('pause'), 'Pause'));
}

// One refresh: the stage, its current deploy and build first (the summary shows), then the hosts: on the first
// load page after page (the grid shows the first page at once), on a poll the pages in view (stage-hosts.js).
async function refreshOnce(st, ctx, ui) {
  const f = st.prefetched || fetchStage(st.base, ctx.signal);
  st.prefetched = null;
  const [envNow, dep, depBuild] = await Promise.all([f.envP, f.depP, f.buildP]);
  if (st.stopped) return;
  const pausedChanged = envNow.envState !== st.info.envState;
  st.info = envNow;
  const idx = st.stages.findIndex(s => s.stageName === st.stageName);
  if (idx >= 0) st.stages[idx] = envNow;
  st.current = dep;
  st.build = depBuild;
  if (pausedChanged) ui.renderShell();
  if (!st.hosts) {
    // First load: the deploy's summary (state, succeeded / total) shows before the host list arrives.
    ui.renderParts();
    performance.mark('slipway:deploy-summary');
  }
  const missing = await f.missingP;
  if (st.stopped) return;
  st.missing = (dep && missing) || [];
  // The stage's counts (the server keeps them: one small read at any stage size), requested with the refresh's
  // other requests: the deploy card's succeeded / total move with them, and the grid's counts when not every host
  // is loaded. The first page of hosts is not held back for them.
  const summaryIn = f.summaryP.then(summary => { if (!st.stopped) st.summary = summary; });
  if (!st.hosts) {
    // first load: the first page shows at once, while the next pages load
    await st.pager.loadInitial(ctx.signal, () => showHosts(st, ui, true), f.firstPageP);
  } else {
    await st.pager.refresh(ctx.signal, st.grid.visibleHosts());
  }
  await summaryIn;
  if (st.stopped) return;
  showHosts(st, ui);
  await st.strip.update(st.base, st.current && st.current.id, ctx.signal).catch(() => {});
  await renderErrors(st, ui.errors, ctx.signal);
  ui.updated.textContent = 'updated ' + fmtTime(Date.now(), true);
  ui.updated.title = 'refreshes every few seconds · ' + fmtLocalFull(Date.now());
  ui.updated.classList.remove('stale');
}

// The loaded hosts into the card's counts and the grid (loading: the first page, the next ones are on their way). When they are not every host of the stage, the counts of
// the whole stage come from its summary (…/agents/summary: one small answer at any stage size).
function showHosts(st, ui, loading = false) {
  const { pager, summary } = st;
  const d = st.current;
  const all = pager.complete && !pager.failing;
  const whole = !all && summary ? summary : null;
  st.hosts = { agents: pager.rows(), complete: all, summary: whole };
  ui.renderParts();
  const stageCounts = whole ? classCounts(whole, d && d.id) : null;
  const hostCounts = st.grid.update(st.hosts.agents, st.missing, d && d.id, null,
    { complete: pager.complete, total: whole ? whole.total : null, stageCounts, failingOnly: pager.failing, loading });
  const counts = stageCounts || hostCounts;
  st.failedCount = (counts.failed || 0) + (counts.retrying || 0);
  ui.resetFailedBtn.hidden = !d || st.failedCount === 0;
}

export async function render(ctx) {
  const env = ctx.params.env;
  // The stage's own data is requested at once, alongside the env's stage list (one round trip less).
  const found = await findStage(ctx, ctx.params.stage ? fetchStage(api.stagePath(env, ctx.params.stage), ctx.signal, true) : null);
  if (!found) return;
  const stageName = ctx.params.stage;
  recordVisit(env, stageName);
  document.title = `${env} / ${stageName} · Slipway`;
  const st = {
    env, stageName, stages: found.stages, info: found.info, base: api.stagePath(env, stageName), operate: canOperate(env),
    current: null, build: null, hosts: null, missing: [], summary: null, allHosts: null, failedCount: 0, actionsKey: '', tick: null, stopped: false,
    prefetched: found.prefetched, grid: null, refresh: null, strip: zoneStrip(), pager: null,
  };
  st.pager = st.allHosts = hostPager(st.base);
  const actionBar = h('div.action-bar');
  const deployCard = h('section.panel.deploy-card', { 'aria-label': 'Current deploy' }, spinner());
  const counts = h('div.stage-counts');
  st.grid = createHostGrid({
    canAct: st.operate,
    onOpenHost: r => navigate('/hosts/' + encodeURIComponent(r.hostName)),
    onHostAction: (action, hosts) => hostAction(st, action, hosts),
    // the next page of a stage larger than what is loaded (scrolling to the table's end, or "Load more")
    onMore: async () => {
      const more = await st.pager.loadMore(ctx.signal).catch(() => false);
      if (more && !st.stopped) showHosts(st, ui);
    },
    // "Failing only" on a stage larger than what is loaded: the failing hosts of the whole stage, from the server;
    // the loaded hosts stay shown until they are in.
    onFailing: async on => {
      const pager = on ? hostPager(st.base, { failing: true }) : st.allHosts;
      if (on) await pager.loadInitial(ctx.signal, null).catch(() => {});
      if (st.stopped) return;
      st.pager = pager;
      showHosts(st, ui);
    },
  });
  const ui = {
    updated: h('span.muted.small.live', { 'data-role': 'last-refresh' }),
    errors: h('section.panel.errors-panel', { 'aria-label': 'Failing hosts by error', 'data-role': 'errors', hidden: true }),
    resetFailedBtn: h('button.btn.btn-sm', { type: 'button', hidden: true, 'data-action': 'reset-failed', onclick: () => resetFailedDialog(st) }, 'Reset failed hosts'),
    renderShell() {
      clear(ctx.root, h('div.page.page-wide',
        stageHeader({ env, stage: stageName, stages: st.stages, section: '', stageInfo: st.info, actions: actionBar }),
        deployCard, st.strip.el, ui.errors, hostPanel));
    },
    renderParts() { renderActions(st, actionBar); renderDeployCard(st, deployCard, counts); },
  };
  const hostPanel = h('section.panel', { 'aria-label': 'Hosts' },
    h('div.panel-head', h('h2', 'Hosts'), h('div.head-actions', st.operate ? ui.resetFailedBtn : null, ui.updated)),
    st.grid.el);
  ui.renderShell();
  renderActions(st, actionBar);

  let inFlight = false;
  st.refresh = async () => {
    if (inFlight || st.stopped) return;
    inFlight = true;
    try {
      await refreshOnce(st, ctx, ui);
    } catch (e) {
      if (e.name === 'AbortError') return;
      ui.updated.textContent = 'update failed: ' + e.message;
      ui.updated.classList.add('stale');
      if (!st.current && !st.hosts) clear(deployCard, errorBox(e, st.refresh));
    } finally {
      inFlight = false;
    }
  };
  await st.refresh();
  let timer = null;
  const schedule = () => {
    const big = st.hosts && (st.hosts.agents.length > 3000 || !st.hosts.complete);
    timer = setTimeout(async () => { if (!document.hidden) await st.refresh(); if (!st.stopped) schedule(); }, big ? POLL_MS * 2 : POLL_MS);
  };
  schedule();
  return () => { st.stopped = true; clearTimeout(timer); clearInterval(st.tick); st.grid.destroy(); };
}

// The stage's counts by deploy step, state and result, or null when they cannot be had (the page goes on without).
const stageSummary = (base, signal) =>
  api.get(base + '/agents/summary', null, { signal }).catch(e => { if (e.name === 'AbortError') throw e; return null; });

// The requests of one refresh of the stage page: the stage, its current deploy and the deploy's build (the
// summary), and the deploy's never-pinged hosts (the stage's HOST capacity names without a heartbeat: as many as
// that list, not the stage's hosts); the hosts themselves come in pages (stage-hosts.js), the first one requested
// here with the others on the page's first load. Each promise is marked
// handled so that a page left early leaves no unhandled rejection behind.
function fetchStage(base, signal, first = false) {
  const orNull = e => { if (e.status === 404) return null; throw e; };
  const envP = api.get(base, null, { signal });
  const depP = api.get(base + '/deploys/current', null, { signal }).catch(orNull);
  const buildP = depP.then(d => (d ? api.getBuild(d.buildId).catch(() => null) : null), () => null);
  const missingP = api.get(base + '/deploys/current/missing-hosts', null, { signal }).catch(orNull);
  const summaryP = stageSummary(base, signal);
  const f = { envP, depP, buildP, missingP, summaryP, firstPageP: first ? hostPage(base, null, PAGE, signal) : null };
  Object.values(f).forEach(p => p && p.catch(() => {}));
  return f;
}
