// SPDX-License-Identifier: Apache-2.0
// board/js/pages/deploy.js: /deploys/{id}: one deploy: what became of it (outcome), its build and what changed since
// the stage's previous deploy, its timing, the deploys it is linked to, the config it ran with (the stage's config
// at its creation) and the changes while it ran, and its hosts with their results: live while it is current, as
// recorded when it was replaced afterwards (a failed host shows its error or links to its script output).
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtDuration, fmtNum, spinner, errorBox, emptyState, link, shortId, copyButton } from '../ui.js';
import { progressBar, deployDone, deployDuration } from './common.js';
import { outcomeLinks, outcomeText, getDeploy } from './outcome.js';
import { compareUrl } from './history.js';
import { hostLogHref } from './stage-errors.js';
import { analysisPanel } from './stage-analysis.js';

const stageHref = s => `/env/${encodeURIComponent(s.envName)}/${encodeURIComponent(s.stageName)}`;
const word = s => String(s || '—').replaceAll('_', ' ');
const buildRef = b => (b ? h('span', link('/builds/' + encodeURIComponent(b.name) + '?build=' + encodeURIComponent(b.id), b.name), ' ', h('code', { title: b.commit }, b.commitShort)) : h('span.muted', 'build deleted'));

const HOST_PAGE = 1000, HOSTS_AT_ONCE = 2000;

// The deploy's hosts a page at a time in host name order (never the whole list in one answer: a deploy to
// 100,000 hosts is ~44 MB), until the list ends or HOSTS_AT_ONCE more are read: {agents, after} (after: where
// the next hosts start, null when there are none).
async function deployHosts(id, signal, after = null) {
  const agents = [];
  for (;;) {
    const page = await api.get(`/v1/deploys/${api.enc(id)}/agents`, { limit: HOST_PAGE, after }, { signal });
    agents.push(...page);
    if (page.length < HOST_PAGE) return { agents, after: null };
    after = page[page.length - 1].hostName;
    if (agents.length >= HOSTS_AT_ONCE) return { agents, after };
  }
}

// The hosts panel: the loaded hosts, failed first, and "More hosts" while the list goes on.
function hostsPanel(d, stage, first, signal) {
  const agents = first.agents.slice();
  let after = first.after;
  const count = h('span.count'), body = h('div');
  const more = h('button.btn.btn-sm', { type: 'button', 'data-action': 'more-hosts', onclick: async () => {
    more.disabled = true;
    try {
      const next = await deployHosts(d.id, signal, after);
      agents.push(...next.agents);
      after = next.after;
      show();
    } catch (e) { if (e.name !== 'AbortError') clear(body, errorBox(e)); } finally { more.disabled = false; }
  } }, 'More hosts');
  function show() {
    count.textContent = fmtNum(agents.length) + (after ? '+' : '');
    more.hidden = !after;
    clear(body, hostsView(d, stage, agents), after ? h('p.muted.small.pad', { 'data-role': 'hosts-partial' }, `The first ${fmtNum(agents.length)} hosts by name, failed first among them. `, more) : null);
  }
  show();
  return h('section.panel', { 'aria-label': 'Hosts on this deploy' }, h('div.panel-head', h('h2', 'Hosts ', count)), body);
}

// The stage's deploy before d (the one it followed), or null.
async function previousDeploy(d, signal) {
  const res = await api.get('/v1/deploys', { envId: d.envId, before: d.startDate - 1, pageSize: 1 }, { signal }).catch(() => null);
  return (res && res.deploys && res.deploys[0]) || null;
}

function changeView(prev, prevBuild, b) {
  if (!prev) return h('p.muted', { 'data-role': 'what-changed' }, 'The first deploy of this stage.');
  const url = prevBuild && b && prevBuild.commit !== b.commit ? compareUrl(prevBuild, b) : null;
  return h('p', { 'data-role': 'what-changed' }, 'Previous deploy ', link('/deploys/' + encodeURIComponent(prev.id), h('code', shortId(prev.id))), ': ',
    buildRef(prevBuild), ' → ', buildRef(b),
    prevBuild && b && prevBuild.commit === b.commit ? h('span.muted', ' (same commit)') : null,
    url ? [' ', h('a', { href: url, target: '_blank', rel: 'noopener', 'data-role': 'compare-link' }, 'commits in the repository ↗')] : null);
}

// The last non-empty line of an error (the one that names the failure).
const lastLine = t => String(t || '').split('\n').map(l => l.trim()).filter(Boolean).pop() || '';

// A host's output: a recorded result carries its error's last bytes (the host's own page has only its latest
// failure, maybe of a later deploy); a live row links to the host's script output in the stage.
function outputCell(stage, a) {
  if (a.recordDate && a.errorMessage) {
    return h('details.error-tail', h('summary', h('code', lastLine(a.errorMessage))), h('pre.errlog', { tabindex: '0', 'aria-label': `Error of ${a.hostName}` }, a.errorMessage));
  }
  if (!a.recordDate && stage && a.status !== 'SUCCEEDED' && a.status !== 'UNKNOWN') return link(hostLogHref(stage.envName, stage.stageName, a.hostName), 'script output');
  return h('span.muted', '—');
}

function hostsView(d, stage, agents) {
  if (!agents.length) {
    return emptyState('No host on this deploy', d.total ? 'Its hosts moved on to a later deploy before the server recorded per-host results (deploys replaced since schema version 5 keep them).' : 'The stage had no host when it ran.');
  }
  const failedFirst = agents.slice().sort((a, b) => Number(b.status !== 'SUCCEEDED') - Number(a.status !== 'SUCCEEDED') || a.hostName.localeCompare(b.hostName));
  const recorded = agents[0].recordDate;
  return [
    recorded ? h('p.muted.small.pad', { 'data-role': 'hosts-recorded' }, 'As the hosts were when the next deploy replaced this one, ', timeEl(recorded, true), '.') : null,
    h('div.table-wrap', h('table.table.stack', { 'aria-label': 'Hosts on this deploy' },
      h('thead', h('tr', h('th', 'Host'), h('th', 'Step'), h('th', 'Agent state'), h('th', 'Result'), h('th.num', 'Exit code'), h('th.num', 'Attempts'), h('th', 'Last change'), h('th', recorded ? 'Error' : 'Output'))),
      h('tbody', failedFirst.map(a => h('tr', { dataset: { host: a.hostName } },
        h('td', { 'data-label': 'Host' }, link('/hosts/' + encodeURIComponent(a.hostName), h('strong', a.hostName))),
        h('td', { 'data-label': 'Step' }, word(a.deployStage)),
        h('td', { 'data-label': 'Agent state' }, badge(a.state)),
        h('td', { 'data-label': 'Result' }, badge(a.status, a.status === 'SUCCEEDED' ? 'ok' : a.status === 'UNKNOWN' ? 'muted' : 'bad')),
        h('td.num', { 'data-label': 'Exit code' }, String(a.lastErrno)),
        h('td.num', { 'data-label': 'Attempts' }, String(a.failCount)),
        h('td', { 'data-label': 'Last change' }, timeEl(a.lastUpdateDate, true)),
        h('td', { 'data-label': recorded ? 'Error' : 'Output' }, outputCell(stage, a))))))),
  ];
}

// The config the deploy ran with: the stage's config when it was created (GET /v1/deploys/{id}/config).
function ranWithView(cfg) {
  if (!cfg) return h('p.muted', { 'data-role': 'ran-with' }, 'Not recorded: the deploy was created before the server kept the config of each deploy.');
  const r = cfg.rollout || {};
  const kv = pairs => h('dl.kv-grid', pairs.filter(Boolean).map(([k, v]) => h('div', h('dt', k), h('dd', v))));
  const map = (title, m) => h('div.ran-with-map', h('h3', title), cfg.configHidden
    ? h('p.muted.small', { 'data-role': 'config-hidden' }, 'Hidden: they hold secrets, shown to operators of this environment.')
    : !m || !Object.keys(m).length ? h('p.muted.small', 'None.')
      : h('div.table-wrap', h('table.table.stack', { 'aria-label': title },
        h('thead', h('tr', h('th', 'Name'), h('th', 'Value'))),
        h('tbody', Object.keys(m).sort().map(k => h('tr', { dataset: { name: k } }, h('td.mono', { 'data-label': 'Name' }, k), h('td.mono', { 'data-label': 'Value' }, m[k])))))));
  const c = cfg.constraint, sch = cfg.schedule;
  return h('div', { 'data-role': 'ran-with' },
    kv([
      ['Max parallel', r.maxParallelPct ? `${r.maxParallelPct} %` : String(r.maxParallel ?? '—')],
      ['Failure policy', word(r.failurePolicy)],
      ['Stuck after', r.stuckThreshold != null ? fmtDuration(r.stuckThreshold * 1000) : '—'],
      ['Success threshold', r.successThreshold != null ? `${r.successThreshold / 100} %` : '—'],
      ['Acceptance', word(r.acceptanceType)],
      ['Deploy constraint', c ? `${c.constraintKey}: ${c.maxParallel} per value, ${word(c.constraintType).toLowerCase()}${c.constraintOrder && c.constraintOrder.length ? ` (${c.constraintOrder.join(', ')} first)` : ''}` : h('span.muted', 'none')],
      ['Deploy schedule', sch ? `hosts ${sch.hostNumbers}, cooldowns ${sch.cooldownTimes}` : h('span.muted', 'none')],
    ]),
    h('div.ran-with-maps', map('Script variables', cfg.scriptConfigs), map('Agent configs', cfg.agentConfigs)));
}

// The stage's config changes between the deploy's start and its end: its success, else the start of the deploy that
// replaced it, else now (the config it ran with is the one of its start plus these).
function configView(stage, d, history, replacedBy) {
  const end = d.successDate || (replacedBy ? replacedBy.startDate : Date.now());
  // deploy and host actions (its own creation among them) are not config changes
  const during = (history || []).filter(c => !/^(Host|Env Action)/.test(c.type) && c.createTime >= d.startDate && c.createTime <= end);
  const cfgHref = stageHref(stage) + '/config';
  return h('p', { 'data-role': 'config-during' }, during.length
    ? [`${fmtNum(during.length)} config change${during.length === 1 ? '' : 's'} of the stage while it ran: `,
      during.map((c, i) => [i ? ', ' : '', h('strong', c.type), ' by ', c.operator || '—', ' ', timeEl(c.createTime, true)]), ' (', link(cfgHref + '?tab=history', 'config history'), ')']
    : ['No config change of the stage while it ran (', link(cfgHref + '?tab=history', 'config history'), ').']);
}

export async function render(ctx) {
  const id = ctx.params.id;
  document.title = `Deploy ${shortId(id)} · Slipway`;
  clear(ctx.root, h('div.page.page-wide', spinner()));
  let d;
  try {
    d = await api.get('/v1/deploys/' + api.enc(id), null, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    clear(ctx.root, h('div.page', e.status === 404 ? emptyState('No such deploy', `There is no deploy ${id}.`, link('/deploys', 'All deploys')) : errorBox(e)));
    return;
  }
  const [stage, b, links, hosts, prev, history, from, ranWith] = await Promise.all([
    api.getEnvById(d.envId), api.getBuild(d.buildId).catch(() => null), outcomeLinks(d),
    deployHosts(id, ctx.signal).catch(() => ({ agents: [], after: null })),
    previousDeploy(d, ctx.signal),
    api.getEnvById(d.envId).then(s => (s ? api.get(api.stagePath(s.envName, s.stageName) + '/history', null, { signal: ctx.signal }).catch(() => null) : null)),
    d.fromDeployId ? getDeploy(d.fromDeployId) : null,
    api.get(`/v1/deploys/${api.enc(id)}/config`, null, { signal: ctx.signal }).catch(() => null),
  ]);
  const prevBuild = prev ? await api.getBuild(prev.buildId).catch(() => null) : null;
  if (!ctx.isCurrent()) return;
  const fromStage = from ? await api.getEnvById(from.envId) : null;
  const facts = [
    ['Outcome', outcomeText(d, links)],
    ['State', badge(d.state)], ['Type', badge(d.type)], ['Acceptance', badge(d.acceptanceStatus)],
    ['Build', b ? h('span', buildRef(b), copyButton(b.id)) : h('code', d.buildId)],
    ['Commit', b ? (b.commitInfo && /^https?:\/\//.test(b.commitInfo) ? h('a', { href: b.commitInfo, target: '_blank', rel: 'noopener' }, h('code', b.commit)) : h('code', b.commit)) : '—'],
    ['Branch', b ? b.branch : '—'],
    ['Operator', d.operator || '—'],
    ['Started', timeEl(d.startDate, true)],
    ['Succeeded', d.successDate ? timeEl(d.successDate, true) : h('span.muted', '—')],
    ['Last progress', timeEl(d.lastUpdateDate, true)],
    [deployDone(d) || !['RUNNING', 'FAILING'].includes(d.state) ? 'Took' : 'Elapsed', fmtDuration(deployDuration(d))],
    from ? ['Promoted from', link('/deploys/' + encodeURIComponent(from.id), fromStage ? `${fromStage.envName} / ${fromStage.stageName}` : shortId(from.id))] : null,
    links.replacedBy ? ['Replaced by', link('/deploys/' + encodeURIComponent(links.replacedBy.id), h('code', shortId(links.replacedBy.id)), ' (', links.replacedBy.type.toLowerCase(), ')')] : null,
  ].filter(Boolean);
  clear(ctx.root, h('div.page.page-wide',
    h('div.page-head', h('div',
      h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, link('/', 'Environments'), h('span.sep', '/'),
        stage ? [link(stageHref(stage), stage.envName, ' / ', stage.stageName), h('span.sep', '/'), link(stageHref(stage) + '/history', 'History'), h('span.sep', '/')] : null,
        h('span', shortId(d.id))),
      h('h1', 'Deploy ', h('span.mono', shortId(d.id)), stage ? h('span.stage-name', ` to ${stage.envName} / ${stage.stageName}`) : null))),
    h('section.panel', { 'aria-label': 'Deploy' },
      h('div.panel-body',
        progressBar(d.successTotal, d.total, d.failTotal, { large: true, emptyFull: deployDone(d), done: deployDone(d) }),
        h('dl.kv-grid', facts.map(([k, v]) => h('div', h('dt', k), h('dd', v)))),
        d.description ? h('p.deploy-desc', '“', d.description, '”') : null,
        changeView(prev, prevBuild, b),
        stage ? configView(stage, d, history, links.replacedBy) : null)),
    h('section.panel', { 'aria-label': 'The config it ran with' },
      h('div.panel-head', h('h2', 'The config it ran with')),
      h('div.panel-body', ranWithView(ranWith))),
    stage && d.analysisStatus && d.analysisStatus !== 'NONE' ? analysisPanel(api.stagePath(stage.envName, stage.stageName), d) : null,
    hostsPanel(d, stage, hosts, ctx.signal)));
}
