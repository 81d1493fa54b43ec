// SPDX-License-Identifier: Apache-2.0
// tests/browser/safe.test.mjs: the Prometheus analysis on the board (issue 16): the analysis document on the
// config page (a bad field is named), and the current deploy's analysis with a chart of each query's values
// against its bounds. A small HTTP server stands in for Prometheus's instant query API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launchBrowser, screenshot, waitFor, signInByLink } from './harness.mjs';

let srv, browser, prom;
const pageErrors = [];
const values = [0.01, 0.02, 0.3];
let served = 0;

before(async () => {
  prom = http.createServer((req, res) => {
    // a value per query, cycling: the chart gets points in and out of bounds
    const v = values[served++ % values.length];
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, String(v)] }] } }));
  });
  await new Promise(r => prom.listen(0, '127.0.0.1', r));
  srv = await startServer({ settings: [`prometheus_url=http://127.0.0.1:${prom.address().port}`] });
  await srv.api.post('/v1/envs', { envName: 'web', stageName: 'prod' });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
  if (prom) prom.close();
});

test('the analysis document is edited on the config page and its results are charted on the stage page', async () => {
  const page = await browser.context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));
  await signInByLink(page, srv.base, srv.token, '/env/web/prod/config?tab=analysis');
  const text = page.locator('[data-role=analysis-form] textarea');
  await text.waitFor();
  assert.equal(JSON.parse(await text.inputValue()).action, 'ROLLBACK', 'the defaults are shown');
  const doc = { queries: [{ name: 'errors', query: 'max(app_error_ratio)', max: 0.05 }], intervalSeconds: 1, failAfter: 50,
    durationSeconds: 600, noData: 'IGNORE', action: 'REBOOT' };
  await text.fill(JSON.stringify(doc));
  await page.click('[data-role=analysis-form] [data-role=save]');
  await page.locator('[data-role=analysis-form] [role=alert] >> text=action').waitFor();
  doc.action = 'NONE';
  await text.fill(JSON.stringify(doc));
  await page.click('[data-role=analysis-form] [data-role=save]');
  await waitFor(async () => (await srv.api.get('/v1/envs/web/prod/analysis')).action === 'NONE', { what: 'the document saved' });

  const build = await srv.api.post('/v1/builds', { name: 'web', repo: 'acme/web', branch: 'main', type: 'Github', commit: 'abcdef1234', artifactUrl: 'https://art.example/web.tgz' });
  const d = await srv.api.post('/v1/envs/web/prod/deploys', undefined, { buildId: build.id });
  await waitFor(async () => (await srv.api.get(`/v1/deploys/${d.id}/analysis`)).evaluations.length >= 4, { timeout: 15000, what: 'evaluations' });
  await page.goto(srv.base + '/env/web/prod');
  const panel = page.locator('[data-role=analysis]');
  await panel.locator('[data-query=errors] svg polyline').waitFor();
  assert.equal(await panel.locator('svg line[data-bound="0.05"]').count(), 1, 'the max bound is drawn');
  assert.ok(await panel.locator('svg circle[data-out=true]').count() >= 1, 'out-of-bounds values are marked');
  assert.match(await panel.locator('.panel-head').innerText(), /RUNNING/);
  await screenshot(page, '60-analysis');
  // the deploy's own page shows the same analysis
  await page.goto(srv.base + '/deploys/' + d.id);
  const onDeploy = page.locator('[data-role=analysis]');
  await onDeploy.locator('[data-query=errors] svg polyline').waitFor();
  assert.equal(await onDeploy.locator('svg line[data-bound="0.05"]').count(), 1, 'the max bound is drawn on the deploy page');
  assert.deepEqual(pageErrors, []);
  await page.close();
});
