-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 8, PostgreSQL variant of ../008_stage_counts.sql: the counts admission reads per stage.
-- Every write of an agent row appends a delta row in its own transaction (an insert: no lock on a row that every
-- writer of the stage would share); admission, under its stage lock, folds the committed deltas of its stage into
-- stage_counts and deploy_counts (DELETE … RETURNING) and reads the sums. A delta of a transaction still running
-- is folded by a later admission, as the stage scan it replaces would only have seen it once committed.
CREATE TABLE stage_counts (
  envId TEXT PRIMARY KEY,
  occupied BIGINT NOT NULL DEFAULT 0,
  existing BIGINT NOT NULL DEFAULT 0,
  total BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE deploy_counts (
  envId TEXT NOT NULL,
  deployId TEXT NOT NULL,
  n BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (envId, deployId)
);
CREATE TABLE count_deltas (
  envId TEXT NOT NULL,
  deployId TEXT,
  dOcc BIGINT NOT NULL,
  dExist BIGINT NOT NULL,
  dTotal BIGINT NOT NULL,
  dOn BIGINT NOT NULL
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

-- sign -1: the row leaves the counts, +1: it enters them
CREATE FUNCTION slipway_count_delta(a agents, sign INTEGER) RETURNS VOID LANGUAGE sql AS $$
  INSERT INTO count_deltas(envId, deployId, dOcc, dExist, dTotal, dOn) VALUES (a.envId, a.deployId,
    sign * (CASE WHEN a.holdsSlot = 1 OR (a.state = 'STOP' AND a.deployStage = 'STOPPING' AND a.removed = 0)
      THEN 1 ELSE 0 END),
    sign * (CASE WHEN a.firstDeploy = 0 AND a.removed = 0 THEN 1 ELSE 0 END),
    sign * (CASE WHEN a.removed = 0 AND a.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END),
    sign)
$$;

CREATE FUNCTION slipway_agents_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM slipway_count_delta(OLD, -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM slipway_count_delta(NEW, 1);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER agents_counts_write AFTER INSERT OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION slipway_agents_counts();
-- an update is the old row leaving the counts and the new one entering them, only when a count changes (a host
-- walking the stages of a deploy changes none until it finishes: no delta rows)
CREATE TRIGGER agents_counts_update AFTER UPDATE ON agents FOR EACH ROW
  WHEN (OLD.envId IS DISTINCT FROM NEW.envId OR OLD.deployId IS DISTINCT FROM NEW.deployId
    OR (CASE WHEN OLD.holdsSlot = 1 OR (OLD.state = 'STOP' AND OLD.deployStage = 'STOPPING' AND OLD.removed = 0)
        THEN 1 ELSE 0 END) <> (CASE WHEN NEW.holdsSlot = 1 OR (NEW.state = 'STOP' AND NEW.deployStage = 'STOPPING'
        AND NEW.removed = 0) THEN 1 ELSE 0 END)
    OR (CASE WHEN OLD.firstDeploy = 0 AND OLD.removed = 0 THEN 1 ELSE 0 END)
      <> (CASE WHEN NEW.firstDeploy = 0 AND NEW.removed = 0 THEN 1 ELSE 0 END)
    OR (CASE WHEN OLD.removed = 0 AND OLD.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END)
      <> (CASE WHEN NEW.removed = 0 AND NEW.state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END))
  EXECUTE FUNCTION slipway_agents_counts();
