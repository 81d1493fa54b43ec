// SPDX-License-Identifier: Apache-2.0
// tests/browser/scale.test.mjs: the stage page of a stage larger than the board reads whole (issue 14): 12,000
// agent rows of every kind seeded straight into the server's SQLite database. The page must show the stage's
// counts (from …/agents/summary) and draw its grid from pages of …/agents?limit=&after= — never one request for
// every host (the whole progress, or the agents list without a limit) — read more on scroll, and show the failing
// hosts of the whole stage from the server (…/agents?failing=true pages), not only those loaded. The deploy page
// reads the deploy's hosts in pages too (GET /v1/deploys/{id}/agents?limit=&after=).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, waitFor, openSignedIn, screenshot } from './harness.mjs';

const N = 12000;
const SETTINGS = ['transition_period=3600', 'janitor_period=3600', 'promote_period=3600', 'host_unreachable_after=86400'];
let srv, browser, page, pageErrors, deployIds;
const requests = [];

// What host i is (the seeding and the expected counts share it): the board's class of each.
function hostKind(i) {
  if (i >= N - 100) return { cls: 'failed', deployStage: 'POST_DOWNLOAD', state: 'PAUSED_BY_SYSTEM', status: 'TOO_MANY_RETRY', old: false };
  if (i >= N - 200) return { cls: 'retrying', deployStage: 'POST_DOWNLOAD', state: 'NORMAL', status: 'SCRIPT_FAILED', old: false };
  if (i % 50 === 3) return { cls: 'paused', deployStage: 'SERVING_BUILD', state: 'PAUSED_BY_USER', status: 'SUCCEEDED', old: false };
  if (i % 50 === 4) return { cls: 'unreachable', deployStage: 'SERVING_BUILD', state: 'UNREACHABLE', status: 'SUCCEEDED', old: false };
  if (i % 10 === 1) return { cls: 'deploying', deployStage: 'RESTARTING', state: 'NORMAL', status: 'SUCCEEDED', old: false };
  if (i % 10 === 2) return { cls: 'old', deployStage: 'SERVING_BUILD', state: 'NORMAL', status: 'SUCCEEDED', old: true };
  return { cls: 'serving', deployStage: 'SERVING_BUILD', state: 'NORMAL', status: 'SUCCEEDED', old: false };
}
const name = i => `node-${String(i).padStart(5, '0')}`;
const expected = {};
for (let i = 0; i < N; i++) { const k = hostKind(i).cls; expected[k] = (expected[k] || 0) + 1; }
const failingKinds = new Set(['failed', 'retrying', 'unreachable']);
const failingCount = Object.entries(expected).filter(([k]) => failingKinds.has(k)).reduce((n, [, v]) => n + v, 0);

// Agent rows (and their heartbeats) into the stopped server's database, like bench/ping's seeding.
function seed(db, envId, oldId, curId) {
  const rows = Array.from({ length: N }, (_, i) => { const k = hostKind(i); return [name(i), k.old ? oldId : curId, k.deployStage, k.state, k.status]; });
  const py = `
import json, sqlite3, sys, time
rows = json.load(sys.stdin)
now = int(time.time() * 1000)
c = sqlite3.connect(sys.argv[1])
with c:
    c.executemany("INSERT INTO heartbeats(hostId, hostName, ip, agentVersion, createDate, lastSeen) VALUES(?, ?, '10.0.0.1', 'test/1', ?, ?)",
                  ((r[0], r[0], now, now) for r in rows))
    c.executemany("INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, startDate, lastUpdateDate, "
                  "lastOperator, lastErrno, failCount, firstDeploy, firstDeployDate, stageStartDate, containerHealthStatus, holdsSlot, "
                  "removed, version) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'system', 0, 0, 0, ?, ?, '', 0, 0, 1)",
                  ((r[0], r[0], sys.argv[2], r[1], r[2], r[3], r[4], now, now, now, now) for r in rows))
c.close()`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, db, envId], { input: JSON.stringify(rows), stdio: ['pipe', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error('seeding failed');
}

before(async () => {
  let s = await startServer({ settings: SETTINGS });
  await s.api.post('/v1/envs', { envName: 'fleet', stageName: 'prod' });
  const env = await s.api.get('/v1/envs/fleet/prod');
  const ids = [];
  for (const commit of ['aaaa1111bbbb', 'cccc2222dddd']) {
    const b = await s.api.post('/v1/builds', { name: 'fleet', repo: 'acme/fleet', branch: 'main', commit, artifactUrl: `https://x.example/${commit}.tgz` });
    ids.push((await s.api.post('/v1/envs/fleet/prod/deploys', undefined, { buildId: b.id })).id);
  }
  await s.stop();
  seed(path.join(s.dir, 's.db'), env.id, ids[0], ids[1]);
  deployIds = ids;
  srv = s = await startServer({ dir: s.dir, settings: SETTINGS });
  ({ browser, page, pageErrors } = await openSignedIn(srv));
  page.on('request', req => { const u = new URL(req.url()); if (u.pathname.startsWith('/v1/')) requests.push({ method: req.method(), u }); });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

// Every host request of the page so far is a page: no whole progress, no agents list without a limit.
function assertPaged() {
  const hostReqs = requests.filter(r => /\/agents$|\/deploys\/current\/progress$/.test(r.u.pathname) || /^\/v1\/deploys\/[^/]+\/agents$/.test(r.u.pathname));
  assert.ok(hostReqs.length > 0, 'the page read hosts');
  for (const r of hostReqs) {
    const limit = Number(r.u.searchParams.get('limit'));
    assert.ok(r.u.searchParams.has('limit') && limit >= 1 && limit <= 10000, `unpaged host request: ${r.method} ${r.u.pathname}${r.u.search}`);
  }
}

const chip = cls => page.locator(`.sum-chip[data-cls=${cls}] strong`);
const shown = () => page.locator('[data-role=hosts-shown]').textContent();

test('a 12,000-host stage: counts of the whole stage, grid from pages, no request for every host', async () => {
  await page.goto(srv.base + '/env/fleet/prod');
  await page.locator('.ht-row[data-host="node-00000"]').waitFor();
  await waitFor(async () => /11,000 of 12,000 hosts loaded/.test(await shown()), { what: 'the first pages loaded', timeout: 20000 });
  // the summary chips count every host of the stage, also those not loaded
  for (const [cls, n] of Object.entries(expected)) {
    await waitFor(async () => (await chip(cls).textContent()) === n.toLocaleString('en-US'), { what: `${cls} = ${n}` });
  }
  // the bars of the current deploy: RESTARTING and POST_DOWNLOAD (with its 200 failed) from the summary too
  const bar = st => page.locator(`.stage-bar[data-stage=${st}] .sb-count`);
  assert.equal(await bar('RESTARTING').textContent(), expected.deploying.toLocaleString('en-US'));
  assert.match(await bar('POST_DOWNLOAD').textContent(), /^200 \(200 failed\)$/);
  // the deploy card's succeeded / failed / total come live from the summary (no state transition ran: the deploy
  // object still says 0 of 0), with the server's rules: unreachable hosts are not counted, parked ones failed
  const fmt = n => n.toLocaleString('en-US');
  const totals = page.locator('[data-role=deploy-totals]');
  const want = `${fmt(expected.serving)} succeeded${fmt(expected.failed)} failed${fmt(N - expected.unreachable)} total`;
  await waitFor(async () => (await totals.textContent()).startsWith(want), { what: `deploy totals ${want}` });
  const dep = await srv.api.get('/v1/envs/fleet/prod/deploys/current');
  assert.equal(dep.successTotal, 0, 'the deploy object itself was not transitioned');
  // the table is in host name order, so that the next page extends it
  assert.equal(await page.locator('.ht-spacer .ht-row').first().getAttribute('data-host'), 'node-00000');
  assertPaged();
  await screenshot(page, 'scale-01-stage');
  assert.deepEqual(pageErrors, []);
});

test('scrolling to the end of the table reads the next pages until every host is loaded', async () => {
  const before = requests.length;
  for (let i = 0; i < 4 && !/^12,000 hosts$/.test(await shown()); i++) {
    await page.locator('.ht-scroll').evaluate(el => { el.scrollTop = el.scrollHeight; });
    await waitFor(async () => requests.length > before + i, { what: 'a page read on scroll' }).catch(() => {});
  }
  await waitFor(async () => (await shown()) === '12,000 hosts', { what: 'every host loaded' });
  await page.locator('.ht-row[data-host="node-11999"]').waitFor();
  const more = requests.slice(before).filter(r => r.u.pathname.endsWith('/agents'));
  assert.ok(more.length >= 1 && more.every(r => r.u.searchParams.get('after')), 'the next pages continue after the loaded ones');
  assertPaged();
});

test('failing only reads the failing hosts of the whole stage from the server', async () => {
  await page.goto(srv.base + '/env/fleet/prod');
  await waitFor(async () => /11,000 of 12,000 hosts loaded/.test(await shown()), { what: 'the first pages', timeout: 20000 });
  const before = requests.length;
  await page.check('[data-role=failing-only]');
  await waitFor(async () => (await shown()) === `${failingCount.toLocaleString('en-US')} failing hosts`, { what: 'failing hosts' });
  // node-11999 (failed) is past the loaded pages: it comes from the server's failing list (the last row by name)
  await page.locator('.ht-scroll').evaluate(el => { el.scrollTop = el.scrollHeight; });
  await page.locator('.ht-row[data-host="node-11999"]').waitFor();
  const classes = await page.locator('.ht-spacer .ht-row').evaluateAll(rows => rows.map(r => r.className));
  assert.ok(classes.length > 0 && classes.every(c => /cls-(failed|retrying|unreachable)\b/.test(c)), `only failing hosts: ${classes}`);
  assert.ok(requests.slice(before).some(r => r.u.searchParams.get('failing') === 'true'), 'asked the server for the failing hosts');
  await page.uncheck('[data-role=failing-only]');
  await waitFor(async () => /11,000 of 12,000 hosts loaded/.test(await shown()), { what: 'every host again' });
  assertPaged();
});

test('the deploy page reads its hosts in pages and offers more', async () => {
  const before = requests.length;
  await page.goto(srv.base + '/deploys/' + deployIds[1]);
  const count = page.locator('section[aria-label="Hosts on this deploy"] .panel-head .count');
  await waitFor(async () => (await count.textContent()) === '2,000+', { what: 'the first 2,000 hosts', timeout: 20000 });
  await page.locator('[data-role=hosts-partial]').waitFor();
  await page.click('[data-action=more-hosts]');
  await waitFor(async () => (await count.textContent()) === '4,000+', { what: '4,000 hosts', timeout: 20000 });
  const reads = requests.slice(before).filter(r => /^\/v1\/deploys\/[^/]+\/agents$/.test(r.u.pathname));
  assert.equal(reads.length, 4, 'four pages of 1,000 hosts');
  assertPaged();
  assert.deepEqual(pageErrors, []);
});
