// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-card.js: the stage page's current-deploy card: build, commit, state, acceptance,
// progress and the hosts per deploy stage. st is the stage page's state (stage.js).
import { h, clear, badge, timeEl, fmtDuration, fmtNum, spinner, emptyState, link, shortId, copyButton } from '../ui.js';
import { progressBar, deployMoving, deployDone, deployDuration } from './common.js';
import { STAGES } from '../grid.js';
import { deployDialog } from './stage-deploy.js';
import { acceptDialog } from './stage-actions.js';
import { analysisPanel } from './stage-analysis.js';

function deployFields(st, d, active, elapsed) {
  const b = st.build;
  return [
    ['Build', b ? h('span', h('code', { title: b.id }, b.commitShort || shortId(b.id)), ' ', link('/builds/' + encodeURIComponent(b.name) + '?build=' + encodeURIComponent(b.id), b.name), copyButton(b.id)) : h('code', d.buildId)],
    ['Commit', b ? (b.commitInfo && /^https?:\/\//.test(b.commitInfo) ? h('a', { href: b.commitInfo, target: '_blank', rel: 'noopener' }, h('code', b.commit)) : h('code', b.commit)) : '—'],
    ['Branch', b ? b.branch : '—'],
    ['Repo', b ? b.repo : '—'],
    ['Type', badge(d.type)],
    ['Acceptance', h('span', badge(d.acceptanceStatus), d.acceptanceStatus === 'OUTSTANDING' && st.operate ? [' ',
      h('button.btn.btn-xs', { type: 'button', 'data-action': 'accept', onclick: () => acceptDialog(st, d, true) }, 'Accept'),
      h('button.btn.btn-xs', { type: 'button', 'data-action': 'reject', onclick: () => acceptDialog(st, d, false) }, 'Reject')] : null)],
    ['Operator', d.operator || '—'],
    ['Started', timeEl(d.startDate, true)],
    [active ? 'Elapsed' : 'Took', elapsed],
    ['Last progress', timeEl(d.lastUpdateDate, true)],
  ];
}

// The bars of hosts per deploy stage of deploy d (hosts still on another deploy in a bar of their own).
function renderCounts(st, d, counts) {
  const { progress } = st;
  if (!progress) { clear(counts, h('h3', 'Hosts per deploy stage'), spinner('Loading hosts…')); return; }
  const stageCounts = {};
  let onOther = 0;
  for (const a of progress.agents) {
    if (a.deployId !== d.id) { onOther++; continue; }
    stageCounts[a.deployStage] = (stageCounts[a.deployStage] || 0) + 1;
  }
  const shownStages = STAGES.filter(s => s !== 'STOPPING' && s !== 'STOPPED' || stageCounts[s]);
  const maxCount = Math.max(1, ...Object.values(stageCounts), onOther);
  clear(counts,
    h('h3', 'Hosts per deploy stage'),
    h('div.stage-bars', shownStages.map(s => h('div.stage-bar', { dataset: { stage: s } },
      h('span.sb-label', s.replaceAll('_', ' ').toLowerCase()),
      h('span.sb-track', h('span.sb-fill', { class: s === 'SERVING_BUILD' ? 'sb-ok' : '', style: { width: (100 * (stageCounts[s] || 0)) / maxCount + '%' } })),
      h('span.sb-count', fmtNum(stageCounts[s] || 0)))),
    onOther ? h('div.stage-bar', h('span.sb-label', 'other deploy'), h('span.sb-track', h('span.sb-fill.sb-old', { style: { width: (100 * onOther) / maxCount + '%' } })), h('span.sb-count', fmtNum(onOther))) : null));
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
  const elapsed = h('span', { 'data-role': 'elapsed' }, fmtDuration(deployDuration(d)));
  renderCounts(st, d, counts);
  clear(deployCard,
    h('div.panel-head',
      h('h2', 'Current deploy ', h('span.muted.mono.small', { title: d.id }, shortId(d.id))),
      h('div.head-badges', badge(d.state), info.envState !== 'NORMAL' ? badge('PAUSED', 'warn') : null)),
    h('div.deploy-grid',
      h('div.deploy-main',
        h('div.deploy-progress',
          progressBar(d.successTotal, d.total, d.failTotal, { large: true, emptyFull: deployDone(d), done: deployDone(d) }),
          h('div.progress-legend',
            h('span', h('strong', fmtNum(d.successTotal)), ' succeeded'),
            h('span', h('strong', fmtNum(d.failTotal)), ' failed'),
            h('span', h('strong', fmtNum(d.total)), ' total'),
            h('span.muted', `success threshold ${(info.successThreshold / 100).toFixed(info.successThreshold % 100 ? 2 : 0)} %`))),
        h('dl.kv-grid', deployFields(st, d, active, elapsed).map(([k, v]) => h('div', h('dt', k), h('dd', v)))),
        d.description ? h('p.deploy-desc', '“', d.description, '”') : null),
      counts),
    d.analysisStatus && d.analysisStatus !== 'NONE' ? analysisOf(st, d) : null);
  clearInterval(st.tick);
  if (active) st.tick = setInterval(() => { elapsed.textContent = fmtDuration(Date.now() - d.startDate); }, 1000);
}
