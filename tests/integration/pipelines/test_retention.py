# SPDX-License-Identifier: Apache-2.0
# Retention (PROTOCOL §8.4) removes exactly what it may: per stage the oldest (count - maxDeployNum)
# deploys among those older than maxDeployDay that are not current; per build name the oldest
# unreferenced builds older than build_retention_days, down to build_retention_count; config history
# beyond the newest 1000 entries per stage.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from pipe_support import poll, publish  # noqa: E402

DAY = 86400 * 1000


def db(s, sql, args=()):
    return s.db.query(sql, args)


def test_retention_exact(server_factory):
    # the worker runs often, but the test stages all rows before the first run it can observe
    s = server_factory(["retention_period=3600", "build_retention_count=2", "build_retention_days=1"])
    now = int(time.time() * 1000)
    old = now - 3 * DAY
    env = s.make_env("app", "prod", maxDeployNum=2, maxDeployDay=1)
    other = s.make_env("app", "qa", maxDeployNum=10, maxDeployDay=1)

    b_ref = publish(s, publishDate=old - 10)                       # old, referenced by deploys
    deploys = [s.deploy("app", "prod", b_ref["id"])["id"] for _ in range(6)]
    qa = [s.deploy("app", "qa", b_ref["id"])["id"] for _ in range(3)]
    # deploys 0, 2, 3 and 5 (the current one) are old; 1 and 4 were updated recently
    for i in (0, 2, 3, 5):
        db(s, "UPDATE deploys SET lastUpdateDate=? WHERE id=?", (old, deploys[i]))
    db(s, "UPDATE deploys SET lastUpdateDate=? WHERE envId=?", (old, other["id"]))
    # count 6 - maxDeployNum 2 = up to 4; eligible oldest first: 0, 2, 3 -> all three go, 1, 4, 5 stay
    # qa: 3 deploys <= maxDeployNum 10 -> nothing goes

    unref_old = [publish(s, publishDate=old + i)["id"] for i in range(3)]
    fresh = [publish(s, publishDate=now - i)["id"] for i in range(2)]
    # 6 builds named app, keep 2: eligible (old, unreferenced) oldest first: all 3 unref_old go
    # (b_ref is referenced; the fresh ones are too young), leaving 3 > 2: the limit is not reached
    small = publish(s, name="tool", publishDate=old)["id"]          # only build of its name: kept

    # history: 1003 entries for prod, the newest 1000 stay
    rows = [(env["id"], "c%d" % i, now - 10 * DAY + i, "t", "Env General Config", "{}") for i in range(1003)]
    s.db.executemany("INSERT INTO config_history(id, changeId, createTime, operator, type, configChange) "
                     "VALUES(?,?,?,?,?,?)", rows)
    total_prod = db(s, "SELECT count(*) FROM config_history WHERE id=?", (env["id"],))[0][0]
    oldest_kept = sorted(r[2] for r in db(s, "SELECT id, changeId, createTime FROM config_history WHERE id=?",
                                           (env["id"],)))[total_prod - 1000]

    # restart with a short retention period so the worker runs now
    s.stop()
    s.extra.append("retention_period=1")
    s.start()

    def left_deploys(e):
        return {d for (d,) in db(s, "SELECT id FROM deploys WHERE envId=?", (e,))}

    poll(lambda: left_deploys(env["id"]) == {deploys[1], deploys[4], deploys[5]}, what="deploy retention")
    assert left_deploys(other["id"]) == set(qa)
    builds = {b for (b,) in db(s, "SELECT id FROM builds")}
    assert builds == {b_ref["id"], small} | set(fresh), builds
    poll(lambda: db(s, "SELECT count(*) FROM config_history WHERE id=?", (env["id"],))[0][0] == 1000)
    assert min(t for (t,) in db(s, "SELECT createTime FROM config_history WHERE id=?", (env["id"],))) == oldest_kept
    assert s.current("app", "prod")["id"] == deploys[5]
    # a second run changes nothing
    time.sleep(2.2)
    assert left_deploys(env["id"]) == {deploys[1], deploys[4], deploys[5]}
    assert {b for (b,) in db(s, "SELECT id FROM builds")} == builds
