-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema: how many distinct hosts have an agent row (GET /v1/agents/hostcount), kept by triggers on agents in
-- the transaction of every write, so the answer reads one row instead of every agent row of the fleet.
--   agent_host_count: one row (k = 0) holding the count, none while it is 0 (so a new database is empty)
--   agent_host_count_deltas: unused on SQLite (always empty): the read adds it on both dialects
-- SQLite fires a row trigger as each row is written, so a row's trigger sees the host's other rows as they are. No
-- writer changes an agent row's hostId (the key's first column), so inserts and deletes are all that count.
CREATE TABLE agent_host_count (k INTEGER PRIMARY KEY CHECK (k = 0), n INTEGER NOT NULL);
CREATE TABLE agent_host_count_deltas (n INTEGER NOT NULL);
INSERT INTO agent_host_count(k, n) SELECT 0, count(DISTINCT hostId) FROM agents HAVING count(DISTINCT hostId) > 0;

-- a host's first agent row counts it, its last one leaving uncounts it
CREATE TRIGGER agents_host_count_insert AFTER INSERT ON agents
WHEN NOT EXISTS (SELECT 1 FROM agents a WHERE a.hostId = NEW.hostId AND a.envId <> NEW.envId)
BEGIN
  INSERT INTO agent_host_count(k, n) VALUES (0, 1) ON CONFLICT(k) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER agents_host_count_delete AFTER DELETE ON agents
WHEN NOT EXISTS (SELECT 1 FROM agents a WHERE a.hostId = OLD.hostId)
BEGIN
  UPDATE agent_host_count SET n = n - 1;
  DELETE FROM agent_host_count WHERE n = 0;
END;
