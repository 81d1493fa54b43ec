// SPDX-License-Identifier: Apache-2.0
// board/js/pages/home.js: home: environment search, deploys in progress, deploys today, recently visited.
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtNum, fmtAgo, fmtTime, spinner, errorBox, emptyState, debounce, link, openDialog, toast } from '../ui.js';
import { navigate } from '../router.js';
import { recentList, progressBar, loadStages, deployMoving } from './common.js';
import { stageChip, currentsOf, renderIncidents } from './home-oncall.js';

const stagesCache = new Map(); // envName → [EnvStage]

async function stagesOf(envName, signal) {
  if (stagesCache.has(envName)) return stagesCache.get(envName);
  const list = await loadStages(envName, signal);
  stagesCache.set(envName, list);
  return list;
}

// Runs fn over items with at most n in flight.
async function pool(items, n, fn) {
  let i = 0;
  const worker = async () => { while (i < items.length) { const k = i++; await fn(items[k], k); } };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

export async function render(ctx) {
  document.title = 'Environments · Slipway';
  stagesCache.clear(); /* pause state and new stages show on every visit */
  const params = new URLSearchParams(location.search);
  const search = h('input.search', {
    type: 'search', placeholder: 'Search environments', 'aria-label': 'Search environments',
    'data-search': true, value: params.get('q') || '', autocomplete: 'off',
  });
  const envList = h('div.env-list', { role: 'listbox', 'aria-label': 'Environments' });
  const envCount = h('span.count');
  const statToday = h('div.stat-value', '…');
  const statRunning = h('div.stat-value', '…');
  const statEnvs = h('div.stat-value', '…');
  const inProgress = h('div.panel-body', spinner());
  const recent = h('div.panel-body');
  const incidents = h('div.incidents', { 'data-role': 'incidents' });
  const currents = new Map(); // stage id → {d, build}: the current deploy shown on the stage's chip

  clear(ctx.root, h('div.page',
    h('div.page-head',
      h('div', h('h1', 'Environments'), h('p.subtitle', 'Every environment and stage this server deploys.')),
      h('div.head-actions', h('button.btn.btn-primary', { type: 'button', onclick: createEnvDialog, 'data-role': 'new-env' }, '+ New environment'))),
    incidents,
    h('div.stats',
      h('div.stat', h('div.stat-label', 'Deploys today (UTC)'), statToday),
      h('div.stat', h('div.stat-label', 'Deploys in progress'), statRunning),
      h('div.stat', h('div.stat-label', 'Environments'), statEnvs)),
    h('div.home-grid',
      h('section.panel', { 'aria-label': 'Environments' },
        h('div.panel-head', h('h2', 'All environments ', envCount), search),
        envList),
      h('div.side',
        h('section.panel', { 'aria-label': 'Deploys in progress' },
          h('div.panel-head', h('h2', 'Deploys in progress'), link('/deploys', 'All deploys →')), inProgress),
        h('section.panel', { 'aria-label': 'Recently visited' },
          h('div.panel-head', h('h2', 'Recently visited')), recent)))));

  renderRecent(recent);

  // ---- environment list ----
  let listSeq = 0;
  async function loadEnvs() {
    const seq = ++listSeq;
    const q = search.value.trim();
    const url = new URL(location.href);
    if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
    history.replaceState(null, '', url.pathname + url.search);
    clear(envList, spinner());
    let names;
    try {
      names = await api.get('/v1/envs/names', { nameFilter: q, pageSize: 1000 }, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      clear(envList, errorBox(e, loadEnvs));
      return;
    }
    if (seq !== listSeq) return;
    names.sort((a, b) => a.localeCompare(b));
    envCount.textContent = fmtNum(names.length);
    if (!q) statEnvs.textContent = fmtNum(names.length);
    if (!names.length) {
      clear(envList, q ? emptyState('No match', `No environment name contains “${q}”.`)
        : emptyState('No environments yet', 'Create the first one to start deploying.',
          h('button.btn.btn-primary', { type: 'button', onclick: createEnvDialog }, '+ New environment')));
      return;
    }
    const rows = names.map(name => {
      const stages = h('div.env-stages', h('span.muted.small', '…'));
      const row = h('a.env-row', { href: `/env/${encodeURIComponent(name)}`, 'data-link': true, role: 'option', 'data-env': name, tabindex: '-1' },
        h('span.env-name', name), stages);
      row._stages = stages;
      return row;
    });
    clear(envList, rows);
    if (rows[0]) rows[0].tabIndex = 0;
    // Stage chips: the first 200 rows (more is a search away); build, commit, age and state for the first 60.
    await pool(rows.slice(0, 200), 6, async (row, k) => {
      if (seq !== listSeq || ctx.signal.aborted) return;
      try {
        const list = await stagesOf(row.dataset.env, ctx.signal);
        if (seq !== listSeq) return;
        if (list.length) row.href = `/env/${encodeURIComponent(row.dataset.env)}/${encodeURIComponent(list[0].stageName)}`;
        clear(row._stages, list.map(s => stageChip(s, currents.get(s.id))));
        if (k >= 60) return;
        const found = await currentsOf(list, ctx.signal);
        if (seq !== listSeq) return;
        found.forEach((v, id) => currents.set(id, v));
        clear(row._stages, list.map(s => stageChip(s, currents.get(s.id))));
      } catch (e) {
        if (e.name !== 'AbortError') clear(row._stages, h('span.muted.small', 'cannot load stages'));
      }
    });
  }

  listKeys(envList, search);
  search.addEventListener('input', debounce(loadEnvs, 200));

  // ---- deploys in progress + daily count (polled) ----
  async function loadActive() {
    try {
      const [res, count] = await Promise.all([
        api.get('/v1/deploys', { deployState: ['RUNNING', 'FAILING'], pageSize: 100 }, { signal: ctx.signal }),
        api.get('/v1/deploys/dailycount', null, { signal: ctx.signal }).catch(() => null),
      ]);
      statToday.textContent = count === null ? '—' : fmtNum(count);
      const deploys = res.deploys || [];
      statRunning.textContent = fmtNum(res.total ?? deploys.length);
      // Refresh the chips of the stages whose deploy moves (state and progress change), and the incident banners.
      for (const [id, cur] of currents) {
        if (deployMoving(cur.d) && !deploys.some(d => d.id === cur.d.id)) {
          const now = await api.get('/v1/deploys/' + api.enc(cur.d.id), null, { signal: ctx.signal }).catch(() => null);
          if (now) currents.set(id, { d: now, build: cur.build });
        }
      }
      for (const d of deploys) {
        const cur = currents.get(d.envId);
        currents.set(d.envId, { d, build: cur && cur.d.id === d.id ? cur.build : await api.getBuild(d.buildId).catch(() => null) });
      }
      for (const list of stagesCache.values()) {
        for (const s of list) {
          envList.querySelectorAll(`[data-stage-id="${CSS.escape(s.id)}"]`).forEach(chip => chip.replaceWith(stageChip(s, currents.get(s.id))));
        }
      }
      await renderIncidents(incidents, deploys, loadActive);
      if (!deploys.length) { clear(inProgress, emptyState('Nothing deploying', 'All stages are at rest.')); return; }
      const items = await Promise.all(deploys.map(async d => {
        const [env, build] = await Promise.all([api.getEnvById(d.envId), api.getBuild(d.buildId).catch(() => null)]);
        return { d, env, build };
      }));
      clear(inProgress, deployFeed(items));
    } catch (e) {
      if (e.name === 'AbortError') return;
      clear(inProgress, errorBox(e));
    }
  }

  await Promise.all([loadEnvs(), loadActive()]);
  const timer = setInterval(loadActive, 5000);
  return () => clearInterval(timer);
}

// Arrow keys move through the list; from the search box, ↓ enters it and Enter opens the first row.
function listKeys(envList, search) {
  envList.addEventListener('keydown', e => {
    const rows = [...envList.querySelectorAll('.env-row')];
    const i = rows.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const j = Math.max(0, Math.min(rows.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
      rows.forEach(r => { r.tabIndex = -1; });
      if (rows[j]) { rows[j].tabIndex = 0; rows[j].focus(); }
    }
  });
  search.addEventListener('keydown', e => {
    if (e.key === 'ArrowDown') { const r = envList.querySelector('.env-row'); if (r) { e.preventDefault(); r.focus(); } }
    if (e.key === 'Enter') { const r = envList.querySelector('.env-row'); if (r) { e.preventDefault(); r.click(); } }
  });
}

// The deploys in progress: stage, state, progress, build and who started it when.
function deployFeed(items) {
  return h('ul.deploy-feed', items.map(({ d, env, build }) => h('li',
    h('div.feed-top',
      env ? link(`/env/${encodeURIComponent(env.envName)}/${encodeURIComponent(env.stageName)}`, h('strong', env.envName), ' / ', env.stageName)
        : h('span.muted', d.envId),
      badge(d.state)),
    progressBar(d.successTotal, d.total, d.failTotal),
    h('div.feed-meta', build ? h('code', build.commitShort || '') : null, build ? ` ${build.branch} · ` : '',
      `${d.operator || ''} · started `, h('span', { title: fmtTime(d.startDate, true) }, fmtAgo(d.startDate))))));
}

function renderRecent(box) {
  const items = recentList();
  if (!items.length) { clear(box, h('p.muted.small', 'Stages you open appear here.')); return; }
  clear(box, h('ul.recent', items.map(r => h('li',
    link(`/env/${encodeURIComponent(r.env)}/${encodeURIComponent(r.stage)}`, h('strong', r.env), ' / ', r.stage),
    h('span.muted.small', timeEl(r.at))))));
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

function createEnvDialog() {
  const envIn = h('input', { name: 'envName', required: true, autocomplete: 'off', placeholder: 'e.g. helloworld' });
  const stageIn = h('input', { name: 'stageName', required: true, autocomplete: 'off', value: 'prod' });
  const typeIn = h('select', { name: 'stageType' },
    ['', 'PRODUCTION', 'CANARY', 'CONTROL', 'STAGING', 'DEV', 'LATEST'].map(t => h('option', { value: t }, t || 'DEFAULT')));
  openDialog({
    title: 'New environment stage',
    confirmText: 'Create stage',
    body: h('div.form-grid',
      h('p', 'Creates a stage. Hosts join it through capacity (host names or groups) and their agents.'),
      h('div.field', h('label', 'Environment name'), envIn),
      h('div.field', h('label', 'Stage name'), stageIn),
      h('div.field', h('label', 'Stage type'), typeIn)),
    onConfirm: async () => {
      const envName = envIn.value.trim(), stageName = stageIn.value.trim();
      for (const [v, f] of [[envName, 'envName'], [stageName, 'stageName']]) {
        if (!NAME_RE.test(v)) throw Object.assign(new Error('Use 1–64 letters, digits, _ or -.'), { field: f });
      }
      const body = { envName, stageName };
      if (typeIn.value) body.stageType = typeIn.value;
      await api.post('/v1/envs', body);
      stagesCache.delete(envName);
      toast(`Created ${envName} / ${stageName}`);
      navigate(`/env/${encodeURIComponent(envName)}/${encodeURIComponent(stageName)}/config`);
    },
  });
}
