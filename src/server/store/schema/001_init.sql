-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 1. Column names are the wire (camelCase) field names so that rows map
-- to JSON one to one; BOOLEAN columns are returned as JSON booleans. Every timestamp is epoch ms.
-- `seq` columns give creation order (ties of equal timestamps, PROTOCOL §1.7).
CREATE TABLE builds (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  artifactUrl TEXT NOT NULL,
  type TEXT,
  repo TEXT,
  branch TEXT,
  "commit" TEXT NOT NULL,
  commitShort TEXT,
  commitInfo TEXT,
  commitDate INTEGER NOT NULL,
  publishInfo TEXT,
  publishDate INTEGER NOT NULL,
  publisher TEXT,
  artifactSha256 TEXT,
  artifactSignature TEXT
);
CREATE INDEX builds_name ON builds(name, publishDate);
CREATE INDEX builds_commit7 ON builds(substr("commit", 1, 7));

CREATE TABLE envs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  envName TEXT NOT NULL,
  stageName TEXT NOT NULL,
  envState TEXT NOT NULL DEFAULT 'NORMAL',
  state TEXT NOT NULL DEFAULT 'NORMAL',
  description TEXT,
  buildName TEXT,
  branch TEXT,
  chatroom TEXT,
  emailRecipients TEXT,
  watchRecipients TEXT,
  groupMentionRecipients TEXT,
  notifyAuthors BOOLEAN NOT NULL DEFAULT 0,
  deployId TEXT,
  deployType TEXT,
  maxParallel INTEGER NOT NULL DEFAULT 1,
  maxParallelPct INTEGER NOT NULL DEFAULT 0,
  priority TEXT NOT NULL DEFAULT 'NORMAL',
  systemPriority INTEGER,
  stuckThreshold INTEGER NOT NULL DEFAULT 600,
  successThreshold INTEGER NOT NULL DEFAULT 10000,
  acceptanceType TEXT NOT NULL DEFAULT 'AUTO',
  maxDeployNum INTEGER NOT NULL DEFAULT 5000,
  maxDeployDay INTEGER NOT NULL DEFAULT 365,
  isDocker BOOLEAN NOT NULL DEFAULT 0,
  stageType TEXT NOT NULL DEFAULT 'DEFAULT',
  lastOperator TEXT,
  lastUpdate INTEGER,
  failurePolicy TEXT NOT NULL DEFAULT 'HALT',
  signingKey TEXT,
  overridePolicy TEXT DEFAULT 'OVERRIDE',
  clusterName TEXT,
  maxParallelRp INTEGER DEFAULT 1,
  deployConstraintId TEXT,
  externalId TEXT,
  projectName TEXT,
  terminationLimit INTEGER,
  allowPrivateBuild BOOLEAN NOT NULL DEFAULT 0,
  ensureTrustedBuild BOOLEAN NOT NULL DEFAULT 0,
  isSOX BOOLEAN NOT NULL DEFAULT 0,
  useEntitlements BOOLEAN NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0,
  UNIQUE (envName, stageName)
);

CREATE TABLE deploys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  alias TEXT,
  envId TEXT NOT NULL,
  buildId TEXT NOT NULL,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  startDate INTEGER NOT NULL,
  operator TEXT,
  lastUpdateDate INTEGER NOT NULL,
  description TEXT,
  successTotal INTEGER NOT NULL DEFAULT 0,
  failTotal INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  successDate INTEGER,
  acceptanceStatus TEXT NOT NULL,
  fromDeployId TEXT
);
CREATE INDEX deploys_env ON deploys(envId, startDate);
CREATE INDEX deploys_build ON deploys(buildId);
CREATE INDEX deploys_start ON deploys(startDate);

-- one row per host x env stage; version is bumped on every write (conditional writes, §5.1 step 8)
CREATE TABLE agents (
  hostId TEXT NOT NULL,
  hostName TEXT NOT NULL,
  envId TEXT NOT NULL,
  deployId TEXT,
  deployStage TEXT NOT NULL DEFAULT 'UNKNOWN',
  state TEXT NOT NULL DEFAULT 'NORMAL',
  status TEXT NOT NULL DEFAULT 'UNKNOWN',
  startDate INTEGER NOT NULL,
  lastUpdateDate INTEGER NOT NULL,
  lastOperator TEXT,
  lastErrno INTEGER NOT NULL DEFAULT 0,
  failCount INTEGER NOT NULL DEFAULT 0,
  firstDeploy BOOLEAN NOT NULL DEFAULT 0,
  firstDeployDate INTEGER,
  stageStartDate INTEGER,
  containerHealthStatus TEXT NOT NULL DEFAULT '',
  holdsSlot BOOLEAN NOT NULL DEFAULT 0,
  removed BOOLEAN NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hostId, envId)
);
CREATE INDEX agents_env ON agents(envId);
CREATE INDEX agents_name ON agents(hostName);

CREATE TABLE agent_errors (
  hostId TEXT NOT NULL,
  hostName TEXT NOT NULL,
  envId TEXT NOT NULL,
  errorMessage TEXT,
  PRIMARY KEY (hostId, envId)
);

-- one row per host x group
CREATE TABLE hosts (
  hostName TEXT NOT NULL,
  groupName TEXT NOT NULL,
  ip TEXT,
  hostId TEXT NOT NULL,
  accountId TEXT,
  createDate INTEGER NOT NULL,
  lastUpdateDate INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'ACTIVE',
  canRetire INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hostId, groupName)
);
CREATE INDEX hosts_name ON hosts(hostName);
CREATE INDEX hosts_group ON hosts(groupName);

-- heartbeat record, one per host; lastSeen is written in batches by the ping path's flusher
CREATE TABLE heartbeats (
  hostId TEXT PRIMARY KEY,
  hostName TEXT NOT NULL,
  ip TEXT,
  agentVersion TEXT,
  autoscalingGroup TEXT,
  availabilityZone TEXT,
  createDate INTEGER NOT NULL,
  lastSeen INTEGER NOT NULL,
  pingSeq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX heartbeats_name ON heartbeats(hostName);
CREATE INDEX heartbeats_seen ON heartbeats(lastSeen);

-- capacity: type is GROUP or HOST
CREATE TABLE capacity (
  envId TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (envId, type, name)
);
CREATE INDEX capacity_name ON capacity(type, name);

-- per-stage configuration documents: kind is script, agent, metrics, alarms or webhooks
CREATE TABLE env_configs (
  envId TEXT NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (envId, kind)
);

CREATE TABLE config_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  changeId TEXT NOT NULL,
  createTime INTEGER NOT NULL,
  operator TEXT,
  type TEXT NOT NULL,
  configChange TEXT
);
CREATE INDEX config_history_env ON config_history(id, createTime);

CREATE TABLE tokens (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  resource TEXT NOT NULL,
  type TEXT NOT NULL,
  role TEXT NOT NULL,
  expireDate INTEGER,
  tokenHash TEXT NOT NULL UNIQUE,
  createDate INTEGER NOT NULL,
  UNIQUE (type, resource, name)
);

-- user and group role bindings (kind USER or GROUP)
CREATE TABLE user_roles (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  resource TEXT NOT NULL,
  type TEXT NOT NULL,
  role TEXT NOT NULL,
  PRIMARY KEY (kind, type, resource, name)
);

CREATE TABLE promotes (
  envId TEXT PRIMARY KEY,
  type TEXT NOT NULL DEFAULT 'MANUAL',
  predStage TEXT,
  queueSize INTEGER NOT NULL DEFAULT 1,
  schedule TEXT,
  delay INTEGER NOT NULL DEFAULT 0,
  disablePolicy TEXT NOT NULL DEFAULT 'AUTO',
  failPolicy TEXT NOT NULL DEFAULT 'CONTINUE',
  lastOperator TEXT,
  lastUpdate INTEGER
);

CREATE TABLE tags (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  value TEXT NOT NULL,
  targetType TEXT NOT NULL,
  targetId TEXT NOT NULL,
  operator TEXT,
  createdDate INTEGER NOT NULL,
  comments TEXT,
  metaInfo TEXT
);
CREATE INDEX tags_target ON tags(targetId, createdDate);

CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  envId TEXT NOT NULL UNIQUE,
  totalSessions INTEGER NOT NULL,
  cooldownTimes TEXT NOT NULL,
  hostNumbers TEXT NOT NULL,
  currentSession INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'NOT_STARTED',
  stateStartTime INTEGER NOT NULL
);

-- wake events for long-poll pings (§5.11): kind ENV, SLOT, HOST or CAPACITY
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  envId TEXT,
  hostId TEXT,
  name TEXT,
  createdAt INTEGER NOT NULL
);
CREATE INDEX events_created ON events(createdAt);

-- last run of periodic worker units (§8), so replicas run each unit once per period
CREATE TABLE worker_runs (
  name TEXT PRIMARY KEY,
  lastRun INTEGER NOT NULL
);
