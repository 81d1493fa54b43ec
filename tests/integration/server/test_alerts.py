# SPDX-License-Identifier: Apache-2.0
# slipway-server: POST /v1/envs/{env}/{stage}/alerts (upstream's alerts resource): upstream's form body and
# Alertmanager's webhook JSON, every answer code, and the rollback and markbadbuild actions in the history.
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import assert_error, db_query, make_env, publish  # noqa: E402

ALERTS = "/v1/envs/web/prod/alerts"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form(name="HighErrorRate", triggered=True, ago=1.5):
    date = "%.3f" % (time.time() - ago) if triggered else "None"
    return "alert_name=%s&triggered=%s&triggered_date=%s&alert_id=a-1&untriggered_date=None" % (
        name, "True" if triggered else "False", date)


def rfc3339(ago):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def alertmanager(status="firing", ago=(30, 10), name="HighErrorRate"):
    return {"version": "4", "groupKey": "{}:{alertname=\"%s\"}" % name, "status": status, "receiver": "slipway",
            "groupLabels": {"alertname": name}, "commonLabels": {"alertname": name, "severity": "page"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
            "alerts": [{"status": status, "labels": {"alertname": name}, "annotations": {},
                        "startsAt": rfc3339(a), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                        "fingerprint": "f%d" % i} for i, a in enumerate(ago)]}


def post_form(server, body, query=""):
    return server.post(ALERTS + query, data=body, headers=FORM)


def deploy(server, build_id):
    r = server.post("/v1/envs/web/prod/deploys?buildId=" + build_id)
    assert r.status_code == 201, r.text
    return r.json()


def stage_with_good_and_current(server, state="SUCCEEDING"):
    """A stage whose first deploy SUCCEEDED and whose current deploy (of another build) is in state."""
    make_env(server)
    good = publish(server, commit="aaaaaaa1")
    bad = publish(server, commit="bbbbbbb2", commitDate=good["commitDate"] + 1)
    d1 = deploy(server, good["id"])
    db_query(server, "UPDATE deploys SET state='SUCCEEDED' WHERE id=?", (d1["id"],))
    d2 = deploy(server, bad["id"])
    db_query(server, "UPDATE deploys SET state=? WHERE id=?", (state, d2["id"]))
    return good, bad, d1, d2


def test_alert_bad_requests(server):
    make_env(server)
    assert_error(post_form(server, ""), 400)
    assert_error(post_form(server, "alert_name=x&triggered=maybe"), 400, "triggered")
    assert_error(post_form(server, "alert_name=x&triggered=True&triggered_date=yesterday"), 400, "triggered_date")
    assert_error(post_form(server, "alert_name=x&triggered=True"), 400, "triggered_date")
    assert_error(server.post(ALERTS, data="{nope", headers={"Content-Type": "application/json"}), 400)
    assert_error(server.post(ALERTS, json=dict(alertmanager(), version="3")), 400, "version")
    assert_error(server.post(ALERTS, json=dict(alertmanager(), status="odd")), 400, "status")
    bad_time = alertmanager()
    bad_time["alerts"][0]["startsAt"] = "yesterday"
    assert_error(server.post(ALERTS, json=bad_time), 400, "startsAt")
    assert_error(server.post(ALERTS, json=dict(alertmanager(), alerts=[])), 400, "alerts")
    for window in ("0", "14401", "x"):
        assert_error(post_form(server, form(), "?actionWindow=" + window), 400, "actionWindow")
    assert_error(post_form(server, form(), "?actions=rollback,reboot"), 400, "actions")
    assert_error(post_form(server, form(), "?actions=rollback,rollback"), 400, "actions")
    assert_error(server.post("/v1/envs/web/none/alerts", data=form(), headers=FORM), 404)


def test_alert_not_triggered_stale_and_no_deploy(server):
    make_env(server)
    assert post_form(server, form(triggered=False)).status_code == 304
    assert post_form(server, form(ago=301)).status_code == 304
    assert server.post(ALERTS, json=alertmanager(status="resolved")).status_code == 304
    assert server.post(ALERTS, json=alertmanager(ago=(400, 20))).status_code == 304  # earliest firing counts
    r = post_form(server, form())
    assert r.status_code == 204 and r.text == ""
    r = server.post(ALERTS, json=alertmanager())
    assert r.status_code == 204


def test_alert_no_action_answers(server):
    good, bad, d1, d2 = stage_with_good_and_current(server, state="RUNNING")
    r = post_form(server, form())
    assert r.status_code == 200 and "SUCCEEDING nor FAILING" in r.json()["message"]
    db_query(server, "UPDATE deploys SET state='SUCCEEDING', startDate=? WHERE id=?",
             (int(time.time() * 1000) - 700 * 1000, d2["id"]))
    r = post_form(server, form(), "?actionWindow=600")
    assert r.status_code == 200 and "window" in r.json()["message"]
    assert server.post("/v1/envs/web/prod/deploys/current/actions?actionType=PAUSE").status_code == 201
    r = post_form(server, form(), "?actionWindow=3600")
    assert r.status_code == 200 and "NORMAL" in r.json()["message"]
    # nothing was done
    assert server.get("/v1/envs/web/prod/deploys/current").json()["id"] == d2["id"]
    assert server.get("/v1/builds/%s/tags" % bad["id"]).json().get("tag") is None


def test_alertmanager_rollback_and_markbadbuild(server):
    good, bad, d1, d2 = stage_with_good_and_current(server, state="FAILING")
    r = server.post(ALERTS + "?actionWindow=600&actions=rollback,markbadbuild", json=alertmanager())
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["rollback"]["done"] is True and res["markbadbuild"]["done"] is True, res
    cur = server.get("/v1/envs/web/prod/deploys/current").json()
    assert cur["id"] == res["rollback"]["deployId"] and cur["type"] == "ROLLBACK"
    assert cur["alias"] == d1["id"] and cur["buildId"] == good["id"] and "HighErrorRate" in cur["description"]
    tag = server.get("/v1/builds/%s/tags" % bad["id"]).json()["tag"]
    assert tag["value"] == "BAD_BUILD" and tag["id"] == res["markbadbuild"]["tagId"]
    assert "HighErrorRate" in tag["comments"]
    hist = server.get("/v1/envs/web/prod/history").json()
    changes = [json.loads(h["configChange"]) for h in hist if h["type"] == "Env Action"]
    by_action = {c["action"]: c for c in changes}
    assert by_action["ALERT_ROLLBACK"]["alertName"] == "HighErrorRate"
    assert by_action["ALERT_MARK_BAD_BUILD"]["alertName"] == "HighErrorRate"
    assert by_action["ALERT_MARK_BAD_BUILD"]["deployId"] == d2["id"]
    # the rollback deploy is RUNNING now: a second alert does nothing
    r = server.post(ALERTS + "?actions=rollback,markbadbuild", json=alertmanager())
    assert r.status_code == 200 and "message" in r.json()


def test_form_alert_rolls_back_by_default(server):
    good, bad, d1, d2 = stage_with_good_and_current(server)
    r = post_form(server, form(name="Latency+p99"))
    assert r.status_code == 200, r.text
    assert list(r.json()) == ["rollback"] and r.json()["rollback"]["toDeployId"] == d1["id"]
    cur = server.get("/v1/envs/web/prod/deploys/current").json()
    assert cur["type"] == "ROLLBACK" and "Latency p99" in cur["description"]
    assert server.get("/v1/builds/%s/tags" % bad["id"]).json().get("tag") is None


def test_alert_rollback_without_target(server):
    make_env(server)
    only = publish(server)
    d = deploy(server, only["id"])
    db_query(server, "UPDATE deploys SET state='SUCCEEDING' WHERE id=?", (d["id"],))
    r = post_form(server, form(), "?actions=markbadbuild,rollback")
    assert r.status_code == 200
    assert r.json()["rollback"]["done"] is False and r.json()["markbadbuild"]["done"] is True
    assert server.get("/v1/envs/web/prod/deploys/current").json()["id"] == d["id"]
