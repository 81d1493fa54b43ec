// SPDX-License-Identifier: Apache-2.0
// tests/browser/access.test.mjs: signing in through the trusted proxy's user header (PROTOCOL §9.1, §9.5)
// and the admins' management of user and group roles (§4.10), in a real browser against a server that
// trusts 127.0.0.1 as its proxy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, screenshot, waitFor, signInByLink } from './harness.mjs';

const SETTINGS = ['trusted_user_header=X-Forwarded-User', 'trusted_groups_header=X-Forwarded-Groups', 'trusted_proxies=127.0.0.1'];
let srv, proxied, plain;
const pageErrors = [];

before(async () => {
  srv = await startServer({ settings: SETTINGS });
  for (const [envName, stageName] of [['helloworld', 'canary'], ['payments', 'staging']]) {
    await srv.api.post('/v1/envs', { envName, stageName });
  }
  // alice may operate helloworld only; elsewhere she has the default user role (READER).
  await srv.api.post('/v1/envs/helloworld/user_roles', { name: 'alice', role: 'OPERATOR' });
  proxied = await launchBrowser({ extraHTTPHeaders: { 'X-Forwarded-User': 'alice' } });
  plain = await launchBrowser();
});

after(async () => {
  if (proxied) await proxied.close();
  if (plain) await plain.close();
  if (srv) await srv.stop();
});

async function newPage(browser) {
  const page = await browser.context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));
  return page;
}

test('the trusted proxy user is signed in without a token and sees only what its role allows', async () => {
  const page = await newPage(proxied);
  await page.goto(srv.base + '/env/helloworld/canary');
  await page.locator('.whoami >> text=alice').waitFor();
  assert.equal(page.url(), srv.base + '/env/helloworld/canary', 'no detour through the sign-in screen');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('slipway.token')), null, 'no token involved');
  assert.equal(await page.locator('.login-card').count(), 0);
  // OPERATOR on helloworld: the deploy actions are there; no sign-out button (the proxy signs in).
  await page.locator('.action-bar [data-action=deploy]').waitFor();
  assert.equal(await page.locator('[data-role=signout]').count(), 0);
  assert.ok(await page.locator('#mainnav [data-nav=tokens]').isHidden(), 'not an admin: no Access link');
  await screenshot(page, '30-proxy-operator');
  // READER (the default user role) on payments: read-only.
  await page.goto(srv.base + '/env/payments/staging');
  await page.locator('.action-bar >> text=read-only access').waitFor();
  assert.equal(await page.locator('[data-action=deploy]').count(), 0);
  // /login does not stop a proxy user either.
  await page.goto(srv.base + '/login?next=%2Fbuilds');
  await page.waitForURL(srv.base + '/builds');
  // Pausing helloworld through the board works as alice (the server records her as the operator).
  await page.goto(srv.base + '/env/helloworld/canary');
  await page.click('[data-action=pause]');
  await page.locator('dialog[open] [data-role=confirm]').click();
  await waitFor(async () => (await srv.api.get('/v1/envs/helloworld/canary')).envState === 'PAUSED', { what: 'paused by alice' });
  await page.close();
});

test('without the proxy header the board shows the sign-in screen', async () => {
  const page = await newPage(plain);
  await page.goto(srv.base + '/env/helloworld/canary');
  await page.waitForSelector('.login-card');
  assert.match(page.url(), /\/login\?next=/);
  await page.close();
});

test('an admin adds, changes and removes user and group roles; the API shows each outcome', async () => {
  const page = await newPage(plain);
  await signInByLink(page, srv.base, srv.token);
  await page.locator('#mainnav [data-nav=tokens]').click();
  await page.waitForURL(srv.base + '/tokens');
  await page.locator('.section-tabs [data-tab=users]').click();
  await page.waitForURL(srv.base + '/users');
  const get = p => srv.api.call('GET', p, { raw: true });

  // Add bob as a SYSTEM OPERATOR; a bad name is refused next to the field.
  await page.click('[data-action=add-binding]');
  let dlg = page.locator('dialog[open]');
  await dlg.locator('input[name=name]').fill('bob smith');
  await dlg.locator('[data-role=confirm]').click();
  await dlg.locator('.field:has([name=name]) .field-error').waitFor();
  await dlg.locator('input[name=name]').fill('bob');
  await dlg.locator('select[name=role]').selectOption('OPERATOR');
  await dlg.locator('[data-role=confirm]').click();
  await page.locator('tr[data-binding=bob]').waitFor();
  let r = await get('/v1/system/user_roles/bob');
  assert.equal(r.status, 200);
  assert.deepEqual([r.body.role, r.body.type, r.body.resource], ['OPERATOR', 'SYSTEM', '*']);
  await screenshot(page, '31-user-roles');

  // Change bob's role to ADMIN.
  await page.locator('tr[data-binding=bob] [data-action=edit]').click();
  dlg = page.locator('dialog[open]');
  await dlg.locator('select[name=role]').selectOption('ADMIN');
  await dlg.locator('[data-role=confirm]').click();
  await waitFor(async () => (await get('/v1/system/user_roles/bob')).body.role === 'ADMIN', { what: 'bob ADMIN' });
  await page.locator('tr[data-binding=bob] >> text=ADMIN').waitFor();

  // Remove it.
  await page.locator('tr[data-binding=bob] [data-action=remove]').click();
  await page.locator('dialog[open] [data-role=confirm]').click();
  await waitFor(async () => (await get('/v1/system/user_roles/bob')).status === 404, { what: 'bob removed' });
  await page.locator('tr[data-binding=bob]').waitFor({ state: 'detached' });

  // The env scope lists alice's binding on helloworld; a group role is added there.
  await page.locator('[data-role=scope]').selectOption('helloworld');
  await page.waitForURL(srv.base + '/users?env=helloworld');
  await page.locator('tr[data-binding=alice] >> text=OPERATOR').waitFor();
  await page.locator('.section-tabs [data-tab=groups]').click();
  await page.waitForURL(srv.base + '/groups?env=helloworld');
  await page.click('[data-action=add-binding]');
  dlg = page.locator('dialog[open]');
  await dlg.locator('input[name=name]').fill('sre:oncall');
  await dlg.locator('select[name=role]').selectOption('ADMIN');
  await dlg.locator('[data-role=confirm]').click();
  await page.locator('tr[data-binding="sre:oncall"]').waitFor();
  r = await get('/v1/envs/helloworld/group_roles/sre:oncall');
  assert.equal(r.status, 200);
  assert.deepEqual([r.body.role, r.body.type, r.body.resource], ['ADMIN', 'ENV', 'helloworld']);
  await screenshot(page, '32-group-roles');
  await page.close();
});

test('a proxy user whose group is ADMIN of an env manages that env’s roles', async () => {
  const browser = await launchBrowser({ extraHTTPHeaders: { 'X-Forwarded-User': 'carol', 'X-Forwarded-Groups': 'sre:oncall' } });
  try {
    const page = await newPage(browser);
    await page.goto(srv.base + '/');
    await page.locator('.whoami >> text=carol').waitFor();
    await page.locator('#mainnav [data-nav=tokens]').click();
    // Not a SYSTEM admin: the access pages open on the env it administers.
    await page.waitForURL(srv.base + '/tokens?env=helloworld');
    await page.locator('.section-tabs [data-tab=users]').click();
    await page.waitForURL(srv.base + '/users?env=helloworld');
    await page.click('[data-action=add-binding]');
    const dlg = page.locator('dialog[open]');
    await dlg.locator('input[name=name]').fill('dave');
    await dlg.locator('[data-role=confirm]').click();
    await page.locator('tr[data-binding=dave]').waitFor();
    assert.equal((await srv.api.get('/v1/envs/helloworld/user_roles/dave')).role, 'READER');
  } finally {
    await browser.close();
  }
  assert.deepEqual(pageErrors, []);
});
