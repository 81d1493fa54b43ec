-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 5: what a deploy ran with and what it did, kept after the stage moved on.
-- deploy_configs: the stage's configuration at the deploy's creation (script and agent configs as their JSON text,
-- the rollout settings, the deploy constraint and the deploy schedule; NULL where the stage had none).
-- deploy_host_results: the agent rows that were on a deploy when another deploy replaced it (one row per host:
-- its step, state, result, exit code, attempts, times and the last bytes of its error), at most 10,000 per
-- deploy, failed hosts first. Both are deleted with their deploy by retention (host results also beyond the
-- 100 newest deploys of a stage).
CREATE TABLE deploy_configs (
  deployId TEXT PRIMARY KEY,
  envId TEXT NOT NULL,
  createDate INTEGER NOT NULL,
  scriptConfigs TEXT,
  agentConfigs TEXT,
  maxParallel INTEGER,
  maxParallelPct INTEGER,
  failurePolicy TEXT,
  stuckThreshold INTEGER,
  successThreshold INTEGER,
  acceptanceType TEXT,
  constraintKey TEXT,
  constraintMaxParallel INTEGER,
  constraintType TEXT,
  constraintOrder TEXT,
  scheduleHostNumbers TEXT,
  scheduleCooldownTimes TEXT
);

CREATE TABLE deploy_host_results (
  deployId TEXT NOT NULL,
  hostId TEXT NOT NULL,
  hostName TEXT NOT NULL,
  envId TEXT NOT NULL,
  deployStage TEXT NOT NULL,
  state TEXT NOT NULL,
  status TEXT NOT NULL,
  lastErrno INTEGER NOT NULL,
  failCount INTEGER NOT NULL,
  startDate INTEGER NOT NULL,
  lastUpdateDate INTEGER NOT NULL,
  errorMessage TEXT,
  recordDate INTEGER NOT NULL,
  PRIMARY KEY (deployId, hostId)
);
