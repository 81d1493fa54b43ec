// SPDX-License-Identifier: Apache-2.0
// tests/browser/records.test.mjs: what the board keeps for on-call (issue 22): host search by partial name
// (type-ahead, paging, phone width), the config a deploy ran with on its page, and an old deploy's per-host results
// after its hosts moved on to the next deploy. Seeded through the REST API (agents played through
// POST /v1/system/ping).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, screenshot, waitFor, simulateAgents, openSignedIn } from './harness.mjs';

let srv, browser, page, pageErrors;
const P = '/v1/envs/web/prod';
const seed = {};
const HOSTS = ['web-001', 'web-002', 'web-003'];

async function currentDeploy() {
  await srv.api.put(P + '/deploys/current/progress');
  const r = await srv.api.call('GET', P + '/deploys/current', { raw: true });
  return r.status === 200 ? r.body : null;
}

before(async () => {
  srv = await startServer();
  const api = srv.api;
  await api.post('/v1/envs', { envName: 'web', stageName: 'prod', buildName: 'web' });
  await api.put(P, { maxParallel: 3 });
  await api.put(P + '/capacity', HOSTS, { capacityType: 'HOST' });
  await api.put(P + '/script_configs', { PORT: '8080', DB_PASSWORD: 's3cret' });
  await api.put(P + '/agent_configs', { process_timeout: '900' });
  seed.builds = [];
  for (const commit of ['1111aaaa2222', '3333bbbb4444']) {
    seed.builds.push(await api.post('/v1/builds', { name: 'web', repo: 'acme/web', branch: 'main', commit, artifactUrl: `https://artifacts.example.com/web-${commit}.tar.gz` }));
  }
  // The first deploy: web-002 fails its script; the others succeed.
  seed.d1 = await api.post(P + '/deploys', undefined, { buildId: seed.builds[0].id });
  await simulateAgents(api, HOSTS, { rounds: 10, idPrefix: 'w-', failing: 'web-002', failStatus: 'TOO_MANY_RETRY', failCode: () => 4,
    failMessage: () => 'unpacking web\nERROR: disk full on /srv/web' });
  await waitFor(async () => { const d = await currentDeploy(); return d && d.successTotal === 2 ? d : null; }, { what: 'deploy 1 on two hosts' });
  // The stage's config changes; the second deploy runs with the new one and every host moves on to it.
  await api.put(P + '/script_configs', { PORT: '9090' });
  await api.put(P, { maxParallel: 2 });
  seed.d2 = await api.post(P + '/deploys', undefined, { buildId: seed.builds[1].id });
  await api.put(P + '/agents/w-1001', { state: 'RESET' });
  await simulateAgents(api, HOSTS, { rounds: 24, idPrefix: 'w-' });
  await waitFor(async () => { const d = await currentDeploy(); return d && d.successTotal === 3 ? d : null; }, { what: 'deploy 2 on every host' });
  // Host records that never pinged, for the search: one name containing "web", and more "cache" names than a page.
  await api.post('/v1/hosts', { hostName: 'api-web-001', hostId: 'r-0', groupName: 'g1' });
  for (let i = 1; i <= 23; i++) await api.post('/v1/hosts', { hostName: `cache-${String(i).padStart(2, '0')}`, hostId: `r-${i}`, groupName: 'g1' });
  ({ browser, page, pageErrors } = await openSignedIn(srv));
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

const resultNames = () => page.locator('[data-role=host-results] li').evaluateAll(ls => ls.map(l => l.dataset.host));

test('host search: type-ahead by prefix then substring, paging, Enter opens the only match, phone width', async () => {
  await page.goto(srv.base + '/hosts');
  const input = page.locator('input[name=host]');
  await input.fill('web-00');
  await waitFor(async () => (await resultNames()).length === 4, { what: 'four matches for web-00' });
  // names that start with the text first, then those that only contain it
  assert.deepEqual(await resultNames(), ['web-001', 'web-002', 'web-003', 'api-web-001']);
  assert.equal(await page.locator('[data-role=host-results] li[data-host=api-web-001] mark').textContent(), 'web-00');
  assert.match(await page.locator('[data-role=host-results] li[data-host=web-002]').textContent(), /1 stage · seen/);
  assert.match(await page.locator('[data-role=host-results] li[data-host=api-web-001]').textContent(), /0 stages · never pinged/);
  assert.equal(new URL(page.url()).search, '?q=web-00', 'the address keeps the text');

  // more names than a page: "More" loads the rest
  await input.fill('cache');
  await waitFor(async () => (await resultNames()).length === 20, { what: 'a first page of cache hosts' });
  const more = page.locator('[data-action=more-hosts]');
  assert.ok(await more.isVisible());
  await more.click();
  await waitFor(async () => (await resultNames()).length === 23, { what: 'every cache host' });
  assert.deepEqual(await resultNames(), Array.from({ length: 23 }, (_, i) => `cache-${String(i + 1).padStart(2, '0')}`));
  await more.waitFor({ state: 'hidden' });

  // a reload shows the same results; phone width: no horizontal page scroll
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(srv.base + '/hosts?q=b-00');
  await waitFor(async () => (await resultNames()).length === 4, { what: 'the results of ?q=b-00' });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll at 390 px');
  await screenshot(page, 'records-host-search-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // Enter with a single match opens that host
  await page.locator('input[name=host]').fill('eb-003');
  await waitFor(async () => (await resultNames()).join() === 'web-003', { what: 'the single match' });
  await page.locator('input[name=host]').press('Enter');
  await page.waitForURL(srv.base + '/hosts/web-003');
  await page.locator('h1', { hasText: 'web-003' }).waitFor();
  // unknown text: the list says so
  await page.goto(srv.base + '/hosts');
  await page.locator('input[name=host]').fill('nosuch');
  await page.locator('[data-role=search-status]', { hasText: 'No host name contains “nosuch”' }).waitFor();
  assert.deepEqual(pageErrors, []);
});

test('an old deploy keeps its per-host results and shows the config it ran with', async () => {
  const live = await srv.api.get(P + '/agents');
  assert.ok(live.every(a => a.deployId === seed.d2.id), 'every host moved on to deploy 2');
  await page.goto(srv.base + '/deploys/' + seed.d1.id);
  const hosts = page.locator('table[aria-label="Hosts on this deploy"]');
  await hosts.waitFor();
  assert.deepEqual(await hosts.locator('tr[data-host]').evaluateAll(rs => rs.map(r => r.dataset.host)), ['web-002', 'web-001', 'web-003']);
  await page.locator('[data-role=hosts-recorded]').waitFor();
  const failed = hosts.locator('tr[data-host=web-002]');
  assert.match(await failed.textContent(), /TOO MANY RETRY/);
  assert.equal(await failed.locator('td[data-label="Exit code"]').textContent(), '4');
  assert.equal(await failed.locator('summary').textContent(), 'ERROR: disk full on /srv/web');
  await failed.locator('summary').click();
  assert.match(await failed.locator('pre').textContent(), /unpacking web\nERROR: disk full/);
  assert.match(await hosts.locator('tr[data-host=web-001]').textContent(), /SERVING BUILD.*SUCCEEDED/);

  // the config of its start, not today's
  const ran = page.locator('[data-role=ran-with]');
  assert.equal(await ran.locator('table[aria-label="Script variables"] tr[data-name=PORT] td[data-label=Value]').textContent(), '8080');
  assert.equal(await ran.locator('table[aria-label="Script variables"] tr[data-name=DB_PASSWORD] td[data-label=Value]').textContent(), 's3cret');
  assert.equal(await ran.locator('table[aria-label="Agent configs"] tr[data-name=process_timeout] td[data-label=Value]').textContent(), '900');
  assert.match(await ran.locator('.kv-grid').textContent(), /Max parallel3/);
  // and the changes made while it ran, up to the deploy that replaced it (not its own creation)
  const during = await page.locator('[data-role=config-during]').textContent();
  assert.match(during, /^2 config changes of the stage while it ran: /);
  assert.match(during, /Env Script Config by bootstrap-admin/);
  assert.match(during, /Env General Config by bootstrap-admin/);
  assert.doesNotMatch(during, /Env Action/);
  await screenshot(page, 'records-old-deploy');

  // the current deploy: live rows (no recorded note) and the new config
  await page.goto(srv.base + '/deploys/' + seed.d2.id);
  await page.locator('table[aria-label="Hosts on this deploy"] tr[data-host=web-002]').waitFor();
  assert.equal(await page.locator('[data-role=hosts-recorded]').count(), 0);
  assert.equal(await page.locator('[data-role=ran-with] tr[data-name=PORT] td[data-label=Value]').textContent(), '9090');
  assert.match(await page.locator('[data-role=ran-with] .kv-grid').textContent(), /Max parallel2/);
  assert.deepEqual(pageErrors, []);
});
