// SPDX-License-Identifier: Apache-2.0
// bench/board/seed.mjs: what the board benchmarks share: a stage "fleet/prod" with a group capacity and a current
// deploy whose HOSTS agents are seeded straight into SQLite (bench/ping's seeding) while the server is stopped, and
// running a server of one of two builds (before/after) on that database.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tests/browser/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// fn() with SLIPWAY_BUILD_DIR set to builds[name] (the server build startServer runs).
export async function withBuild(builds, name, fn) {
  const saved = process.env.SLIPWAY_BUILD_DIR;
  process.env.SLIPWAY_BUILD_DIR = builds[name];
  try { return await fn(); } finally { process.env.SLIPWAY_BUILD_DIR = saved; }
}

// The seeded database's directory; settings: extra server settings while the stage is created.
export async function prepare(hosts, settings = [], log = () => {}) {
  const srv = await startServer({ settings });
  await srv.api.post('/v1/envs', { envName: 'fleet', stageName: 'prod' });
  await srv.api.put('/v1/envs/fleet/prod/capacity', ['bench'], { capacityType: 'GROUP' });
  const env = await srv.api.get('/v1/envs/fleet/prod');
  const b = await srv.api.post('/v1/builds', { name: 'fleet', repo: 'acme/fleet', branch: 'main', commit: 'abcdef0123456', artifactUrl: 'https://x.example/a.tgz' });
  const dep = await srv.api.post('/v1/envs/fleet/prod/deploys', undefined, { buildId: b.id });
  await srv.stop();
  log(`seeding ${hosts} hosts`);
  const py = `import sys, time; sys.path.insert(0, ${JSON.stringify(path.join(here, '../ping'))}); import bench; ` +
    `bench.seed(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(time.time() * 1000))`;
  const r = spawnSync('/usr/bin/python3', ['-c', py, path.join(srv.dir, 's.db'), String(hosts), env.id, dep.id], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('seeding failed');
  return srv.dir;
}
