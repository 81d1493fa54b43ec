-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema, PostgreSQL variant of ../010_host_tag_counts.sql: a stage's host tags counted per tag name and
-- value, by the deploy of the host's agent row and whether it serves it. Every write of host_tags, and every write of
-- an agent row that changes its stage, host, deploy or serving, appends delta rows in its own transaction; a read
-- adds the committed deltas of the stage and tag name to its counts in one statement, and the janitor folds them
-- into host_tag_counts. Each trigger reads the other table: a host's tags and agent rows are written by the host's
-- own pings, one at a time, and by the janitor or an operator once it no longer pings, so neither misses the other's
-- rows in practice.
CREATE TABLE host_tag_counts (
  envId TEXT NOT NULL,
  tagName TEXT NOT NULL,
  tagValue TEXT NOT NULL,
  deployId TEXT NOT NULL,
  serving SMALLINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (envId, tagName, tagValue, deployId, serving)
);
-- the same columns, without the key: one row per counted pair written (-1 for the old count, +1 for the new one)
CREATE TABLE host_tag_count_deltas (LIKE host_tag_counts);
CREATE INDEX host_tag_count_deltas_env ON host_tag_count_deltas(envId, tagName);
-- the hosts of one tag value in name order (a page of …/host_tags/{tagName}?value=V)
CREATE INDEX host_tags_value_name ON host_tags(tagName, tagValue, hostName);

INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n)
  SELECT a.envId, t.tagName, t.tagValue, COALESCE(a.deployId, ''),
    CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, count(*)
  FROM agents a JOIN host_tags t ON t.hostId = a.hostId
  GROUP BY a.envId, t.tagName, t.tagValue, COALESCE(a.deployId, ''),
    CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END;

CREATE FUNCTION slipway_host_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO host_tag_count_deltas(envId, tagName, tagValue, deployId, serving, n)
      SELECT a.envId, OLD.tagName, OLD.tagValue, COALESCE(a.deployId, ''),
        CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, -1 FROM agents a WHERE a.hostId = OLD.hostId;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO host_tag_count_deltas(envId, tagName, tagValue, deployId, serving, n)
      SELECT a.envId, NEW.tagName, NEW.tagValue, COALESCE(a.deployId, ''),
        CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, 1 FROM agents a WHERE a.hostId = NEW.hostId;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER host_tags_count_write AFTER INSERT OR DELETE ON host_tags
  FOR EACH ROW EXECUTE FUNCTION slipway_host_tags_count();
CREATE TRIGGER host_tags_count_update AFTER UPDATE ON host_tags FOR EACH ROW
  WHEN (OLD.hostId IS DISTINCT FROM NEW.hostId OR OLD.tagName IS DISTINCT FROM NEW.tagName
    OR OLD.tagValue IS DISTINCT FROM NEW.tagValue)
  EXECUTE FUNCTION slipway_host_tags_count();

CREATE FUNCTION slipway_agents_tag_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO host_tag_count_deltas(envId, tagName, tagValue, deployId, serving, n)
      SELECT OLD.envId, t.tagName, t.tagValue, COALESCE(OLD.deployId, ''),
        CASE WHEN OLD.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, -1 FROM host_tags t WHERE t.hostId = OLD.hostId;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO host_tag_count_deltas(envId, tagName, tagValue, deployId, serving, n)
      SELECT NEW.envId, t.tagName, t.tagValue, COALESCE(NEW.deployId, ''),
        CASE WHEN NEW.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, 1 FROM host_tags t WHERE t.hostId = NEW.hostId;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER agents_tag_count_write AFTER INSERT OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION slipway_agents_tag_count();
-- an update moves the row's tags only when the stage, the host, the deploy or serving changed (not on every step)
CREATE TRIGGER agents_tag_count_update AFTER UPDATE ON agents FOR EACH ROW
  WHEN (OLD.envId IS DISTINCT FROM NEW.envId OR OLD.hostId IS DISTINCT FROM NEW.hostId
    OR OLD.deployId IS DISTINCT FROM NEW.deployId
    OR (OLD.deployStage = 'SERVING_BUILD') IS DISTINCT FROM (NEW.deployStage = 'SERVING_BUILD'))
  EXECUTE FUNCTION slipway_agents_tag_count();
