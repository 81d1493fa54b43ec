# SPDX-License-Identifier: Apache-2.0
# Auto-promotion end to end (PROTOCOL §4.9, §7.1, §7.4, §8.2) with promote_period=1 and
# transition_period=1. Stages without hosts succeed at once (§7.3), so pipelines flow through them.
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pipe_support import (accept, current, current_id, history, poll, publish, set_promote,  # noqa: E402
                          steady)


def test_build_to_staging_to_prod(server):
    s = server
    s.make_env("app", "staging")
    s.make_env("app", "prod", acceptanceType="MANUAL")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    set_promote(s, "app", "prod", type="AUTO", predStage="staging")
    # the defaults are filled in by the first PUT
    cfg = s.ok("GET", "/v1/envs/app/prod/promotes")
    assert (cfg["queueSize"], cfg["delay"], cfg["disablePolicy"], cfg["failPolicy"]) == (1, 0, "AUTO", "CONTINUE")

    b1 = publish(s)
    st = poll(lambda: current(s, "app", "staging"), what="staging deploy")
    assert st["buildId"] == b1["id"] and st["operator"] == "AutoPromoter" and st["type"] == "REGULAR"
    assert st["description"] == "Auto promote build " + b1["id"]
    poll(lambda: current(s, "app", "staging")["acceptanceStatus"] == "ACCEPTED", what="staging accepted")
    pr = poll(lambda: current(s, "app", "prod"), what="prod deploy")
    assert pr["buildId"] == b1["id"] and pr["fromDeployId"] == st["id"] and pr["operator"] == "AutoPromoter"
    assert pr["description"] == "Auto promote deploy " + st["id"]
    # prod has MANUAL acceptance: it waits OUTSTANDING, and auto-promote stays AUTO (it created the deploy)
    poll(lambda: current(s, "app", "prod")["acceptanceStatus"] == "OUTSTANDING", what="prod outstanding")
    assert s.ok("GET", "/v1/envs/app/prod/promotes")["type"] == "AUTO"

    # a second build reaches staging, but prod's deploy is not replaceable until it is accepted
    b2 = publish(s)
    st2 = poll(lambda: (lambda c: c if c and c["buildId"] == b2["id"] else None)(current(s, "app", "staging")))
    poll(lambda: current(s, "app", "staging")["acceptanceStatus"] == "ACCEPTED")
    steady(lambda: current_id(s, "app", "prod") == pr["id"])
    accept(s, pr["id"])
    pr2 = poll(lambda: (lambda c: c if c and c["id"] != pr["id"] else None)(current(s, "app", "prod")))
    assert pr2["fromDeployId"] == st2["id"] and pr2["buildId"] == b2["id"]
    # history: each auto deploy is an Env Action AUTO_PROMOTE by AutoPromoter
    acts = [json.loads(e["configChange"]) for e in history(s, "app", "prod", "Env Action")]
    assert sum(1 for a in acts if a.get("action") == "AUTO_PROMOTE") == 2


def test_manual_acceptance_holds_the_pipeline(server):
    s = server
    s.make_env("app", "staging", acceptanceType="MANUAL")
    s.make_env("app", "prod")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    set_promote(s, "app", "prod", type="AUTO", predStage="staging")
    publish(s)
    st = poll(lambda: current(s, "app", "staging"))
    poll(lambda: current(s, "app", "staging")["acceptanceStatus"] == "OUTSTANDING")
    steady(lambda: current(s, "app", "prod") is None)
    accept(s, st["id"])
    pr = poll(lambda: current(s, "app", "prod"))
    assert pr["fromDeployId"] == st["id"]


def test_manual_deploy_turns_auto_promote_off(server):
    s = server
    s.make_env("app", "staging")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD", queueSize=5)  # never reached
    b = publish(s)
    s.deploy("app", "staging", b["id"])
    assert s.ok("GET", "/v1/envs/app/staging/promotes")["type"] == "MANUAL"  # disablePolicy AUTO
    assert history(s, "app", "staging", "Env Promote Config")
    # with disablePolicy MANUAL a user deploy leaves it AUTO
    set_promote(s, "app", "staging", type="AUTO", disablePolicy="MANUAL")
    s.deploy("app", "staging", b["id"])
    assert s.ok("GET", "/v1/envs/app/staging/promotes")["type"] == "AUTO"


def test_queue_size(server):
    s = server
    s.make_env("app", "staging")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD", queueSize=2)
    b1 = publish(s)
    steady(lambda: current(s, "app", "staging") is None)  # one candidate < queueSize
    b2 = publish(s)
    # two candidates: the queueSize-th newest one (b1) is deployed, b2 stays queued
    st = poll(lambda: current(s, "app", "staging"))
    assert st["buildId"] == b1["id"]
    steady(lambda: current_id(s, "app", "staging") == st["id"])  # only b2 is newer than b1
    b3 = publish(s)
    st2 = poll(lambda: (lambda c: c if c and c["id"] != st["id"] else None)(current(s, "app", "staging")))
    assert st2["buildId"] == b2["id"] and b3["id"] != b2["id"]


def test_delay(server):
    s = server
    s.make_env("app", "staging")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD", delay=5)
    publish(s)
    steady(lambda: current(s, "app", "staging") is None)
    # a build published more than delay minutes ago is eligible
    old = publish(s, publishDate=int(datetime.datetime.now().timestamp() * 1000) - 6 * 60000)
    st = poll(lambda: current(s, "app", "staging"))
    assert st["buildId"] == old["id"]


def test_cron_schedule_window(server):
    s = server
    s.make_env("app", "staging")
    now = datetime.datetime.now(datetime.timezone.utc)
    away = (now.hour + 12) % 24
    # validation: bad expressions are refused
    for bad in ["* * * * *", "0 0 12 L * ?", "0 0 12 ? * 6#3", "0 0 12 1 * MON", "0 0 25 * * ?"]:
        r = s.req("PUT", "/v1/envs/app/staging/promotes", json={"type": "AUTO", "predStage": "BUILD",
                                                                 "schedule": bad})
        assert r.status_code == 400 and r.json()["field"] == "schedule", (bad, r.text)
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD", schedule="0 0 %d ? * MON-FRI,SAT,SUN" % away)
    b = publish(s)
    steady(lambda: current(s, "app", "staging") is None)
    # a window that fires every 2 seconds during this hour and the next
    set_promote(s, "app", "staging", schedule="*/2 * %d,%d ? * *" % (now.hour, (now.hour + 1) % 24))
    st = poll(lambda: current(s, "app", "staging"))
    assert st["buildId"] == b["id"]
    assert s.ok("GET", "/v1/envs/app/staging/promotes")["schedule"].startswith("*/2")


def test_promote_config_validation(server):
    s = server
    s.make_env("app", "staging")
    s.make_env("app", "prod")
    # an AUTO config without predStage is stored as upstream does (tests/integration/server/test_promoter.py)
    bad = [({"predStage": "nope"}, "predStage"), ({"predStage": "prod"}, "predStage"),
           ({"queueSize": 0}, "queueSize"), ({"queueSize": 11}, "queueSize"), ({"delay": -1}, "delay"),
           ({"type": "SOMETIMES"}, "type"), ({"failPolicy": "EXPLODE"}, "failPolicy")]
    for body, field in bad:
        r = s.req("PUT", "/v1/envs/app/prod/promotes", json=body)
        assert r.status_code == 400 and r.json().get("field") == field, (body, r.text)
    assert s.ok("GET", "/v1/envs/app/prod/promotes")["type"] == "MANUAL"
    set_promote(s, "app", "prod", type="AUTO", predStage="staging", queueSize=10, delay=0)
    got = s.ok("GET", "/v1/envs/app/prod/promotes")
    assert got["predStage"] == "staging" and got["queueSize"] == 10 and got["lastOperator"]
    assert len(history(s, "app", "prod", "Env Promote Config")) == 1


def test_fail_policy_rollback(server):
    s = server
    s.make_env("app", "staging")
    s.make_env("app", "prod", acceptanceType="MANUAL")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    set_promote(s, "app", "prod", type="AUTO", predStage="staging", failPolicy="ROLLBACK")
    b1 = publish(s)
    p1 = poll(lambda: current(s, "app", "prod"))
    poll(lambda: current(s, "app", "prod")["acceptanceStatus"] == "OUTSTANDING")
    accept(s, p1["id"])
    b2 = publish(s)
    p2 = poll(lambda: (lambda c: c if c and c["buildId"] == b2["id"] else None)(current(s, "app", "prod")))
    poll(lambda: current(s, "app", "prod")["acceptanceStatus"] == "OUTSTANDING")
    accept(s, p2["id"], "REJECTED")
    rb = poll(lambda: (lambda c: c if c and c["type"] == "ROLLBACK" else None)(current(s, "app", "prod")))
    assert rb["buildId"] == b1["id"] and rb["alias"] == p1["id"] and rb["operator"] == "AutoPromoter"
    poll(lambda: s.ok("GET", "/v1/envs/app/prod/promotes")["type"] == "MANUAL")
    # the rollback is not an auto-promote target any more: nothing else happens
    steady(lambda: current_id(s, "app", "prod") == rb["id"])


def test_fail_policy_disable_and_continue(server):
    s = server
    s.make_env("app", "staging")
    s.make_env("app", "prod", acceptanceType="MANUAL")
    s.make_env("app", "dev", acceptanceType="MANUAL")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    set_promote(s, "app", "prod", type="AUTO", predStage="staging", failPolicy="DISABLE")
    set_promote(s, "app", "dev", type="AUTO", predStage="staging", failPolicy="CONTINUE")
    publish(s)
    p1 = poll(lambda: current(s, "app", "prod"))
    d1 = poll(lambda: current(s, "app", "dev"))
    poll(lambda: current(s, "app", "prod")["acceptanceStatus"] == "OUTSTANDING")
    poll(lambda: current(s, "app", "dev")["acceptanceStatus"] == "OUTSTANDING")
    accept(s, p1["id"], "REJECTED")
    accept(s, d1["id"], "REJECTED")
    poll(lambda: s.ok("GET", "/v1/envs/app/prod/promotes")["type"] == "MANUAL")
    assert current_id(s, "app", "prod") == p1["id"]  # DISABLE does not roll back
    b2 = publish(s)
    # CONTINUE: the rejected deploy is simply replaced by the next candidate
    d2 = poll(lambda: (lambda c: c if c and c["buildId"] == b2["id"] else None)(current(s, "app", "dev")))
    assert d2["type"] == "REGULAR"
    steady(lambda: current_id(s, "app", "prod") == p1["id"])
    assert s.ok("GET", "/v1/envs/app/dev/promotes")["type"] == "AUTO"


def test_bad_build_tags(server):
    s = server
    s.make_env("app", "staging")
    b1 = publish(s)
    s.ok("POST", "/v1/tags", json={"value": "BAD_BUILD", "targetType": "BUILD", "targetId": b1["id"],
                                   "comments": "broken"})
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    steady(lambda: current(s, "app", "staging") is None)
    # a later build of the same repo and branch inherits the BAD_BUILD tag
    b2 = publish(s)
    steady(lambda: current(s, "app", "staging") is None)
    r = s.req("POST", "/v1/envs/app/staging/deploys", params={"buildId": b2["id"]})
    assert r.status_code == 409 and "BAD_BUILD" in r.json()["message"]
    # another branch is not affected by the tag
    other = publish(s, branch="hotfix")
    r = s.req("POST", "/v1/envs/app/staging/deploys", params={"buildId": other["id"]})
    assert r.status_code == 201, r.text
    set_promote(s, "app", "staging", type="AUTO")  # the user deploy switched it to MANUAL
    # GOOD_BUILD on a later build lifts the block for it
    b3 = publish(s)
    s.ok("POST", "/v1/tags", json={"value": "GOOD_BUILD", "targetType": "BUILD", "targetId": b3["id"]})
    st = poll(lambda: (lambda c: c if c and c["buildId"] == b3["id"] else None)(current(s, "app", "staging")))
    assert st["operator"] == "AutoPromoter"
    # force=true deploys a BAD_BUILD and says so in the history
    f = s.ok("POST", "/v1/envs/app/staging/deploys", params={"buildId": b1["id"], "force": "true"})
    assert f["buildId"] == b1["id"]
    forced = [json.loads(e["configChange"]) for e in history(s, "app", "staging", "Env Action")]
    assert any(a.get("force") is True and a.get("buildId") == b1["id"] for a in forced), forced


def test_disable_and_global_freeze_block_promotion(server):
    s = server
    s.make_env("app", "staging")
    s.make_env("app", "prod")
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    set_promote(s, "app", "prod", type="AUTO", predStage="staging")
    s.ok("POST", "/v1/envs/app/prod/actions", code=204, params={"actionType": "DISABLE", "description": "hold"})
    assert s.ok("GET", "/v1/envs/app/prod")["state"] == "DISABLED"
    publish(s)
    st = poll(lambda: current(s, "app", "staging"))
    poll(lambda: current(s, "app", "staging")["acceptanceStatus"] == "ACCEPTED")
    steady(lambda: current(s, "app", "prod") is None)
    # a manual PROMOTE is refused as well
    r = s.req("POST", "/v1/envs/app/prod/deploys/current/actions",
              params={"actionType": "PROMOTE", "fromDeployId": st["id"]})
    assert r.status_code == 409, r.text
    s.ok("POST", "/v1/envs/app/prod/actions", code=204, params={"actionType": "ENABLE", "description": "go"})
    pr = poll(lambda: current(s, "app", "prod"))
    assert pr["fromDeployId"] == st["id"]
    acts = [e["configChange"] for e in history(s, "app", "prod", "Env Action")]
    assert any("DISABLE" in a for a in acts) and any("ENABLE" in a for a in acts), acts

    # the system-wide freeze blocks every stage, also one created afterwards
    s.ok("POST", "/v1/envs/actions", code=204, params={"actionType": "DISABLE", "description": "freeze"})
    s.make_env("app", "late")
    set_promote(s, "app", "late", type="AUTO", predStage="BUILD")
    assert s.ok("GET", "/v1/envs/app/late")["state"] == "NORMAL"
    last = s.ok("GET", "/v1/tags/targets/teletraan/latest")
    assert last["value"] == "DISABLE_ENV" and last["targetType"] == "TELETRAAN"
    b2 = publish(s)
    steady(lambda: current(s, "app", "late") is None and current(s, "app", "staging")["buildId"] != b2["id"])
    s.ok("POST", "/v1/envs/actions", code=204, params={"actionType": "ENABLE", "description": "thaw"})
    poll(lambda: (current(s, "app", "late") or {}).get("buildId") == b2["id"])
    poll(lambda: current(s, "app", "staging")["buildId"] == b2["id"])
