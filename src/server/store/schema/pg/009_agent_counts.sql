-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema, PostgreSQL variant of ../009_agent_counts.sql: a stage's agent rows counted by deploy, step,
-- state, result, removal and first deploy. Every write of an agent row that changes one of these appends delta rows
-- in its own transaction (inserts: no row that every writer of a stage would lock); a read adds the stage's
-- committed deltas to its counts in one statement (one snapshot: exact), and the janitor folds them into
-- agent_counts, a bounded number at a time.
CREATE TABLE agent_counts (
  envId TEXT NOT NULL,
  deployId TEXT NOT NULL,
  deployStage TEXT NOT NULL,
  state TEXT NOT NULL,
  status TEXT NOT NULL,
  removed SMALLINT NOT NULL,
  firstDeploy SMALLINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (envId, deployId, deployStage, state, status, removed, firstDeploy)
);
-- the same columns, without the key: one row per agent write (-1 for the row's old count, +1 for its new one)
CREATE TABLE agent_count_deltas (LIKE agent_counts);
CREATE INDEX agent_count_deltas_env ON agent_count_deltas(envId);
-- the removed hosts of a stage by name (a progress page's removedHosts: O(page), not a walk of the stage)
CREATE INDEX agents_env_removed ON agents(envId, hostName) WHERE removed = 1;

INSERT INTO agent_counts(envId, deployId, deployStage, state, status, removed, firstDeploy, n)
  SELECT envId, COALESCE(deployId, ''), deployStage, state, status, removed, firstDeploy, count(*) FROM agents
  GROUP BY envId, COALESCE(deployId, ''), deployStage, state, status, removed, firstDeploy;

CREATE FUNCTION slipway_agents_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO agent_count_deltas(envId, deployId, deployStage, state, status, removed, firstDeploy, n) VALUES
      (OLD.envId, COALESCE(OLD.deployId, ''), OLD.deployStage, OLD.state, OLD.status, OLD.removed, OLD.firstDeploy,
       -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO agent_count_deltas(envId, deployId, deployStage, state, status, removed, firstDeploy, n) VALUES
      (NEW.envId, COALESCE(NEW.deployId, ''), NEW.deployStage, NEW.state, NEW.status, NEW.removed, NEW.firstDeploy,
       1);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER agents_summary_write AFTER INSERT OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION slipway_agents_summary();
-- an update moves the row from its old count to its new one, only when a counted column changed
CREATE TRIGGER agents_summary_update AFTER UPDATE ON agents FOR EACH ROW
  WHEN (OLD.envId IS DISTINCT FROM NEW.envId OR OLD.deployId IS DISTINCT FROM NEW.deployId
    OR OLD.deployStage IS DISTINCT FROM NEW.deployStage OR OLD.state IS DISTINCT FROM NEW.state
    OR OLD.status IS DISTINCT FROM NEW.status OR OLD.removed IS DISTINCT FROM NEW.removed
    OR OLD.firstDeploy IS DISTINCT FROM NEW.firstDeploy)
  EXECUTE FUNCTION slipway_agents_summary();
