-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 2, PostgreSQL variant of ../002_deploy_outcome.sql (the same columns): what became of a
-- deploy. The replaced deploy records which deploy replaced it and its state then; a ROLLBACK deploy records the
-- deploy it rolled back from. Existing rows get both links from creation order.
ALTER TABLE deploys ADD COLUMN replacedByDeployId TEXT;
ALTER TABLE deploys ADD COLUMN replacedState TEXT;
ALTER TABLE deploys ADD COLUMN rollbackFromDeployId TEXT;
UPDATE deploys SET replacedByDeployId = (SELECT n.id FROM deploys n WHERE n.envId = deploys.envId
  AND n.seq > deploys.seq ORDER BY n.seq LIMIT 1);
UPDATE deploys SET rollbackFromDeployId = (SELECT p.id FROM deploys p WHERE p.envId = deploys.envId
  AND p.seq < deploys.seq ORDER BY p.seq DESC LIMIT 1) WHERE type = 'ROLLBACK';
