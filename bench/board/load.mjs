// SPDX-License-Identifier: Apache-2.0
// bench/board/load.mjs: page load of the board's stage page for a stage of N real hosts (default 10,000), in
// Debian chromium: navigation start → deploy summary shown, and → host grid rendered. Three cases: a first
// visit (empty cache), a repeat visit (the board's files revalidated by ETag) and a repeat visit with the
// browser cache disabled (what every visit cost before the server sent ETags). Markdown to stdout.
// Knobs: BENCH_BOARD_HOSTS (10000), BENCH_BOARD_RUNS (5), SLIPWAY_BUILD_DIR.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser } from '../../tests/browser/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOSTS = parseInt(process.env.BENCH_BOARD_HOSTS || '10000', 10);
const RUNS = parseInt(process.env.BENCH_BOARD_RUNS || '5', 10);
const log = (...a) => console.error('board bench:', ...a);
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// One stage with a group capacity and a current deploy; then, with the server stopped, HOSTS agents serving
// it are seeded straight into SQLite (bench/ping's seeding) and the server starts again on that database.
async function prepare() {
  let srv = await startServer();
  await srv.api.post('/v1/envs', { envName: 'fleet', stageName: 'prod' });
  await srv.api.put('/v1/envs/fleet/prod/capacity', ['bench'], { capacityType: 'GROUP' });
  const env = await srv.api.get('/v1/envs/fleet/prod');
  const b = await srv.api.post('/v1/builds', { name: 'fleet', repo: 'acme/fleet', branch: 'main', commit: 'abcdef0123456', artifactUrl: 'https://x.example/a.tgz' });
  const dep = await srv.api.post('/v1/envs/fleet/prod/deploys', undefined, { buildId: b.id });
  const dir = srv.dir;
  await srv.stop();
  log(`seeding ${HOSTS} hosts`);
  const py = `import sys, time; sys.path.insert(0, ${JSON.stringify(path.join(here, '../ping'))}); import bench; ` +
    `bench.seed(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(time.time() * 1000))`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, path.join(dir, 's.db'), String(HOSTS), env.id, dep.id], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('seeding failed');
  srv = await startServer({ dir });
  return srv;
}

// Loads the stage page once in page; returns {summary, grid, progressMs, progressBytes, assetBytes}.
async function loadOnce(srv, page) {
  await page.goto(srv.base + '/env/fleet/prod');
  await page.waitForFunction(n => {
    const el = document.querySelector('[data-role=hosts-shown]');
    return el && el.textContent === `${n.toLocaleString('en-US')} hosts`;
  }, HOSTS, { timeout: 60000 });
  return page.evaluate(() => {
    const end = n => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime + e.duration : NaN; };
    const res = performance.getEntriesByType('resource');
    const prog = res.find(e => e.name.endsWith('/deploys/current/progress'));
    return {
      summary: end('slipway:deploy-summary'), grid: end('slipway:host-grid'),
      progressMs: prog ? prog.duration : NaN, progressBytes: prog ? prog.encodedBodySize : NaN,
      assetBytes: res.filter(e => !e.name.includes('/v1/')).reduce((s, e) => s + e.encodedBodySize, 0),
      requests: res.length,
      timeline: JSON.stringify(performance.getEntries().filter(e => e.entryType !== 'long-animation-frame' || e.duration > 50).map(e => [e.name.replace(location.origin, '').slice(0, 40), Math.round(e.startTime), Math.round(e.duration)])),
    };
  });
}

async function main() {
  const srv = await prepare();
  const rows = { cold: [], warm: [], nocache: [] };
  try {
    // run 0 warms the server (its database pages, its allocator) and is not counted; odd runs measure the
    // uncached repeat visit before the revalidated one, so neither always comes second.
    for (let i = 0; i <= RUNS; i++) {
      const browser = await launchBrowser();
      try {
        await browser.context.addInitScript(t => sessionStorage.setItem('slipway.token', t), srv.token);
        const page = await browser.context.newPage();
        const cold = await loadOnce(srv, page);
        const cdp = await browser.context.newCDPSession(page);
        const nocache = async () => {
          await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
          const r = await loadOnce(srv, page);
          await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
          return r;
        };
        let warm, uncached;
        if (i % 2) { uncached = await nocache(); warm = await loadOnce(srv, page); } else { warm = await loadOnce(srv, page); uncached = await nocache(); }
        if (i === 0) { log(`warm-up run: cold ${cold.grid.toFixed(0)} ms`); continue; }
        rows.cold.push(cold);
        rows.warm.push(warm);
        rows.nocache.push(uncached);
      } finally {
        await browser.close();
      }
      const [c, w, n] = [rows.cold.at(-1), rows.warm.at(-1), rows.nocache.at(-1)];
      if (process.env.TIMELINE) log(w.timeline);
      log(`run ${i}/${RUNS}: cold ${c.grid.toFixed(0)} ms, warm ${w.grid.toFixed(0)} ms, no cache ${n.grid.toFixed(0)} ms`);
    }
  } finally {
    await srv.stop();
    fs.rmSync(srv.dir, { recursive: true, force: true });
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  console.log(`| visit (${HOSTS.toLocaleString('en-US')} hosts, ${RUNS} runs) | summary shown ms (median) | grid rendered ms (median) | min | max | progress request ms (median) | progress KB | board files KB transferred |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [k, label] of [['cold', 'first visit (empty cache)'], ['warm', 'repeat visit (ETag revalidation)'], ['nocache', 'repeat visit, cache disabled (before ETags)']]) {
    const xs = rows[k];
    const g = xs.map(x => x.grid);
    console.log(`| ${label} | ${median(xs.map(x => x.summary)).toFixed(0)} | ${median(g).toFixed(0)} | ${Math.min(...g).toFixed(0)} | ${Math.max(...g).toFixed(0)} | ` +
      `${median(xs.map(x => x.progressMs)).toFixed(0)} | ${(median(xs.map(x => x.progressBytes)) / 1024).toFixed(0)} | ${(median(xs.map(x => x.assetBytes)) / 1024).toFixed(1)} |`);
  }
  console.log(`\nTimes from the navigation's start (chromium headless, fresh profile per run, real server on SQLite with ${HOSTS} seeded agents ` +
    `serving the current deploy; the progress is the full host list, PUT …/deploys/current/progress). Load average at the end: ${load}.`);
}

main().catch(e => { console.error(e); process.exit(1); });
