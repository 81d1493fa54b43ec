// SPDX-License-Identifier: Apache-2.0
// board/js/pages/outcome.js: what became of a deploy, in words: the server's outcome (outcome,
// replacedByDeployId, rollbackFromDeployId) with the builds it names ("failed on 3 of 40, rolled back to
// abc1234"; a rollback "from def5678").
import * as api from '../api.js';
import { h, link, shortId } from '../ui.js';

const TONE = { RUNNING: 'info', SUCCEEDED: 'ok', FAILED: 'bad', ROLLED_BACK: 'bad', REPLACED: 'muted', NO_HOSTS: 'warn' };

// Memo of deploys by id for the links an outcome names (a deploy's fields but outcome do not change).
const deployCache = new Map();
export function getDeploy(id) {
  if (!id) return Promise.resolve(null);
  if (!deployCache.has(id)) deployCache.set(id, api.get('/v1/deploys/' + api.enc(id)).catch(() => null));
  return deployCache.get(id);
}

// The deploys and builds an outcome sentence names: {replacedBy, replacedByBuild, from, fromBuild}.
export async function outcomeLinks(d, known = []) {
  const find = id => (id ? (known.find(x => x.id === id) ? Promise.resolve(known.find(x => x.id === id)) : getDeploy(id)) : Promise.resolve(null));
  const [replacedBy, from] = await Promise.all([find(d.replacedByDeployId), find(d.rollbackFromDeployId)]);
  const [replacedByBuild, fromBuild] = await Promise.all([
    replacedBy ? api.getBuild(replacedBy.buildId).catch(() => null) : null,
    from ? api.getBuild(from.buildId).catch(() => null) : null]);
  return { replacedBy, replacedByBuild, from, fromBuild };
}

const buildName = (b, d) => h('code', { title: b ? b.commit : (d && d.buildId) || '' }, b ? b.commitShort || shortId(b.id) : shortId(d && d.buildId));
const deployLink = (d, ...children) => link('/deploys/' + encodeURIComponent(d.id), ...children);
const hosts = n => `${n} host${n === 1 ? '' : 's'}`;

// The outcome of d as a sentence (links: outcomeLinks(d)).
export function outcomeText(d, links = {}) {
  const o = d.outcome || (d.state === 'FAILING' ? 'FAILED' : d.state === 'RUNNING' ? 'RUNNING' : null);
  const parts = [];
  if (o === 'RUNNING') parts.push(`running: ${d.successTotal} of ${hosts(d.total)} done`);
  else if (o === 'SUCCEEDED') parts.push(`succeeded on ${hosts(d.total)}`);
  else if (o === 'NO_HOSTS') parts.push('no hosts: nothing was deployed');
  else if (o === 'FAILED') parts.push(`failed on ${d.failTotal} of ${hosts(d.total)}`);
  else if (o === 'ROLLED_BACK') {
    parts.push(`failed on ${d.failTotal} of ${hosts(d.total)}, rolled back to `,
      links.replacedBy ? deployLink(links.replacedBy, buildName(links.replacedByBuild, links.replacedBy)) : 'an earlier build');
  } else if (o === 'REPLACED') {
    parts.push('replaced', links.replacedBy ? [' by ', deployLink(links.replacedBy, buildName(links.replacedByBuild, links.replacedBy))] : '',
      ` after ${d.successTotal} of ${hosts(d.total)}`);
  } else parts.push((d.state || '').toLowerCase());
  if (o === 'SUCCEEDED' && links.replacedBy) parts.push(', later replaced');
  const from = d.type === 'ROLLBACK' && links.from
    ? h('span.outcome-from', { 'data-role': 'rollback-from' }, ' · rollback from ', deployLink(links.from, buildName(links.fromBuild, links.from)))
    : null;
  return h('span.outcome', { dataset: { outcome: o || d.state } }, h(`span.outcome-word.tone-${TONE[o] || 'plain'}`, parts), from);
}

const CHART_COLOR = { RUNNING: '#2563eb', SUCCEEDED: '#16a34a', FAILED: '#dc2626', ROLLED_BACK: '#b91c1c', REPLACED: '#64748b', NO_HOSTS: '#d97706' };

// A small bar chart of deploys (newest last): height = how long each took, colour = its outcome; each bar links to
// the deploy's page and says its outcome and duration on hover.
export function deployChart(deploys, fmtDuration) {
  const ns = 'http://www.w3.org/2000/svg';
  const list = deploys.slice().reverse();
  const W = 12, GAP = 4, H = 56;
  const took = d => Math.max(0, (['RUNNING', 'FAILING'].includes(d.state) ? Date.now() : (d.successDate || d.lastUpdateDate)) - d.startDate);
  const max = Math.max(1, ...list.map(took));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${list.length * (W + GAP)} ${H}`);
  svg.setAttribute('width', '100%');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.style.maxWidth = `${list.length * (W + GAP)}px`;
  svg.setAttribute('height', String(H));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Durations and outcomes of the last ${list.length} deploys`);
  list.forEach((d, i) => {
    const o = d.outcome || d.state;
    const hgt = Math.max(3, Math.round((H - 2) * took(d) / max));
    const a = document.createElementNS(ns, 'a');
    a.setAttribute('href', '/deploys/' + encodeURIComponent(d.id));
    a.setAttribute('data-link', '');
    const r = document.createElementNS(ns, 'rect');
    r.setAttribute('x', String(i * (W + GAP)));
    r.setAttribute('y', String(H - hgt));
    r.setAttribute('width', String(W));
    r.setAttribute('height', String(hgt));
    r.setAttribute('rx', '2');
    r.setAttribute('fill', CHART_COLOR[o] || '#94a3b8');
    r.setAttribute('data-outcome', o);
    const t = document.createElementNS(ns, 'title');
    t.textContent = `${d.type.toLowerCase()} ${shortId(d.id)}: ${String(o).toLowerCase().replaceAll('_', ' ')}, ${fmtDuration(took(d))}`;
    r.append(t);
    a.append(r);
    svg.append(a);
  });
  return h('figure.deploy-chart', { 'data-role': 'deploy-chart' }, svg,
    h('figcaption.muted.small', `Last ${list.length} deploys, oldest first: bar height = duration (longest ${fmtDuration(max)}), colour = outcome (green succeeded, red failed or rolled back, grey replaced, amber no hosts, blue running).`));
}
