// SPDX-License-Identifier: Apache-2.0
// tests/browser/harness.mjs: starts a slipway-server on a free loopback port with a fresh database,
// talks to its REST API, and launches Debian's chromium through playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const outDir = path.join(here, 'out');

const sleep = ms => new Promise(r => setTimeout(r, ms));

export async function waitFor(fn, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

// settings: extra NAME=VALUE server settings (e.g. faster worker periods for the real-agent test);
// dir: the directory of an earlier server to start again on its database (default: a fresh one).
export async function startServer({ settings = [], dir: reuse = null } = {}) {
  const buildDir = process.env.SLIPWAY_BUILD_DIR || path.join(repoRoot, 'build');
  const bin = path.join(buildDir, 'src/server/slipway-server');
  if (!fs.existsSync(bin)) throw new Error(`no server binary at ${bin} (build first, or set SLIPWAY_BUILD_DIR)`);
  const dir = reuse || fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-board-'));
  const portFile = path.join(dir, 'port');
  fs.rmSync(portFile, { force: true });
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const proc = spawn(bin, ['--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/s.db`, '--set', `port_file=${portFile}`, ...settings],
    { stdio: ['ignore', log, log] });
  let exited = null;
  proc.on('exit', code => { exited = code; });
  const addr = await waitFor(() => {
    if (exited !== null) throw new Error(`slipway-server exited with ${exited}: ${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`);
    const s = fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim();
    return s && s.includes(':') ? s : null;
  }, { what: 'the server port file' });
  const token = fs.readFileSync(path.join(dir, 'admin.token'), 'utf8').trim();
  const base = `http://${addr}`;
  await waitFor(async () => (await fetch(base + '/healthz')).ok, { what: '/healthz' });
  return {
    base, token, dir,
    api: makeApi(base, token),
    async stop() {
      if (exited === null) {
        proc.kill('SIGTERM');
        await waitFor(() => exited !== null, { timeout: 5000, what: 'server exit' }).catch(() => proc.kill('SIGKILL'));
      }
      fs.closeSync(log);
    },
    log() { return fs.readFileSync(path.join(dir, 'server.log'), 'utf8'); },
  };
}

function makeApi(base, token) {
  async function call(method, p, { body, query, raw } = {}) {
    const u = new URL(base + p);
    for (const [k, v] of Object.entries(query || {})) {
      for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, x);
    }
    const res = await fetch(u, {
      method,
      headers: { Authorization: 'token ' + token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (raw) return { status: res.status, body: text ? JSON.parse(text) : null };
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  return {
    call,
    get: (p, query) => call('GET', p, { query }),
    post: (p, body, query) => call('POST', p, { body, query }),
    put: (p, body, query) => call('PUT', p, { body, query }),
  };
}

// Starts a real slipway-agent for host `name` with its own state, builds, target and log directories
// under root, talking to srv with the server's admin token; file:// artifacts only from `artifacts`.
export async function startAgent(srv, { name, root, artifacts }) {
  const buildDir = process.env.SLIPWAY_BUILD_DIR || path.join(repoRoot, 'build');
  const bin = path.join(buildDir, 'src/agent/slipway-agent');
  if (!fs.existsSync(bin)) throw new Error(`no agent binary at ${bin}`);
  for (const sub of ['state', 'builds', 'current', 'log']) fs.mkdirSync(path.join(root, sub), { recursive: true });
  const conf = path.join(root, 'agent.conf');
  fs.writeFileSync(conf, [
    `server_url = ${srv.base}`, `token_file = ${path.join(srv.dir, 'admin.token')}`,
    `host_name = ${name}`, `host_id = ${name}`, 'host_ip = 127.0.0.1',
    `state_dir = ${root}/state`, `builds_dir = ${root}/builds`, `target_dir = ${root}/current`, `log_dir = ${root}/log`,
    `download_allow_file_dirs = ${artifacts}`,
    'ping_interval = 1', 'long_poll = true', 'long_poll_wait = 5', 'http_timeout = 5', 'heartbeat_interval = 1',
    'termination_timeout = 5', 'max_retry = 1', 'backoff = 1', 'backoff_max = 2', '',
  ].join('\n'), { mode: 0o600 });
  const log = fs.openSync(path.join(root, 'agent.log'), 'w');
  const proc = spawn(bin, ['--config', conf], { stdio: ['ignore', log, log], detached: true });
  let exited = null;
  proc.on('exit', code => { exited = code; });
  return {
    name, root, proc,
    // The build id the agent's TARGET of env points at (null when none).
    target(env) {
      try { return path.basename(fs.readlinkSync(path.join(root, 'current', env))); } catch { return null; }
    },
    log() { return fs.readFileSync(path.join(root, 'agent.log'), 'utf8'); },
    async stop() {
      if (exited === null) {
        try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
        await waitFor(() => exited !== null, { timeout: 15000, what: `agent ${name} exit` })
          .catch(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } });
      }
      fs.closeSync(log);
    },
  };
}

// Writes a gzipped tarball at file with a VERSION file and trivial teletraan scripts (each logs its
// stage, the version and the deploy id to the env's log; RESTARTING is the one the agent requires).
export function makeArtifact(file, version) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-artifact-'));
  fs.mkdirSync(path.join(dir, 'teletraan'));
  fs.writeFileSync(path.join(dir, 'VERSION'), version + '\n');
  for (const stage of ['PRE_RESTART', 'RESTARTING', 'POST_RESTART', 'SERVING_BUILD']) {
    fs.writeFileSync(path.join(dir, 'teletraan', stage),
      `#!/bin/sh\nset -eu\necho "${stage}: version $(cat "$TARGET/VERSION"), deploy $DEPLOY_ID"\n`, { mode: 0o755 });
  }
  const r = spawnSync('tar', ['-czf', file, '-C', dir, '.'], { stdio: 'pipe' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error('tar failed: ' + r.stderr);
  return file;
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

// A fresh browser profile per run (launchPersistentContext passes it as --user-data-dir).
// extraHTTPHeaders: sent with every request of the context (e.g. a trusted proxy's X-Forwarded-User).
export async function launchBrowser({ extraHTTPHeaders } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
    timeout: 30000,
    ...(extraHTTPHeaders ? { extraHTTPHeaders } : {}),
  });
  context.setDefaultTimeout(10000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Signs page in through a /login#token= link: the board shows whom the token signs in as and waits for the
// confirmation click; then it goes to next (default: home).
// A browser with one page signed in to srv's board; pageErrors collects the page's uncaught errors.
export async function openSignedIn(srv) {
  const browser = await launchBrowser();
  const page = await browser.context.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(e.message));
  await signInByLink(page, srv.base, srv.token);
  return { browser, page, pageErrors };
}

export async function signInByLink(page, base, token, next = null) {
  await page.goto(`${base}/login${next ? '?next=' + encodeURIComponent(next) : ''}#token=${token}`);
  await page.locator('[data-role=confirm-signin]').click();
  await page.waitForURL(base + (next || '/'));
}

export async function screenshot(page, name) {
  fs.mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: path.join(outDir, name + '.png') });
}

// Plays the agent side of the ping protocol for a few rounds: each host reports the stage its last
// goal asked for as SUCCEEDED (the hosts in `failing`, a name or a list, report failStatus from POST_DOWNLOAD
// on, with failMessage(name) or the default message, and errorCode failCode(name) or 1).
// Host ids are idPrefix + 1000 + the host's index (give hosts of different calls different prefixes).
// Returns the number of hosts the server answered for, or 0 when the server has no ping path.
export async function simulateAgents(api, hosts, { rounds = 12, failing = null, failStatus = 'SCRIPT_FAILED', failMessage = null, failCode = null, idPrefix = 'i-', zoneOf = null } = {}) {
  const failSet = new Set(Array.isArray(failing) ? failing : failing ? [failing] : []);
  const state = new Map(hosts.map((h, i) => [h, { id: `${idPrefix}${1000 + i}`, ip: `10.0.0.${i + 1}`, report: null }]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, s] of state) {
      const r = await api.call('POST', '/v1/system/ping', {
        raw: true,
        body: { hostId: s.id, hostName: name, hostIp: s.ip, groups: [], agentVersion: '1.0.0', reports: s.report ? [s.report] : [],
          ...(zoneOf ? { availabilityZone: zoneOf(name) } : {}) },
      });
      if (r.status === 404 || r.status === 405) return 0;
      if (r.status !== 200) throw new Error(`ping of ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      const g = r.body.deployGoal;
      if (!g) continue;
      const fail = failSet.has(name) && ['POST_DOWNLOAD', 'STAGING'].includes(g.deployStage);
      s.report = {
        envId: g.envId, deployId: g.deployId, deployStage: g.deployStage,
        agentStatus: fail ? failStatus : 'SUCCEEDED', errorCode: fail ? (failCode ? failCode(name) : 1) : 0,
        errorMessage: fail ? (failMessage ? failMessage(name) : 'teletraan/POST_DOWNLOAD exited with status 1: cannot write /srv/app') : '',
        failCount: fail ? 1 : 0,
      };
    }
  }
  return hosts.length;
}
