-- SPDX-License-Identifier: Apache-2.0
-- Slipway schema: zone-aware rollouts. host_tags holds each host's tags as its pings report them (ec2Tags and the
-- availabilityZone); deploy_constraints holds at most one constraint per stage: its hosts grouped by one tag's
-- value, at most maxParallel of a value at once (ALL_GROUPS_IN_PARALLEL) or one value after the other
-- (GROUP_BY_GROUP, in constraintOrder then ascending order, a JSON array or NULL).
CREATE TABLE host_tags (
  hostId TEXT NOT NULL,
  tagName TEXT NOT NULL,
  tagValue TEXT NOT NULL,
  hostName TEXT NOT NULL,
  createDate INTEGER NOT NULL,
  PRIMARY KEY (hostId, tagName)
);
CREATE INDEX host_tags_name ON host_tags(tagName, tagValue);

CREATE TABLE deploy_constraints (
  id TEXT PRIMARY KEY,
  envId TEXT NOT NULL UNIQUE,
  constraintKey TEXT NOT NULL,
  maxParallel INTEGER NOT NULL,
  constraintType TEXT NOT NULL,
  constraintOrder TEXT,
  state TEXT NOT NULL,
  startDate INTEGER NOT NULL,
  lastUpdate INTEGER NOT NULL
);
