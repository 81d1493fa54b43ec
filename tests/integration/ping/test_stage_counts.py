# SPDX-License-Identifier: Apache-2.0
# Admission reads a stage's counts (rows occupying a slot, rows counting toward the width, T, rows per deploy)
# from counters the database keeps with every write of an agent row, instead of scanning the stage on each
# ping. These tests drive every kind of agent write (pings walking a deploy, admission, pause, reset, stop,
# rows leaving the stage, the janitor) and check after each step that the counters equal a scan of the rows,
# on whichever backend the run uses (on PostgreSQL the counters are the folded rows plus the pending deltas).
from ping_support import Host, converge, deploying, ping_round, wait_for

SCAN = ("SELECT "
        "COALESCE(SUM(CASE WHEN holdsSlot = 1 OR (state = 'STOP' AND deployStage = 'STOPPING' AND removed = 0) "
        "THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN firstDeploy = 0 AND removed = 0 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN removed = 0 AND state NOT IN ('UNREACHABLE', 'DELETE') THEN 1 ELSE 0 END), 0) "
        "FROM agents WHERE envId = ?")
KEPT = ("SELECT "
        "COALESCE((SELECT occupied FROM stage_counts WHERE envId = ?), 0) "
        "+ COALESCE((SELECT SUM(dOcc) FROM count_deltas WHERE envId = ?), 0), "
        "COALESCE((SELECT existing FROM stage_counts WHERE envId = ?), 0) "
        "+ COALESCE((SELECT SUM(dExist) FROM count_deltas WHERE envId = ?), 0), "
        "COALESCE((SELECT total FROM stage_counts WHERE envId = ?), 0) "
        "+ COALESCE((SELECT SUM(dTotal) FROM count_deltas WHERE envId = ?), 0)")
SCAN_DEPLOYS = "SELECT deployId, COUNT(*) FROM agents WHERE envId = ? AND deployId IS NOT NULL GROUP BY deployId"
KEPT_DEPLOYS = "SELECT deployId, n FROM deploy_counts WHERE envId = ?"
DELTA_DEPLOYS = ("SELECT deployId, SUM(dOn) FROM count_deltas WHERE envId = ? AND deployId IS NOT NULL "
                 "GROUP BY deployId")


def kept_counts(db, env_id):
    stage = tuple(int(v) for v in db.query(KEPT, (env_id,) * 6)[0])
    per_deploy = {d: int(n) for d, n in db.query(KEPT_DEPLOYS, (env_id,))}
    for d, n in db.query(DELTA_DEPLOYS, (env_id,)):
        per_deploy[d] = per_deploy.get(d, 0) + int(n)
    return stage, {d: n for d, n in per_deploy.items() if n != 0}


def scanned_counts(db, env_id):
    stage = tuple(int(v) for v in db.query(SCAN, (env_id,))[0])
    return stage, {d: int(n) for d, n in db.query(SCAN_DEPLOYS, (env_id,))}


# The counts the summary, agents/count and a deploy's transition read (agent_counts, plus the deltas not folded yet
# on PostgreSQL) against a GROUP BY of the rows.
SUMMARY_KEY = "COALESCE(deployId, ''), deployStage, state, status, removed, firstDeploy"
SCAN_SUMMARY = "SELECT %s, COUNT(*) FROM agents WHERE envId = ? GROUP BY %s" % (SUMMARY_KEY, SUMMARY_KEY)
KEPT_SUMMARY = ("SELECT deployId, deployStage, state, status, removed, firstDeploy, SUM(n) FROM (SELECT * FROM "
                "agent_counts WHERE envId = ? UNION ALL SELECT * FROM agent_count_deltas WHERE envId = ?) x "
                "GROUP BY deployId, deployStage, state, status, removed, firstDeploy")


def summary_counts(rows):
    return {tuple(str(v) if i < 4 else int(v) for i, v in enumerate(r[:6])): int(r[6]) for r in rows if int(r[6])}


def check_summary(server, env_id, what):
    kept = summary_counts(server.db.query(KEPT_SUMMARY, (env_id, env_id)))
    scanned = summary_counts(server.db.query(SCAN_SUMMARY, (env_id,)))
    assert kept == scanned, "%s: summary counters %r, rows %r" % (what, kept, scanned)
    # and the API answers them: the summary by what a board shows of a host, agents/count
    name = next(e for e in server.ok("GET", "/v1/envs") if e["id"] == env_id)
    base = "/v1/envs/%s/%s" % (name["envName"], name["stageName"])
    s = server.ok("GET", base + "/agents/summary")
    got = {}
    for c in s["counts"]:
        k = (c["onDeploy"], c["deployStage"], c["state"], c["status"], c["removed"])
        got[k] = got.get(k, 0) + c["n"]
    want = {}
    for (dep, stage, state, status, removed, _), n in scanned.items():
        k = (dep == s["deployId"], stage, state, status, bool(removed))
        want[k] = want.get(k, 0) + n
    assert got == want and s["total"] == sum(scanned.values()), "%s: summary %r, rows %r" % (what, s, scanned)
    serving = sum(n for k, n in scanned.items() if k[1] == "SERVING_BUILD")
    assert server.ok("GET", base + "/agents/count?actionType=SERVING") == serving, what
    first = sum(n for k, n in scanned.items() if k[5] == 1 and k[1] != "SERVING_BUILD")
    assert server.ok("GET", base + "/agents/count?actionType=FIRST_DEPLOY") == first, what


def check(server, env_id, what):
    kept, scanned = kept_counts(server.db, env_id), scanned_counts(server.db, env_id)
    assert kept == scanned, "%s: counters %r, rows %r" % (what, kept, scanned)
    check_summary(server, env_id, what)
    return scanned


def test_counters_follow_every_agent_write(server):
    env = server.make_env("web", "prod", maxParallel=3)
    server.set_groups("web", "prod", ["web-prod"])
    hosts = [Host(server, "h%02d" % i, groups=["web-prod"]) for i in range(16)]
    b1 = server.publish(commit="1111111aaaa")
    d1 = server.deploy("web", "prod", b1["id"])
    ping_round(hosts, parallel=True)
    (occ, existing, total), per = check(server, env["id"], "first deploy started")
    assert total == 16 and existing == 0 and per == {d1["id"]: 16}
    assert converge(hosts, env["id"], d1["id"])
    (occ, existing, total), _ = check(server, env["id"], "first deploy done")
    assert (occ, existing, total) == (0, 16, 16)

    # a later deploy: admission takes slots (the width is 3) and releases them as hosts finish
    b2 = server.publish(commit="2222222bbbb")
    d2 = server.deploy("web", "prod", b2["id"])
    for _ in range(3):
        ping_round(hosts, parallel=True)
        (occ, _, _), per = check(server, env["id"], "later deploy under admission")
        assert occ == deploying(hosts, env["id"], d2["id"]) and 0 < occ <= 3
    assert per[d2["id"]] + per[d1["id"]] == 16 and per[d2["id"]] >= 3

    # operator actions: pause (releases the slot), reset, back to normal
    holder = next(a["hostId"] for a in server.agents("web", "prod") if a["holdsSlot"])
    server.ok("PUT", "/v1/envs/web/prod/agents/%s" % holder, json={"state": "PAUSED_BY_USER"})
    check(server, env["id"], "pause")
    server.ok("PUT", "/v1/envs/web/prod/agents/h15", json={"state": "RESET"})
    check(server, env["id"], "reset")
    server.ok("PUT", "/v1/envs/web/prod/agents/%s" % holder, json={"state": "NORMAL"})
    check(server, env["id"], "resume")

    # stopping hosts (STOP / STOPPING occupy a slot) and rows leaving the stage
    server.ok("DELETE", "/v1/hosts/h14")
    check(server, env["id"], "stop")
    ping_round(hosts, parallel=True)
    check(server, env["id"], "stopping")
    server.set_hosts("web", "prod", [])
    server.set_groups("web", "prod", [])
    ping_round(hosts[:8], parallel=True)
    check(server, env["id"], "rows leaving the stage")

    # the rest of the rollout still converges and the counters agree at the end
    server.set_groups("web", "prod", ["web-prod"])
    rest = [h for h in hosts if h.host_id != "h14"]
    assert converge(rest, env["id"], d2["id"], max_rounds=200)
    (occ, existing, total), per = check(server, env["id"], "later deploy done")
    # h14 still holds its STOPPING slot (it was not pinged since): only it occupies one
    assert (occ, existing, total) == (1, 16, 16) and per == {d2["id"]: 16}


def test_counters_follow_the_janitor(server_factory):
    # hosts that stop pinging become UNREACHABLE (T shrinks) and their rows are deleted later
    server = server_factory([
        "host_unreachable_after=2", "host_expire=4", "janitor_period=1", "unreachable_slot_release=0"]).start()
    env = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["web-prod"])
    hosts = [Host(server, "j%02d" % i, groups=["web-prod"]) for i in range(6)]
    d = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d["id"])
    check(server, env["id"], "deployed")
    # a later deploy admits one host (the width is 1), then every host goes silent: UNREACHABLE first, the
    # slot released by a second write that changes only holdsSlot
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    ping_round(hosts)
    assert check(server, env["id"], "admitted")[0][0] == 1 and deploying(hosts, env["id"], d2["id"]) == 1
    assert wait_for(lambda: scanned_counts(server.db, env["id"])[0][::2] == (0, 0), timeout=30)
    check(server, env["id"], "unreachable, slot released")
    assert wait_for(lambda: scanned_counts(server.db, env["id"])[1] == {}, timeout=30)
    assert check(server, env["id"], "expired") == ((0, 0, 0), {})


def test_janitor_folds_the_deltas_of_a_quiet_stage(server_factory):
    # on PostgreSQL every count-changing agent write appends a delta, and admission folds a stage's deltas before it
    # reads them; a stage that sees no later deploy is folded by the janitor instead, so its deltas do not pile up.
    # (SQLite keeps no deltas: there the test checks the counters alone.)
    server = server_factory(["janitor_period=3600"]).start()
    env = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["web-prod"])
    hosts = [Host(server, "f%02d" % i, groups=["web-prod"]) for i in range(12)]
    d = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d["id"])  # a first deploy: no admission, so nothing folds the deltas
    pending = "SELECT COUNT(*) FROM count_deltas WHERE envId = ?"
    assert (int(server.db.query(pending, (env["id"],))[0][0]) > 0) == (server.db.backend == "pg")
    summary_pending = "SELECT COUNT(*) FROM agent_count_deltas WHERE envId = ?"
    assert (int(server.db.query(summary_pending, (env["id"],))[0][0]) > 0) == (server.db.backend == "pg")
    check(server, env["id"], "first deploy done, deltas pending")

    server.stop()
    server.start(["janitor_period=1"])
    assert wait_for(lambda: int(server.db.query(pending, (env["id"],))[0][0]) == 0, timeout=20)
    (occ, existing, total), per = check(server, env["id"], "folded by the janitor")
    assert (occ, existing, total) == (0, 12, 12) and per == {d["id"]: 12}
    # the folded rows themselves hold the counts now
    folded = server.db.query("SELECT occupied, existing, total FROM stage_counts WHERE envId = ?", (env["id"],))
    assert tuple(int(v) for v in folded[0]) == (0, 12, 12)
    assert [(r[0], int(r[1])) for r in server.db.query(KEPT_DEPLOYS, (env["id"],))] == [(d["id"], 12)]
    # and the summary's deltas too: agent_counts alone holds the rows' counts
    assert wait_for(lambda: int(server.db.query(
        "SELECT COUNT(*) FROM agent_count_deltas WHERE envId = ?", (env["id"],))[0][0]) == 0, timeout=20)
    only = server.db.query("SELECT deployId, deployStage, state, status, removed, firstDeploy, n FROM agent_counts "
                           "WHERE envId = ?", (env["id"],))
    assert summary_counts(only) == summary_counts(server.db.query(SCAN_SUMMARY, (env["id"],)))


def test_summary_counters_follow_operator_paths(server):
    # the writes the admission test above does not make: failures, reset_failed_agents, host actions, a rollback,
    # a stage emptied and deleted; the summary counters must equal a scan of the rows after each
    env = server.make_env("web", "prod", maxParallelPct=100)
    server.set_groups("web", "prod", ["web-prod"])
    hosts = [Host(server, "s%02d" % i, groups=["web-prod"]) for i in range(8)]
    d1 = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d1["id"])
    check(server, env["id"], "first deploy")
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    check(server, env["id"], "deploy created")
    for h in hosts[:3]:
        h.fail[(None, "DOWNLOADING")] = "SCRIPT_FAILED"
    for _ in range(4):
        ping_round(hosts, parallel=True)
    check(server, env["id"], "failures reported")
    server.ok("PUT", "/v1/envs/web/prod/agents/reset_failed_agents/%s" % d2["id"])
    check(server, env["id"], "reset_failed_agents")
    for action in ("PAUSED_BY_USER", "RESET", "NORMAL"):
        server.ok("PUT", "/v1/envs/web/prod/deploys/hostactions", params={"actionType": action}, json=["s01", "s05"])
        check(server, env["id"], "hostactions " + action)
    for h in hosts[:3]:
        h.fail.clear()
    server.action("web", "prod", "ROLLBACK", toDeployId=d1["id"])
    check(server, env["id"], "rollback created")
    ping_round(hosts, parallel=True)
    check(server, env["id"], "rollback under way")
    server.ok("DELETE", "/v1/envs/web/prod/hosts", json=["s06"], params={"replaceHost": "false"})
    check(server, env["id"], "host removed")
    # hosts leaving the stage's capacity, and a stage deleted once its rows are gone: no counts left behind
    other = server.make_env("web", "canary", maxParallelPct=100)
    server.set_groups("web", "canary", ["canary"])
    lone = Host(server, "c00", groups=["canary"])
    dc = server.deploy("web", "canary", server.publish()["id"])
    assert converge([lone], other["id"], dc["id"])
    check(server, other["id"], "canary deployed")
    server.set_groups("web", "canary", [])
    lone.ping()
    check(server, other["id"], "canary host left the capacity")
