// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-errors.js: the stage page's failing hosts grouped by their error: per group the count, the
// error's last lines, the step and the exit code, expandable to its hosts; each host links to its script output
// (pages/host-log.js). The errors come from GET …/agents/errors (the output tail each agent reported, bounded).
import * as api from '../api.js';
import { h, clear, badge, fmtNum, timeEl, link } from '../ui.js';

const LINES = 5;

// The lines of message that say what went wrong: its last LINES non-empty lines.
export function errorLines(message) {
  const lines = String(message || '').split('\n').map(l => l.trimEnd()).filter(l => l.trim());
  return lines.slice(-LINES);
}

// Hosts grouped by the last line of their error (the line that names the failure), largest group first.
export function groupErrors(errors) {
  const groups = new Map();
  for (const e of errors) {
    const lines = errorLines(e.errorMessage);
    const key = lines.length ? lines[lines.length - 1].trim() : '(no message)';
    if (!groups.has(key)) groups.set(key, { key, lines, hosts: [] });
    groups.get(key).hosts.push(e);
  }
  return [...groups.values()].sort((a, b) => b.hosts.length - a.hosts.length || a.key.localeCompare(b.key));
}

const distinct = (hosts, f) => [...new Set(hosts.map(f))];
const word = s => String(s || '—').replaceAll('_', ' ');
export const hostLogHref = (env, stage, host) => `/env/${encodeURIComponent(env)}/${encodeURIComponent(stage)}/log/${encodeURIComponent(host)}`;

function groupView(st, g, i) {
  const steps = distinct(g.hosts, e => e.deployStage), codes = distinct(g.hosts, e => e.lastErrno), statuses = distinct(g.hosts, e => e.status);
  return h('details.err-group', { 'data-role': 'error-group', open: i === 0 },
    h('summary',
      h('span.err-count', { 'data-role': 'error-count' }, fmtNum(g.hosts.length), g.hosts.length === 1 ? ' host' : ' hosts'),
      h('code.err-key', g.key),
      h('span.err-meta', 'step ', h('strong', steps.map(word).join(', ')), ' · exit code ', h('strong', codes.join(', ')), ' · ', statuses.map(s => badge(s, 'bad')))),
    h('pre.errlog', { 'aria-label': 'Last lines of the error' }, g.lines.join('\n')),
    h('ul.err-hosts', g.hosts.map(e => h('li', { dataset: { host: e.hostName } },
      link('/hosts/' + encodeURIComponent(e.hostName), h('strong', e.hostName)),
      h('span.muted', ` ${word(e.deployStage)} · exit ${e.lastErrno} · ×${e.failCount} · `), timeEl(e.lastUpdateDate, true), ' ',
      link(hostLogHref(st.env, st.stageName, e.hostName), 'script output')))));
}

// Fills box with the failing hosts of the stage grouped by error (hidden when none failed).
export async function renderErrors(st, box, signal) {
  const key = st.failedCount ? `${st.current && st.current.id}|${st.failedCount}` : '';
  if (key === box.dataset.key) return;
  if (!key) { box.dataset.key = ''; box.hidden = true; clear(box); return; }
  const res = await api.get(st.base + '/agents/errors', null, { signal }).catch(e => { if (e.name === 'AbortError') throw e; return null; });
  if (!res || st.stopped) return;
  box.dataset.key = key;
  const groups = groupErrors(res.errors || []);
  box.hidden = !groups.length;
  clear(box,
    h('div.panel-head', h('h2', 'Failing hosts by error ', h('span.count', fmtNum((res.errors || []).length))),
      h('span.muted.small', `last ${fmtNum(res.tailBytes)} bytes of each host's script output${res.truncated ? ' · first hosts only' : ''}`)),
    h('div.panel-body', groups.map((g, i) => groupView(st, g, i))));
}
