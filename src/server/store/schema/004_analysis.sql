-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema version 4: the Prometheus analysis of deploys. One row per analysed deploy (its status and the
-- consecutive out-of-bounds count of each query, as JSON), and the evaluations (newest kept for the deploy page).
CREATE TABLE deploy_analysis (
  deployId TEXT PRIMARY KEY,
  envId TEXT NOT NULL,
  analysisStatus TEXT NOT NULL,
  failCounts TEXT NOT NULL DEFAULT '{}',
  lastUpdate INTEGER NOT NULL
);
CREATE TABLE analysis_evals (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  deployId TEXT NOT NULL,
  evalTime INTEGER NOT NULL,
  queryName TEXT NOT NULL,
  value REAL,
  verdict TEXT NOT NULL
);
CREATE INDEX analysis_evals_deploy ON analysis_evals(deployId, seq);
