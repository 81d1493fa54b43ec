// SPDX-License-Identifier: Apache-2.0
// board/js/pages/history.js: deploy history with filters: of one stage (/env/E/S/history) or of all (/deploys);
// pick two deploys to compare them (?compare=A,B): builds, commits, branches, dates, repository compare link.
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtDuration, fmtNum, spinner, errorBox, emptyState, link, shortId, copyButton } from '../ui.js';
import { navigate } from '../router.js';
import { stageHeader, progressBar, loadStages, deployDone, deployDuration } from './common.js';
import { outcomeLinks, outcomeText, deployChart } from './outcome.js';

const STATES = ['RUNNING', 'FAILING', 'SUCCEEDING', 'SUCCEEDED', 'ABORTED'];
const TYPES = ['REGULAR', 'ROLLBACK', 'RESTART', 'HOTFIX', 'STOP'];
const PAGE = 30;

export async function render(ctx) {
  const { env, stage } = ctx.params;
  const q = ctx.query;
  let stages = null, info = null;
  if (env) {
    stages = await loadStages(env, ctx.signal);
    info = stages.find(s => s.stageName === stage);
    if (!info) {
      clear(ctx.root, h('div.page', emptyState('No such stage', `${env} / ${stage} does not exist.`, link('/', 'Back to environments'))));
      return;
    }
    document.title = `History · ${env} / ${stage} · Slipway`;
  } else {
    document.title = 'Deploys · Slipway';
  }

  const filters = {
    deployState: q.state ? q.state.split(',') : [],
    deployType: q.type ? q.type.split(',') : [],
    operator: q.operator || '',
    after: q.after || '',
    pageIndex: Math.max(1, parseInt(q.page || '1', 10) || 1),
  };

  const stateBoxes = STATES.map(s => h('label.check.chip-check', h('input', { type: 'checkbox', value: s, checked: filters.deployState.includes(s), name: 'state' }), ' ', s.toLowerCase()));
  const typeSel = h('select', { name: 'type', 'aria-label': 'Deploy type' }, h('option', { value: '' }, 'All types'),
    TYPES.map(t => h('option', { value: t, selected: filters.deployType[0] === t }, t.toLowerCase())));
  const opIn = h('input.search.search-sm', { name: 'operator', placeholder: 'Operator', value: filters.operator, 'aria-label': 'Operator', 'data-search': true });
  const afterIn = h('input', { type: 'date', name: 'after', value: filters.after, 'aria-label': 'Started on or after' });
  // /deploys only: narrow to one environment (exact name) and, optionally, one of its stages.
  const envIn = env ? null : h('input.search-sm', { name: 'env', placeholder: 'Environment', value: q.env || '', 'aria-label': 'Environment', autocomplete: 'off' });
  const stageIn = env ? null : h('input.search-sm', { name: 'stage', placeholder: 'Stage', value: q.stage || '', 'aria-label': 'Stage', autocomplete: 'off' });
  const form = h('form.filters', {
    onsubmit: e => { e.preventDefault(); apply(1); },
    onchange: e => { if (![opIn, envIn, stageIn].includes(e.target)) apply(1); },
  },
  h('div.filter-group', h('span.filter-label', 'State'), stateBoxes),
  h('div.filter-group', h('span.filter-label', 'Type'), typeSel),
  h('div.filter-group', h('span.filter-label', 'Since (UTC)'), afterIn),
  env ? null : h('div.filter-group', h('span.filter-label', 'Where'), envIn, stageIn),
  h('div.filter-group', opIn, h('button.btn.btn-sm', { type: 'submit' }, 'Apply')));
  const results = h('div', spinner());
  const compareIds = (q.compare || '').split(',').filter(x => /^[A-Za-z0-9_-]{1,30}$/.test(x)).slice(0, 2);
  const compareBox = h('div', { 'data-role': 'compare' });

  const header = env ? stageHeader({ env, stage, stages, section: 'history', stageInfo: info })
    : h('div.page-head', h('div', h('h1', 'Deploys'), h('p.subtitle', 'Every deploy of every stage, newest first.')));
  clear(ctx.root, h('div.page.page-wide', header, compareBox, h('section.panel', h('div.panel-body', form), results)));
  if (compareIds.length === 2) renderCompare(compareBox, compareIds, ctx.signal);

  function apply(page) {
    const p = new URLSearchParams();
    const st = stateBoxes.map(l => l.querySelector('input')).filter(i => i.checked).map(i => i.value);
    if (st.length) p.set('state', st.join(','));
    if (typeSel.value) p.set('type', typeSel.value);
    if (opIn.value.trim()) p.set('operator', opIn.value.trim());
    if (afterIn.value) p.set('after', afterIn.value);
    if (envIn && envIn.value.trim()) p.set('env', envIn.value.trim());
    if (stageIn && stageIn.value.trim()) p.set('stage', stageIn.value.trim());
    if (page > 1) p.set('page', String(page));
    if (compare) p.set('compare', compare.join(','));
    navigate(location.pathname + (p.toString() ? '?' + p : ''));
  }
  let compare = compareIds.length === 2 ? compareIds : null;

  // /deploys?env=E[&stage=S]: the ids of the env's stages (of the one stage).
  let whereIds;
  if (!env && q.env) {
    const list = await api.get('/v1/envs', { envName: q.env }, { signal: ctx.signal }).catch(() => []);
    whereIds = list.filter(s => !q.stage || s.stageName === q.stage).map(s => s.id);
    if (!whereIds.length) {
      clear(results, emptyState('No such stage', q.stage ? `Environment ${q.env} has no stage “${q.stage}”.` : `There is no environment called “${q.env}”.`));
      return;
    }
  }
  const query = {
    envId: info ? info.id : whereIds,
    deployState: filters.deployState,
    deployType: filters.deployType,
    operator: filters.operator || undefined,
    after: filters.after ? Date.parse(filters.after + 'T00:00:00Z') : undefined,
    pageIndex: filters.pageIndex,
    pageSize: PAGE,
  };
  let res;
  try {
    res = await api.get('/v1/deploys', query, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    clear(results, errorBox(e));
    return;
  }
  const deploys = res.deploys || [];
  if (!deploys.length) {
    clear(results, emptyState('No deploys', env ? 'No deploy of this stage matches the filters.' : 'No deploy matches the filters.'));
    return;
  }
  const [envs, builds, links] = await Promise.all([
    Promise.all(deploys.map(d => (info ? info : api.getEnvById(d.envId)))),
    Promise.all(deploys.map(d => api.getBuild(d.buildId).catch(() => null))),
    Promise.all(deploys.map(d => outcomeLinks(d, deploys))),
  ]);
  const picked = compareIds.slice();
  const compareBtn = h('button.btn.btn-sm', { type: 'button', 'data-action': 'compare', disabled: true, onclick: () => { compare = picked.slice(0, 2); apply(filters.pageIndex); } }, 'Compare selected');
  function pick(id, on) {
    const i = picked.indexOf(id);
    if (on && i < 0) picked.push(id);
    if (!on && i >= 0) picked.splice(i, 1);
    // Keep the two newest picks.
    while (picked.length > 2) {
      const old = picked.shift();
      const box = results.querySelector(`input[name=pick][value="${CSS.escape(old)}"]`);
      if (box) box.checked = false;
    }
    compareBtn.disabled = picked.length !== 2;
    const info = results.querySelector('[data-role=picked]');
    if (info) info.textContent = picked.length ? `${picked.length} of 2 selected` : 'Select two deploys to compare them.';
  }
  const total = res.total ?? deploys.length;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const rows = deploys.map((d, i) => deployRow(d, envs[i], builds[i], links[i], !env, picked.includes(d.id), pick));
  clear(results,
    env && filters.pageIndex === 1 && deploys.length > 1 ? h('div.panel-body', deployChart(deploys, fmtDuration)) : null,
    h('div.compare-bar', compareBtn, h('span.muted.small', { 'data-role': 'picked' })),
    h('div.table-wrap', h('table.table.stack', { 'aria-label': 'Deploys' },
      h('thead', h('tr', h('th', { title: 'Select two to compare' }, ''), h('th', 'Started'), env ? null : h('th', 'Stage'), h('th', 'Build'), h('th', 'Type'), h('th', 'Outcome'), h('th', 'State'),
        h('th', 'Acceptance'), h('th', 'Progress'), h('th', 'Operator'), h('th.num', 'Duration'), h('th', 'Description'))),
      h('tbody', rows))),
    h('div.pager',
      h('span.muted.small', `${fmtNum(total)} deploy${total === 1 ? '' : 's'} · page ${filters.pageIndex} of ${fmtNum(pages)}`),
      h('button.btn.btn-sm', { type: 'button', disabled: filters.pageIndex <= 1, onclick: () => apply(filters.pageIndex - 1) }, '← Newer'),
      h('button.btn.btn-sm', { type: 'button', disabled: !res.truncated, onclick: () => apply(filters.pageIndex + 1) }, 'Older →')));
  pick(null, false);
}

// One deploy of the list: d with its stage e, build b and the deploys its outcome names (links); checked: picked
// for comparison, pick(id, on) on a change. A click on the row (outside its links and box) opens the deploy's page.
function deployRow(d, e, b, links, showStage, checked, pick) {
  const href = '/deploys/' + encodeURIComponent(d.id);
  return h('tr.clickable', {
    dataset: { deploy: d.id },
    onclick: ev => { if (!ev.target.closest('a,input,button,label')) navigate(href); },
  },
    h('td.col-pick', { 'data-label': 'Compare' }, h('input', { type: 'checkbox', name: 'pick', value: d.id, checked, 'aria-label': 'Select for comparison', onchange: e => pick(d.id, e.target.checked) })),
    h('td', { 'data-label': 'Started' }, h('a', { href, 'data-link': true, 'data-role': 'deploy-link', title: 'Open this deploy' }, timeEl(d.startDate))),
    showStage ? h('td', { 'data-label': 'Stage' }, e ? link(`/env/${encodeURIComponent(e.envName)}/${encodeURIComponent(e.stageName)}`, e.envName, h('span.muted', ' / '), e.stageName) : h('span.muted', 'deleted stage')) : null,
    h('td', { 'data-label': 'Build' }, b ? [h('code', { title: b.commit }, b.commitShort), ' ', h('span.muted', b.branch)] : h('code.muted', shortId(d.buildId))),
    h('td', { 'data-label': 'Type' }, badge(d.type)),
    h('td.col-outcome', { 'data-label': 'Outcome' }, outcomeText(d, links)),
    h('td', { 'data-label': 'State' }, badge(d.state)),
    h('td', { 'data-label': 'Acceptance' }, badge(d.acceptanceStatus)),
    h('td.col-progress', { 'data-label': 'Progress' }, progressBar(d.successTotal, d.total, d.failTotal, { emptyFull: deployDone(d), done: deployDone(d) })),
    h('td', { 'data-label': 'Operator' }, d.operator || '—'),
    h('td.num', { 'data-label': 'Duration' }, fmtDuration(deployDuration(d))),
    h('td.desc', { title: d.description || '', 'data-label': 'Description' }, d.description || ''));
}

// The repository's web URL of a build, when known: its repo field when that is a URL, else derived from
// commitInfo (the server's scm_link_template, e.g. https://github.com/o/r/commit/<sha>).
export function repoUrl(b) {
  if (!b) return null;
  if (/^https?:\/\/[^\s]+$/.test(b.repo || '')) return b.repo.replace(/\.git$/, '').replace(/\/+$/, '');
  const m = (b.commitInfo || '').match(/^(https?:\/\/[^\s?#]+?)\/(-\/)?commits?\/[^/]+\/?$/);
  return m ? m[1] : null;
}

// Link to the repository's compare page of base...head (GitHub / GitLab style).
export function compareUrl(base, head) {
  const u = repoUrl(head) || repoUrl(base);
  if (!u || !base || !head || (repoUrl(base) && repoUrl(head) && repoUrl(base) !== repoUrl(head))) return null;
  const gitlab = /\/-\/commits?\//.test(head.commitInfo || base.commitInfo || '');
  return `${u}${gitlab ? '/-' : ''}/compare/${encodeURIComponent(base.commit)}...${encodeURIComponent(head.commit)}`;
}

async function renderCompare(box, ids, signal) {
  clear(box, h('section.panel.compare', spinner('Comparing…')));
  let deploys, builds, envs;
  try {
    deploys = await Promise.all(ids.map(id => api.get('/v1/deploys/' + api.enc(id), null, { signal })));
    deploys.sort((a, b) => a.startDate - b.startDate);
    [builds, envs] = await Promise.all([Promise.all(deploys.map(d => api.getBuild(d.buildId))), Promise.all(deploys.map(d => api.getEnvById(d.envId)))]);
  } catch (e) {
    if (e.name !== 'AbortError') clear(box, h('section.panel.compare', h('div.panel-body', errorBox(e))));
    return;
  }
  const [older, newer] = builds;
  const closeHref = () => { const p = new URLSearchParams(location.search); p.delete('compare'); return location.pathname + (p.toString() ? '?' + p : ''); };
  const rows = [
    ['Deploy', d => h('span.mono', { title: d.id }, shortId(d.id))],
    ['Stage', (d, b, e) => (e ? `${e.envName} / ${e.stageName}` : '—')],
    ['Started', d => timeEl(d.startDate, true)],
    ['Type', d => badge(d.type)], ['State', d => badge(d.state)], ['Operator', d => d.operator || '—'],
    ['Build', (d, b) => (b ? h('span', b.name, ' ', h('span.mono.small.muted', shortId(b.id))) : h('span.muted', 'build deleted'))],
    ['Commit', (d, b) => (b ? h('span', b.commitInfo && /^https?:\/\//.test(b.commitInfo) ? h('a', { href: b.commitInfo, target: '_blank', rel: 'noopener' }, h('code', b.commit)) : h('code', b.commit), copyButton(b.commit)) : '—')],
    ['Branch', (d, b) => (b ? b.branch : '—')],
    ['Repository', (d, b) => (b ? b.repo : '—')],
    ['Commit date', (d, b) => (b ? timeEl(b.commitDate, true) : '—')],
    ['Published', (d, b) => (b ? [timeEl(b.publishDate, true), ' by ', b.publisher] : '—')],
  ];
  let verdict;
  if (!older || !newer) verdict = h('p.muted', 'A build of these deploys was deleted: nothing to compare.');
  else if (older.commit === newer.commit) verdict = h('p', { 'data-role': 'same-commit' }, 'Both deploys run the same commit ', h('code', older.commitShort), older.id === newer.id ? ' (the same build).' : ' (different builds).');
  else {
    const url = compareUrl(older, newer);
    verdict = h('p', { 'data-role': 'verdict' },
      older.repo !== newer.repo ? ['The builds come from different repositories (', h('code', older.repo), ', ', h('code', newer.repo), '). '] : null,
      older.branch !== newer.branch ? ['Branches differ: ', h('code', older.branch), ' → ', h('code', newer.branch), '. '] : null,
      url ? h('a.btn.btn-sm', { href: url, target: '_blank', rel: 'noopener', 'data-role': 'compare-link' }, `Commits ${older.commitShort}…${newer.commitShort} in the repository ↗`)
        : h('span.muted', { 'data-role': 'no-compare-link' }, 'The repository URL of these builds is not known (the server has no scm_link_template), so there is no compare link.'));
  }
  clear(box, h('section.panel.compare', { 'aria-label': 'Compare deploys' },
    h('div.panel-head', h('h2', 'Compare deploys'), h('a.btn.btn-sm.btn-ghost', { href: closeHref(), 'data-link': true }, 'Close')),
    h('div.panel-body',
      h('table.table.compare-table', h('thead', h('tr', h('th', ''), h('th', 'Older'), h('th', 'Newer'))),
        h('tbody', rows.map(([label, f]) => h('tr', h('th', label), deploys.map((d, i) => h('td', f(d, builds[i], envs[i]))))))),
      verdict)));
}
