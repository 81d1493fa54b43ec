// SPDX-License-Identifier: Apache-2.0
// tests/browser/oncall.test.mjs: the board as an on-call engineer uses it (issue 22): stages in pipeline order,
// SUCCEEDING counted as done with a frozen duration, the promote guard, the home page's incident banner and
// per-stage summary, the per-deploy page and history outcomes. Seeded through the REST API (agents played
// through POST /v1/system/ping).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, startAgent, screenshot, waitFor, simulateAgents, openSignedIn } from './harness.mjs';

let srv, browser, page, root, pageErrors;
const agents = [];
const ENV = 'shop';
const stagePath = s => `/v1/envs/${ENV}/${s}`;
const seed = {};

async function currentDeploy(stage) {
  const r = await srv.api.call('GET', stagePath(stage) + '/deploys/current', { raw: true });
  return r.status === 200 ? r.body : null;
}

// The transition runs on PUT …/progress; returns the current deploy once fn(deploy) holds.
async function deployWhen(stage, fn, what) {
  return waitFor(async () => {
    await srv.api.put(stagePath(stage) + '/deploys/current/progress');
    const d = await currentDeploy(stage);
    return d && fn(d) ? d : null;
  }, { what, timeout: 15000, interval: 100 });
}

// Stages named so that name order (canary, prod, staging) differs from the pipeline (staging → canary → prod).
async function seedData(api) {
  for (const [stageName, stageType] of [['prod', 'PRODUCTION'], ['canary', 'CANARY'], ['staging', 'STAGING']]) {
    await api.post('/v1/envs', { envName: ENV, stageName, stageType, buildName: ENV });
  }
  await api.put(stagePath('canary') + '/promotes', { type: 'MANUAL', predStage: 'staging' });
  await api.put(stagePath('prod') + '/promotes', { type: 'MANUAL', predStage: 'canary' });
  seed.builds = [];
  for (const commit of ['aaaa1111bbbb', 'cccc2222dddd']) {
    seed.builds.push(await api.post('/v1/builds', {
      name: ENV, repo: 'acme/shop', branch: 'main', commit, artifactUrl: `https://artifacts.example.com/shop-${commit}.tar.gz`,
      commitInfo: `https://github.com/acme/shop/commit/${commit}`, publishInfo: `https://ci.example.com/shop/${commit}`,
    }));
  }
  // staging: two hosts, all succeed → SUCCEEDING (done).
  seed.stagingHosts = ['stg-1', 'stg-2'];
  await api.put(stagePath('staging') + '/capacity', seed.stagingHosts, { capacityType: 'HOST' });
  await api.put(stagePath('staging'), { maxParallel: 2 });
  await api.post(stagePath('staging') + '/deploys', undefined, { buildId: seed.builds[0].id, description: 'good release' });
  await simulateAgents(api, seed.stagingHosts, { rounds: 10, idPrefix: 'stg-' });
  seed.staging = await deployWhen('staging', d => (d.state === 'SUCCEEDING' || d.state === 'SUCCEEDED') && d.total === 2, 'staging done on both hosts');
}

before(async () => {
  srv = await startServer();
  await seedData(srv.api);
  ({ browser, page, pageErrors } = await openSignedIn(srv));
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all(agents.map(a => a.stop()));
  if (srv) await srv.stop();
  if (root && !process.env.KEEP_TMP) fs.rmSync(root, { recursive: true, force: true });
});

// A build whose RESTARTING script fails: on hosts whose build directory names `odd` with exit code 3 and a
// config error, elsewhere with exit code 1 and a port error (each after a line of its own output).
function failingArtifact(file, odd) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-failing-'));
  fs.mkdirSync(path.join(dir, 'teletraan'));
  for (const stage of ['PRE_RESTART', 'POST_RESTART', 'SERVING_BUILD']) fs.writeFileSync(path.join(dir, 'teletraan', stage), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'teletraan', 'RESTARTING'), [
    '#!/bin/sh', 'echo "starting shop on $(date +%s)"',
    `case "$(pwd)" in *${odd}*) echo "ERROR: config /etc/shop.yaml is missing" >&2; exit 3;; esac`,
    'echo "ERROR: cannot bind 0.0.0.0:8080: address already in use" >&2', 'exit 1', ''].join('\n'), { mode: 0o755 });
  const r = spawnSync('tar', ['-czf', file, '-C', dir, '.'], { stdio: 'pipe' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error('tar failed: ' + r.stderr);
  return file;
}

test('stages show in pipeline order (promote chain, then type, then name), and the env opens its first stage', async () => {
  await page.goto(srv.base + '/env/' + ENV);
  await page.waitForURL(srv.base + `/env/${ENV}/staging`);
  await page.locator('.stage-tab').first().waitFor();
  assert.deepEqual(await page.locator('.stage-tab').allTextContents(), ['staging', 'canary', 'prod']);
  await page.goto(srv.base + `/env/${ENV}/prod/history`);
  await page.locator('.stage-tab').first().waitFor();
  assert.deepEqual(await page.locator('.stage-tab').allTextContents(), ['staging', 'canary', 'prod']);
  // The deploy dialog's "never deployed on the stage before" names the pipeline's predecessor, and none on the first stage.
  for (const [stage, pred] of [['canary', 'staging'], ['staging', null]]) {
    await page.goto(srv.base + `/env/${ENV}/${stage}`);
    await page.click('[data-action=deploy]');
    const dlg = page.locator('dialog[open]');
    await dlg.locator(`tr[data-build="${seed.builds[1].id}"]`).click();
    await dlg.locator('.build-summary').waitFor();
    const warn = dlg.locator('[data-role=not-on-pred]');
    if (pred) assert.match(await warn.textContent(), new RegExp(`never deployed on ${pred}`));
    else assert.equal(await warn.count(), 0);
    await dlg.locator('[data-role=cancel]').click();
    await dlg.waitFor({ state: 'detached' });
  }
});

test('a SUCCEEDING deploy counts as done: green, "Took" with its frozen duration', async () => {
  const d = seed.staging;
  await page.goto(srv.base + `/env/${ENV}/staging`);
  const card = page.locator('.deploy-card');
  await card.locator('[data-role=elapsed]').waitFor();
  const label = await card.locator('dt', { hasText: /^(Took|Elapsed)$/ }).textContent();
  assert.equal(label, 'Took');
  // The shown duration is the deploy's own (successDate - startDate), not the time since it started.
  const secs = Math.floor(((d.successDate || d.lastUpdateDate) - d.startDate) / 1000);
  assert.equal(await card.locator('[data-role=elapsed]').textContent(), `${secs}s`);
  assert.ok(await card.locator('.progress.large.done').count(), 'the progress bar is marked done');
});

test('promoting from a source that has not succeeded needs an explicit "promote anyway"', async () => {
  // canary gets a deploy that fails on one of two hosts: FAILING (success threshold 100 %).
  await srv.api.put(stagePath('canary') + '/capacity', ['can-1', 'can-2'], { capacityType: 'HOST' });
  await srv.api.put(stagePath('canary'), { maxParallel: 2 });
  await srv.api.post(stagePath('canary') + '/deploys', undefined, { buildId: seed.builds[0].id, description: 'good release' });
  await simulateAgents(srv.api, ['can-1', 'can-2'], { rounds: 10, idPrefix: 'can-' });
  seed.canaryGood = await deployWhen('canary', d => (d.state === 'SUCCEEDING' || d.state === 'SUCCEEDED') && d.total === 2, 'canary done on both hosts');
  await srv.api.post(stagePath('canary') + '/deploys', undefined, { buildId: seed.builds[1].id, description: 'bad release' });
  await simulateAgents(srv.api, ['can-1', 'can-2'], { rounds: 10, idPrefix: 'can-', failing: 'can-2', failStatus: 'TOO_MANY_RETRY' });
  const canary = await deployWhen('canary', d => d.state === 'FAILING', 'canary failing');
  assert.notEqual(canary.state, 'SUCCEEDED');

  await page.goto(srv.base + `/env/${ENV}/prod`);
  await page.click('[data-action=promote]');
  const dlg = page.locator('dialog[open]');
  // The default source is the stage before prod in the pipeline (canary), not the first other stage by name.
  assert.equal(await dlg.locator('select[name=fromStage]').inputValue(), 'canary');
  const guard = dlg.locator('[data-role=promote-guard]');
  await guard.locator('label', { hasText: 'Promote anyway' }).waitFor();
  assert.match(await guard.textContent(), /canary/);
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.dialog-error:not([hidden])').waitFor();
  assert.match(await dlg.locator('.dialog-error').textContent(), /Promote anyway/);
  assert.equal(await currentDeploy('prod'), null, 'nothing was promoted without the explicit choice');
  // A source that succeeded needs no such choice.
  await dlg.locator('select[name=fromStage]').selectOption('staging');
  await dlg.locator('.build-summary >> text=staging').waitFor();
  assert.ok(await guard.isHidden());
  await dlg.locator('select[name=fromStage]').selectOption('canary');
  await guard.locator('label', { hasText: 'Promote anyway' }).waitFor();
  await guard.locator('input[name=promoteAnyway]').check();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const prod = await waitFor(() => currentDeploy('prod'), { what: 'a deploy on prod' });
  assert.equal(prod.fromDeployId, canary.id);
  await screenshot(page, 'oncall-promote-guard');
});

test('home: a banner per FAILING stage with a prefilled rollback; each stage chip shows state, commit and age', async () => {
  const canary = await currentDeploy('canary');
  assert.equal(canary.state, 'FAILING');
  await page.goto(srv.base + '/');
  const banner = page.locator('[data-role=incidents] .incident[data-stage=canary]');
  await banner.waitFor();
  assert.match(await banner.textContent(), /shop \/ canary is FAILING/);
  assert.match(await banner.textContent(), /1 of 2 hosts failed/);
  assert.equal(await page.locator('[data-role=incidents] .incident').count(), 1, 'only the failing stage has a banner');
  // Chips in pipeline order, with state, commit and age.
  const row = page.locator('.env-row[data-env=shop]');
  await row.locator('.stage-chip[data-stage=staging] .chip-detail').waitFor();
  assert.deepEqual(await row.locator('.stage-chip .chip-name').allTextContents(), ['staging', 'canary', 'prod']);
  const staging = row.locator('.stage-chip[data-stage=staging]');
  assert.equal(await staging.getAttribute('data-tone'), 'ok');
  assert.match(await staging.textContent(), new RegExp(`succeeded · ${seed.builds[0].commitShort} · \\d+s ago`));
  assert.equal(await row.locator('.stage-chip[data-stage=canary]').getAttribute('data-tone'), 'failing');
  // "In progress" counts only RUNNING and FAILING deploys.
  const moving = (await srv.api.get('/v1/deploys', { deployState: ['RUNNING', 'FAILING'] })).total;
  await waitFor(async () => (await page.locator('.stat', { hasText: 'Deploys in progress' }).locator('.stat-value').textContent()) === String(moving),
    { what: 'the in-progress count' });
  await screenshot(page, 'oncall-home-incident');

  await banner.locator('[data-action=incident-rollback]').click();
  const dlg = page.locator('dialog[open]');
  assert.match(await dlg.locator('input[name=description]').inputValue(), /shop \/ canary FAILING: 1 of 2 hosts failed/);
  await dlg.locator(`tr.chosen[data-deploy="${seed.canaryGood.id}"]`).waitFor();
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const rolled = await waitFor(async () => { const d = await currentDeploy('canary'); return d.type === 'ROLLBACK' ? d : null; }, { what: 'a rollback on canary' });
  assert.equal(rolled.buildId, seed.builds[0].id);
  await page.locator('[data-role=incidents] .incident').waitFor({ state: 'detached' });
});

test('history keeps the outcome of a deploy rolled back by failurePolicy ROLLBACK; rows open a page per deploy', async () => {
  await srv.api.put(stagePath('staging'), { failurePolicy: 'ROLLBACK' });
  const bad = await srv.api.post(stagePath('staging') + '/deploys', undefined, { buildId: seed.builds[1].id, description: 'breaks stg-2', force: 'true' });
  await simulateAgents(srv.api, seed.stagingHosts, { rounds: 10, idPrefix: 'stg-', failing: 'stg-2', failStatus: 'TOO_MANY_RETRY', failCode: () => 7 });
  const rollback = await deployWhen('staging', d => d.type === 'ROLLBACK', 'the automatic rollback');
  assert.equal(rollback.buildId, seed.builds[0].id);
  const badNow = await srv.api.get('/v1/deploys/' + bad.id);
  assert.equal(badNow.outcome, 'ROLLED_BACK');

  await page.goto(srv.base + `/env/${ENV}/staging/history`);
  const badRow = page.locator(`tr[data-deploy="${bad.id}"]`);
  await badRow.locator('.outcome').waitFor();
  assert.match(await badRow.locator('.col-outcome').textContent(), new RegExp(`failed on 1 of 2 hosts, rolled back to ${seed.builds[0].commitShort}`));
  const rbRow = page.locator(`tr[data-deploy="${rollback.id}"]`);
  assert.match(await rbRow.locator('[data-role=rollback-from]').textContent(), new RegExp(`rollback from ${seed.builds[1].commitShort}`));
  // The first good deploy was replaced after it succeeded: it keeps "succeeded".
  assert.match(await page.locator(`tr[data-deploy="${seed.staging.id}"] .col-outcome`).textContent(), /succeeded on 2 hosts/);
  await screenshot(page, 'oncall-history-outcomes');

  // A click on the row opens the deploy's page: outcome, hosts with their results, what changed.
  await badRow.locator('.col-outcome').click({ position: { x: 2, y: 2 } });
  await page.waitForURL(srv.base + '/deploys/' + bad.id);
  // Its hosts as they were when the rollback replaced it (recorded then): as the API lists them, failed first.
  const onIt = await srv.api.get(`/v1/deploys/${bad.id}/agents`);
  assert.ok(onIt.some(a => a.hostName === 'stg-2'), 'the failed host is among the recorded results');
  assert.ok(onIt.every(a => a.recordDate), 'a replaced deploy lists its recorded results');
  const hosts = page.locator('table[aria-label="Hosts on this deploy"]');
  await hosts.waitFor();
  assert.deepEqual((await hosts.locator('tr[data-host]').evaluateAll(rs => rs.map(r => r.dataset.host))).sort(), onIt.map(a => a.hostName).sort());
  const failed = hosts.locator('tr[data-host=stg-2]');
  assert.match(await failed.textContent(), /TOO MANY RETRY/);
  assert.equal(await failed.locator('td[data-label="Exit code"]').textContent(), '7');
  // the recorded error's last line, its last bytes on a click (the host's log page has only its latest failure)
  assert.equal(await failed.locator('summary').textContent(), 'teletraan/POST_DOWNLOAD exited with status 1: cannot write /srv/app');
  assert.match(await page.locator('section[aria-label=Deploy] .kv-grid').textContent(), /rolled back to/);
  assert.match(await page.locator('[data-role=what-changed]').textContent(), new RegExp(`${seed.builds[0].commitShort} → .*${seed.builds[1].commitShort}`));
  await screenshot(page, 'oncall-deploy-page');
});

test('what changed: previous → current build on the stage, a chart of recent deploys, builds with CI link and stages, /deploys by stage', async () => {
  // canary runs the rollback to builds[0] that replaced the failing builds[1].
  await page.goto(srv.base + `/env/${ENV}/canary`);
  const changed = page.locator('.deploy-card [data-role=what-changed]');
  await changed.locator('code').first().waitFor();
  assert.match(await changed.textContent(), new RegExp(`${seed.builds[1].commitShort} → ${seed.builds[0].commitShort}`));
  assert.equal(await changed.locator('[data-role=compare-link]').getAttribute('href'),
    `https://github.com/acme/shop/compare/${seed.builds[1].commit}...${seed.builds[0].commit}`);

  const staging = (await srv.api.get('/v1/deploys', { envId: (await srv.api.get(stagePath('staging'))).id })).deploys;
  await page.goto(srv.base + `/env/${ENV}/staging/history`);
  const bars = page.locator('[data-role=deploy-chart] rect');
  await bars.first().waitFor();
  assert.equal(await bars.count(), staging.length);
  assert.deepEqual(await bars.evaluateAll(rs => rs.map(r => r.getAttribute('data-outcome'))), staging.slice().reverse().map(d => d.outcome));

  await page.goto(srv.base + `/builds/${ENV}`);
  const row = page.locator(`tr[data-build="${seed.builds[0].id}"]`);
  await row.locator('[data-role=running-on] a').first().waitFor();
  const runningOn = await row.locator('[data-role=running-on] a').allTextContents();
  assert.deepEqual(runningOn.sort(), ['shop / canary', 'shop / staging']);
  assert.equal(await row.locator('[data-role=ci] a').getAttribute('href'), `https://ci.example.com/shop/${seed.builds[0].commit}`);
  assert.ok(await row.locator('[data-action=tag]').isVisible(), 'the Tag button is in view');

  await page.goto(srv.base + `/deploys?env=${ENV}&stage=canary`);
  await page.locator('tr[data-deploy]').first().waitFor();
  const canaryIds = (await srv.api.get('/v1/deploys', { envId: (await srv.api.get(stagePath('canary'))).id })).deploys.map(d => d.id);
  assert.deepEqual(await page.locator('tr[data-deploy]').evaluateAll(rs => rs.map(r => r.dataset.deploy)), canaryIds);
  await page.goto(srv.base + `/deploys?env=nosuchenv`);
  await page.locator('.empty', { hasText: 'nosuchenv' }).waitFor();
});

test('failing hosts of real agents are grouped by error on the stage page; each links to its script output', { timeout: 120000 }, async () => {
  const E = 'errs', S = 'prod', hosts = ['err-agent-1', 'err-agent-2', 'err-agent-3'];
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-board-errors-'));
  fs.mkdirSync(path.join(root, 'artifacts'));
  const artifact = failingArtifact(path.join(root, 'artifacts', 'errs-1.tar.gz'), 'err-agent-3');
  await srv.api.post('/v1/envs', { envName: E, stageName: S, buildName: E, stageType: 'PRODUCTION' });
  await srv.api.put(`/v1/envs/${E}/${S}/capacity`, hosts, { capacityType: 'HOST' });
  await srv.api.put(`/v1/envs/${E}/${S}`, { maxParallel: 3 });
  for (const name of hosts) agents.push(await startAgent(srv, { name, root: path.join(root, name), artifacts: path.join(root, 'artifacts') }));
  const b = await srv.api.post('/v1/builds', { name: E, repo: 'acme/errs', branch: 'main', commit: 'eeee1111ffff', artifactUrl: 'file://' + artifact });
  const d = await srv.api.post(`/v1/envs/${E}/${S}/deploys`, undefined, { buildId: b.id });
  // Every host failed for good (the agents retry once).
  await waitFor(async () => {
    const rows = await srv.api.get(`/v1/envs/${E}/${S}/agents`);
    return rows.length === 3 && rows.every(a => a.deployId === d.id && a.status === 'TOO_MANY_RETRY');
  }, { timeout: 90000, interval: 250, what: 'three failed hosts' });
  const api = await srv.api.get(`/v1/envs/${E}/${S}/agents/errors`);
  assert.equal(api.errors.length, 3);
  assert.ok(api.errors.every(e => e.errorBytes <= 10240 && e.errorMessage.length <= api.tailBytes));

  await page.goto(srv.base + `/env/${E}/${S}`);
  const groups = page.locator('[data-role=errors] [data-role=error-group]');
  await waitFor(async () => (await groups.count()) === 2, { what: 'two error groups' });
  const first = groups.nth(0), second = groups.nth(1);
  assert.equal(await first.locator('[data-role=error-count]').textContent(), '2 hosts');
  assert.match(await first.locator('summary').textContent(), /cannot bind 0\.0\.0\.0:8080/);
  assert.match(await first.locator('summary').textContent(), /step RESTARTING · exit code 1/);
  assert.equal(await second.locator('[data-role=error-count]').textContent(), '1 host');
  assert.match(await second.locator('summary').textContent(), /config \/etc\/shop\.yaml is missing.*exit code 3/);
  // The biggest group is open; the other expands to its host.
  assert.ok(await first.locator('li[data-host=err-agent-1]').isVisible());
  assert.ok(!(await second.locator('li[data-host=err-agent-3]').isVisible()));
  await second.locator('summary').click();
  await second.locator('li[data-host=err-agent-3]').waitFor();
  await screenshot(page, 'oncall-grouped-errors');
  await second.locator('li[data-host=err-agent-3] a', { hasText: 'script output' }).click();
  await page.waitForURL(srv.base + `/env/${E}/${S}/log/err-agent-3`);
  const log = page.locator('[data-role=host-log]');
  await log.waitFor();
  assert.match(await log.textContent(), /starting shop on \d+/);
  assert.match(await log.textContent(), /config \/etc\/shop\.yaml is missing/);
  assert.match(await page.locator('.panel').textContent(), new RegExp(d.id.slice(0, 8)));
  // The host's page links to the same output instead of squeezing it into a table cell.
  await page.goto(srv.base + '/hosts/err-agent-3');
  assert.equal(await page.locator('[data-role=host-error] a').getAttribute('href'), `/env/${E}/${S}/log/err-agent-3`);
});

test('no uncaught page errors', () => {
  assert.deepEqual(pageErrors, []);
});
