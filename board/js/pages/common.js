// SPDX-License-Identifier: Apache-2.0
// board/js/pages/common.js: pieces shared by the stage pages: header with stage tabs, progress bar, recent list.
import * as api from '../api.js';
import { h, badge, link, icon } from '../ui.js';
import { navigate } from '../router.js';

const RECENT_KEY = 'slipway.recent';

export function recentList() {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(v) ? v.filter(r => r && r.env && r.stage) : [];
  } catch { return []; }
}

export function recordVisit(env, stage) {
  try {
    const list = recentList().filter(r => !(r.env === env && r.stage === stage));
    list.unshift({ env, stage, at: Date.now() });
    localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 8)));
  } catch { /* storage full or disabled */ }
}

// A deploy still moves while RUNNING or FAILING; SUCCEEDING counts as done (its duration is frozen at successDate).
export const deployMoving = d => d.state === 'RUNNING' || d.state === 'FAILING';
export const deployDone = d => d.state === 'SUCCEEDED' || d.state === 'SUCCEEDING';

// How long deploy d took (or runs so far, while it moves), in ms.
export function deployDuration(d) {
  const end = deployMoving(d) ? Date.now() : (d.successDate || d.lastUpdateDate);
  return end - d.startDate;
}

// A bar of succeeded (green) and failed (red) out of total.
export function progressBar(succeeded, total, failed = 0, opts = {}) {
  const pct = total > 0 ? Math.min(100, (100 * succeeded) / total) : (opts.emptyFull ? 100 : 0);
  const fpct = total > 0 ? Math.min(100 - pct, (100 * (failed || 0)) / total) : 0;
  return h(`div.progress${opts.large ? '.large' : ''}${opts.done ? '.done' : ''}`, {
    role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total || 0, 'aria-valuenow': succeeded || 0,
    'aria-label': `${succeeded || 0} of ${total || 0} hosts succeeded`,
  },
  h('div.progress-track', h('div.progress-ok', { style: { width: pct + '%' } }), h('div.progress-bad', { style: { width: fpct + '%' } })),
  h('span.progress-text', `${succeeded || 0} / ${total || 0}`));
}

// Stage types from the first to the last of a pipeline (a stage of no promote chain sorts by its type).
const TYPE_RANK = { DEV: 0, LATEST: 1, STAGING: 2, DEFAULT: 3, CANARY: 4, CONTROL: 5, PRODUCTION: 6 };

// stages in pipeline order: by their place in the promote chain (a stage comes after the stage its promote
// config's predStage names), then by stage type (DEV … PRODUCTION), then by name. preds: stageName → predStage.
export function pipelineOrder(stages, preds) {
  const known = new Set(stages.map(s => s.stageName));
  const depth = new Map();
  const depthOf = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    const p = preds.get(name);
    const d = p && known.has(p) && !seen.has(p) ? depthOf(p, seen.add(name)) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  const rank = s => TYPE_RANK[s.stageType] ?? TYPE_RANK.DEFAULT;
  return stages.slice().sort((a, b) => depthOf(a.stageName, new Set()) - depthOf(b.stageName, new Set())
    || rank(a) - rank(b) || a.stageName.localeCompare(b.stageName));
}

// The stages of env in pipeline order; each carries pipelinePred, the stage its promote config names as
// predStage (null when none, or BUILD).
export async function loadStages(env, signal) {
  const stages = await api.get('/v1/envs', { envName: env }, { signal });
  const promotes = stages.length < 2 ? [] : await Promise.all(stages.map(s =>
    api.get(api.stagePath(env, s.stageName) + '/promotes', null, { signal }).catch(e => { if (e.name === 'AbortError') throw e; return null; })));
  const preds = new Map();
  stages.forEach((s, i) => {
    const p = promotes[i] && promotes[i].predStage;
    s.pipelinePred = p && p !== 'BUILD' && p !== s.stageName && stages.some(x => x.stageName === p) ? p : null;
    s.pipelineFromBuild = p === 'BUILD';
    preds.set(s.stageName, s.pipelinePred);
  });
  return pipelineOrder(stages, preds);
}

// The stage before s in the pipeline: its promote config's predStage, else the stage listed before it (none when
// its builds come straight from BUILD).
export function stageBefore(stages, s) {
  if (s.pipelineFromBuild) return null;
  if (s.pipelinePred) return stages.find(x => x.stageName === s.pipelinePred) || null;
  const i = stages.findIndex(x => x.stageName === s.stageName);
  return i > 0 ? stages[i - 1] : null;
}

// Header of a stage page: breadcrumb, env title, stage tabs and the section tabs.
export function stageHeader({ env, stage, stages, section, stageInfo, actions }) {
  const sections = [['', 'Overview'], ['history', 'History'], ['config', 'Config']];
  const suffix = section ? '/' + section : '';
  const tabs = h('div.stage-tabs', { role: 'tablist', 'aria-label': 'Stages' },
    stages.map(s => h(`a.stage-tab${s.stageName === stage ? '.active' : ''}`, {
      href: `/env/${encodeURIComponent(env)}/${encodeURIComponent(s.stageName)}${suffix}`, 'data-link': true,
      role: 'tab', 'aria-selected': String(s.stageName === stage), tabindex: s.stageName === stage ? '0' : '-1',
      title: `${s.stageName} (${s.stageType})${s.envState !== 'NORMAL' ? ' — paused' : ''}`,
    }, s.stageName, s.envState !== 'NORMAL' ? h('span.tab-flag', icon('pause')) : null)));
  tabs.addEventListener('keydown', e => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const list = [...tabs.querySelectorAll('.stage-tab')];
    const i = list.indexOf(document.activeElement);
    const j = (Math.max(0, i) + (e.key === 'ArrowRight' ? 1 : list.length - 1)) % list.length;
    e.preventDefault();
    list[j].focus();
    navigate(new URL(list[j].href).pathname);
  });
  const base = `/env/${encodeURIComponent(env)}/${encodeURIComponent(stage)}`;
  return h('div.stage-head',
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, link('/', 'Environments'), h('span.sep', '/'), h('span', env)),
    h('div.stage-title',
      h('h1', env, h('span.stage-name', ' / ', stage)),
      stageInfo ? h('div.stage-badges', badge(stageInfo.stageType, 'plain'),
        stageInfo.envState !== 'NORMAL' ? badge('PAUSED', 'warn') : null,
        stageInfo.state === 'DISABLED' ? badge('PROMOTE DISABLED', 'bad') : null) : null,
      h('div.head-actions', actions || null)),
    tabs,
    h('nav.section-tabs', { 'aria-label': 'Stage sections' }, sections.map(([s, label]) =>
      h(`a${(section || '') === s ? '.active' : ''}`, { href: base + (s ? '/' + s : ''), 'data-link': true }, label))));
}
