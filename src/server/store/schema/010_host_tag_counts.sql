-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema: a stage's host tags counted per tag name and value, by the deploy of the host's agent row and
-- whether it serves it (deployStage SERVING_BUILD), kept by triggers on host_tags and on agents in the transaction of
-- every write, so the board's zone strip and the CLI read a few rows per value (GET …/host_tags/{tagName}/counts)
-- instead of every tagged host of the stage. A host counts in a stage while it has an agent row there (removed or
-- not), as GET …/host_tags lists it.
--   host_tag_counts: per stage, tag name, tag value, deployId ('' for none) and serving (0/1), the hosts
--   host_tag_count_deltas: unused on SQLite (always empty): the reads add it on both dialects
-- SQLite serialises writers, so its triggers update the counts directly and drop a count that reaches 0. (The
-- PostgreSQL variant appends deltas that the janitor folds.)
CREATE TABLE host_tag_counts (
  envId TEXT NOT NULL,
  tagName TEXT NOT NULL,
  tagValue TEXT NOT NULL,
  deployId TEXT NOT NULL,
  serving INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (envId, tagName, tagValue, deployId, serving)
);
-- the same columns, without the key (never written on SQLite)
CREATE TABLE host_tag_count_deltas AS SELECT * FROM host_tag_counts WHERE 0;
CREATE INDEX host_tag_count_deltas_env ON host_tag_count_deltas(envId, tagName);
-- the hosts of one tag value in name order (a page of …/host_tags/{tagName}?value=V)
CREATE INDEX host_tags_value_name ON host_tags(tagName, tagValue, hostName);

INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n)
  SELECT a.envId, t.tagName, t.tagValue, COALESCE(a.deployId, ''),
    CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, count(*)
  FROM agents a JOIN host_tags t ON t.hostId = a.hostId
  GROUP BY a.envId, t.tagName, t.tagValue, COALESCE(a.deployId, ''),
    CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END;

-- a tag of a host counts once in each stage the host has an agent row in
CREATE TRIGGER host_tags_count_insert AFTER INSERT ON host_tags BEGIN
  INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n)
    SELECT a.envId, NEW.tagName, NEW.tagValue, COALESCE(a.deployId, ''),
      CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, 1 FROM agents a WHERE a.hostId = NEW.hostId
  ON CONFLICT(envId, tagName, tagValue, deployId, serving) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER host_tags_count_delete AFTER DELETE ON host_tags BEGIN
  UPDATE host_tag_counts SET n = n - 1 WHERE tagName = OLD.tagName AND tagValue = OLD.tagValue AND
    (envId, deployId, serving) IN (SELECT a.envId, COALESCE(a.deployId, ''),
      CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END FROM agents a WHERE a.hostId = OLD.hostId);
  DELETE FROM host_tag_counts WHERE tagName = OLD.tagName AND tagValue = OLD.tagValue AND n = 0 AND
    envId IN (SELECT a.envId FROM agents a WHERE a.hostId = OLD.hostId);
END;

CREATE TRIGGER host_tags_count_update AFTER UPDATE ON host_tags
WHEN OLD.hostId IS NOT NEW.hostId OR OLD.tagName IS NOT NEW.tagName OR OLD.tagValue IS NOT NEW.tagValue
BEGIN
  UPDATE host_tag_counts SET n = n - 1 WHERE tagName = OLD.tagName AND tagValue = OLD.tagValue AND
    (envId, deployId, serving) IN (SELECT a.envId, COALESCE(a.deployId, ''),
      CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END FROM agents a WHERE a.hostId = OLD.hostId);
  DELETE FROM host_tag_counts WHERE tagName = OLD.tagName AND tagValue = OLD.tagValue AND n = 0 AND
    envId IN (SELECT a.envId FROM agents a WHERE a.hostId = OLD.hostId);
  INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n)
    SELECT a.envId, NEW.tagName, NEW.tagValue, COALESCE(a.deployId, ''),
      CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, 1 FROM agents a WHERE a.hostId = NEW.hostId
  ON CONFLICT(envId, tagName, tagValue, deployId, serving) DO UPDATE SET n = n + 1;
END;

-- an agent row counts each tag of its host
CREATE TRIGGER agents_tag_count_insert AFTER INSERT ON agents BEGIN
  INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n)
    SELECT NEW.envId, t.tagName, t.tagValue, COALESCE(NEW.deployId, ''),
      CASE WHEN NEW.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, 1 FROM host_tags t WHERE t.hostId = NEW.hostId
  ON CONFLICT(envId, tagName, tagValue, deployId, serving) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER agents_tag_count_delete AFTER DELETE ON agents BEGIN
  UPDATE host_tag_counts SET n = n - 1 WHERE envId = OLD.envId AND deployId = COALESCE(OLD.deployId, '') AND
    serving = CASE WHEN OLD.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END AND
    (tagName, tagValue) IN (SELECT t.tagName, t.tagValue FROM host_tags t WHERE t.hostId = OLD.hostId);
  DELETE FROM host_tag_counts WHERE envId = OLD.envId AND n = 0 AND
    (tagName, tagValue) IN (SELECT t.tagName, t.tagValue FROM host_tags t WHERE t.hostId = OLD.hostId);
END;

-- an update moves the row's tags only when the stage, the host, the deploy or serving changed (not on every step)
CREATE TRIGGER agents_tag_count_update AFTER UPDATE ON agents
WHEN OLD.envId IS NOT NEW.envId OR OLD.hostId IS NOT NEW.hostId OR OLD.deployId IS NOT NEW.deployId
  OR (OLD.deployStage = 'SERVING_BUILD') IS NOT (NEW.deployStage = 'SERVING_BUILD')
BEGIN
  UPDATE host_tag_counts SET n = n - 1 WHERE envId = OLD.envId AND deployId = COALESCE(OLD.deployId, '') AND
    serving = CASE WHEN OLD.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END AND
    (tagName, tagValue) IN (SELECT t.tagName, t.tagValue FROM host_tags t WHERE t.hostId = OLD.hostId);
  DELETE FROM host_tag_counts WHERE envId = OLD.envId AND n = 0 AND
    (tagName, tagValue) IN (SELECT t.tagName, t.tagValue FROM host_tags t WHERE t.hostId = OLD.hostId);
  INSERT INTO host_tag_counts(envId, tagName, tagValue, deployId, serving, n)
    SELECT NEW.envId, t.tagName, t.tagValue, COALESCE(NEW.deployId, ''),
      CASE WHEN NEW.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, 1 FROM host_tags t WHERE t.hostId = NEW.hostId
  ON CONFLICT(envId, tagName, tagValue, deployId, serving) DO UPDATE SET n = n + 1;
END;
