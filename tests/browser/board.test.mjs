// SPDX-License-Identifier: Apache-2.0
// tests/browser/board.test.mjs: the deploy board in a real browser (Debian chromium via playwright-core)
// against a real slipway-server with data seeded through the REST API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, launchBrowser, screenshot, waitFor, simulateAgents, repoRoot, signInByLink } from './harness.mjs';

let srv, browser, page, seed;

// Signs the shared page in with the admin token unless it already is.
async function ensureSignedIn() {
  if (page.url().startsWith(srv.base) && await page.evaluate(() => sessionStorage.getItem('slipway.token'))) return;
  await signInByLink(page, srv.base, srv.token);
}
const pageErrors = [];
const apiCalls = new Map(); // "METHOD /v1/path" → first page URL that made it

const stagePath = (e, s) => `/v1/envs/${e}/${s}`;

async function seedData(api) {
  for (const [envName, stageName, stageType] of [['helloworld', 'canary', 'CANARY'], ['helloworld', 'prod', 'PRODUCTION'],
    ['payments', 'staging', 'STAGING'], ['search-indexer', 'prod', 'PRODUCTION']]) {
    await api.post('/v1/envs', { envName, stageName, stageType });
  }
  const builds = [];
  for (const [i, commit] of ['a1b2c3d4e5f6', 'b2c3d4e5f6a7', 'c3d4e5f6a7b8'].entries()) {
    builds.push(await api.post('/v1/builds', {
      name: 'helloworld', repo: 'acme/helloworld', branch: 'master', commit,
      artifactUrl: `https://artifacts.example.com/helloworld-${i + 1}.tar.gz`,
    }));
  }
  const deploy = await api.post(stagePath('helloworld', 'canary') + '/deploys', undefined,
    { buildId: builds[0].id, description: 'first rollout' });
  // Hosts: capacity by name, then agents play their part (when the server has the ping path).
  const hosts = Array.from({ length: 12 }, (_, i) => `web-${String(i + 1).padStart(3, '0')}.example.com`);
  await api.put(stagePath('helloworld', 'canary') + '/capacity', hosts, { capacityType: 'HOST' });
  await api.put(stagePath('helloworld', 'canary'), { maxParallel: 4 });
  const pinged = await simulateAgents(api, hosts, { rounds: 14, failing: hosts[11] });
  await api.put(stagePath('helloworld', 'canary'), { maxParallel: 1 });
  return { builds, deploy, hosts, pinged };
}

before(async () => {
  srv = await startServer();
  seed = await seedData(srv.api);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));
  page.on('request', req => {
    const u = new URL(req.url());
    const key = `${req.method()} ${u.pathname}`;
    if (u.pathname.startsWith('/v1/') && !apiCalls.has(key)) apiCalls.set(key, page.url());
  });
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

test('without a token the board shows the sign-in screen, and a bad token is refused', async () => {
  await page.goto(srv.base + '/env/helloworld/canary');
  await page.waitForSelector('.login-card');
  assert.match(page.url(), /\/login\?next=%2Fenv%2Fhelloworld%2Fcanary$/);
  assert.match(await page.title(), /Slipway/);
  await page.fill('#token', 'not-a-valid-token');
  await page.click('.login-form button[type=submit]');
  const err = await page.waitForSelector('.login-form .field-error:not([hidden])');
  assert.match(await err.textContent(), /not valid/i);
  await screenshot(page, '01-sign-in');
});

test('/login#token= shows whom it signs in as, stores nothing until confirmed, then lists the environments', async () => {
  const me = (await srv.api.call('GET', '/v1/system/whoami', { raw: true })).body;
  await page.goto(`${srv.base}/login#token=${srv.token}`);
  await page.locator('[data-role=signin-name]').waitFor();
  assert.equal(await page.locator('[data-role=signin-name]').textContent(), me.name);
  await page.locator('.login-roles >> text=ADMIN @ system').waitFor();
  assert.ok(!page.url().includes(srv.token), 'the token must leave the address bar');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), null, 'nothing stored before the click');
  assert.equal(new URL(page.url()).pathname, '/login', 'still on the sign-in screen');
  await screenshot(page, '01b-confirm-sign-in');
  await page.locator('[data-role=confirm-signin]').click();
  await page.waitForURL(srv.base + '/');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), srv.token);
  await page.locator(`.whoami >> text=${me.name}`).waitFor();
  const rows = page.locator('.env-row .env-name');
  await waitFor(async () => (await rows.count()) === 3, { what: 'three environments' });
  assert.deepEqual(await rows.allTextContents(), ['helloworld', 'payments', 'search-indexer']);
  await page.waitForSelector('.env-row[data-env=helloworld] .stage-chip >> text=canary');
  // Deploys in progress and today's count come from the API.
  await page.waitForSelector('.deploy-feed li >> text=helloworld');
  const stats = await page.locator('.stat-value').allTextContents();
  assert.equal(stats[0], '1', 'deploys today');
  // Search narrows the list (server-side nameFilter).
  await page.fill('[data-search]', 'pay');
  await waitFor(async () => (await rows.allTextContents()).join() === 'payments', { what: 'search result' });
  await page.fill('[data-search]', '');
  await waitFor(async () => (await rows.count()) === 3, { what: 'full list again' });
  await screenshot(page, '02-home');
});

test('the stage page shows the current deploy, its progress and the hosts', async () => {
  await page.click('.env-row[data-env=helloworld]');
  await page.waitForURL(srv.base + '/env/helloworld/canary');
  const card = page.locator('.deploy-card');
  await card.locator('text=Current deploy').waitFor();
  await card.locator(`code >> text=${seed.builds[0].commitShort}`).first().waitFor();
  assert.match(await card.textContent(), /first rollout/);
  assert.match(await card.textContent(), /bootstrap-admin/);
  const bar = card.locator('.progress.large');
  const current = await srv.api.get(stagePath('helloworld', 'canary') + '/deploys/current');
  // the card's total is live from the stage's summary (the deploy object's moves with the state transition only)
  const liveTotal = async () => (await srv.api.get(stagePath('helloworld', 'canary') + '/agents/summary')).counts
    .filter(c => !c.removed && c.state !== 'UNREACHABLE' && c.state !== 'DELETE').reduce((n, c) => n + c.n, 0);
  const wantTotal = async () => (current.state === 'SUCCEEDED' ? current.total : liveTotal()); // a finished deploy keeps its own
  await waitFor(async () => (await bar.getAttribute('aria-valuemax')) === String(await wantTotal()), { what: 'progress total' });
  assert.ok(['RUNNING', 'SUCCEEDING', 'SUCCEEDED', 'FAILING'].includes(current.state));
  await card.locator(`.badge >> text=${current.state}`).first().waitFor();
  // Stage tabs for every stage of the env; the hosts panel is there.
  assert.deepEqual(await page.locator('.stage-tab').allTextContents(), ['canary', 'prod']);
  const agents = await srv.api.get(stagePath('helloworld', 'canary') + '/agents');
  const shown = page.locator('[data-role=hosts-shown]');
  if (seed.pinged) {
    assert.equal(agents.length, seed.pinged);
    await waitFor(async () => (await shown.textContent()).startsWith(`${seed.pinged} hosts`), { what: 'host count' });
    await page.locator('.ht-row[data-host="web-001.example.com"]').waitFor();
  } else {
    // No ping path in this server yet: the stage has capacity but no agents; the never-pinged hosts show.
    await waitFor(async () => /hosts/.test(await shown.textContent()), { what: 'host summary' });
  }
  await screenshot(page, '03-stage');
  // Keyboard: ArrowRight on the focused tab moves to the next stage.
  await page.focus('.stage-tab.active');
  await page.keyboard.press('ArrowRight');
  await page.waitForURL(srv.base + '/env/helloworld/prod');
  await page.locator('.deploy-card >> text=No deploy yet').waitFor();
});

test('host actions pause and resume one host through the confirm dialog', async t => {
  if (!seed.pinged) { t.skip('no ping path: no agent rows'); return; }
  await page.goto(srv.base + '/env/helloworld/canary');
  const host = seed.hosts[0];
  const agentOf = async () => (await srv.api.get(stagePath('helloworld', 'canary') + '/agents')).find(a => a.hostName === host);
  const row = page.locator(`.ht-row[data-host="${host}"]`);
  await row.locator('[data-action=PAUSED_BY_USER]').click();
  const dlg = page.locator('dialog[open]');
  assert.match(await dlg.textContent(), new RegExp(host.replaceAll('.', '\\.')));
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  await waitFor(async () => (await agentOf()).state === 'PAUSED_BY_USER', { what: 'host paused' });
  await row.locator('[data-action=NORMAL]').click();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  await waitFor(async () => (await agentOf()).state !== 'PAUSED_BY_USER', { what: 'host resumed' });
  // The failing-only filter shows exactly the hosts whose last result failed.
  const failing = (await srv.api.get(stagePath('helloworld', 'canary') + '/agents'))
    .filter(a => a.state === 'PAUSED_BY_SYSTEM' || a.state === 'UNREACHABLE' || (a.status !== 'SUCCEEDED' && a.status !== 'UNKNOWN'));
  await page.check('[data-role=failing-only]');
  await waitFor(async () => (await page.locator('.ht-spacer .ht-row').count()) === failing.length, { what: 'failing-only rows' });
  for (const a of failing) await page.locator(`.ht-row[data-host="${a.hostName}"]`).waitFor();
  await screenshot(page, '03b-failing-only');
  await page.uncheck('[data-role=failing-only]');
  // "Reset failed hosts" resets exactly those hosts on the server.
  if (failing.length) {
    await page.click('[data-action=reset-failed]');
    await dlg.locator('[data-role=confirm]').click();
    await dlg.waitFor({ state: 'detached' });
    const byName = async () => new Map((await srv.api.get(stagePath('helloworld', 'canary') + '/agents')).map(a => [a.hostName, a]));
    await waitFor(async () => { const m = await byName(); return failing.every(a => m.get(a.hostName).state === 'RESET'); }, { what: 'failed hosts RESET' });
    assert.notEqual((await byName()).get(host).state, 'RESET', 'healthy hosts are left alone');
  }
});

test('pause and resume go through a confirm dialog and change the stage on the server', async () => {
  await page.goto(srv.base + '/env/helloworld/canary');
  await page.click('[data-action=pause]');
  const dlg = page.locator('dialog[open]');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /no new deploy goals/);
  await screenshot(page, '04-pause-dialog');
  // Cancel changes nothing.
  await dlg.locator('[data-role=cancel]').click();
  await dlg.waitFor({ state: 'detached' });
  assert.equal((await srv.api.get(stagePath('helloworld', 'canary'))).envState, 'NORMAL');
  await page.click('[data-action=pause]');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  await waitFor(async () => (await srv.api.get(stagePath('helloworld', 'canary'))).envState === 'PAUSED', { what: 'PAUSED' });
  await page.locator('[data-action=resume]').waitFor();
  await page.click('[data-action=resume]');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  await waitFor(async () => (await srv.api.get(stagePath('helloworld', 'canary'))).envState === 'NORMAL', { what: 'NORMAL' });
  await page.locator('[data-action=pause]').waitFor();
});

test('deploying a build picked from the list creates the deploy on the server', async () => {
  await page.click('[data-action=deploy]');
  const dlg = page.locator('dialog[open]');
  const target = seed.builds[2];
  await dlg.locator(`tr[data-build="${target.id}"]`).click();
  await dlg.locator('.build-summary').waitFor();
  assert.equal(await dlg.locator('input[name=buildId]').inputValue(), target.id);
  await dlg.locator('input[name=description]').fill('ship it from the board');
  await screenshot(page, '05-deploy-dialog');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const cur = await waitFor(async () => {
    const d = await srv.api.get(stagePath('helloworld', 'canary') + '/deploys/current');
    return d.buildId === target.id ? d : null;
  }, { what: 'the new current deploy' });
  assert.equal(cur.description, 'ship it from the board');
  await page.locator(`.deploy-card code >> text=${target.commitShort}`).first().waitFor();
});

test('a BAD_BUILD tag shows a warning and the deploy needs force', async t => {
  const bad = seed.builds[1];
  const tagged = await srv.api.call('POST', '/v1/tags', {
    raw: true, body: { value: 'BAD_BUILD', targetType: 'BUILD', targetId: bad.id, comments: 'crashes on start' },
  });
  if (tagged.status !== 201) { t.skip(`no tags endpoint in this server (${tagged.status})`); return; }
  await page.click('[data-action=deploy]');
  const dlg = page.locator('dialog[open]');
  await dlg.locator(`tr[data-build="${bad.id}"]`).click();
  await dlg.locator('[data-role=bad-build]').waitFor();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.field-error >> text=BAD_BUILD').waitFor();
  await dlg.locator('[data-role=cancel]').click();
});

test('rollback offers earlier deploys and asks for a reason', async () => {
  await page.click('[data-action=rollback]');
  const dlg = page.locator('dialog[open]');
  await dlg.locator(`tr[data-deploy="${seed.deploy.id}"]`).waitFor();
  await dlg.locator(`tr[data-deploy="${seed.deploy.id}"]`).click();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.field-error').first().waitFor(); // reason required
  await dlg.locator('input[name=description]').fill('new build misbehaves');
  assert.ok(await dlg.locator('input[name=markBad]').isChecked(), 'marking the build bad is on by default');
  await dlg.locator('input[name=markBad]').uncheck();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const cur = await waitFor(async () => {
    const d = await srv.api.get(stagePath('helloworld', 'canary') + '/deploys/current');
    return d.type === 'ROLLBACK' ? d : null;
  }, { what: 'a ROLLBACK deploy' });
  assert.equal(cur.buildId, seed.builds[0].id);
});

test('promote carries the build of another stage through the confirm dialog', async () => {
  const canary = await srv.api.get(stagePath('helloworld', 'canary') + '/deploys/current');
  await page.goto(srv.base + '/env/helloworld/prod');
  await page.click('[data-action=promote]');
  const dlg = page.locator('dialog[open]');
  await dlg.locator('select[name=fromStage]').selectOption('canary');
  await dlg.locator('.build-summary >> text=canary').waitFor();
  // canary has not succeeded (a host failed there): the promote guard asks for an explicit choice.
  assert.ok(!['SUCCEEDING', 'SUCCEEDED'].includes(canary.state));
  await dlg.locator('[data-role=promote-guard] input[name=promoteAnyway]').check();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const prod = await waitFor(async () => {
    const r = await srv.api.call('GET', stagePath('helloworld', 'prod') + '/deploys/current', { raw: true });
    return r.status === 200 ? r.body : null;
  }, { what: 'a deploy on prod' });
  assert.equal(prod.buildId, canary.buildId);
  assert.equal(prod.fromDeployId, canary.id);
  await page.goto(srv.base + '/env/helloworld/canary');
});

test('restart redeploys the current build through the confirm dialog', async () => {
  const before = await srv.api.get(stagePath('helloworld', 'canary') + '/deploys/current');
  await page.goto(srv.base + '/env/helloworld/canary');
  await page.click('[data-action=restart]');
  const dlg = page.locator('dialog[open]');
  assert.match(await dlg.textContent(), /restart scripts/);
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const cur = await waitFor(async () => {
    const d = await srv.api.get(stagePath('helloworld', 'canary') + '/deploys/current');
    return d.type === 'RESTART' ? d : null;
  }, { what: 'a RESTART deploy' });
  assert.equal(cur.buildId, before.buildId);
  await page.locator('.deploy-card .badge >> text=RESTART').waitFor();
});

test('history lists the deploys of the stage and filters them', async () => {
  await page.goto(srv.base + '/env/helloworld/canary/history');
  const rows = page.locator('table[aria-label=Deploys] tbody tr');
  await waitFor(async () => (await rows.count()) >= 3, { what: 'three deploys' });
  await page.selectOption('.filters select[name=type]', 'ROLLBACK');
  await waitFor(async () => (await rows.count()) === 1 && /ROLLBACK/.test(await rows.first().textContent()), { what: 'only the rollback' });
  await screenshot(page, '06-history');
});

test('an invalid config value shows the server validation error next to the field', async () => {
  await page.goto(srv.base + '/env/helloworld/canary/config');
  const form = page.locator('[data-role=general-form]');
  await form.locator('input[name=maxParallel]').fill('-5');
  await form.locator('[data-role=save]').click();
  const err = form.locator('input[name=maxParallel] ~ .field-error, .field:has(input[name=maxParallel]) .field-error');
  await err.first().waitFor();
  assert.match(await err.first().textContent(), /maxParallel/);
  assert.equal((await srv.api.get(stagePath('helloworld', 'canary'))).maxParallel, 1, 'nothing was saved');
  await screenshot(page, '07-config-error');
  // A valid value is saved.
  await form.locator('input[name=maxParallel]').fill('3');
  await form.locator('[data-role=save]').click();
  await waitFor(async () => (await srv.api.get(stagePath('helloworld', 'canary'))).maxParallel === 3, { what: 'maxParallel saved' });
  assert.equal(await form.locator('.field-error').count(), 0);
});

test('capacity and script variables are edited through the API', async () => {
  await page.goto(srv.base + '/env/payments/staging/config?tab=capacity');
  await page.fill('input[name=capacity-GROUP]', 'payments-asg');
  await page.click('form:has(input[name=capacity-GROUP]) button[type=submit]');
  await page.locator('.chip[data-name=payments-asg]').waitFor();
  assert.deepEqual(await srv.api.get(stagePath('payments', 'staging') + '/capacity', { capacityType: 'GROUP' }), ['payments-asg']);
  await page.goto(srv.base + '/env/payments/staging/config?tab=scripts');
  await page.fill('input[name=key-0]', 'LOG_LEVEL');
  await page.fill('input[name=value-0]', 'debug');
  await page.click('form button[type=submit]');
  await waitFor(async () => (await srv.api.get(stagePath('payments', 'staging') + '/script_configs')).LOG_LEVEL === 'debug', { what: 'script config' });
});

test('10,000 hosts render in under a second, sorted, with a failing-only filter', async () => {
  await ensureSignedIn(); // so that this test also runs alone (--test-name-pattern)
  const env = await srv.api.get(stagePath('search-indexer', 'prod'));
  const b = seed.builds[0];
  const deployId = 'synthDeploy000000000001';
  const stages = ['PRE_DOWNLOAD', 'DOWNLOADING', 'STAGING', 'RESTARTING', 'SERVING_BUILD'];
  const agents = Array.from({ length: 10000 }, (_, i) => ({
    hostId: `i-${i}`, hostName: `idx-${String(i).padStart(5, '0')}`, envId: env.id, deployId,
    deployStage: i % 7 === 0 ? stages[i % 4] : 'SERVING_BUILD', state: i % 97 === 0 ? 'PAUSED_BY_SYSTEM' : 'NORMAL',
    status: i % 97 === 0 ? 'SCRIPT_TIMEOUT' : i % 89 === 0 ? 'SCRIPT_FAILED' : 'SUCCEEDED',
    startDate: 1, lastUpdateDate: Date.now() - i * 1000, lastOperator: 'system', lastErrno: 0, failCount: 0,
    firstDeploy: false, firstDeployDate: 1, stageStartDate: 1, containerHealthStatus: '', holdsSlot: false, removed: false,
  }));
  const failing = agents.filter(a => a.state === 'PAUSED_BY_SYSTEM' || a.status !== 'SUCCEEDED').length;
  const deploy = { id: deployId, alias: null, envId: env.id, buildId: b.id, type: 'REGULAR', state: 'RUNNING', startDate: Date.now() - 60000,
    operator: 'ci', lastUpdateDate: Date.now(), description: 'fleet', successTotal: 8000, failTotal: 104, total: 10000,
    successDate: null, acceptanceStatus: 'PENDING_DEPLOY', fromDeployId: null };
  // the stage's agents a page at a time, as the server answers …/agents?limit=&after= (host name order)
  const agentPages = r => {
    const u = new URL(r.request().url());
    const limit = Number(u.searchParams.get('limit')), after = u.searchParams.get('after');
    assert.ok(limit >= 1 && limit <= 10000, 'the board reads the agents in pages');
    const from = after === null ? 0 : agents.findIndex(a => a.hostName > after);
    return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(from < 0 ? [] : agents.slice(from, from + limit)) });
  };
  await page.route('**/v1/envs/search-indexer/prod/agents?*', agentPages);
  await page.route('**/v1/envs/search-indexer/prod/deploys/current', r => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(deploy) }));
  await page.goto(srv.base + '/env/search-indexer/prod');
  const shown = page.locator('[data-role=hosts-shown]');
  await waitFor(async () => (await shown.textContent()) === '10,000 hosts', { what: '10,000 hosts', timeout: 15000 });
  const ms = await page.evaluate(() => Math.max(...performance.getEntriesByName('slipway:host-grid').map(e => e.duration)));
  // Page load: from the navigation's start to the end of the first 10,000-host grid render.
  const load = await page.evaluate(() => {
    const e = performance.getEntriesByName('slipway:host-grid')[0];
    return e.startTime + e.duration;
  });
  const summary = await page.evaluate(() => performance.getEntriesByName('slipway:deploy-summary')[0]?.startTime ?? NaN);
  console.log(`# host grid render of 10,000 hosts: ${ms.toFixed(1)} ms; page load to the deploy summary: ${summary.toFixed(0)} ms, ` +
    `to the rendered grid: ${load.toFixed(0)} ms (the 1 s page-load target is measured by bench/board with a real server)`);
  // A loose bound only: the responses here pass through playwright's request interception, and the machine is shared.
  assert.ok(load < 15000, `page load took ${load} ms`);
  assert.ok(summary < load, 'the deploy summary shows before the host grid');
  if (process.env.TIMELINE) console.log(await page.evaluate(() => JSON.stringify(performance.getEntries().map(e => [e.entryType, e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.duration)]))));
  // Every module is preloaded from index.html, so none waits for the module that imports it.
  const modules = fs.readdirSync(path.join(repoRoot, 'board/js'), { recursive: true }).filter(f => f.endsWith('.js')).map(f => '/js/' + f.split(path.sep).join('/'));
  const preloaded = await page.evaluate(() => [...document.querySelectorAll('link[rel=modulepreload]')].map(l => new URL(l.href).pathname));
  assert.deepEqual([...preloaded, '/js/app.js'].sort(), modules.sort(), 'index.html preloads every module of board/js');
  assert.ok(ms < 1000, `render took ${ms} ms`);
  // Only the rows in view exist in the DOM.
  assert.ok(await page.locator('.ht-spacer .ht-row').count() < 100);
  // Default sort puts failures first.
  assert.match(await page.locator('.ht-spacer .ht-row').first().textContent(), /Failed/);
  await screenshot(page, '08-10k-hosts');
  await page.check('[data-role=failing-only]');
  await waitFor(async () => (await shown.textContent()) === `${failing} of 10,000 hosts`, { what: 'failing filter' });
  // Sort by host name descending.
  await page.uncheck('[data-role=failing-only]');
  await page.click('[data-sort=hostName]');
  await page.click('[data-sort=hostName]');
  await waitFor(async () => /idx-09999/.test(await page.locator('.ht-spacer .ht-row').first().textContent()), { what: 'sorted desc' });
  // Scrolling the virtualised table renders the rows that come into view.
  await page.locator('.ht-scroll').evaluate(el => { el.scrollTop = el.scrollHeight; });
  await page.locator('.ht-row[data-host="idx-00000"]').waitFor();
  await page.unroute('**/v1/envs/search-indexer/prod/agents?*', agentPages);
  await page.unroute('**/v1/envs/search-indexer/prod/deploys/current');
});

test('builds and host pages render', async () => {
  await page.goto(srv.base + '/builds/helloworld');
  await page.locator(`tr[data-build="${seed.builds[0].id}"]`).waitFor();
  assert.equal(await page.locator('table[aria-label=Builds] tbody tr').count(), 3);
  await screenshot(page, '09-builds');
  // Tagging a build goes through a dialog and lands on the server.
  const b0 = seed.builds[0];
  await page.locator(`tr[data-build="${b0.id}"] [data-action=tag]`).click();
  const dlg = page.locator('dialog[open]');
  await dlg.locator('select[name=value]').selectOption('GOOD_BUILD');
  await dlg.locator('input[name=comments]').fill('verified in canary');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const tag = await waitFor(async () => {
    const r = await srv.api.call('GET', `/v1/builds/${b0.id}/tags`, { raw: true });
    return r.status === 200 && r.body.tag && r.body.tag.value === 'GOOD_BUILD' ? r.body.tag : null;
  }, { what: 'GOOD_BUILD tag' });
  assert.equal(tag.comments, 'verified in canary');
  await page.goto(srv.base + '/hosts/' + seed.hosts[11]);
  if (seed.pinged) {
    await page.locator('table[aria-label="Agents of this host"] >> text=helloworld').waitFor();
    await page.locator('table[aria-label="Host records"] >> text=10.0.0.12').waitFor();
  } else {
    await page.locator('text=Unknown host').waitFor();
  }
  await screenshot(page, '10-host');
});

// ---- pipeline config: promote, webhooks, schedule, history ----

const fieldError = (scope, name) => scope.locator(`.field:has([name="${name}"]) .field-error`);

test('promote config: server validation next to the field, then saved (also the BUILD source fields)', async () => {
  await page.goto(srv.base + '/env/helloworld/prod/config?tab=promote');
  const form = page.locator('[data-role=promote-form]');
  assert.ok(await form.locator('[data-role=promote-incomplete]').isHidden(), 'MANUAL is complete');
  await form.locator('select[name=type]').selectOption('AUTO');
  await form.locator('select[name=predStage]').selectOption('');
  // AUTO without a source is accepted as upstream does, and shown as incomplete
  await form.locator('[data-role=promote-incomplete]').waitFor();
  await form.locator('select[name=predStage]').selectOption('canary');
  assert.ok(await form.locator('[data-role=promote-incomplete]').isHidden(), 'complete once it has a source');
  await form.locator('input[name=schedule]').fill('0 0 25 * * ?');
  await form.locator('[data-role=save]').click();
  await fieldError(form, 'schedule').waitFor();
  assert.match(await fieldError(form, 'schedule').textContent(), /schedule/i);
  await screenshot(page, '12-promote-error');
  await form.locator('input[name=schedule]').fill('0 */5 * * * ?');
  await form.locator('input[name=delay]').fill('10');
  await form.locator('input[name=queueSize]').fill('2');
  await form.locator('select[name=failPolicy]').selectOption('ROLLBACK');
  await form.locator('select[name=disablePolicy]').selectOption('MANUAL');
  assert.ok(await form.locator('[data-role=build-source]').isHidden(), 'build fields only for BUILD');
  await form.locator('[data-role=save]').click();
  const p = await waitFor(async () => {
    const x = await srv.api.get(stagePath('helloworld', 'prod') + '/promotes');
    return x.type === 'AUTO' ? x : null;
  }, { what: 'promote config saved' });
  assert.deepEqual([p.predStage, p.schedule, p.delay, p.queueSize, p.failPolicy, p.disablePolicy],
    ['canary', '0 */5 * * * ?', 10, 2, 'ROLLBACK', 'MANUAL']);
  assert.equal(await form.locator('.field-error').count(), 0);
  // BUILD as the source shows the stage's build name and branch, saved on the stage.
  await form.locator('select[name=predStage]').selectOption('BUILD');
  await form.locator('[data-role=build-source]').waitFor();
  assert.equal(await form.locator('input[name=buildName]').inputValue(), 'helloworld');
  await form.locator('input[name=branch]').fill('bad branch!');
  await form.locator('[data-role=save]').click();
  await fieldError(form, 'branch').waitFor();
  await form.locator('input[name=branch]').fill('release');
  await form.locator('[data-role=save]').click();
  await waitFor(async () => (await srv.api.get(stagePath('helloworld', 'prod') + '/promotes')).predStage === 'BUILD', { what: 'predStage BUILD' });
  assert.equal((await srv.api.get(stagePath('helloworld', 'prod'))).branch, 'release');
  await screenshot(page, '13-promote');
  // Leave prod promoted by hand for the later tests.
  await srv.api.put(stagePath('helloworld', 'prod') + '/promotes', { type: 'MANUAL', predStage: '' });
});

test('the deploy dialog narrows builds by branch and commit, and warns about a build never deployed on the predecessor stage', async () => {
  const fresh = await srv.api.post('/v1/builds', {
    name: 'helloworld', repo: 'acme/helloworld', branch: 'feature-x', commit: 'f00dfeed1234',
    artifactUrl: 'https://artifacts.example.com/helloworld-f00d.tar.gz',
  });
  const canaryId = (await srv.api.get(stagePath('helloworld', 'canary'))).id;
  const onCanary = (await srv.api.get('/v1/deploys', { envId: canaryId, deployType: 'REGULAR' })).deploys[0].buildId;
  await page.goto(srv.base + '/env/helloworld/prod');
  await page.click('[data-action=deploy]');
  const dlg = page.locator('dialog[open]');
  // Narrow the list by commit prefix (client side), by branch, and by a full commit (server side).
  const rows = dlg.locator('tr[data-build]');
  await rows.first().waitFor();
  assert.ok(await rows.count() > 1);
  await dlg.locator('input[name=commit]').fill('f00d');
  await waitFor(async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-build')) === fresh.id, { what: 'commit prefix filter' });
  await dlg.locator('input[name=commit]').fill('');
  await dlg.locator('select[name=branch]').selectOption('feature-x');
  await waitFor(async () => (await rows.count()) === 1, { what: 'branch filter' });
  await dlg.locator('select[name=branch]').selectOption('');
  await dlg.locator('input[name=commit]').fill('f00dfeed1234');
  await waitFor(async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-build')) === fresh.id, { what: 'commit query' });
  await dlg.locator(`tr[data-build="${fresh.id}"]`).click();
  const warn = dlg.locator('[data-role=not-on-pred]');
  await warn.waitFor();
  assert.match(await warn.textContent(), /never deployed on canary/);
  await screenshot(page, '05b-deploy-not-on-predecessor');
  await dlg.locator('input[name=commit]').fill('');
  await dlg.locator(`tr[data-build="${onCanary}"]`).click();
  await dlg.locator('.build-summary').waitFor();
  await waitFor(async () => (await dlg.locator('.build-preview .spin').count()) === 0 && (await dlg.locator('.build-summary').count()) === 1, { what: 'preview of the canary build' });
  assert.equal(await warn.count(), 0, 'no warning for a build canary ran');
  await dlg.locator('[data-role=cancel]').click();
});

test('a new environment stage is created through the home page dialog', async () => {
  await page.goto(srv.base + '/');
  await page.click('[data-role=new-env]');
  const dlg = page.locator('dialog[open]');
  await dlg.locator('input[name=envName]').fill('bad name');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.field:has([name=envName]) .field-error').waitFor();
  // The server's answer (409: the pair exists) shows in the dialog.
  await dlg.locator('input[name=envName]').fill('helloworld');
  await dlg.locator('input[name=stageName]').fill('canary');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.dialog-error >> text=exists').waitFor();
  await dlg.locator('input[name=envName]').fill('ui-made');
  await dlg.locator('input[name=stageName]').fill('staging');
  await dlg.locator('select[name=stageType]').selectOption('STAGING');
  await dlg.locator('[data-role=confirm]').click();
  await page.waitForURL(srv.base + '/env/ui-made/staging/config');
  const created = await srv.api.get(stagePath('ui-made', 'staging'));
  assert.equal(created.stageType, 'STAGING');
  // Capacity through the config page.
  await page.goto(srv.base + '/env/ui-made/staging/config?tab=capacity');
  await page.fill('input[name=capacity-HOST]', 'ui-host-1');
  await page.click('form:has(input[name=capacity-HOST]) button[type=submit]');
  await page.locator('.chip[data-name=ui-host-1]').waitFor();
  assert.deepEqual(await srv.api.get(stagePath('ui-made', 'staging') + '/capacity', { capacityType: 'HOST' }), ['ui-host-1']);
});

test('stage controls: disable and enable the stage, alarms saved, a new stage cloned from this one', async () => {
  await srv.api.post('/v1/envs', { envName: 'clone-src', stageName: 'prod', buildName: 'helloworld', chatroom: '#src' });
  await srv.api.put(stagePath('clone-src', 'prod') + '/script_configs', { PORT: '8080' });
  await page.goto(srv.base + '/env/clone-src/prod/config?tab=stage');
  await page.locator('[data-action=disable]').click();
  await waitFor(async () => (await srv.api.get(stagePath('clone-src', 'prod'))).state === 'DISABLED');
  await page.locator('[data-action=enable]').click();
  await waitFor(async () => (await srv.api.get(stagePath('clone-src', 'prod'))).state === 'NORMAL');
  // a clone that already exists: the server's 409 lands next to the stage name, nothing is created
  const form = page.locator('[data-role=clone-form]');
  await form.locator('input[name=stageName]').fill('prod');
  await form.locator('[data-role=clone]').click();
  await fieldError(form, 'stageName').waitFor();
  await form.locator('input[name=stageName]').fill('prod-copy');
  await form.locator('input[name=capacity]').uncheck();
  await form.locator('[data-role=clone]').click();
  await page.waitForURL(/\/env\/clone-src\/prod-copy\/config/);
  const copy = await srv.api.get(stagePath('clone-src', 'prod-copy'));
  assert.equal(copy.chatroom, '#src');
  assert.deepEqual(await srv.api.get(stagePath('clone-src', 'prod-copy') + '/script_configs'), { PORT: '8080' });
  // alarms: a JSON list, refused when it does not parse
  await page.goto(srv.base + '/env/clone-src/prod/config?tab=alarms');
  const alarms = page.locator('[data-role=alarms-form]');
  await alarms.locator('textarea[name=alarms]').fill('[{"name": "5xx"');
  await alarms.locator('[data-role=save]').click();
  await fieldError(alarms, 'alarms').waitFor();
  await alarms.locator('textarea[name=alarms]').fill('[{"name": "5xx", "alarmUrl": "https://a.example/5xx"}]');
  await alarms.locator('[data-role=save]').click();
  await waitFor(async () => (await srv.api.get(stagePath('clone-src', 'prod') + '/alarms')).length === 1);
});

test('webhooks: pre and post lists are edited, the server error lands next to the hook field', async () => {
  await page.goto(srv.base + '/env/payments/staging/config?tab=webhooks');
  const form = page.locator('[data-role=webhooks-form]');
  await form.locator('[data-action=add-preDeployHooks]').click();
  await form.locator('input[name="preDeployHooks[0].url"]').fill('https://hooks.example.com/pre?d=$TELETRAAN_DEPLOY_ID');
  await form.locator('input[name="preDeployHooks[0].headers"]').fill('X-Team:payments;Content-Type:application/json');
  await form.locator('[data-action=add-postDeployHooks]').click();
  await form.locator('select[name="postDeployHooks[0].method"]').selectOption('PUT');
  await form.locator('textarea[name="postDeployHooks[0].body"]').fill('{"state": $TELETRAAN_NUMERIC_DEPLOY_STATE}');
  await form.locator('[data-role=save]').click();
  const err = fieldError(form, 'postDeployHooks[0].url');
  await err.waitFor();
  assert.match(await err.textContent(), /url is required/);
  assert.deepEqual((await srv.api.get(stagePath('payments', 'staging') + '/web_hooks')).preDeployHooks, null, 'nothing saved (a stage without hooks answers null, as upstream)');
  await screenshot(page, '14-webhooks-error');
  await form.locator('input[name="postDeployHooks[0].url"]').fill('https://hooks.example.com/post');
  await form.locator('[data-role=save]').click();
  const hooks = await waitFor(async () => {
    const x = await srv.api.get(stagePath('payments', 'staging') + '/web_hooks');
    return x.postDeployHooks.length ? x : null;
  }, { what: 'webhooks saved' });
  assert.equal(hooks.preDeployHooks.length, 1);
  assert.equal(hooks.preDeployHooks[0].url, 'https://hooks.example.com/pre?d=$TELETRAAN_DEPLOY_ID');
  assert.equal(hooks.preDeployHooks[0].method, 'POST');
  assert.equal(hooks.preDeployHooks[0].headers, 'X-Team:payments;Content-Type:application/json');
  assert.equal(hooks.postDeployHooks[0].method, 'PUT');
  assert.equal(hooks.postDeployHooks[0].body, '{"state": $TELETRAAN_NUMERIC_DEPLOY_STATE}');
  // Reloading shows what the server has; removing a hook saves the shorter list.
  await page.reload();
  await form.locator('input[name="postDeployHooks[0].url"]').waitFor();
  assert.equal(await form.locator('input[name="preDeployHooks[0].url"]').inputValue(), 'https://hooks.example.com/pre?d=$TELETRAAN_DEPLOY_ID');
  await form.locator('[data-list=preDeployHooks] [aria-label="Remove hook"]').click();
  await form.locator('[data-role=save]').click();
  await waitFor(async () => (await srv.api.get(stagePath('payments', 'staging') + '/web_hooks')).preDeployHooks.length === 0, { what: 'pre hook removed' });
});

test('deploy schedule: sessions saved, a negative cooldown waits and the override continues the rollout', async () => {
  await srv.api.post('/v1/envs', { envName: 'sched-app', stageName: 'prod', buildName: 'helloworld' });
  const hosts = ['sched-1', 'sched-2', 'sched-3'];
  await srv.api.put(stagePath('sched-app', 'prod') + '/capacity', hosts, { capacityType: 'HOST' });
  await page.goto(srv.base + '/env/sched-app/prod/config?tab=schedule');
  const form = page.locator('[data-role=schedule-form]');
  await form.locator('input[name="hostNumbers[0]"]').fill('1');
  await form.locator('input[name="manual[0]"]').check();
  await form.locator('[data-action=add-session]').click();
  await form.locator('input[name="hostNumbers[1]"]').fill('0');
  await form.locator('input[name="cooldownTimes[1]"]').fill('5');
  await form.locator('[data-role=save]').click();
  const err = fieldError(form, 'hostNumbers[1]');
  await err.waitFor();
  assert.match(await err.textContent(), /hostNumbers/);
  assert.equal((await srv.api.get(stagePath('sched-app', 'prod'))).scheduleId, null, 'nothing saved');
  await form.locator('input[name="hostNumbers[1]"]').fill('100%');
  await form.locator('[data-role=save]').click();
  const env = await waitFor(async () => { const e = await srv.api.get(stagePath('sched-app', 'prod')); return e.scheduleId ? e : null; }, { what: 'schedule saved' });
  const schedPath = `/v1/schedules/sched-app/prod/${env.scheduleId}`;
  let sch = await srv.api.get(schedPath);
  assert.deepEqual([sch.totalSessions, sch.hostNumbers, sch.cooldownTimes, sch.state], [2, '1,100%', '-1,5', 'NOT_STARTED']);
  // A deploy starts session 1; once a host serves, the state transition moves it to COOLING_DOWN, where the
  // negative cooldown waits for a person.
  await srv.api.post(stagePath('sched-app', 'prod') + '/deploys', undefined, { buildId: seed.builds[2].id, force: 'true' });
  const pinged = await simulateAgents(srv.api, hosts, { rounds: 12 });
  assert.ok(pinged, 'the server has the ping path');
  sch = await waitFor(async () => {
    await srv.api.put(stagePath('sched-app', 'prod') + '/deploys/current/progress');
    const s = await srv.api.get(schedPath);
    return s.state === 'COOLING_DOWN' ? s : null;
  }, { what: 'COOLING_DOWN', timeout: 15000 });
  assert.equal(sch.currentSession, 1);
  await page.reload();
  const state = page.locator('[data-role=schedule-state]');
  await state.locator('text=waits for a manual override').first().waitFor();
  await screenshot(page, '15-schedule-cooling');
  await page.click('[data-action=override]');
  const dlg = page.locator('dialog[open]');
  assert.match(await dlg.textContent(), /Session 2 starts now/);
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  sch = await waitFor(async () => { const s = await srv.api.get(schedPath); return s.state !== 'COOLING_DOWN' ? s : null; }, { what: 'override applied' });
  assert.equal(sch.currentSession, 2);
  assert.ok(['RUNNING', 'COOLING_DOWN', 'FINAL'].includes(sch.state));
  await state.locator('text=2 of 2').waitFor();
});

test('config history lists the changes with field-level diffs', async () => {
  await page.goto(srv.base + '/env/helloworld/prod/config?tab=history');
  const table = page.locator('table[aria-label="Config history"]');
  await table.waitFor();
  // The two promote saves of the promote test: the second changed predStage canary → BUILD.
  const changes = table.locator('tr[data-type="Env Promote Config"] li.diff-change[data-key=predStage]');
  await changes.first().waitFor();
  assert.deepEqual((await changes.allTextContents()).map(t => t.replace(/\s+/g, ' ')),
    ['predStage: BUILD → "" (cleared)', 'predStage: canary → BUILD'], 'newest first');
  const branch = table.locator('tr[data-type="Env General Config"] li[data-key=branch]').first();
  assert.match(await branch.textContent(), /release/);
  await page.selectOption('select[name=historyType]', 'Env Promote Config');
  await waitFor(async () => (await table.locator('tbody tr').count()) === (await table.locator('tbody tr[data-type="Env Promote Config"]').count()), { what: 'type filter' });
  await screenshot(page, '16-config-history');
  // Whole-value configs diff against the previous value: the webhook list lost its pre hook.
  await page.goto(srv.base + '/env/payments/staging/config?tab=history');
  await page.locator('tr[data-type="Env Webhook Config"] li.diff-change[data-key=preDeployHooks]').first().waitFor();
});

// ---- tokens ----

test('tokens: an admin creates (secret shown once), edits and revokes SYSTEM and ENV tokens', async () => {
  await page.goto(srv.base + '/');
  const nav = page.locator('#mainnav [data-nav=tokens]');
  await nav.waitFor();
  await nav.click();
  await page.waitForURL(srv.base + '/tokens');
  await page.locator('tr[data-token=bootstrap-admin]').waitFor();
  await page.click('[data-action=create-token]');
  let dlg = page.locator('dialog[open]');
  await dlg.locator('input[name=name]').fill('bad name!');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.field:has([name=name]) .field-error').waitFor();
  await dlg.locator('input[name=name]').fill('ci-bot');
  await dlg.locator('select[name=role]').selectOption('PUBLISHER');
  await dlg.locator('select[name=expiryChoice]').selectOption('30');
  await dlg.locator('[data-role=confirm]').click();
  const secretEl = page.locator('dialog[open] [data-role=secret]');
  await secretEl.waitFor();
  const secret = (await secretEl.textContent()).trim();
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  await screenshot(page, '17-token-secret');
  const who = async t => {
    const r = await fetch(srv.base + '/v1/system/whoami', { headers: { Authorization: 'token ' + t } });
    return { status: r.status, body: r.status === 200 ? await r.json() : null };
  };
  const me = await who(secret);
  assert.equal(me.status, 200);
  assert.equal(me.body.name, 'ci-bot');
  assert.deepEqual(me.body.roles.map(r => [r.type, r.role]), [['SYSTEM', 'PUBLISHER']]);
  let row = await srv.api.get('/v1/system/token_roles/ci-bot');
  assert.ok(Math.abs(row.expireDate - (Date.now() + 30 * 86400000)) < 3600000, 'expires in 30 days');
  await page.locator('dialog[open] [data-role=cancel]').click();
  const tr = page.locator('tr[data-token=ci-bot]');
  await tr.waitFor();
  assert.equal(await page.locator('[data-role=secret]').count(), 0, 'the secret is gone once the dialog closes');
  // Edit: role and expiry.
  await tr.locator('[data-action=edit]').click();
  dlg = page.locator('dialog[open]');
  await dlg.locator('select[name=role]').selectOption('READER');
  await dlg.locator('select[name=expiryChoice]').selectOption('never');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  row = await waitFor(async () => { const x = await srv.api.get('/v1/system/token_roles/ci-bot'); return x.role === 'READER' ? x : null; }, { what: 'role READER' });
  assert.equal(row.expireDate, null);
  await tr.locator('text=never').waitFor();
  // Revoke: the token stops working.
  await tr.locator('[data-action=revoke]').click();
  await page.locator('dialog[open] [data-role=confirm]').click();
  await tr.waitFor({ state: 'detached' });
  assert.equal((await who(secret)).status, 401);
  // ENV tokens of helloworld.
  await page.selectOption('[data-role=scope]', 'helloworld');
  await page.waitForURL(srv.base + '/tokens?env=helloworld');
  await page.click('[data-action=create-token]');
  dlg = page.locator('dialog[open]');
  await dlg.locator('input[name=name]').fill('hw-ops');
  await dlg.locator('select[name=role]').selectOption('OPERATOR');
  await dlg.locator('[data-role=confirm]').click();
  await page.locator('dialog[open] [data-role=secret]').waitFor();
  await page.locator('dialog[open] [data-role=cancel]').click();
  await page.locator('tr[data-token=hw-ops]').waitFor();
  const envTokens = await srv.api.get('/v1/envs/helloworld/token_roles');
  assert.deepEqual(envTokens.map(t => [t.name, t.type, t.resource, t.role]), [['hw-ops', 'ENV', 'helloworld', 'OPERATOR']]);
  await screenshot(page, '18-tokens');
});

// ---- compare ----

test('history compares two deploys: builds, commits, branches and the repository compare link', async () => {
  await srv.api.post('/v1/envs', { envName: 'compare-app', stageName: 'prod', buildName: 'helloworld' });
  const mk = (commit, branch) => srv.api.post('/v1/builds', {
    name: 'helloworld', repo: 'acme/helloworld', branch, commit,
    commitInfo: `https://github.com/acme/helloworld/commit/${commit}`,
    artifactUrl: `https://artifacts.example.com/helloworld-${commit}.tar.gz`,
  });
  const b1 = await mk('1111111aaaaaaaaa', 'master'), b2 = await mk('2222222bbbbbbbbb', 'hotfix-1');
  const d1 = await srv.api.post(stagePath('compare-app', 'prod') + '/deploys', undefined, { buildId: b1.id, force: 'true' });
  // The newer deploy starts at a later millisecond (the compare orders the two by start time).
  await waitFor(() => Date.now() > d1.startDate, { interval: 1, what: 'the next millisecond' });
  const d2 = await srv.api.post(stagePath('compare-app', 'prod') + '/deploys', undefined, { buildId: b2.id, force: 'true' });
  await page.goto(srv.base + '/env/compare-app/prod/history');
  const compareBtn = page.locator('[data-action=compare]');
  await page.locator(`tr[data-deploy="${d2.id}"] input[name=pick]`).check();
  assert.ok(await compareBtn.isDisabled(), 'needs two');
  await page.locator(`tr[data-deploy="${d1.id}"] input[name=pick]`).check();
  await compareBtn.click();
  await page.waitForURL(/compare=/);
  const panel = page.locator('section.compare');
  const linkEl = panel.locator('[data-role=compare-link]');
  await linkEl.waitFor();
  assert.equal(await linkEl.getAttribute('href'), 'https://github.com/acme/helloworld/compare/1111111aaaaaaaaa...2222222bbbbbbbbb');
  const text = await panel.textContent();
  for (const s of ['1111111aaaaaaaaa', '2222222bbbbbbbbb', 'hotfix-1', 'master', 'acme/helloworld']) assert.ok(text.includes(s), s);
  assert.match(await panel.locator('[data-role=verdict]').textContent(), /Branches differ/);
  await screenshot(page, '19-compare');
  // Builds without a known repository URL: no link, and it says why.
  const canary = (await srv.api.get('/v1/deploys', { envId: (await srv.api.get(stagePath('helloworld', 'canary'))).id })).deploys;
  const pair = [canary.find(d => d.buildId === seed.builds[0].id), canary.find(d => d.buildId !== seed.builds[0].id)];
  await page.goto(`${srv.base}/env/helloworld/canary/history?compare=${pair[0].id},${pair[1].id}`);
  await page.locator('section.compare [data-role=no-compare-link]').waitFor();
  await page.locator('section.compare >> text=Close').click();
  await page.waitForURL(srv.base + '/env/helloworld/canary/history');
  assert.equal(await page.locator('section.compare').count(), 0);
});

test('sign out returns to the sign-in screen; no uncaught page errors', async () => {
  await page.goto(srv.base + '/');
  await page.click('[data-role=signout]');
  await page.waitForSelector('.login-card');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), null);
  assert.deepEqual(pageErrors, []);
});

test('a sign-in link can be refused: nothing is stored and the sign-in form comes back', async () => {
  const created = await srv.api.post('/v1/envs/payments/token_roles', { name: 'link-from-a-stranger', role: 'OPERATOR' });
  await page.goto(`${srv.base}/login?next=%2Fbuilds#token=${created.token}`);
  await page.locator('[data-role=signin-name] >> text=link-from-a-stranger').waitFor();
  await page.locator('.login-roles >> text=OPERATOR @ payments').waitFor();
  await page.locator('[data-role=cancel-signin]').click();
  await page.locator('.login-form #token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), null);
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.locator('.whoami').count(), 0, 'not signed in');
  // A link with a bad token says so on the form and stores nothing either.
  await page.goto(`${srv.base}/login#token=not-a-token`);
  const err = await page.waitForSelector('.login-form .field-error:not([hidden])');
  assert.match(await err.textContent(), /sign-in link did not work/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), null);
});

test('a READER token sees the stage read-only and no secret config tabs', async () => {
  const created = (await srv.api.call('POST', '/v1/envs/helloworld/token_roles', { raw: true, body: { name: 'board-reader', role: 'READER' } }));
  assert.equal(created.status, 201);
  await srv.api.put(stagePath('helloworld', 'canary') + '/script_configs', { DB_PASSWORD: 'hunter2-board' });
  await signInByLink(page, srv.base, created.body.token, '/env/helloworld/canary');
  await page.locator('.whoami >> text=board-reader').waitFor();
  await page.locator('.action-bar >> text=read-only access').waitFor();
  assert.equal(await page.locator('[data-action=deploy]').count(), 0);
  await page.locator('.ht-row[data-host]').first().waitFor();
  assert.equal(await page.locator('.ht-row [data-action]').count(), 0, 'no host actions for a reader');
  assert.ok(await page.locator('#mainnav [data-nav=tokens]').isHidden(), 'no Tokens link for a reader');
  await screenshot(page, '11-reader');
  // Reloading keeps the read-only view (roles are known before the first render).
  await page.reload();
  await page.locator('.action-bar >> text=read-only access').waitFor();
  assert.equal(await page.locator('[data-action=deploy]').count(), 0);
  await page.goto(srv.base + '/env/helloworld/canary/config?tab=promote');
  await page.locator('[data-role=promote-form]').waitFor();
  assert.ok(await page.locator('[data-role=promote-form] [data-role=save]').isDisabled());
  assert.equal(await page.locator('.side-nav [data-tab=tokens]').count(), 0);
  // Script variables, agent configs and webhooks are OPERATOR-only: no tabs, and their values are hidden in the history.
  const tabs = await page.locator('.side-nav a[data-tab]').evaluateAll(as => as.map(a => a.dataset.tab));
  assert.deepEqual(tabs.filter(t => ['scripts', 'agent', 'webhooks'].includes(t)), []);
  assert.ok(tabs.includes('general') && tabs.includes('history'), tabs.join());
  await page.goto(srv.base + '/env/helloworld/canary/config?tab=scripts');
  await page.locator('[data-role=general-form]').waitFor();
  await page.goto(srv.base + '/env/helloworld/canary/config?tab=history');
  await page.locator('tr[data-type="Env Script Config"] [data-hidden=true]').waitFor();
  assert.ok(!(await page.content()).includes('hunter2-board'), 'the secret is not on the page');
  await page.goto(srv.base + '/tokens');
  await page.locator('text=Admins only').waitFor();
  assert.deepEqual(pageErrors, []);
});

test('board files carry an ETag and revalidate with a 304; the browser reuses them', async () => {
  const first = await fetch(srv.base + '/js/app.js');
  const etag = first.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  const again = await fetch(srv.base + '/js/app.js', { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await again.arrayBuffer()).byteLength, 0);
  const other = await fetch(srv.base + '/style.css', { headers: { 'If-None-Match': etag } });
  assert.equal(other.status, 200, 'another file\'s ETag does not match');
  // A client-side route answers index.html with index.html's ETag.
  const idx = (await fetch(srv.base + '/index.html')).headers.get('etag');
  assert.equal((await fetch(srv.base + '/env/a/b', { headers: { 'If-None-Match': idx } })).status, 304);
  // A second visit in the browser revalidates instead of downloading the modules again.
  await ensureSignedIn();
  await page.goto(srv.base + '/builds');
  const sizes = await page.evaluate(() => performance.getEntriesByType('resource').filter(e => e.name.includes('/js/')).map(e => e.encodedBodySize));
  assert.ok(sizes.length > 0 && sizes.every(n => n === 0), `modules came from the cache: ${sizes}`);
});

test('board modules: the route table is the one module that imports pages; no page imports app.js', () => {
  const dir = path.join(repoRoot, 'board/js');
  const files = fs.readdirSync(dir, { recursive: true }).filter(f => f.endsWith('.js')).map(f => f.split(path.sep).join('/'));
  const imports = f => [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/^import\b[^;]*?from\s+'([^']+)'/gms)]
    .map(m => path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1])));
  for (const f of files) {
    const deps = imports(f);
    assert.ok(!deps.includes('app.js'), `${f} imports app.js`);
    if (f !== 'routes.js' && !f.startsWith('pages/')) {
      assert.deepEqual(deps.filter(d => d.startsWith('pages/')), [], `${f} imports pages`);
    }
  }
  assert.ok(imports('routes.js').includes('pages/stage.js'));
});

test('every API request the board made is a route of the server, documented in PROTOCOL.md or docs/api.md', async () => {
  const bin = path.join(process.env.SLIPWAY_BUILD_DIR || path.join(repoRoot, 'build'), 'src/server/slipway-server');
  const routes = execFileSync(bin, ['--dump-routes'], { encoding: 'utf8' }).trim().split('\n').map(l => JSON.parse(l))
    .map(r => ({ ...r, re: new RegExp('^' + r.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}/]+\}/g, '[^/]+') + '/?$') }));
  // The spec lives outside the repository; check against it when it is there.
  const specFile = process.env.SLIPWAY_PROTOCOL || '/work/shared/spec/PROTOCOL.md';
  // Endpoints the project added beyond the spec are documented in docs/api.md.
  const spec = fs.existsSync(specFile) ? (fs.readFileSync(specFile, 'utf8') + fs.readFileSync(path.join(repoRoot, 'docs/api.md'), 'utf8'))
    .replace(/\{[^}/]*\}/g, '{}') : null;
  const documented = p => {
    const n = p.replace(/\{[^}/]*\}/g, '{}').replace(/^\/v1\/envs\/\{\}\/\{\}(?=\/|$)/, '{}/{}');
    if ([' ', '`', '['].some(c => spec.includes(n + c))) return true;
    if (n.endsWith('/{}') && spec.includes(n.slice(0, -3) + '[/{}]')) return true;
    return spec.includes('.../' + n.split('/').pop() + '`');
  };
  assert.ok(apiCalls.size >= 30, `the board made ${apiCalls.size} distinct calls`);
  const bad = [];
  const used = new Set();
  for (const [call, from] of apiCalls) {
    const [method, p] = call.split(' ');
    const hits = routes.filter(r => r.method === method && r.re.test(p));
    if (!hits.length) { bad.push(`${call} (from ${from}): no such route`); continue; }
    // The most literal route wins, as in the server's router.
    const r = hits.sort((a, b) => (a.path.match(/\{/g) || []).length - (b.path.match(/\{/g) || []).length)[0];
    used.add(`${r.method} ${r.path}`);
    if (spec && !documented(r.path)) bad.push(`${call} → ${r.path}: not in PROTOCOL.md or docs/api.md`);
  }
  console.log(`# the board used ${used.size} endpoints: ${[...used].sort().join(', ')}`);
  assert.deepEqual(bad, []);
});

test('the board works under a Content-Security-Policy that allows only its own scripts', async () => {
  // The server's own headers may say more; this pins what the board needs: no inline script or handler.
  const csp = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
  const own = await launchBrowser(); // routing changes the HTTP cache: keep it away from the shared browser
  const p = await own.context.newPage();
  const violations = [], errors = [];
  p.on('pageerror', e => errors.push(e.message));
  p.on('console', m => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await p.addInitScript(() => document.addEventListener('securitypolicyviolation',
    e => console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`)));
  await p.route(url => new URL(url).origin === srv.base && !new URL(url).pathname.startsWith('/v1/'), async route => {
    const res = await route.fetch();
    await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': csp } });
  });
  try {
    await signInByLink(p, srv.base, srv.token);
    await p.locator('.env-row[data-env=helloworld]').waitFor();
    assert.ok((await p.evaluate(() => document.querySelector('meta[http-equiv]'))) === null);
    for (const path of ['/env/helloworld/canary', '/env/helloworld/canary/config?tab=scripts', '/env/helloworld/canary/history', '/builds', '/hosts', '/tokens']) {
      await p.goto(srv.base + path);
      await p.locator('.page').first().waitFor();
    }
    await p.locator('.kbd-hint').click(); // a handler attached by the board's own script
    await p.locator('dialog[open]').waitFor();
    assert.deepEqual(violations, []);
    assert.deepEqual(errors, []);
  } finally {
    await own.close();
  }
});
