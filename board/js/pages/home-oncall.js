// SPDX-License-Identifier: Apache-2.0
// board/js/pages/home-oncall.js: what home shows an on-call engineer first: a banner for every FAILING stage with a
// prefilled rollback, and each stage's chip with its current build, commit, age and state.
import * as api from '../api.js';
import { h, clear, fmtAgo, fmtTime, shortId } from '../ui.js';
import { rollbackDialog } from './stage-actions.js';

const stageHref = (env, stage) => `/env/${encodeURIComponent(env)}/${encodeURIComponent(stage)}`;

// The tone of a stage from its current deploy d (null when not known yet): paused, failing, running, ok or idle.
function stageTone(s, d) {
  if (s.envState !== 'NORMAL') return ['paused', 'deploys paused'];
  if (!s.deployId) return ['idle', 'never deployed'];
  if (!d) return ['idle', 'deployed'];
  if (d.state === 'FAILING') return ['failing', 'failing'];
  if (d.state === 'RUNNING') return ['running', 'deploying'];
  if (d.state === 'SUCCEEDING' || d.state === 'SUCCEEDED') return ['ok', 'succeeded'];
  return ['idle', d.state.toLowerCase()];
}

// A stage as a chip: its name, state, the build's commit and the deploy's age (cur: {d, build} or null).
export function stageChip(s, cur) {
  const d = cur && cur.d, b = cur && cur.build;
  const [tone, word] = stageTone(s, d);
  const title = [`${s.stageName}: ${word}`, b ? `build ${b.name} ${b.commit}` : null, d ? `started ${fmtTime(d.startDate, true)}` : null]
    .filter(Boolean).join(' · ');
  return h(`span.stage-chip.chip-${tone}`, { title, dataset: { stageId: s.id, stage: s.stageName, tone } },
    h('span.dot'), h('span.chip-name', s.stageName),
    d ? h('span.chip-detail', ` ${word}`, b ? [' · ', h('code', b.commitShort || shortId(b.id))] : null, ` · ${fmtAgo(d.startDate)}`) : null);
}

// The current deploy and its build of every stage of list that has one ({d, build} by stage id).
export async function currentsOf(list, signal) {
  const out = new Map();
  await Promise.all(list.filter(s => s.deployId).map(async s => {
    const d = await api.get('/v1/deploys/' + api.enc(s.deployId), null, { signal }).catch(e => { if (e.name === 'AbortError') throw e; return null; });
    if (d) out.set(s.id, { d, build: await api.getBuild(d.buildId).catch(() => null) });
  }));
  return out;
}

// Renders a banner per FAILING deploy of deploys into box (rebuilt only when the incidents change, so a
// focused button keeps its focus across polls); refresh() reloads the home page's data after a rollback.
export async function renderIncidents(box, deploys, refresh) {
  const failing = deploys.filter(d => d.state === 'FAILING');
  const key = failing.map(d => `${d.id}:${d.successTotal}/${d.failTotal}/${d.total}`).join(',');
  if (key === box.dataset.key) return;
  box.dataset.key = key;
  if (!failing.length) { clear(box); return; }
  const items = await Promise.all(failing.map(async d => {
    const [stage, build] = await Promise.all([api.getEnvById(d.envId), api.getBuild(d.buildId).catch(() => null)]);
    return { d, stage, build };
  }));
  clear(box, items.filter(x => x.stage).map(({ d, stage, build }) => {
    const what = `${stage.envName} / ${stage.stageName}`;
    const st = {
      env: stage.envName, stageName: stage.stageName, base: api.stagePath(stage.envName, stage.stageName),
      info: stage, current: d, build, refresh,
    };
    const reason = `${what} FAILING: ${d.failTotal} of ${d.total} hosts failed`;
    return h('section.incident', { role: 'alert', 'aria-label': `${what} is failing`, dataset: { env: stage.envName, stage: stage.stageName } },
      h('div.incident-text',
        h('strong', h('a', { href: stageHref(stage.envName, stage.stageName), 'data-link': true }, what), ' is FAILING'),
        h('span', ` · ${d.failTotal} of ${d.total} hosts failed, ${d.successTotal} succeeded`),
        build ? h('span', ' · build ', h('code', build.commitShort || shortId(build.id))) : null,
        h('span', ` · started ${fmtAgo(d.startDate)}`)),
      h('div.incident-actions',
        h('a.btn.btn-sm', { href: stageHref(stage.envName, stage.stageName), 'data-link': true }, 'Open stage'),
        h('button.btn.btn-sm.btn-danger', { type: 'button', 'data-action': 'incident-rollback', onclick: () => rollbackDialog(st, { reason }) }, 'Roll back…')));
  }));
}
