-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 5, PostgreSQL variant of ../005_deploy_record.sql (the same tables): the stage's
-- configuration at each deploy's creation, and the per-host results of a deploy recorded when it is replaced.
-- The two indexes in the "C" collation let a host-name prefix search read a range of the index whatever the
-- database's collation (host names are ASCII, so byte order is their order).
CREATE TABLE deploy_configs (
  deployId TEXT PRIMARY KEY,
  envId TEXT NOT NULL,
  createDate BIGINT NOT NULL,
  scriptConfigs TEXT,
  agentConfigs TEXT,
  maxParallel BIGINT,
  maxParallelPct BIGINT,
  failurePolicy TEXT,
  stuckThreshold BIGINT,
  successThreshold BIGINT,
  acceptanceType TEXT,
  constraintKey TEXT,
  constraintMaxParallel BIGINT,
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
  lastErrno BIGINT NOT NULL,
  failCount BIGINT NOT NULL,
  startDate BIGINT NOT NULL,
  lastUpdateDate BIGINT NOT NULL,
  errorMessage TEXT,
  recordDate BIGINT NOT NULL,
  PRIMARY KEY (deployId, hostId)
);

CREATE INDEX heartbeats_name_c ON heartbeats (hostName COLLATE "C");
CREATE INDEX hosts_name_c ON hosts (hostName COLLATE "C");
