// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-analysis.js: the Prometheus analysis on the board: a deploy's results (one small chart per
// query of its values against the bounds, and the newest evaluations) for the deploy card or a deploy page, and
// the stage's analysis document on the config page.
import * as api from '../api.js';
import { h, clear, spinner, errorBox, badge, timeEl, toast } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// A chart of values (oldest first, null = no data) against the bounds [min, max] (null = open).
export function queryChart(values, min, max, width = 240, height = 56) {
  const nums = values.filter(v => typeof v === 'number');
  const lo = Math.min(...nums, ...(min !== null ? [min] : []), ...(max !== null ? [max] : []));
  const hi = Math.max(...nums, ...(min !== null ? [min] : []), ...(max !== null ? [max] : []));
  const span = hi > lo ? hi - lo : 1;
  const y = v => (height - 4 - ((v - lo) / span) * (height - 8)).toFixed(1);
  const x = i => (values.length > 1 ? (i * (width - 4)) / (values.length - 1) + 2 : width / 2).toFixed(1);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'analysis-chart' });
  chart.append(svg('title', {}));
  chart.firstChild.textContent = `${nums.length} values` + (min !== null ? `, min ${min}` : '') + (max !== null ? `, max ${max}` : '');
  for (const b of [min, max]) {
    if (b !== null) chart.append(svg('line', { x1: 0, x2: width, y1: y(b), y2: y(b), stroke: '#c0392b', 'stroke-dasharray': '4 3', 'data-bound': b }));
  }
  const pts = values.map((v, i) => (typeof v === 'number' ? `${x(i)},${y(v)}` : null)).filter(Boolean);
  if (pts.length) chart.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: '#2c7be5', 'stroke-width': 2 }));
  values.forEach((v, i) => {
    if (typeof v === 'number' && ((min !== null && v < min) || (max !== null && v > max))) {
      chart.append(svg('circle', { cx: x(i), cy: y(v), r: 3, fill: '#c0392b', 'data-out': 'true' }));
    }
  });
  return chart;
}

// The analysis of deploy d (a Deploy of the stage at base): a panel that loads itself.
export function analysisPanel(base, d) {
  const body = h('div.panel-body', spinner('Loading the analysis…'));
  const el = h('section.panel.analysis', { dataset: { role: 'analysis' } },
    h('div.panel-head', h('h2', 'Analysis'), badge(d.analysisStatus)), body);
  Promise.all([api.get(`/v1/deploys/${api.enc(d.id)}/analysis`), api.get(base + '/analysis')]).then(([res, cfg]) => {
    const evals = res.evaluations.slice().reverse();
    const queries = cfg.queries.map(q => {
      const mine = evals.filter(e => e.query === q.name);
      const last = mine[mine.length - 1];
      return h('div.analysis-query', { dataset: { query: q.name } },
        h('div', h('strong', q.name), ' ', last ? badge(last.verdict) : h('span.muted', 'not evaluated yet'),
          h('span.muted.small', ` bounds [${q.min ?? '−∞'}, ${q.max ?? '∞'}], ${res.failCounts[q.name] || 0} failed in a row`)),
        h('div', queryChart(mine.map(e => e.value), q.min, q.max)),
        h('div', h('code.small', q.query)));
    });
    clear(body, queries.length ? queries : h('p.muted', 'The stage has no analysis queries now.'),
      res.evaluations.length ? h('details', h('summary', 'Newest evaluations'), h('table.table', h('thead', h('tr', h('th', 'Time'), h('th', 'Query'), h('th', 'Value'), h('th', 'Verdict'))),
        h('tbody', res.evaluations.slice(0, 30).map(e => h('tr', h('td', timeEl(e.time, true)), h('td', e.query), h('td.mono', e.value ?? '—'), h('td', badge(e.verdict))))))) : null);
  }).catch(err => clear(body, errorBox(err)));
  return el;
}

// The config page's section: the analysis document as JSON, saved with PUT (a bad field is named in the error).
export async function analysisConfig({ content, base, operate }) {
  clear(content, spinner());
  let doc;
  try { doc = await api.get(base + '/analysis'); } catch (err) { clear(content, errorBox(err)); return; }
  const text = h('textarea.mono', { name: 'analysis', rows: 18, spellcheck: 'false', disabled: !operate, 'aria-label': 'Analysis document' }, JSON.stringify(doc, null, 2));
  const status = h('span.muted.small', { 'data-role': 'status' });
  const save = h('button.btn.btn-primary', { type: 'submit', disabled: !operate, 'data-role': 'save' }, 'Save analysis');
  const form = h('form', { novalidate: true, 'data-role': 'analysis-form' }, text, h('div.form-actions', save, status));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    status.replaceChildren('Saving…');
    try {
      await api.put(base + '/analysis', JSON.parse(text.value));
      status.replaceChildren();
      toast('Analysis saved');
    } catch (err) {
      status.replaceChildren(h('span.error-text', { role: 'alert' }, (err.field ? err.field + ': ' : '') + err.message));
    }
  });
  clear(content, h('section.panel', h('div.panel-head', h('h2', 'Analysis')), h('div.panel-body',
    h('p.muted.small', 'Prometheus queries that judge each deploy from its start until durationSeconds after it succeeds; ',
      'a value outside [min, max] in failAfter evaluations in a row fails the analysis: the action (ROLLBACK, HALT or NONE) runs and the build is tagged BAD_BUILD. ',
      'Queries may use ${ENV}, ${STAGE}, ${BUILD_ID}, ${DEPLOY_ID} and ${COMMIT}. Needs the server setting prometheus_url.'),
    form)));
}
