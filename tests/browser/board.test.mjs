// SPDX-License-Identifier: Apache-2.0
// tests/browser/board.test.mjs: the deploy board in a real browser (Debian chromium via playwright-core)
// against a real slipway-server with data seeded through the REST API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, screenshot, waitFor, simulateAgents } from './harness.mjs';

let srv, browser, page, seed;
const pageErrors = [];

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

test('/login#token= signs in directly, goes home and lists the environments', async () => {
  await page.goto(`${srv.base}/login#token=${srv.token}`);
  await page.waitForURL(srv.base + '/');
  assert.ok(!page.url().includes(srv.token), 'the token must leave the address bar');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), srv.token);
  const me = await srv.api.call('GET', '/v1/system/whoami', { raw: true });
  if (me.status === 200) await page.locator(`.whoami >> text=${me.body.name}`).waitFor();
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
  await waitFor(async () => (await bar.getAttribute('aria-valuemax')) === String(current.total), { what: 'progress total' });
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
  const body = JSON.stringify({ agents, missingHosts: [], provisioningHosts: [], removedHosts: [] });
  await page.route('**/v1/envs/search-indexer/prod/deploys/current/progress', r => r.fulfill({ status: 200, contentType: 'application/json', body }));
  await page.route('**/v1/envs/search-indexer/prod/deploys/current', r => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(deploy) }));
  await page.goto(srv.base + '/env/search-indexer/prod');
  const shown = page.locator('[data-role=hosts-shown]');
  await waitFor(async () => (await shown.textContent()) === '10,000 hosts', { what: '10,000 hosts', timeout: 15000 });
  const ms = await page.evaluate(() => Math.max(...performance.getEntriesByName('slipway:host-grid').map(e => e.duration)));
  console.log(`# host grid render of 10,000 hosts: ${ms.toFixed(1)} ms`);
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
  await page.unroute('**/v1/envs/search-indexer/prod/deploys/current/progress');
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

test('sign out returns to the sign-in screen; no uncaught page errors', async () => {
  await page.goto(srv.base + '/');
  await page.click('[data-role=signout]');
  await page.waitForSelector('.login-card');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), null);
  assert.deepEqual(pageErrors, []);
});

test('a READER token sees the stage read-only', async t => {
  const created = await srv.api.call('POST', '/v1/envs/helloworld/token_roles', { raw: true, body: { name: 'board-reader', role: 'READER' } });
  if (created.status !== 201) { t.skip(`no token_roles endpoint (${created.status})`); return; }
  const me = await srv.api.call('GET', '/v1/system/whoami', { raw: true });
  if (me.status !== 200) { t.skip('no whoami endpoint'); return; }
  await page.goto(`${srv.base}/login?next=${encodeURIComponent('/env/helloworld/canary')}#token=${created.body.token}`);
  await page.waitForURL(srv.base + '/env/helloworld/canary');
  await page.locator('.whoami >> text=board-reader').waitFor();
  await page.locator('.action-bar >> text=read-only access').waitFor();
  assert.equal(await page.locator('[data-action=deploy]').count(), 0);
  await page.locator('.ht-row[data-host]').first().waitFor();
  assert.equal(await page.locator('.ht-row [data-action]').count(), 0, 'no host actions for a reader');
  await screenshot(page, '11-reader');
  assert.deepEqual(pageErrors, []);
});
