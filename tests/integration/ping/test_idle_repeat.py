# SPDX-License-Identifier: Apache-2.0
# Idle repeats (ping/ping_state.h, §5.10): an idle ping repeated by the same host is answered from memory, but never with
# an answer older than a change the client could know about: an API change made before the ping, a different ping
# of the same host in between, or a wake event.
import re

from ping_support import Host, converge


def metric(server, name):
    text = server.req("GET", "/metrics").text
    m = re.search(r"^%s (\d+)" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else 0


def idle_host(server):
    e = server.make_env("web", "prod", maxParallel=1)
    server.set_groups("web", "prod", ["g"])
    h = Host(server, "h0", groups=["g"])
    d = server.deploy("web", "prod", server.publish(commit="1111111aaaa")["id"])
    assert converge([h], e["id"], d["id"])
    return e, h, d


def test_repeated_idle_pings_answer_noop_and_write_nothing(server):
    e, h, d = idle_host(server)
    writes = metric(server, "slipway_ping_writes_total")
    noops = metric(server, 'slipway_pings_total{opcode="NOOP"}')
    for _ in range(20):
        assert h.ping()["opCode"] == "NOOP"
    assert metric(server, "slipway_ping_writes_total") == writes
    assert metric(server, 'slipway_pings_total{opcode="NOOP"}') == noops + 20
    a = server.agents_by_host("web", "prod")["h0"]
    assert a["deployId"] == d["id"] and a["deployStage"] == "SERVING_BUILD" and a["state"] == "NORMAL"


def test_a_new_deploy_is_seen_by_the_very_next_ping(server):
    e, h, d = idle_host(server)
    for _ in range(5):
        assert h.ping()["opCode"] == "NOOP"
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    r = h.ping()
    assert r["opCode"] == "DEPLOY", r
    assert r["deployGoal"]["deployId"] == d2["id"] and r["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"


def test_a_stage_pause_is_seen_by_the_very_next_ping(server):
    e, h, d = idle_host(server)
    for _ in range(5):
        assert h.ping()["opCode"] == "NOOP"
    server.action("web", "prod", "PAUSE")
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    assert h.ping()["opCode"] == "NOOP"  # paused stage: no goal (§5.4 0.2)
    server.action("web", "prod", "RESUME")
    r = h.ping()
    assert r["opCode"] == "DEPLOY" and r["deployGoal"]["deployId"] == d2["id"], r


def test_another_ping_of_the_host_ends_the_idle_memory(server):
    e, h, d = idle_host(server)
    for _ in range(5):
        assert h.ping()["opCode"] == "NOOP"
    good = dict(h.reports[e["id"]])
    # the same host reports a fatal failure at SERVING_BUILD: its row is parked (§5.3 proposal)
    h.reports[e["id"]] = dict(good, agentStatus="AGENT_FAILED", errorCode=1, errorMessage="boom", failCount=1)
    assert h.ping()["opCode"] == "NOOP"
    assert server.agents_by_host("web", "prod")["h0"]["state"] == "PAUSED_BY_SYSTEM"
    # back to the remembered idle body: it must run in full and write the row back to NORMAL
    h.reports[e["id"]] = good
    assert h.ping()["opCode"] == "NOOP"
    assert server.agents_by_host("web", "prod")["h0"]["state"] == "NORMAL"
