// SPDX-License-Identifier: Apache-2.0
// bench/board/progress.mjs: the board's host list request alone, PUT /v1/envs/fleet/prod/deploys/current/progress
// on a stage of N seeded hosts (default 10,000), timed with curl, for two server builds taking turns on the same
// database: BENCH_BASE_BUILD_DIR (before) and SLIPWAY_BUILD_DIR (after). Also checks that both answer the same
// bytes. Markdown to stdout. Knobs: BENCH_BOARD_HOSTS (10000), BENCH_PROGRESS_ROUNDS (6), BENCH_PROGRESS_REQS (5).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../../tests/browser/harness.mjs';
import { prepare, withBuild } from './seed.mjs';

const HOSTS = parseInt(process.env.BENCH_BOARD_HOSTS || '10000', 10);
const ROUNDS = parseInt(process.env.BENCH_PROGRESS_ROUNDS || '6', 10);
const REQS = parseInt(process.env.BENCH_PROGRESS_REQS || '5', 10);
const builds = { before: process.env.BENCH_BASE_BUILD_DIR, after: process.env.SLIPWAY_BUILD_DIR };
const log = (...a) => console.error('progress bench:', ...a);
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];


// One curl request: [seconds, body sha256, bytes].
function request(srv, out) {
  const r = spawnSync('curl', ['-sS', '-o', out, '-w', '%{time_total}', '-X', 'PUT', '-H', `Authorization: token ${srv.token}`,
    `${srv.base}/v1/envs/fleet/prod/deploys/current/progress`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`curl: ${r.stderr}`);
  const body = fs.readFileSync(out);
  return [parseFloat(r.stdout) * 1000, crypto.createHash('sha256').update(body).digest('hex'), body.length];
}

async function main() {
  if (!builds.before || !builds.after) throw new Error('set BENCH_BASE_BUILD_DIR and SLIPWAY_BUILD_DIR');
  const dir = await withBuild(builds, 'after', () => prepare(HOSTS));
  const ms = { before: [], after: [] }, sums = { before: new Set(), after: new Set() };
  let bytes = 0;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const name of i % 2 ? ['after', 'before'] : ['before', 'after']) {
        const srv = await withBuild(builds, name, () => startServer({ dir }));
        try {
          request(srv, path.join(dir, 'body')); /* warm-up, not counted */
          for (let j = 0; j < REQS; j++) {
            const [t, sum, n] = request(srv, path.join(dir, 'body'));
            ms[name].push(t);
            sums[name].add(sum);
            bytes = n;
          }
        } finally {
          await srv.stop();
        }
      }
      log(`round ${i + 1}/${ROUNDS}: before ${median(ms.before).toFixed(0)} ms, after ${median(ms.after).toFixed(0)} ms (medians so far)`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const same = sums.before.size === 1 && sums.after.size === 1 && [...sums.before][0] === [...sums.after][0];
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  console.log(`| build (${HOSTS.toLocaleString('en-US')} hosts, ${ROUNDS}×${REQS} requests, alternating) | median ms | min | max |`);
  console.log('|---|---|---|---|');
  for (const name of ['before', 'after']) {
    const xs = ms[name];
    console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`);
  }
  console.log(`\nReply ${(bytes / 1024).toFixed(0)} KB; identical bytes from both builds: ${same ? 'yes' : 'NO'}. Load average at the end: ${load}.`);
  if (!same) process.exit(2);
}

main().catch(e => { console.error(e); process.exit(1); });
