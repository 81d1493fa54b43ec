// SPDX-License-Identifier: Apache-2.0
// tests/browser/a11y.test.mjs: every page of the board at phone width (390 px: no horizontal page scroll, the nav
// fits) and under axe-core (npm): no serious or critical WCAG 2 A/AA violation; the stage actions are reachable by
// keyboard. Seeded through the REST API (agents played through POST /v1/system/ping).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { startServer, launchBrowser, screenshot, simulateAgents, signInByLink } from './harness.mjs';

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let srv, browser, page;
const seed = {};
const P = s => `/v1/envs/app/${s}`;

before(async () => {
  srv = await startServer();
  const api = srv.api;
  for (const [stageName, stageType] of [['staging', 'STAGING'], ['prod', 'PRODUCTION']]) {
    await api.post('/v1/envs', { envName: 'app', stageName, stageType, buildName: 'app' });
  }
  seed.build = await api.post('/v1/builds', {
    name: 'app', repo: 'acme/app', branch: 'main', commit: 'abcdef0123456789', commitInfo: 'https://github.com/acme/app/commit/abcdef0123456789',
    artifactUrl: 'https://artifacts.example.com/app-1.tar.gz',
  });
  const hosts = ['app-web-001.example.com', 'app-web-002.example.com', 'app-web-003.example.com'];
  await api.put(P('staging') + '/capacity', hosts, { capacityType: 'HOST' });
  await api.put(P('staging'), { maxParallel: 3 });
  seed.deploy = await api.post(P('staging') + '/deploys', undefined, { buildId: seed.build.id, description: 'first' });
  await simulateAgents(api, hosts, { rounds: 10, failing: hosts[2], failStatus: 'TOO_MANY_RETRY' });
  await api.put(P('staging') + '/deploys/current/progress');
  seed.failingHost = hosts[2];
  // an old deploy: prod's first deploy, replaced after its host failed (its per-host results are recorded)
  await api.put(P('prod') + '/capacity', ['app-db-001.example.com'], { capacityType: 'HOST' });
  await api.put(P('prod') + '/script_configs', { PORT: '8080' });
  seed.old = await api.post(P('prod') + '/deploys', undefined, { buildId: seed.build.id });
  await simulateAgents(api, ['app-db-001.example.com'], { rounds: 6, idPrefix: 'db-', failing: 'app-db-001.example.com', failStatus: 'TOO_MANY_RETRY' });
  await api.post(P('prod') + '/deploys', undefined, { buildId: seed.build.id });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await signInByLink(page, srv.base, srv.token);
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

// Each page and what shows once it has rendered its data.
const pages = () => [
  ['/', '.env-row .stage-chip'],
  ['/env/app/staging', '.ht-row'],
  ['/env/app/staging/history', 'tr[data-deploy]'],
  ['/env/app/staging/config', 'form'],
  ['/env/app/staging/config?tab=history', 'table'],
  [`/env/app/staging/log/${seed.failingHost}`, '[data-role=host-log]'],
  ['/deploys', 'tr[data-deploy]'],
  [`/deploys/${seed.deploy.id}`, 'table[aria-label="Hosts on this deploy"]'],
  [`/deploys/${seed.old.id}`, '[data-role=hosts-recorded]'],
  ['/builds', 'a[href^="/builds/"]'],
  ['/builds/app', 'table'],
  ['/hosts', '.empty'],
  ['/hosts?q=web-00', '[data-role=host-results] li'],
  [`/hosts/${seed.failingHost}`, 'table'],
  ['/tokens', 'table'],
  ['/users', '.panel'],
];

async function axeViolations() {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
  });
}

for (const [width, label] of [[1280, 'desktop'], [390, 'phone']]) {
  test(`every page at ${width} px: no horizontal page scroll, no serious or critical axe-core violation (${label})`, async () => {
    await page.setViewportSize({ width, height: 844 });
    const bad = [];
    for (const [path, ready] of pages()) {
      await page.goto(srv.base + path);
      await page.locator(ready).first().waitFor();
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      if (wide > width) bad.push(`${path}: the page is ${wide} px wide`);
      for (const v of await axeViolations()) bad.push(`${path}: ${v}`);
      if (width === 390) await screenshot(page, 'phone' + path.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, ''));
    }
    assert.deepEqual(bad, []);
  });
}

test('the stage actions are reachable by keyboard and open their dialog', async () => {
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(srv.base + '/env/app/staging');
  await page.locator('.ht-row').first().waitFor();
  await page.locator('body').focus();
  const reached = new Set();
  for (let i = 0; i < 60 && reached.size < 4; i++) {
    await page.keyboard.press('Tab');
    const a = await page.evaluate(() => document.activeElement && document.activeElement.dataset.action);
    if (a) reached.add(a);
    if (a === 'rollback') break;
  }
  assert.ok(reached.has('deploy') && reached.has('rollback'), `reached ${[...reached]}`);
  await page.keyboard.press('Enter');
  await page.locator('dialog[open]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('dialog[open]').waitFor({ state: 'detached' });
});
