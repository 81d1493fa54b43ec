// SPDX-License-Identifier: Apache-2.0
// board/js/grid.js: the host grid of a stage: status summary, fleet map (canvas, one cell per host),
// and a virtualised, sortable host table. Built to render 10,000 hosts well under a second:
// the map is one canvas, the table only creates the rows in view. The rows may be the first pages of a larger
// stage (pages/stage-hosts.js): then the toolbar says how many are loaded, and scrolling to the end of the table or
// "Load more" asks for the next page (onMore).
import { h, clear, fmtTime, fmtLocalFull, fmtNum, debounce } from './ui.js';

const FATAL = new Set(['AGENT_FAILED', 'SCRIPT_TIMEOUT', 'TOO_MANY_RETRY', 'RUNTIME_MISMATCH']);
const STAGES = ['UNKNOWN', 'PRE_DOWNLOAD', 'DOWNLOADING', 'POST_DOWNLOAD', 'STAGING', 'PRE_RESTART', 'RESTARTING',
  'POST_RESTART', 'SERVING_BUILD', 'STOPPING', 'STOPPED'];
const STAGE_INDEX = Object.fromEntries(STAGES.map((s, i) => [s, i]));

// Host classes, in the order of the summary; colours match style.css (--c-*).
export const CLASSES = [
  { key: 'serving', label: 'Serving', color: '#16a34a', failing: false },
  { key: 'deploying', label: 'Deploying', color: '#2563eb', failing: false },
  { key: 'waiting', label: 'Waiting', color: '#93c5fd', failing: false },
  { key: 'old', label: 'Previous build', color: '#94a3b8', failing: false },
  { key: 'retrying', label: 'Retrying', color: '#f59e0b', failing: true },
  { key: 'failed', label: 'Failed', color: '#dc2626', failing: true },
  { key: 'paused', label: 'Paused', color: '#8b5cf6', failing: false },
  { key: 'unreachable', label: 'Unreachable', color: '#475569', failing: true },
  { key: 'removed', label: 'Removed', color: '#cbd5e1', failing: false },
  { key: 'missing', label: 'Never pinged', color: '#9aa6b8', failing: true }, // visible on white: these hosts need a look
];
const CLASS_BY_KEY = Object.fromEntries(CLASSES.map(c => [c.key, c]));

export function classify(a, currentDeployId) {
  if (a.missing) return 'missing';
  if (a.removed) return 'removed';
  if (a.state === 'UNREACHABLE') return 'unreachable';
  if (a.state === 'PAUSED_BY_SYSTEM' || FATAL.has(a.status)) return 'failed';
  if (a.state === 'PAUSED_BY_USER') return 'paused';
  if (a.status && a.status !== 'SUCCEEDED' && a.status !== 'UNKNOWN') return 'retrying';
  if (currentDeployId && a.deployId !== currentDeployId) {
    return a.deployStage === 'SERVING_BUILD' ? 'old' : 'waiting';
  }
  if (a.deployStage === 'SERVING_BUILD' || a.deployStage === 'STOPPED') return 'serving';
  if (!a.deployStage || a.deployStage === 'UNKNOWN') return 'waiting';
  return 'deploying';
}

// Hosts per class from the stage's counts (GET …/agents/summary: groups of agent rows with the same deploy, step,
// state, result and removed flag, n rows each) and its count of never-pinged hosts.
export function classCounts(summary, currentDeployId) {
  const counts = {};
  for (const c of summary.counts || []) {
    const cls = classify({ ...c, deployId: c.onDeploy ? currentDeployId : null }, currentDeployId);
    counts[cls] = (counts[cls] || 0) + c.n;
  }
  if (summary.missingHosts) counts.missing = (counts.missing || 0) + summary.missingHosts;
  return counts;
}

// width = flex grow factor: header and rows share it, so the columns line up.
const COLUMNS = [
  { key: 'hostName', label: 'Host', width: '1.7 1 0' },
  { key: 'cls', label: 'Status', width: '1 1 0' },
  { key: 'deployStage', label: 'Deploy stage', width: '1.1 1 0' },
  { key: 'state', label: 'Agent state', width: '1.1 1 0' },
  { key: 'status', label: 'Last result', width: '1.2 1 0' },
  { key: 'lastUpdateDate', label: 'Last change', width: '1 1 0' },
];
const ROW_H = 34;

// The grid's state (g): the hosts, the view (filtered + sorted), sort, filters, selection and its elements.
function gridState({ onOpenHost, onHostAction, onMore, onFailing, canAct }) {
  const g = {
    onOpenHost, onHostAction, onMore, onFailing, canAct, complete: true, total: null, userSorted: false, serverFailing: false,
    rows: [], view: [], currentDeploy: null, sortKey: 'cls', sortDir: 1, onlyFailing: false, classFilter: null, text: '',
    selected: new Set(), lastRange: '', scrollerH: 260, scrollTop: 0, cell: 10, cols: 1, mapWidth: 0,
    summary: h('div.host-summary', { role: 'group', 'aria-label': 'Host status summary' }),
    failingToggle: h('input', { type: 'checkbox', name: 'failingOnly', 'data-role': 'failing-only' }),
    filterInput: h('input.search.search-sm', { type: 'search', placeholder: 'Filter hosts', 'aria-label': 'Filter hosts', 'data-role': 'host-filter' }),
    shown: h('span.muted.small', { 'data-role': 'hosts-shown' }),
    more: h('button.btn.btn-sm', { type: 'button', hidden: true, 'data-action': 'load-more' }, 'Load more'),
    bulk: h('div.bulk', { hidden: true }),
    canvas: h('canvas.fleet-map', { 'aria-label': 'Fleet map: one cell per host', role: 'img' }),
    tip: h('div.map-tip', { hidden: true }),
    headRow: h('div.ht-row.ht-head', { role: 'row' }),
    spacer: h('div.ht-spacer'),
    empty: h('div.ht-empty', { hidden: true }),
  };
  g.mapWrap = h('div.map-wrap', g.canvas, g.tip);
  // the scroller is the table's row group (a table owns rows and row groups only; it is focusable to scroll)
  g.scroller = h('div.ht-scroll', { tabindex: '0', role: 'rowgroup', 'aria-label': 'Hosts' }, h('div.ht-body', g.spacer));
  g.table = h('div.host-table', { role: 'table', 'aria-label': 'Hosts', 'aria-rowcount': '0' }, g.headRow, g.scroller);
  g.el = h('div.host-grid',
    h('div.grid-toolbar', g.summary, h('div.grid-controls', g.filterInput, h('label.check', g.failingToggle, ' Failing only'), g.shown, g.more)),
    g.mapWrap, g.bulk, g.table, g.empty);
  return g;
}

// ---- header with sorting ----
function renderHead(g) {
  clear(g.headRow,
    h('div.ht-cell.ht-check', { role: 'columnheader' },
      g.canAct ? h('input', { type: 'checkbox', 'aria-label': 'Select all shown hosts', onchange: e => selectAll(g, e.target.checked) }) : null),
    COLUMNS.map(c => h('div.ht-cell', { role: 'columnheader', style: { flex: c.width }, 'aria-sort': g.sortKey === c.key ? (g.sortDir > 0 ? 'ascending' : 'descending') : 'none' },
      h('button.sort-btn', { type: 'button', onclick: () => setSort(g, c.key), 'data-sort': c.key },
        c.label, g.sortKey === c.key ? h('span.sort-ind', g.sortDir > 0 ? '▲' : '▼') : null))),
    h('div.ht-cell.ht-actions', { role: 'columnheader' }, g.canAct ? 'Actions' : ''));
}

function setSort(g, k) {
  g.userSorted = true;
  if (g.sortKey === k) g.sortDir = -g.sortDir; else { g.sortKey = k; g.sortDir = 1; }
  renderHead(g);
  refilter(g);
}

// Failures first when sorting by status: the order people triage in.
const TRIAGE = { failed: 0, retrying: 1, unreachable: 2, missing: 3, paused: 4, deploying: 5, waiting: 6, old: 7, serving: 8, removed: 9 };

function comparator(sortKey, sortDir) {
  return (a, b) => {
    let x, y;
    switch (sortKey) {
    case 'cls': x = TRIAGE[a.cls]; y = TRIAGE[b.cls]; break;
    case 'deployStage': x = STAGE_INDEX[a.deployStage] ?? -1; y = STAGE_INDEX[b.deployStage] ?? -1; break;
    case 'lastUpdateDate': x = a.lastUpdateDate || 0; y = b.lastUpdateDate || 0; break;
    default: x = a[sortKey] || ''; y = b[sortKey] || '';
    }
    if (x < y) return -sortDir;
    if (x > y) return sortDir;
    return a.hostName < b.hostName ? -1 : a.hostName > b.hostName ? 1 : 0;
  };
}

function refilter(g) {
  const { rows, onlyFailing, classFilter, text } = g;
  const view = rows.filter(r => (!onlyFailing || CLASS_BY_KEY[r.cls].failing)
    && (!classFilter || r.cls === classFilter)
    && (!text || r.hostName.toLowerCase().includes(text) || (r.hostId || '').toLowerCase().includes(text)));
  view.sort(comparator(g.sortKey, g.sortDir));
  g.view = view;
  g.table.setAttribute('aria-rowcount', String(view.length));
  g.shown.textContent = shownText(g);
  g.more.hidden = g.complete;
  g.spacer.style.height = view.length * ROW_H + 'px';
  g.scrollerH = Math.min(view.length * ROW_H, Math.max(260, Math.min(520, window.innerHeight * 0.6)));
  g.scroller.style.height = g.scrollerH + 'px';
  g.empty.hidden = view.length > 0;
  g.table.hidden = view.length === 0;
  if (!view.length) {
    g.empty.textContent = rows.length ? 'No host matches the filters.'
      : 'No hosts in this stage yet. Hosts appear when their agents ping the server with this stage in their capacity.';
  }
  renderRows(g, true);
  drawMap(g);
}

// "N hosts" / "n of N hosts" when every host is loaded; else how many of the stage's hosts are.
function shownText(g) {
  const { view, rows } = g;
  if (g.serverFailing) {
    const n = view.length === rows.length ? fmtNum(rows.length) : `${fmtNum(view.length)} of ${fmtNum(rows.length)}`;
    return `${n} failing hosts${g.complete ? '' : ' loaded'}`;
  }
  if (g.complete) return view.length === rows.length ? `${fmtNum(rows.length)} hosts` : `${fmtNum(view.length)} of ${fmtNum(rows.length)} hosts`;
  const of = g.total > rows.length ? ` of ${fmtNum(g.total)}` : '';
  return view.length === rows.length ? `${fmtNum(rows.length)}${of} hosts loaded` : `${fmtNum(view.length)} of ${fmtNum(rows.length)} loaded hosts${of ? ` (${fmtNum(g.total)} in the stage)` : ''}`;
}

// ---- virtualised rows ----
function renderRows(g, force) {
  const { view } = g;
  const top = Math.min(g.scrollTop, Math.max(0, view.length * ROW_H - g.scrollerH));
  const height = g.scrollerH; /* known: no forced layout */
  const first = Math.max(0, Math.floor(top / ROW_H) - 5);
  const last = Math.min(view.length, Math.ceil((top + height) / ROW_H) + 5);
  const key = first + ':' + last;
  if (!force && key === g.lastRange) return;
  g.lastRange = key;
  const frag = document.createDocumentFragment();
  for (let i = first; i < last; i++) frag.append(rowEl(g, view[i], i));
  g.spacer.replaceChildren(frag);
}

function rowEl(g, r, i) {
  const c = CLASS_BY_KEY[r.cls];
  const acts = [];
  if (g.canAct && r.hostId) {
    if (r.state === 'PAUSED_BY_USER') acts.push(actBtn(g, 'Resume', 'NORMAL', r));
    else acts.push(actBtn(g, 'Pause', 'PAUSED_BY_USER', r));
    acts.push(actBtn(g, 'Reset', 'RESET', r));
  }
  const sel = g.selected.has(r.hostId);
  return h(`div.ht-row.cls-${r.cls}${sel ? '.selected' : ''}`, {
    role: 'row', style: { top: i * ROW_H + 'px' }, 'aria-rowindex': String(i + 2), dataset: { host: r.hostName },
  },
  h('div.ht-cell.ht-check', { role: 'cell' }, g.canAct && r.hostId ? h('input', {
    type: 'checkbox', checked: sel, 'aria-label': 'Select ' + r.hostName,
    onchange: e => { if (e.target.checked) g.selected.add(r.hostId); else g.selected.delete(r.hostId); renderBulk(g); e.target.closest('.ht-row').classList.toggle('selected', e.target.checked); },
  }) : null),
  h('div.ht-cell.mono', { role: 'cell', style: { flex: COLUMNS[0].width } },
    h('a', { href: '/hosts/' + encodeURIComponent(r.hostName), 'data-link': true, title: r.hostId ? 'host id ' + r.hostId : '' }, r.hostName)),
  h('div.ht-cell', { role: 'cell', style: { flex: COLUMNS[1].width } }, h('span.dot', { style: { background: c.color } }), c.label),
  h('div.ht-cell', { role: 'cell', style: { flex: COLUMNS[2].width } }, r.deployStage ? r.deployStage.replaceAll('_', ' ') : '—'),
  h('div.ht-cell', { role: 'cell', style: { flex: COLUMNS[3].width } }, r.state ? r.state.replaceAll('_', ' ') : '—'),
  h('div.ht-cell', { role: 'cell', style: { flex: COLUMNS[4].width }, title: r.lastErrno ? 'errno ' + r.lastErrno : '' },
    r.status ? r.status.replaceAll('_', ' ') : '—', r.failCount ? h('span.muted.small', ` ×${r.failCount}`) : null),
  h('div.ht-cell', { role: 'cell', style: { flex: COLUMNS[5].width }, title: r.lastUpdateDate ? fmtLocalFull(r.lastUpdateDate) : '' }, r.lastUpdateDate ? fmtTime(r.lastUpdateDate, true) : '—'),
  h('div.ht-cell.ht-actions', { role: 'cell' }, acts));
}

function actBtn(g, label, action, r) {
  return h('button.btn.btn-xs', { type: 'button', 'data-action': action, onclick: () => g.onHostAction(action, [r]) }, label);
}

// ---- selection ----
function selectAll(g, on) {
  if (on) g.view.forEach(r => r.hostId && g.selected.add(r.hostId)); else g.selected.clear();
  renderBulk(g);
  renderRows(g, true);
}

function renderBulk(g) {
  const n = g.selected.size;
  g.bulk.hidden = n === 0;
  if (!n) return;
  const sel = () => g.rows.filter(r => r.hostId && g.selected.has(r.hostId));
  clear(g.bulk, h('span', h('strong', fmtNum(n)), ` host${n === 1 ? '' : 's'} selected`),
    h('button.btn.btn-sm', { type: 'button', onclick: () => g.onHostAction('PAUSED_BY_USER', sel()) }, 'Pause'),
    h('button.btn.btn-sm', { type: 'button', onclick: () => g.onHostAction('NORMAL', sel()) }, 'Resume'),
    h('button.btn.btn-sm', { type: 'button', onclick: () => g.onHostAction('RESET', sel()) }, 'Reset'),
    h('button.btn.btn-sm.btn-ghost', { type: 'button', onclick: () => selectAll(g, false) }, 'Clear selection'));
}

// ---- summary ----
function renderSummary(g, counts) {
  clear(g.summary, CLASSES.filter(c => counts[c.key]).map(c => h(`button.sum-chip${g.classFilter === c.key ? '.active' : ''}`, {
    type: 'button', title: g.classFilter === c.key ? 'Show all hosts' : `Show only ${c.label.toLowerCase()} hosts`,
    'aria-pressed': String(g.classFilter === c.key), dataset: { cls: c.key },
    onclick: () => { g.classFilter = g.classFilter === c.key ? null : c.key; renderSummary(g, counts); refilter(g); },
  }, h('span.dot', { style: { background: c.color } }), c.label, h('strong', fmtNum(counts[c.key])))));
  if (!g.rows.length) g.summary.append(h('span.muted.small', 'No hosts'));
}

// ---- fleet map ----
function drawMap(g) {
  const { view, canvas, mapWrap } = g;
  const n = view.length;
  mapWrap.hidden = n === 0;
  if (!n) return;
  if (!g.mapWidth) g.mapWidth = mapWrap.clientWidth;
  const width = Math.max(200, g.mapWidth || 900);
  const cell = g.cell = n <= 300 ? 16 : n <= 1500 ? 10 : n <= 5000 ? 7 : 5;
  const gap = cell >= 10 ? 2 : 1;
  const cols = g.cols = Math.max(1, Math.floor(width / (cell + gap)));
  const rowsN = Math.ceil(n / cols);
  const dpr = window.devicePixelRatio || 1;
  const cssH = rowsN * (cell + gap);
  canvas.style.width = width + 'px';
  canvas.style.height = cssH + 'px';
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(cssH * dpr);
  const c2d = canvas.getContext('2d');
  c2d.setTransform(dpr, 0, 0, dpr, 0, 0);
  c2d.clearRect(0, 0, width, cssH);
  let lastColor = '';
  for (let i = 0; i < n; i++) {
    const r = view[i];
    const color = r.cls === 'deploying' ? stageShade(r.deployStage) : CLASS_BY_KEY[r.cls].color;
    if (color !== lastColor) { c2d.fillStyle = color; lastColor = color; }
    c2d.fillRect((i % cols) * (cell + gap), Math.floor(i / cols) * (cell + gap), cell, cell);
  }
  canvas.setAttribute('aria-label', `Fleet map of ${n}${g.complete ? '' : ' loaded'} hosts`);
  canvas._gap = gap;
}

function hostAt(g, ev) {
  const rect = g.canvas.getBoundingClientRect();
  const gap = g.canvas._gap || 1;
  const x = Math.floor((ev.clientX - rect.left) / (g.cell + gap));
  const y = Math.floor((ev.clientY - rect.top) / (g.cell + gap));
  const i = y * g.cols + x;
  return x < g.cols && i >= 0 && i < g.view.length ? g.view[i] : null;
}

// The map's tooltip, click-to-open and redraw on resize; returns the ResizeObserver (to disconnect).
function wireMap(g) {
  const { canvas, tip, mapWrap } = g;
  canvas.addEventListener('mousemove', ev => {
    const r = hostAt(g, ev);
    if (!r) { tip.hidden = true; canvas.style.cursor = ''; return; }
    canvas.style.cursor = 'pointer';
    clear(tip, h('strong', r.hostName), h('div', CLASS_BY_KEY[r.cls].label, r.deployStage ? ' · ' + r.deployStage.replaceAll('_', ' ') : ''),
      r.status && r.status !== 'SUCCEEDED' && r.status !== 'UNKNOWN' ? h('div', r.status) : null);
    tip.hidden = false;
    const wrapRect = mapWrap.getBoundingClientRect();
    tip.style.left = Math.min(ev.clientX - wrapRect.left + 12, wrapRect.width - 220) + 'px';
    tip.style.top = ev.clientY - wrapRect.top + 14 + 'px';
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  canvas.addEventListener('click', ev => { const r = hostAt(g, ev); if (r) g.onOpenHost(r); });
  const redraw = debounce(() => drawMap(g), 100);
  const ro = new ResizeObserver(entries => {
    const w = Math.round(entries[entries.length - 1].contentRect.width);
    if (w && w !== g.mapWidth) { g.mapWidth = w; redraw(); }
  });
  ro.observe(mapWrap);
  return ro;
}

// The grid's rows from the agents and the never-pinged host names, with the count of each class.
function hostRows(agents, missing, currentDeploy, removedHosts) {
  const removed = new Set(removedHosts || []);
  const counts = {};
  const rows = new Array(agents.length + (missing ? missing.length : 0));
  let k = 0;
  for (const a of agents) {
    const r = {
      hostId: a.hostId, hostName: a.hostName || a.hostId, deployId: a.deployId, deployStage: a.deployStage,
      state: a.state, status: a.status, lastUpdateDate: a.lastUpdateDate, lastErrno: a.lastErrno,
      failCount: a.failCount, removed: a.removed || removed.has(a.hostName),
    };
    r.cls = classify(r, currentDeploy);
    counts[r.cls] = (counts[r.cls] || 0) + 1;
    rows[k++] = r;
  }
  for (const name of missing || []) {
    rows[k++] = { hostName: name, missing: true, cls: 'missing' };
    counts.missing = (counts.missing || 0) + 1;
  }
  return { rows, counts };
}

// createHostGrid({onOpenHost, onHostAction, canAct}) → {el, update(agents, missing, currentDeployId), clearSelection(), destroy()}
export function createHostGrid({ onOpenHost, onHostAction, onMore, onFailing, canAct = true }) {
  const g = gridState({ onOpenHost, onHostAction, onMore, onFailing, canAct });
  g.failingToggle.addEventListener('change', () => {
    g.onlyFailing = g.failingToggle.checked;
    refilter(g);
    // a stage larger than what is loaded: its failing hosts are asked of the server (onFailing)
    if (g.onFailing && (!g.complete || g.serverFailing)) g.onFailing(g.onlyFailing);
  });
  g.filterInput.addEventListener('input', debounce(() => { g.text = g.filterInput.value.trim().toLowerCase(); refilter(g); }, 120));
  g.scroller.addEventListener('scroll', () => {
    g.scrollTop = g.scroller.scrollTop;
    renderRows(g, false);
    // near the end of the loaded rows of a larger stage: the next page
    if (!g.complete && g.onMore && g.scrollTop + 2 * g.scrollerH >= g.view.length * ROW_H) g.onMore();
  }, { passive: true });
  g.more.addEventListener('click', () => g.onMore && g.onMore());
  const ro = wireMap(g);
  renderHead(g);
  return {
    el: g.el,
    // agents: [Agent]; missing: [hostName] never pinged; currentDeployId: the stage's deploy; complete: false when
    // agents are the first pages of a stage of `total` hosts (null: unknown); then sorted by name until the user
    // sorts, so that the next page extends the end of the table (loading: more pages are on their way at once, the
    // sort stays).
    // stageCounts: hosts per class of the whole stage (classCounts), shown in the summary instead of the loaded rows';
    // failingOnly: agents are the stage's failing hosts (the server's list), complete when every one is loaded.
    update(agents, missing, currentDeployId, removedHosts, { complete = true, total = null, stageCounts = null, failingOnly = false, loading = false } = {}) {
      const t0 = performance.now();
      g.currentDeploy = currentDeployId;
      g.complete = complete;
      g.serverFailing = failingOnly;
      g.total = total;
      if (!complete && !loading && !g.userSorted && g.sortKey !== 'hostName') { g.sortKey = 'hostName'; g.sortDir = 1; renderHead(g); }
      const { rows, counts } = hostRows(agents, missing, currentDeployId, removedHosts);
      g.rows = rows;
      if (g.selected.size) {
        const ids = new Set(rows.map(r => r.hostId));
        for (const id of [...g.selected]) if (!ids.has(id)) g.selected.delete(id);
      }
      renderSummary(g, stageCounts || counts);
      renderBulk(g);
      refilter(g);
      // Render time of the whole grid, visible to the browser tests and the performance panel.
      performance.measure('slipway:host-grid', { start: t0, end: performance.now() });
      return counts;
    },
    clearSelection() { g.selected.clear(); renderBulk(g); renderRows(g, true); },
    // The names of the hosts whose rows are in the table's view (or the first rows before any scroll).
    visibleHosts() {
      const first = Math.floor(g.scrollTop / ROW_H);
      return g.view.slice(first, first + Math.ceil(g.scrollerH / ROW_H) + 1).map(r => r.hostName);
    },
    destroy() { ro.disconnect(); },
  };
}

// Deploying hosts: lighter blue early in the stage path, darker near the end.
const SHADES = ['#bfdbfe', '#93c5fd', '#60a5fa', '#3b82f6', '#2563eb', '#1d4ed8', '#1e40af'];
function stageShade(stage) {
  const i = STAGE_INDEX[stage] ?? 0;
  return SHADES[Math.max(0, Math.min(SHADES.length - 1, i - 1))];
}

export { STAGES, FATAL };
