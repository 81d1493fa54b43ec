// SPDX-License-Identifier: Apache-2.0
// board/js/pages/history.js: deploy history with filters: of one stage (/env/E/S/history) or of all (/deploys).
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtDuration, fmtNum, spinner, errorBox, emptyState, link, shortId } from '../ui.js';
import { navigate } from '../app.js';
import { stageHeader, progressBar } from './common.js';

const STATES = ['RUNNING', 'FAILING', 'SUCCEEDING', 'SUCCEEDED', 'ABORTED'];
const TYPES = ['REGULAR', 'ROLLBACK', 'RESTART', 'HOTFIX', 'STOP'];
const PAGE = 30;

export async function render(ctx) {
  const { env, stage } = ctx.params;
  const q = ctx.query;
  let stages = null, info = null;
  if (env) {
    stages = await api.get('/v1/envs', { envName: env }, { signal: ctx.signal });
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
  const form = h('form.filters', {
    onsubmit: e => { e.preventDefault(); apply(1); },
    onchange: e => { if (e.target !== opIn) apply(1); },
  },
  h('div.filter-group', h('span.filter-label', 'State'), stateBoxes),
  h('div.filter-group', h('span.filter-label', 'Type'), typeSel),
  h('div.filter-group', h('span.filter-label', 'Since'), afterIn),
  h('div.filter-group', opIn, h('button.btn.btn-sm', { type: 'submit' }, 'Apply')));
  const results = h('div', spinner());

  const header = env ? stageHeader({ env, stage, stages, section: 'history', stageInfo: info })
    : h('div.page-head', h('div', h('h1', 'Deploys'), h('p.subtitle', 'Every deploy of every stage, newest first.')));
  clear(ctx.root, h('div.page.page-wide', header, h('section.panel', h('div.panel-body', form), results)));

  function apply(page) {
    const p = new URLSearchParams();
    const st = stateBoxes.map(l => l.querySelector('input')).filter(i => i.checked).map(i => i.value);
    if (st.length) p.set('state', st.join(','));
    if (typeSel.value) p.set('type', typeSel.value);
    if (opIn.value.trim()) p.set('operator', opIn.value.trim());
    if (afterIn.value) p.set('after', afterIn.value);
    if (page > 1) p.set('page', String(page));
    navigate(location.pathname + (p.toString() ? '?' + p : ''));
  }

  const query = {
    envId: info ? info.id : undefined,
    deployState: filters.deployState,
    deployType: filters.deployType,
    operator: filters.operator || undefined,
    after: filters.after ? new Date(filters.after + 'T00:00:00').getTime() : undefined,
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
  const [envs, builds] = await Promise.all([
    Promise.all(deploys.map(d => (info ? info : api.getEnvById(d.envId)))),
    Promise.all(deploys.map(d => api.getBuild(d.buildId).catch(() => null))),
  ]);
  const total = res.total ?? deploys.length;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const rows = deploys.map((d, i) => {
    const e = envs[i], b = builds[i];
    const end = ['RUNNING', 'FAILING', 'SUCCEEDING'].includes(d.state) ? Date.now() : (d.successDate || d.lastUpdateDate);
    return h('tr', { dataset: { deploy: d.id } },
      h('td', timeEl(d.startDate)),
      env ? null : h('td', e ? link(`/env/${encodeURIComponent(e.envName)}/${encodeURIComponent(e.stageName)}`, e.envName, h('span.muted', ' / '), e.stageName) : h('span.muted', 'deleted stage')),
      h('td', b ? [h('code', { title: b.commit }, b.commitShort), ' ', h('span.muted', b.branch)] : h('code.muted', shortId(d.buildId))),
      h('td', badge(d.type)),
      h('td', badge(d.state)),
      h('td', badge(d.acceptanceStatus)),
      h('td.col-progress', progressBar(d.successTotal, d.total, d.failTotal, { emptyFull: d.state === 'SUCCEEDING' || d.state === 'SUCCEEDED' })),
      h('td', d.operator || '—'),
      h('td.num', fmtDuration(end - d.startDate)),
      h('td.desc', { title: d.description || '' }, d.description || ''));
  });
  clear(results,
    h('div.table-wrap', h('table.table', { 'aria-label': 'Deploys' },
      h('thead', h('tr', h('th', 'Started'), env ? null : h('th', 'Stage'), h('th', 'Build'), h('th', 'Type'), h('th', 'State'),
        h('th', 'Acceptance'), h('th', 'Progress'), h('th', 'Operator'), h('th.num', 'Duration'), h('th', 'Description'))),
      h('tbody', rows))),
    h('div.pager',
      h('span.muted.small', `${fmtNum(total)} deploy${total === 1 ? '' : 's'} · page ${filters.pageIndex} of ${fmtNum(pages)}`),
      h('button.btn.btn-sm', { type: 'button', disabled: filters.pageIndex <= 1, onclick: () => apply(filters.pageIndex - 1) }, '← Newer'),
      h('button.btn.btn-sm', { type: 'button', disabled: !res.truncated, onclick: () => apply(filters.pageIndex + 1) }, 'Older →')));
}
