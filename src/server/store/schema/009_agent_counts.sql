-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema: a stage's agent rows counted by what the board, the CLI and the deploy's transition read of them
-- (deploy, step, state, result, removal, first deploy), kept by triggers in the transaction of every write of an
-- agent row, so GET …/agents/summary, …/agents/count and a deploy's host counts read a few rows per stage instead of
-- every agent row of the stage.
--   agent_counts: per stage and (deployId, '' for none; deployStage, state, status, removed, firstDeploy), the rows
--   agent_count_deltas: unused on SQLite (always empty): the reads add it on both dialects
-- SQLite serialises writers, so its triggers update the counts directly and drop a count that reaches 0. (The
-- PostgreSQL variant appends deltas that the janitor folds: no count row is locked by every agent write.)
CREATE TABLE agent_counts (
  envId TEXT NOT NULL,
  deployId TEXT NOT NULL,
  deployStage TEXT NOT NULL,
  state TEXT NOT NULL,
  status TEXT NOT NULL,
  removed INTEGER NOT NULL,
  firstDeploy INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (envId, deployId, deployStage, state, status, removed, firstDeploy)
);
-- the same columns, without the key (never written on SQLite)
CREATE TABLE agent_count_deltas AS SELECT * FROM agent_counts WHERE 0;
CREATE INDEX agent_count_deltas_env ON agent_count_deltas(envId);
-- the removed hosts of a stage by name (a progress page's removedHosts: O(page), not a walk of the stage)
CREATE INDEX agents_env_removed ON agents(envId, hostName) WHERE removed = 1;

INSERT INTO agent_counts(envId, deployId, deployStage, state, status, removed, firstDeploy, n)
  SELECT envId, COALESCE(deployId, ''), deployStage, state, status, removed, firstDeploy, count(*) FROM agents
  GROUP BY envId, COALESCE(deployId, ''), deployStage, state, status, removed, firstDeploy;

CREATE TRIGGER agents_summary_insert AFTER INSERT ON agents BEGIN
  INSERT INTO agent_counts(envId, deployId, deployStage, state, status, removed, firstDeploy, n) VALUES (NEW.envId,
    COALESCE(NEW.deployId, ''), NEW.deployStage, NEW.state, NEW.status, NEW.removed, NEW.firstDeploy, 1)
  ON CONFLICT(envId, deployId, deployStage, state, status, removed, firstDeploy) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER agents_summary_delete AFTER DELETE ON agents BEGIN
  UPDATE agent_counts SET n = n - 1 WHERE envId = OLD.envId AND deployId = COALESCE(OLD.deployId, '') AND
    deployStage = OLD.deployStage AND state = OLD.state AND status = OLD.status AND removed = OLD.removed AND
    firstDeploy = OLD.firstDeploy;
  DELETE FROM agent_counts WHERE envId = OLD.envId AND deployId = COALESCE(OLD.deployId, '') AND
    deployStage = OLD.deployStage AND state = OLD.state AND status = OLD.status AND removed = OLD.removed AND
    firstDeploy = OLD.firstDeploy AND n = 0;
END;

-- an update moves the row from its old count to its new one, only when a counted column changed (a heartbeat or
-- a retry count does not)
CREATE TRIGGER agents_summary_update AFTER UPDATE ON agents
WHEN OLD.envId IS NOT NEW.envId OR OLD.deployId IS NOT NEW.deployId OR OLD.deployStage IS NOT NEW.deployStage
  OR OLD.state IS NOT NEW.state OR OLD.status IS NOT NEW.status OR OLD.removed IS NOT NEW.removed
  OR OLD.firstDeploy IS NOT NEW.firstDeploy
BEGIN
  UPDATE agent_counts SET n = n - 1 WHERE envId = OLD.envId AND deployId = COALESCE(OLD.deployId, '') AND
    deployStage = OLD.deployStage AND state = OLD.state AND status = OLD.status AND removed = OLD.removed AND
    firstDeploy = OLD.firstDeploy;
  DELETE FROM agent_counts WHERE envId = OLD.envId AND deployId = COALESCE(OLD.deployId, '') AND
    deployStage = OLD.deployStage AND state = OLD.state AND status = OLD.status AND removed = OLD.removed AND
    firstDeploy = OLD.firstDeploy AND n = 0;
  INSERT INTO agent_counts(envId, deployId, deployStage, state, status, removed, firstDeploy, n) VALUES (NEW.envId,
    COALESCE(NEW.deployId, ''), NEW.deployStage, NEW.state, NEW.status, NEW.removed, NEW.firstDeploy, 1)
  ON CONFLICT(envId, deployId, deployStage, state, status, removed, firstDeploy) DO UPDATE SET n = n + 1;
END;
