-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 8: the counts admission reads per stage, kept by triggers in the same transaction as
-- every write of an agent row, so a ping's admission reads one row instead of scanning the stage.
--   stage_counts:  per stage, the rows occupying a slot, the rows counting toward the width, and T (§7.3)
--   deploy_counts: per stage and deploy, the rows whose deployId is that deploy (the deploy schedule's gate)
-- SQLite serialises writers, so its triggers update the counts directly. (The PostgreSQL variant writes
-- deltas that admission folds under its stage lock: no row there is contended by every agent write.)
CREATE TABLE stage_counts (
  envId TEXT PRIMARY KEY,
  occupied INTEGER NOT NULL DEFAULT 0,
  existing INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE deploy_counts (
  envId TEXT NOT NULL,
  deployId TEXT NOT NULL,
  n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (envId, deployId)
);
-- unused on SQLite (always empty): the store's fold reads it on both dialects
CREATE TABLE count_deltas (
  envId TEXT NOT NULL,
  deployId TEXT,
  dOcc INTEGER NOT NULL,
  dExist INTEGER NOT NULL,
  dTotal INTEGER NOT NULL,
  dOn INTEGER NOT NULL
);
CREATE INDEX count_deltas_env ON count_deltas(envId);
-- a stage's agent rows a page at a time in host name order (GET …/agents?limit=&after=)
CREATE INDEX agents_env_name ON agents(envId, hostName);

INSERT INTO stage_counts(envId, occupied, existing, total)
  SELECT envId,
    SUM(CASE WHEN holdsSlot = 1 OR (state = 'STOP' AND deployStage = 'STOPPING' AND removed = 0) THEN 1 ELSE 0 END),
    SUM(CASE WHEN firstDeploy = 0 AND removed = 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN removed = 0 AND state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
  FROM agents GROUP BY envId;
INSERT INTO deploy_counts(envId, deployId, n)
  SELECT envId, deployId, COUNT(*) FROM agents WHERE deployId IS NOT NULL GROUP BY envId, deployId;

CREATE TRIGGER agents_counts_insert AFTER INSERT ON agents BEGIN
  INSERT INTO stage_counts(envId, occupied, existing, total) VALUES (NEW.envId,
    CASE WHEN NEW.holdsSlot = 1 OR (NEW.state = 'STOP' AND NEW.deployStage = 'STOPPING' AND NEW.removed = 0)
      THEN 1 ELSE 0 END,
    CASE WHEN NEW.firstDeploy = 0 AND NEW.removed = 0 THEN 1 ELSE 0 END,
    CASE WHEN NEW.removed = 0 AND NEW.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
  ON CONFLICT(envId) DO UPDATE SET occupied = occupied + excluded.occupied, existing = existing + excluded.existing,
    total = total + excluded.total;
  INSERT INTO deploy_counts(envId, deployId, n) SELECT NEW.envId, NEW.deployId, 1 WHERE NEW.deployId IS NOT NULL
  ON CONFLICT(envId, deployId) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER agents_counts_delete AFTER DELETE ON agents BEGIN
  UPDATE stage_counts SET
    occupied = occupied - (CASE WHEN OLD.holdsSlot = 1 OR (OLD.state = 'STOP' AND OLD.deployStage = 'STOPPING'
      AND OLD.removed = 0) THEN 1 ELSE 0 END),
    existing = existing - (CASE WHEN OLD.firstDeploy = 0 AND OLD.removed = 0 THEN 1 ELSE 0 END),
    total = total - (CASE WHEN OLD.removed = 0 AND OLD.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
  WHERE envId = OLD.envId;
  UPDATE deploy_counts SET n = n - 1 WHERE envId = OLD.envId AND deployId = OLD.deployId;
  DELETE FROM deploy_counts WHERE envId = OLD.envId AND deployId = OLD.deployId AND n <= 0;
END;

-- an update is the old row leaving the counts and the new one entering them, only when a count changes (a host
-- walking the stages of a deploy changes none until it finishes)
CREATE TRIGGER agents_counts_update AFTER UPDATE ON agents
WHEN OLD.envId IS NOT NEW.envId OR OLD.deployId IS NOT NEW.deployId
  OR (CASE WHEN OLD.holdsSlot = 1 OR (OLD.state = 'STOP' AND OLD.deployStage = 'STOPPING' AND OLD.removed = 0)
      THEN 1 ELSE 0 END) <> (CASE WHEN NEW.holdsSlot = 1 OR (NEW.state = 'STOP' AND NEW.deployStage = 'STOPPING'
      AND NEW.removed = 0) THEN 1 ELSE 0 END)
  OR (CASE WHEN OLD.firstDeploy = 0 AND OLD.removed = 0 THEN 1 ELSE 0 END)
    <> (CASE WHEN NEW.firstDeploy = 0 AND NEW.removed = 0 THEN 1 ELSE 0 END)
  OR (CASE WHEN OLD.removed = 0 AND OLD.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
    <> (CASE WHEN NEW.removed = 0 AND NEW.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
BEGIN
  UPDATE stage_counts SET
    occupied = occupied - (CASE WHEN OLD.holdsSlot = 1 OR (OLD.state = 'STOP' AND OLD.deployStage = 'STOPPING'
      AND OLD.removed = 0) THEN 1 ELSE 0 END),
    existing = existing - (CASE WHEN OLD.firstDeploy = 0 AND OLD.removed = 0 THEN 1 ELSE 0 END),
    total = total - (CASE WHEN OLD.removed = 0 AND OLD.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
  WHERE envId = OLD.envId;
  INSERT INTO stage_counts(envId, occupied, existing, total) VALUES (NEW.envId,
    CASE WHEN NEW.holdsSlot = 1 OR (NEW.state = 'STOP' AND NEW.deployStage = 'STOPPING' AND NEW.removed = 0)
      THEN 1 ELSE 0 END,
    CASE WHEN NEW.firstDeploy = 0 AND NEW.removed = 0 THEN 1 ELSE 0 END,
    CASE WHEN NEW.removed = 0 AND NEW.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
  ON CONFLICT(envId) DO UPDATE SET occupied = occupied + excluded.occupied, existing = existing + excluded.existing,
    total = total + excluded.total;
  UPDATE deploy_counts SET n = n - 1
  WHERE envId = OLD.envId AND deployId = OLD.deployId AND (OLD.envId IS NOT NEW.envId OR OLD.deployId IS NOT NEW.deployId);
  DELETE FROM deploy_counts WHERE envId = OLD.envId AND deployId = OLD.deployId AND n <= 0;
  INSERT INTO deploy_counts(envId, deployId, n) SELECT NEW.envId, NEW.deployId, 1 WHERE NEW.deployId IS NOT NULL
    AND (OLD.envId IS NOT NEW.envId OR OLD.deployId IS NOT NEW.deployId)
  ON CONFLICT(envId, deployId) DO UPDATE SET n = n + 1;
END;
