-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema, PostgreSQL variant of ../011_agent_host_count.sql: how many distinct hosts have an agent row.
-- Statement triggers with the statement's rows (transition tables) append one delta per statement that adds a host's
-- first rows or removes its last ones (a row trigger would see the whole statement's rows gone: the janitor deletes
-- a host's rows in one statement); the read adds the committed deltas, and the janitor folds them. A host's agent
-- rows are written by its own pings, one at a time, and by the janitor or an operator once it no longer pings. No
-- writer changes an agent row's hostId (the key's first column): no update trigger, which would cost every ping.
CREATE TABLE agent_host_count (k INTEGER PRIMARY KEY CHECK (k = 0), n BIGINT NOT NULL);
CREATE TABLE agent_host_count_deltas (n BIGINT NOT NULL);
INSERT INTO agent_host_count(k, n) SELECT 0, count(DISTINCT hostId) FROM agents HAVING count(DISTINCT hostId) > 0;

CREATE FUNCTION slipway_agents_host_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the statement's hosts that have no agent row outside it
  INSERT INTO agent_host_count_deltas(n)
    SELECT count(*) FROM (SELECT DISTINCT hostId FROM new_rows) h WHERE NOT EXISTS (SELECT 1 FROM agents a
      WHERE a.hostId = h.hostId AND NOT EXISTS (SELECT 1 FROM new_rows r WHERE r.hostId = a.hostId
        AND r.envId = a.envId))
    HAVING count(*) > 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION slipway_agents_host_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the statement's hosts that have no agent row left
  INSERT INTO agent_host_count_deltas(n)
    SELECT -count(*) FROM (SELECT DISTINCT hostId FROM old_rows) h
    WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.hostId = h.hostId)
    HAVING count(*) > 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER agents_host_count_insert AFTER INSERT ON agents REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION slipway_agents_host_count_insert();
CREATE TRIGGER agents_host_count_delete AFTER DELETE ON agents REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION slipway_agents_host_count_delete();
