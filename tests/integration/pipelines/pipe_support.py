# SPDX-License-Identifier: Apache-2.0
# Small helpers shared by the pipeline tests.
import time

_commit = [0]


def poll(cond, timeout=15, step=0.1, what="condition"):
    """Return cond()'s first truthy value; fail after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    v = cond()
    assert v, "%s not met within %ss" % (what, timeout)
    return v


def steady(cond, seconds=2.5, step=0.1):
    """Assert cond() stays true for a few worker periods (used for 'nothing happens')."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert cond()
        time.sleep(step)


def current(s, env, stage):
    r = s.req("GET", "/v1/envs/%s/%s/deploys/current" % (env, stage))
    return r.json() if r.status_code == 200 and r.content else None


def current_id(s, env, stage):
    c = current(s, env, stage)
    return c["id"] if c else None


def publish(s, name="app", branch="master", commit_date=None, **over):
    """Publish a build with a fresh commit; commitDate increases with every call."""
    _commit[0] += 1
    commit = "%040x" % (0xc0ffee0000 + _commit[0])
    body = {"name": name, "repo": "acme/app", "branch": branch, "commit": commit,
            "commitDate": commit_date or int(time.time() * 1000) + _commit[0],
            "artifactUrl": "https://art.example/app/%s.tar.gz" % commit[:7], "type": "Github"}
    body.update(over)
    return s.ok("POST", "/v1/builds", json=body)


def set_promote(s, env, stage, **cfg):
    s.ok("PUT", "/v1/envs/%s/%s/promotes" % (env, stage), code=204, json=cfg)


def history(s, env, stage, kind=None):
    h = s.ok("GET", "/v1/envs/%s/%s/history" % (env, stage), params={"pageSize": 100})
    return [e for e in h if kind is None or e["type"] == kind]


def accept(s, deploy_id, status="ACCEPTED"):
    s.ok("PUT", "/v1/deploys/" + deploy_id, code=204, json={"acceptanceStatus": status})
