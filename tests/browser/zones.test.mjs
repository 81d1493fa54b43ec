// SPDX-License-Identifier: Apache-2.0
// tests/browser/zones.test.mjs: zone-aware rollouts on the board (issue 17): the stage page's strip per tag value
// while a deploy constraint is set, the constraint on the config page, and a host's tags on the host page.
// Seeded through the REST API (hosts played through POST /v1/system/ping with an availabilityZone).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor, simulateAgents, openSignedIn } from './harness.mjs';

let srv, browser, page, pageErrors;
const requests = []; // the board's API requests (path and query), to check that it never reads a whole tag list
const ENV = 'geo';
const base = '/v1/envs/geo/prod';
const HOSTS = ['geo-a1', 'geo-a2', 'geo-b1', 'geo-b2'];
const zoneOf = name => (name.includes('-a') ? 'us-east-1a' : 'us-east-1b');

before(async () => {
  srv = await startServer();
  const api = srv.api;
  await api.post('/v1/envs', { envName: ENV, stageName: 'prod', buildName: ENV, maxParallel: 10 });
  await api.put(base + '/capacity', HOSTS, { capacityType: 'HOST' });
  const builds = [];
  for (const commit of ['aaaa1111bbbb', 'cccc2222dddd']) {
    builds.push(await api.post('/v1/builds', { name: ENV, repo: 'acme/geo', branch: 'main', commit,
      artifactUrl: `https://artifacts.example.com/geo-${commit}.tar.gz` }));
  }
  await api.post(base + '/deploys', undefined, { buildId: builds[0].id });
  await simulateAgents(api, HOSTS, { rounds: 12, idPrefix: 'geo-', zoneOf });
  await api.post(base + '/deploy_constraint', { constraintKey: 'availabilityZone', maxParallel: 1, constraintType: 'GROUP_BY_GROUP' });
  await api.post(base + '/deploys', undefined, { buildId: builds[1].id });
  await simulateAgents(api, HOSTS, { rounds: 4, idPrefix: 'geo-', zoneOf }); // part-way through zone a
  ({ browser, page, pageErrors } = await openSignedIn(srv));
  page.on('request', req => { const u = new URL(req.url()); if (u.pathname.startsWith('/v1/')) requests.push(u); });
});

// requests for the stage's host tags that are not a count, a page of one value or one host's tags: whole lists
const wholeTagLists = since => requests.slice(since).filter(u => /\/host_tags(\/[^/]+)?$/.test(u.pathname) &&
  !u.searchParams.get('value') && !u.searchParams.get('hostName') && !u.searchParams.get('limit'));

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

test('the stage page shows a progress strip per zone while the stage has a constraint', async () => {
  const since = requests.length;
  await page.goto(srv.base + `/env/${ENV}/prod`);
  const strip = page.locator('[data-role=zone-strip]');
  await strip.locator('.zone-row').first().waitFor();
  assert.match(await strip.locator('h2').textContent(), /By availabilityZone/);
  const rows = await strip.locator('.zone-row').evaluateAll(els => els.map(e => e.dataset.value));
  assert.deepEqual(rows, ['us-east-1a', 'us-east-1b']);
  assert.match(await strip.locator('.zone-row[data-value="us-east-1b"]').textContent(), /0 \/ 2/);
  assert.match(await strip.textContent(), /one value at a time, at most 1 each/);
  // from the kept counts, never the zone's whole host list
  assert.ok(requests.slice(since).some(u => u.pathname === base + '/host_tags/availabilityZone/counts'), 'read the counts');
  assert.deepEqual(wholeTagLists(since).map(String), []);
  // a zone's hosts only when its row is opened, a page at a time
  const before = requests.length;
  await strip.locator('.zone-row[data-value="us-east-1b"] summary').click();
  const hosts = strip.locator('.zone-row[data-value="us-east-1b"] .zone-hosts li');
  await hosts.first().waitFor();
  assert.deepEqual(await hosts.allTextContents(), ['geo-b1', 'geo-b2']);
  const pages = requests.slice(before).filter(u => u.pathname === base + '/host_tags/availabilityZone');
  assert.equal(pages.length, 1);
  assert.equal(pages[0].searchParams.get('value'), 'us-east-1b');
  assert.equal(pages[0].searchParams.get('limit'), '100');
  assert.deepEqual(wholeTagLists(since).map(String), []);
  assert.deepEqual(pageErrors, []);
});

test('the config page shows the constraint and saves changes, naming a bad field', async () => {
  await page.goto(srv.base + `/env/${ENV}/prod/config?tab=constraint`);
  const form = page.locator('[data-role=constraint-form]');
  await form.waitFor();
  assert.equal(await form.locator('[name=constraintKey]').inputValue(), 'availabilityZone');
  assert.equal(await form.locator('[name=constraintType]').inputValue(), 'GROUP_BY_GROUP');
  await form.locator('[name=maxParallel]').fill('0');
  await form.locator('[data-role=save]').click();
  await waitFor(async () => (await page.locator('.field-error').count()) > 0, { what: 'the maxParallel error' });
  assert.equal((await srv.api.get(base + '/deploy_constraint')).maxParallel, 1);
  await form.locator('[name=maxParallel]').fill('2');
  await form.locator('[data-role=save]').click();
  await waitFor(async () => (await srv.api.get(base + '/deploy_constraint')).maxParallel === 2, { what: 'the saved constraint' });
  assert.deepEqual(pageErrors, []);
});

test('the host page lists the host\'s tags', async () => {
  const since = requests.length;
  await page.goto(srv.base + '/hosts/geo-b1');
  const tags = page.locator('[data-role=host-tags] .chip');
  await tags.first().waitFor();
  assert.match(await tags.first().textContent(), /availabilityZone = us-east-1b/);
  assert.equal(await tags.count(), 1);
  assert.ok(requests.slice(since).some(u => u.pathname === base + '/host_tags' && u.searchParams.get('hostName') === 'geo-b1'));
  assert.deepEqual(wholeTagLists(since).map(String), []);
  assert.deepEqual(pageErrors, []);
});
