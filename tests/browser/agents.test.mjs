// SPDX-License-Identifier: Apache-2.0
// tests/browser/agents.test.mjs: the board drives a deploy and a rollback through two real slipway-agent
// processes (own state, builds and target dirs each) against a real slipway-server, watching the stage
// page's progress bar and host grid in Debian chromium until both hosts serve the build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, startAgent, makeArtifact, launchBrowser, screenshot, waitFor, signInByLink } from './harness.mjs';

const ENV = 'agentapp', STAGE = 'prod';
const HOSTS = ['board-agent-1', 'board-agent-2'];
const stagePath = `/v1/envs/${ENV}/${STAGE}`;
// Faster server workers than the defaults, as the fleet integration tests use.
const SETTINGS = ['transition_period=1', 'promote_period=1', 'janitor_period=1', 'heartbeat_flush_period=1', 'event_poll_period=0.2'];

let srv, browser, page, root;
const agents = [];
const pageErrors = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-board-agents-'));
  fs.mkdirSync(path.join(root, 'artifacts'));
  srv = await startServer({ settings: SETTINGS });
  for (const name of HOSTS) agents.push(await startAgent(srv, { name, root: path.join(root, name), artifacts: path.join(root, 'artifacts') }));
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all(agents.map(a => a.stop()));
  if (srv) await srv.stop();
  if (root && !process.env.KEEP_TMP) fs.rmSync(root, { recursive: true, force: true });
});

function describe(rows) {
  return rows.map(r => `${r.hostName} ${r.deployId} ${r.deployStage} ${r.state} ${r.status}`).join('; ');
}

// Waits until the stage page shows deploy d done on both hosts: the progress bar at total/total and each
// host row serving the current deploy at SERVING_BUILD. Returns the progress values the page showed.
async function watchStagePage(deployId, what) {
  const bar = page.locator('.deploy-card .progress.large');
  const seen = [];
  await waitFor(async () => {
    const now = await bar.getAttribute('aria-valuenow'), max = await bar.getAttribute('aria-valuemax');
    if (seen[seen.length - 1] !== `${now}/${max}`) seen.push(`${now}/${max}`);
    if (!(now === String(HOSTS.length) && max === String(HOSTS.length))) return false;
    for (const host of HOSTS) {
      const row = page.locator(`.ht-row[data-host="${host}"]`);
      if (!(await row.count()) || !/\bcls-serving\b/.test(await row.getAttribute('class'))) return false;
      if (!/SERVING BUILD/.test(await row.textContent())) return false;
    }
    return true;
  }, {
    timeout: 90000, interval: 250, what: `${what} on the stage page`,
  }).catch(async e => {
    const rows = await srv.api.get(stagePath + '/agents').catch(() => []);
    await screenshot(page, `agents-${what.replaceAll(' ', '-')}-timeout`);
    throw new Error(`${e.message}; progress seen ${seen.join(' → ')}; agents: ${describe(rows)}; deploy ${deployId}`);
  });
  return seen;
}

test('deploy through the board to two real agents, then roll back through the board', { timeout: 240000 }, async () => {
  // Stage, capacity and two builds (file:// tarballs) through the API.
  await srv.api.post('/v1/envs', { envName: ENV, stageName: STAGE, buildName: ENV, stageType: 'PRODUCTION' });
  await srv.api.put(stagePath + '/capacity', HOSTS, { capacityType: 'HOST' });
  await srv.api.put(stagePath, { maxParallel: 2 });
  const builds = [];
  for (const v of ['1.0.0', '1.1.0']) {
    const file = makeArtifact(path.join(root, 'artifacts', `${ENV}-${v}.tar.gz`), v);
    builds.push(await srv.api.post('/v1/builds', {
      name: ENV, repo: 'acme/agentapp', branch: 'main', commit: 'v' + v.replaceAll('.', '-'), artifactUrl: 'file://' + file,
    }));
  }
  // Both agents ping before anything is deployed.
  await waitFor(async () => {
    for (const host of HOSTS) {
      const rec = await srv.api.get('/v1/hosts/' + host).catch(() => []);
      if (!rec.length || !rec[0].lastSeen) return false;
    }
    return true;
  }, { timeout: 30000, what: 'both agents pinging' });

  await signInByLink(page, srv.base, srv.token, `/env/${ENV}/${STAGE}`);
  await page.locator('.deploy-card >> text=No deploy yet').waitFor();

  // 1. Deploy 1.0.0 through the deploy dialog.
  const deployBuild = async b => {
    await page.click('.action-bar [data-action=deploy]');
    const dlg = page.locator('dialog[open]');
    await dlg.locator(`tr[data-build="${b.id}"]`).click();
    await dlg.locator(`.build-summary >> text=${b.commitShort}`).waitFor();
    await dlg.locator('input[name=description]').fill(`board deploy of ${b.commit}`);
    await dlg.locator('[data-role=confirm]').click();
    await dlg.waitFor({ state: 'detached' });
    const cur = await srv.api.get(stagePath + '/deploys/current');
    assert.equal(cur.buildId, b.id);
    return cur;
  };
  const d1 = await deployBuild(builds[0]);
  const seen1 = await watchStagePage(d1.id, 'first deploy');
  console.log(`# first deploy progress on the page: ${seen1.join(' → ')}`);
  await screenshot(page, '20-agents-deployed');
  await waitFor(async () => ['SUCCEEDING', 'SUCCEEDED'].includes((await srv.api.get('/v1/deploys/' + d1.id)).state), { timeout: 30000, what: 'deploy 1 succeeded' });
  for (const a of agents) assert.equal(a.target(ENV), builds[0].id, `${a.name} serves 1.0.0`);

  // 2. Deploy 1.1.0 the same way.
  const d2 = await deployBuild(builds[1]);
  await page.locator(`.deploy-card code >> text=${builds[1].commitShort}`).first().waitFor();
  await watchStagePage(d2.id, 'second deploy');
  for (const a of agents) assert.equal(a.target(ENV), builds[1].id, `${a.name} serves 1.1.0`);
  await waitFor(async () => ['SUCCEEDING', 'SUCCEEDED'].includes((await srv.api.get('/v1/deploys/' + d2.id)).state), { timeout: 30000, what: 'deploy 2 succeeded' });

  // 3. Roll back through the board: the dialog offers the SUCCEEDED deploy of 1.0.0; the current build gets
  // BAD_BUILD by default.
  await page.click('.action-bar [data-action=rollback]');
  const dlg = page.locator('dialog[open]');
  const row = dlg.locator(`tr[data-deploy="${d1.id}"]`);
  await row.waitFor();
  assert.ok(await row.locator('input[type=radio]').isChecked(), 'the SUCCEEDED deploy is preselected');
  assert.ok(await dlg.locator('input[name=markBad]').isChecked());
  await dlg.locator('input[name=description]').fill('1.1.0 misbehaves');
  await screenshot(page, '21-agents-rollback-dialog');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.waitFor({ state: 'detached' });
  const rb = await srv.api.get(stagePath + '/deploys/current');
  assert.equal(rb.type, 'ROLLBACK');
  assert.equal(rb.buildId, builds[0].id);
  assert.equal(rb.alias, d1.id);
  await page.locator('.deploy-card .badge >> text=ROLLBACK').waitFor();
  await watchStagePage(rb.id, 'rollback');
  await waitFor(async () => ['SUCCEEDING', 'SUCCEEDED'].includes((await srv.api.get('/v1/deploys/' + rb.id)).state), { timeout: 30000, what: 'rollback succeeded' });
  for (const a of agents) assert.equal(a.target(ENV), builds[0].id, `${a.name} is back on 1.0.0`);
  const tag = (await srv.api.get(`/v1/builds/${builds[1].id}/tags`)).tag;
  assert.equal(tag && tag.value, 'BAD_BUILD');
  assert.equal(tag.comments, '1.1.0 misbehaves');
  // The agents really ran the scripts of the build they serve.
  for (const a of agents) {
    const log = fs.readFileSync(path.join(a.root, 'log', `${ENV}.log`), 'utf8');
    assert.match(log, new RegExp(`RESTARTING: version 1\\.0\\.0, deploy ${rb.id}`));
  }
  await screenshot(page, '22-agents-rolled-back');
  assert.deepEqual(pageErrors, []);
});
