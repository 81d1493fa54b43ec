# SPDX-License-Identifier: Apache-2.0
# Which deploys start a deploy schedule again (PROTOCOL §7.1 step 5: "for REGULAR (not PROMOTE) and
# RESTART: reset the stage's schedule to RUNNING, session 1"). Pinned here: POST .../deploys, the
# auto-promoter's deploys from BUILD (REGULAR, §8.2 step 5) and RESTART restart it; the PROMOTE
# action, auto-promotion from a stage (§8.2 step 6: "PROMOTE semantics", fromDeployId set) and
# ROLLBACK leave a FINAL schedule FINAL. Stages without hosts: a 100 % session is complete at once,
# and a cooldown of -1 holds the schedule in COOLING_DOWN until the override ends it.
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pipe_support import current, poll, publish, set_promote, steady  # noqa: E402


def schedule(s):
    e = s.ok("GET", "/v1/envs/app/prod")
    return s.ok("GET", "/v1/schedules/app/prod/" + e["scheduleId"])


def restarted_then_final(s, what):
    """The schedule was started again (session 1, held in COOLING_DOWN); end it with the override."""
    got = poll(lambda: (lambda g: g if g["state"] == "COOLING_DOWN" else None)(schedule(s)), what=what)
    assert got["currentSession"] == 1
    s.ok("PUT", "/v1/schedules/app/prod/override", code=204, params={"sessionNumber": 1})
    assert schedule(s)["state"] == "FINAL"


def stays_final(s, deploy):
    # the deploy itself rolls out (and succeeds on the empty stage) without touching the schedule
    poll(lambda: current(s, "app", "prod")["id"] == deploy["id"]
         and current(s, "app", "prod")["state"] == "SUCCEEDING", what="deploy succeeding")
    steady(lambda: schedule(s)["state"] == "FINAL", seconds=2.5)


def accepted_staging_deploy(s):
    d = s.deploy("app", "staging", publish(s)["id"])
    poll(lambda: current(s, "app", "staging")["acceptanceStatus"] == "ACCEPTED", what="staging accepted")
    return d


def test_which_deploys_restart_a_schedule(server):
    s = server
    s.make_env("app", "staging")
    s.make_env("app", "prod")
    sch = s.ok("PUT", "/v1/schedules/app/prod/schedules",
               json={"totalSessions": 1, "hostNumbers": "100%", "cooldownTimes": "-1"})
    assert sch["state"] == "NOT_STARTED"

    # POST .../deploys (REGULAR) starts it
    s.deploy("app", "prod", publish(s)["id"])
    restarted_then_final(s, "schedule started by POST deploys")

    # the PROMOTE action (REGULAR with fromDeployId) does not
    src = accepted_staging_deploy(s)
    d = s.action("app", "prod", "PROMOTE", fromDeployId=src["id"])
    assert d["type"] == "REGULAR" and d["fromDeployId"] == src["id"]
    stays_final(s, d)

    # ROLLBACK does not
    d = s.action("app", "prod", "ROLLBACK")
    assert d["type"] == "ROLLBACK"
    stays_final(s, d)

    # auto-promotion from a stage does not (PROMOTE semantics)
    set_promote(s, "app", "prod", type="AUTO", predStage="staging")
    src = accepted_staging_deploy(s)
    d = poll(lambda: (lambda c: c if c["fromDeployId"] == src["id"] else None)(current(s, "app", "prod")),
             what="auto-promotion from staging")
    assert d["operator"] == "AutoPromoter" and d["type"] == "REGULAR"
    stays_final(s, d)

    # auto-promotion from BUILD does (a plain REGULAR deploy, §8.2 step 5)
    poll(lambda: current(s, "app", "prod")["acceptanceStatus"] == "ACCEPTED", what="prod accepted")
    set_promote(s, "app", "prod", type="AUTO", predStage="BUILD")
    b = publish(s)
    d = poll(lambda: (lambda c: c if c["buildId"] == b["id"] else None)(current(s, "app", "prod")),
             what="auto-promotion from BUILD")
    assert d["operator"] == "AutoPromoter" and d["fromDeployId"] is None
    restarted_then_final(s, "schedule restarted by the auto-promoted build")
    set_promote(s, "app", "prod", type="MANUAL")

    # RESTART does
    s.action("app", "prod", "RESTART")
    restarted_then_final(s, "schedule restarted by RESTART")
