// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-card.js: the stage page's current-deploy card: build, commit, state, acceptance,
// progress and the hosts per deploy stage. st is the stage page's state (stage.js).
import { h, clear, badge, timeEl, fmtDuration, fmtNum, spinner, emptyState, link, shortId, copyButton } from '../ui.js';
import * as api from '../api.js';
import { progressBar, deployMoving, deployDone, deployDuration } from './common.js';
import { compareUrl } from './history.js';
import { STAGES } from '../grid.js';
import { deployDialog } from './stage-deploy.js';
import { acceptDialog } from './stage-actions.js';
import { analysisPanel } from './stage-analysis.js';

// What changed: the stage's previous deploy's build → this build, with the repository compare link (fetched once
// per deploy, then kept in st.change).
function whatChanged(st, d) {
  const el = h('span', { 'data-role': 'what-changed' }, h('span.muted', '…'));
  if (!st.change || st.change.id !== d.id) {
    st.change = { id: d.id, p: api.get('/v1/deploys', { envId: d.envId, before: d.startDate - 1, pageSize: 1 })
      .then(async r => { const prev = r.deploys && r.deploys[0]; return prev ? { prev, b: await api.getBuild(prev.buildId).catch(() => null) } : null; })
      .catch(() => undefined) };
  }
  st.change.p.then(c => {
    const b = st.build;
    if (c === undefined) { clear(el, '—'); return; }
    if (!c) { clear(el, h('span.muted', 'first deploy of this stage')); return; }
    const url = c.b && b && c.b.commit !== b.commit ? compareUrl(c.b, b) : null;
    clear(el, link('/deploys/' + encodeURIComponent(c.prev.id), h('code', c.b ? c.b.commitShort : shortId(c.prev.buildId))), ' → ',
      h('code', b ? b.commitShort : shortId(d.buildId)), c.b && b && c.b.commit === b.commit ? h('span.muted', ' (same commit)') : null,
      url ? [' ', h('a', { href: url, target: '_blank', rel: 'noopener', 'data-role': 'compare-link' }, 'compare ↗')] : null);
  });
  return el;
}

function deployFields(st, d, active, elapsed) {
  const b = st.build;
  return [
    ['Build', b ? h('span', h('code', { title: b.id }, b.commitShort || shortId(b.id)), ' ', link('/builds/' + encodeURIComponent(b.name) + '?build=' + encodeURIComponent(b.id), b.name), copyButton(b.id)) : h('code', d.buildId)],
    ['Commit', b ? (b.commitInfo && /^https?:\/\//.test(b.commitInfo) ? h('a', { href: b.commitInfo, target: '_blank', rel: 'noopener' }, h('code', b.commit)) : h('code', b.commit)) : '—'],
    ['Changed', whatChanged(st, d)],
    ['Branch', b ? b.branch : '—'],
    ['Repo', b ? b.repo : '—'],
    ['Type', badge(d.type)],
    ['Details', h('a', { href: '/deploys/' + encodeURIComponent(d.id), 'data-link': true, 'data-role': 'deploy-page' }, 'deploy page →')],
    ['Acceptance', h('span', badge(d.acceptanceStatus), d.acceptanceStatus === 'OUTSTANDING' && st.operate ? [' ',
      h('button.btn.btn-xs', { type: 'button', 'data-action': 'accept', onclick: () => acceptDialog(st, d, true) }, 'Accept'),
      h('button.btn.btn-xs', { type: 'button', 'data-action': 'reject', onclick: () => acceptDialog(st, d, false) }, 'Reject')] : null)],
    ['Operator', d.operator || '—'],
    ['Started', timeEl(d.startDate, true)],
    [active ? 'Elapsed' : 'Took', elapsed],
    ['Last progress', timeEl(d.lastUpdateDate, true)],
  ];
}

// The bars of hosts per deploy stage of deploy d (hosts still on another deploy in a bar of their own), counted over
// the loaded hosts (every host of a stage up to stage-hosts.js's AUTO_ROWS), else from the stage's summary.
function renderCounts(st, d, counts) {
  const { hosts } = st;
  if (!hosts) { clear(counts, h('h3', 'Hosts per deploy stage'), spinner('Loading hosts…')); return; }
  // Hosts per step of deploy d; those whose last result there failed are counted apart (red), and unreachable
  // hosts in a bar of their own (the server leaves them out of the deploy's counts).
  // Counted from the stage's summary (groups of n rows) when not every host is loaded.
  const stageCounts = {}, failedAt = {};
  let onOther = 0, unreachable = 0;
  const groups = hosts.summary ? hosts.summary.counts : hosts.agents;
  for (const a of groups) {
    const n = hosts.summary ? a.n : 1;
    if (a.state === 'UNREACHABLE') { unreachable += n; continue; }
    if (hosts.summary ? !a.onDeploy : a.deployId !== d.id) { onOther += n; continue; }
    stageCounts[a.deployStage] = (stageCounts[a.deployStage] || 0) + n;
    if (a.status && a.status !== 'SUCCEEDED' && a.status !== 'UNKNOWN') failedAt[a.deployStage] = (failedAt[a.deployStage] || 0) + n;
  }
  st.unreachable = unreachable;
  const shownStages = STAGES.filter(s => s !== 'STOPPING' && s !== 'STOPPED' || stageCounts[s]);
  const maxCount = Math.max(1, ...Object.values(stageCounts), onOther, unreachable);
  const pct = n => (100 * n) / maxCount + '%';
  clear(counts,
    h('h3', 'Hosts per deploy stage'),
    hosts.complete || hosts.summary ? null : h('p.muted.small', { 'data-role': 'counts-loaded' }, `of the ${fmtNum(hosts.agents.length)} hosts loaded so far`),
    h('div.stage-bars', shownStages.map(s => h('div.stage-bar', { dataset: { stage: s } },
      h('span.sb-label', s.replaceAll('_', ' ').toLowerCase()),
      h('span.sb-track',
        h('span.sb-fill', { class: s === 'SERVING_BUILD' ? 'sb-ok' : '', style: { width: pct((stageCounts[s] || 0) - (failedAt[s] || 0)) } }),
        failedAt[s] ? h('span.sb-fill.sb-bad', { title: `${failedAt[s]} failed at this step`, style: { width: pct(failedAt[s]) } }) : null),
      h('span.sb-count', fmtNum(stageCounts[s] || 0), failedAt[s] ? h('span.sb-failed', ` (${fmtNum(failedAt[s])} failed)`) : null))),
    unreachable ? h('div.stage-bar', { dataset: { stage: 'UNREACHABLE' } }, h('span.sb-label', 'unreachable'), h('span.sb-track', h('span.sb-fill.sb-unreach', { style: { width: pct(unreachable) } })), h('span.sb-count', fmtNum(unreachable))) : null,
    onOther ? h('div.stage-bar', h('span.sb-label', 'other deploy'), h('span.sb-track', h('span.sb-fill.sb-old', { style: { width: (100 * onOther) / maxCount + '%' } })), h('span.sb-count', fmtNum(onOther))) : null));
}

// The succeeded / failed / total hosts of the current deploy d, live from the stage's summary (the rules of the
// server's state transition, which writes them into the deploy only every transition period), else the deploy's own.
// A SUCCEEDED deploy keeps the numbers it finished with.
export function liveTotals(summary, d) {
  if (!summary || summary.deployId !== d.id || d.state === 'SUCCEEDED') return { successTotal: d.successTotal, failTotal: d.failTotal, total: d.total };
  const out = { successTotal: 0, failTotal: 0, total: 0 };
  for (const c of summary.counts) {
    if (c.removed) continue;
    if (c.state !== 'UNREACHABLE' && c.state !== 'DELETE') out.total += c.n;
    if (!c.onDeploy) continue;
    if ((c.deployStage === 'SERVING_BUILD' || c.deployStage === 'STOPPED') && !['PAUSED_BY_USER', 'PAUSED_BY_SYSTEM', 'UNREACHABLE'].includes(c.state)) out.successTotal += c.n;
    if (c.state === 'PAUSED_BY_SYSTEM') out.failTotal += c.n;
  }
  return out;
}

// The analysis panel of d, kept across polls and reloaded when the status changes or every 10 s.
function analysisOf(st, d) {
  const key = `${d.id}:${d.analysisStatus}:${Math.floor(Date.now() / 10000)}`;
  if (!st.analysis || st.analysis.key !== key) st.analysis = { key, el: analysisPanel(st.base, d) };
  return st.analysis.el;
}

// Renders the card into deployCard and the host counts into counts; keeps the elapsed time ticking while the
// deploy is active (st.tick).
export function renderDeployCard(st, deployCard, counts) {
  const { env, stageName, info, operate } = st;
  const d = st.current;
  if (!d) {
    clear(deployCard, h('div.panel-body', emptyState('No deploy yet', `Nothing was ever deployed to ${env} / ${stageName}.`,
      operate ? h('button.btn.btn-primary', { type: 'button', onclick: () => deployDialog(st) }, 'Deploy a build') : null)));
    clear(counts);
    return;
  }
  const active = deployMoving(d);
  const live = liveTotals(st.summary, d);
  const elapsed = h('span', { 'data-role': 'elapsed' }, fmtDuration(deployDuration(d)));
  renderCounts(st, d, counts);
  clear(deployCard,
    h('div.panel-head',
      h('h2', 'Current deploy ', h('span.muted.mono.small', { title: d.id }, shortId(d.id))),
      h('div.head-badges', badge(d.state), info.envState !== 'NORMAL' ? badge('PAUSED', 'warn') : null)),
    h('div.deploy-grid',
      h('div.deploy-main',
        h('div.deploy-progress',
          progressBar(live.successTotal, live.total, live.failTotal, { large: true, emptyFull: deployDone(d), done: deployDone(d) }),
          h('div.progress-legend', { 'data-role': 'deploy-totals' },
            h('span', h('strong', fmtNum(live.successTotal)), ' succeeded'),
            h('span', h('strong', fmtNum(live.failTotal)), ' failed'),
            h('span', h('strong', fmtNum(live.total)), ' total'),
            st.unreachable ? h('span', { 'data-role': 'unreachable' }, h('strong', fmtNum(st.unreachable)), ' unreachable (not counted)') : null,
            h('span.muted', `success threshold ${(info.successThreshold / 100).toFixed(info.successThreshold % 100 ? 2 : 0)} %`))),
        h('dl.kv-grid', deployFields(st, d, active, elapsed).map(([k, v]) => h('div', h('dt', k), h('dd', v)))),
        d.description ? h('p.deploy-desc', '“', d.description, '”') : null),
      counts),
    d.analysisStatus && d.analysisStatus !== 'NONE' ? analysisOf(st, d) : null);
  clearInterval(st.tick);
  if (active) st.tick = setInterval(() => { elapsed.textContent = fmtDuration(Date.now() - d.startDate); }, 1000);
}
