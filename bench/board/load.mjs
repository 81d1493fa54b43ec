// SPDX-License-Identifier: Apache-2.0
// bench/board/load.mjs: page load of the board's stage page for a stage of N seeded hosts (default 10,000), in
// Debian chromium, from the navigation's start: the deploy summary shown, the first host grid drawn (the first page
// of hosts, or every host when the board reads them in one answer), and the first meaningful paint (the later of
// the two). Visits: a first visit (empty cache), a repeat visit (the board's files revalidated by ETag) and a repeat
// visit with the browser cache disabled. With BENCH_BASE_BUILD_DIR the same database is served by two server builds
// taking turns in one invocation, "before" (that build) and "after" (SLIPWAY_BUILD_DIR): the board is compiled into
// the server, so the build is the board version. Markdown to stdout.
// Knobs: BENCH_BOARD_HOSTS (10000), BENCH_BOARD_RUNS (5), BENCH_BOARD_VISITS (cold,warm,nocache),
// BENCH_BASE_BUILD_DIR (none), SLIPWAY_BUILD_DIR.
import fs from 'node:fs';
import { startServer, launchBrowser } from '../../tests/browser/harness.mjs';
import { prepare, withBuild } from './seed.mjs';

const HOSTS = parseInt(process.env.BENCH_BOARD_HOSTS || '10000', 10);
const RUNS = parseInt(process.env.BENCH_BOARD_RUNS || '5', 10);
const VISITS = (process.env.BENCH_BOARD_VISITS || 'cold,warm,nocache').split(',');
const builds = { after: process.env.SLIPWAY_BUILD_DIR, ...(process.env.BENCH_BASE_BUILD_DIR ? { before: process.env.BENCH_BASE_BUILD_DIR } : {}) };
const names = Object.keys(builds).sort(); // after, before: alternated below
const SETTINGS = ['transition_period=3600', 'janitor_period=3600', 'promote_period=3600'];
const log = (...a) => console.error('board bench:', ...a);
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Loads the stage page once in page; waits for the summary and the first grid drawn.
async function loadOnce(base, page) {
  await page.goto(base + '/env/fleet/prod');
  await page.waitForFunction(() => performance.getEntriesByName('slipway:host-grid').length > 0
    && performance.getEntriesByName('slipway:deploy-summary').length > 0 && document.querySelector('.ht-row'), null, { timeout: 120000, polling: 50 });
  return page.evaluate(() => {
    const first = n => performance.getEntriesByName(n)[0];
    const s = first('slipway:deploy-summary'), g = first('slipway:host-grid');
    const res = performance.getEntriesByType('resource');
    const hostReqs = res.filter(e => /\/agents(\?|$)|\/deploys\/current\/progress/.test(e.name));
    return {
      summary: s.startTime, grid: g.startTime + g.duration, paint: Math.max(s.startTime, g.startTime + g.duration),
      gridRows: document.querySelector('[data-role=hosts-shown]').textContent,
      hostKB: hostReqs.reduce((n, e) => n + e.encodedBodySize, 0) / 1024,
      hostReqs: hostReqs.map(e => e.name.replace(location.origin, '')).join(' '),
      timeline: res.filter(e => e.name.includes('/v1/')).map(e => `${e.name.replace(location.origin, '').slice(0, 60)} ${Math.round(e.startTime)}+${Math.round(e.duration)}`).join(' | '),
    };
  });
}

// One browser, the visits in VISITS order (the uncached repeat visit before the revalidated one on odd runs).
async function visits(base, token, run) {
  const browser = await launchBrowser();
  try {
    await browser.context.addInitScript(t => sessionStorage.setItem('slipway.token', t), token);
    const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    const out = {};
    // a first visit needs the empty cache; the other two take turns
    const rest = VISITS.filter(v => v !== 'cold');
    const order = [...VISITS.filter(v => v === 'cold'), ...(run % 2 ? rest.reverse() : rest)];
    for (const v of order) {
      if (v === 'nocache') await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      out[v] = await loadOnce(base, page);
      if (v === 'nocache') await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
      await page.goto('about:blank');
    }
    return out;
  } finally {
    await browser.close();
  }
}

async function main() {
  const dir = await prepare(HOSTS, SETTINGS, log);
  const rows = {}; // rows[build][visit] = [results]
  const servers = {};
  try {
    for (const n of names) {
      rows[n] = Object.fromEntries(VISITS.map(v => [v, []]));
      servers[n] = await withBuild(builds, n, () => startServer({ dir, settings: SETTINGS }));
      await servers[n].stop(); // started once to check it runs on this database; started again per run
    }
    // run 0 warms the database's pages and is not counted; the builds take turns, first one then the other.
    for (let i = 0; i <= RUNS; i++) {
      for (const n of i % 2 ? names.slice().reverse() : names) {
        const srv = await withBuild(builds, n, () => startServer({ dir, settings: SETTINGS }));
        let r;
        try { r = await visits(srv.base, srv.token, i); } finally { await srv.stop(); }
        if (i === 0) { log(`warm-up ${n}: first paint ${r[VISITS[0]].paint.toFixed(0)} ms`); continue; }
        for (const v of VISITS) rows[n][v].push(r[v]);
        log(`run ${i}/${RUNS} ${n}: ` + VISITS.map(v => `${v} ${r[v].paint.toFixed(0)} ms (${r[v].gridRows})`).join(', '));
        if (process.env.BENCH_BOARD_VERBOSE) log(JSON.stringify(r));
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const label = { cold: 'first visit (empty cache)', warm: 'repeat visit (ETag revalidation)', nocache: 'repeat visit, cache disabled' };
  console.log(`| build | visit (${HOSTS.toLocaleString('en-US')} hosts, ${RUNS} runs) | summary shown ms | first grid drawn ms | first meaningful paint ms (median) | min | max | host data KB by then | grid shows |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const n of names.slice().reverse()) {
    for (const v of VISITS) {
      const xs = rows[n][v];
      const p = xs.map(x => x.paint);
      console.log(`| ${n} | ${label[v] || v} | ${median(xs.map(x => x.summary)).toFixed(0)} | ${median(xs.map(x => x.grid)).toFixed(0)} | ` +
        `${median(p).toFixed(0)} | ${Math.min(...p).toFixed(0)} | ${Math.max(...p).toFixed(0)} | ${median(xs.map(x => x.hostKB)).toFixed(0)} | ${xs.at(-1).gridRows} |`);
    }
  }
  if (names.length === 2) {
    const r = VISITS.map(v => `${v} ${(median(rows.before[v].map(x => x.paint)) / median(rows.after[v].map(x => x.paint))).toFixed(1)}×`);
    console.log(`\nbefore ÷ after, first meaningful paint (medians): ${r.join(', ')}`);
  }
  console.log(`\nTimes from the navigation's start (chromium headless, fresh profile per run, real server on SQLite with ${HOSTS} seeded agents ` +
    `serving the current deploy). Host data: the bytes of the host list requests (…/agents pages or the whole progress) by then. Load average at the end: ${load}.`);
}

main().catch(e => { console.error(e); process.exit(1); });
