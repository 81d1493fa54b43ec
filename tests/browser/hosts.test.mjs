// SPDX-License-Identifier: Apache-2.0
// tests/browser/hosts.test.mjs: the host page's controls: stop a host in one stage (DELETE …/hosts) and remove it
// from the fleet (DELETE /v1/hosts/{id}), each behind a confirm dialog. Hosts played through POST /v1/system/ping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor, simulateAgents, openSignedIn } from './harness.mjs';

let srv, browser, page, pageErrors;
const base = '/v1/envs/fleet/prod';
const HOSTS = ['fleet-1', 'fleet-2'];

before(async () => {
  srv = await startServer();
  await srv.api.post('/v1/envs', { envName: 'fleet', stageName: 'prod', buildName: 'fleet', maxParallel: 10 });
  await srv.api.put(base + '/capacity', HOSTS, { capacityType: 'HOST' });
  const build = await srv.api.post('/v1/builds', { name: 'fleet', repo: 'acme/fleet', branch: 'main', commit: 'aaaa1111bbbb',
    artifactUrl: 'https://artifacts.example.com/fleet.tar.gz' });
  await srv.api.post(base + '/deploys', undefined, { buildId: build.id });
  await simulateAgents(srv.api, HOSTS, { rounds: 12, idPrefix: 'fleet-id-' });
  ({ browser, page, pageErrors } = await openSignedIn(srv));
});

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

const agentOf = async host => (await srv.api.get(base + '/agents')).find(a => a.hostName === host);

test('stop a host in a stage from its page, after confirming', async () => {
  assert.notEqual((await agentOf('fleet-1')).state, 'STOP');
  await page.goto(srv.base + '/hosts/fleet-1');
  await page.locator('[data-action=stop-host]').click();
  const dialog = page.locator('dialog.dialog[open]');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /Stop fleet-1 in fleet \/ prod\?/);
  await dialog.locator('[data-role=cancel]').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.notEqual((await agentOf('fleet-1')).state, 'STOP', 'cancel changes nothing');
  await page.locator('[data-action=stop-host]').click();
  await dialog.locator('[data-role=confirm]').click();
  await waitFor(async () => (await agentOf('fleet-1')).state === 'STOP', { what: 'the agent in STOP' });
  assert.notEqual((await agentOf('fleet-2')).state, 'STOP', 'the other host is untouched');
  assert.deepEqual(pageErrors, []);
});

test('remove a host from the fleet from its page', async () => {
  await page.goto(srv.base + '/hosts/fleet-2');
  await page.locator('[data-action=remove-host]').first().click();
  const dialog = page.locator('dialog.dialog[open]');
  await dialog.waitFor();
  await dialog.locator('[data-role=confirm]').click();
  await waitFor(async () => (await agentOf('fleet-2')).state === 'STOP', { what: 'the removed host stopped' });
  const rec = (await srv.api.get('/v1/hosts/fleet-2'))[0];
  assert.notEqual(rec.state, 'ACTIVE', 'the host record is no longer ACTIVE');
  assert.deepEqual(pageErrors, []);
});
