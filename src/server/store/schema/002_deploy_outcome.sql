-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 2: what became of a deploy (its `outcome`). When a new deploy replaces a stage's current
-- one, the replaced deploy records which deploy replaced it and the state it had then (FAILING is lost once it is
-- finalised to ABORTED); a ROLLBACK deploy records the deploy it rolled back from. Existing rows get both links
-- from creation order; their state at replacement is unknown (NULL).
ALTER TABLE deploys ADD COLUMN replacedByDeployId TEXT;
ALTER TABLE deploys ADD COLUMN replacedState TEXT;
ALTER TABLE deploys ADD COLUMN rollbackFromDeployId TEXT;
UPDATE deploys SET replacedByDeployId = (SELECT n.id FROM deploys n WHERE n.envId = deploys.envId
  AND n.seq > deploys.seq ORDER BY n.seq LIMIT 1);
UPDATE deploys SET rollbackFromDeployId = (SELECT p.id FROM deploys p WHERE p.envId = deploys.envId
  AND p.seq < deploys.seq ORDER BY p.seq DESC LIMIT 1) WHERE type = 'ROLLBACK';
