# SPDX-License-Identifier: Apache-2.0
# Zone-aware rollouts across three replicas on one PostgreSQL database (issue 17): 30 simulated hosts in 3 zones
# ping the replicas at random, concurrently. ALL_GROUPS_IN_PARALLEL with maxParallel 2 never has more than 2
# hosts of a zone holding a slot or deploying; GROUP_BY_GROUP finishes each zone before the next starts. The
# admission transaction is serialised per stage across replicas, so the constraint holds exactly.
import os
import random
import sys

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from ping_support import Host, in_flight, ping_round  # noqa: E402

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


class EitherReplica:
    """What a simulated host pings: a replica chosen at random for every request."""

    def __init__(self, replicas):
        self.replicas = replicas
        self.token = replicas.a.token

    @property
    def url(self):
        return random.choice([s.url for s in self.replicas.all])


def ok(server, method, path, **kw):
    r = requests.request(method, server.url + path, headers={"Authorization": "token " + server.token},
                         timeout=20, **kw)
    assert 200 <= r.status_code < 300, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def finished(hosts, env_id, deploy_id):
    return all(h.stage_of(env_id) == (deploy_id, "SERVING_BUILD", "SUCCEEDED") for h in hosts)


def deploy(replicas, commit):
    b = ok(replicas.b, "POST", "/v1/builds", json={"name": "zones", "repo": "acme/zones", "branch": "main",
                                                "commit": commit, "type": "Github",
                                                "artifactUrl": "https://art.example/zones/%s.tgz" % commit[:7]})
    return ok(replicas.a, "POST", "/v1/envs/zones/prod/deploys", params={"buildId": b["id"]})


def rollout(replicas, hosts, env_id, deploy_id, check, rounds=150):
    for _ in range(rounds):
        ping_round(hosts, parallel=True)
        check()
        if finished(hosts, env_id, deploy_id):
            ping_round(hosts, parallel=True)
            return
    raise AssertionError("the rollout did not finish")


def test_constraints_hold_across_replicas(replicas):
    random.seed(17)
    e = ok(replicas.a, "POST", "/v1/envs", json={"envName": "zones", "stageName": "prod", "buildName": "zones",
                                             "maxParallel": 10})
    ok(replicas.b, "PUT", "/v1/envs/zones/prod/capacity", params={"capacityType": "GROUP"}, json=["zones-g"])
    target = EitherReplica(replicas)
    hosts = [Host(target, "z%s%02d" % (z[-1], i), groups=["zones-g"], zone=z) for i in range(10) for z in ZONES]
    d1 = deploy(replicas, "1111111aaaa")
    rollout(replicas, hosts, e["id"], d1["id"], lambda: None)

    # ALL_GROUPS_IN_PARALLEL, maxParallel 2 per zone (set on one replica, applied by all)
    ok(replicas.b, "POST", "/v1/envs/zones/prod/deploy_constraint",
       json={"constraintKey": "availabilityZone", "maxParallel": 2, "constraintType": "ALL_GROUPS_IN_PARALLEL"})
    d2 = deploy(replicas, "2222222bbbb")
    peak = {}

    def per_zone_two():
        zone_of = {h.host_id: h.zone for h in hosts}
        holders = {}
        for a in ok(random.choice(replicas.all), "GET", "/v1/envs/zones/prod/agents"):
            if a["holdsSlot"]:
                holders[zone_of[a["hostId"]]] = holders.get(zone_of[a["hostId"]], 0) + 1
        for z, n in list(holders.items()) + list(in_flight(hosts, e["id"], d2["id"]).items()):
            assert n <= 2, (z, n)
            peak[z] = max(peak.get(z, 0), n)
    rollout(replicas, hosts, e["id"], d2["id"], per_zone_two)
    assert peak == {z: 2 for z in ZONES}

    # GROUP_BY_GROUP, 5 at a time: one zone after the other, in ascending order
    ok(replicas.a, "POST", "/v1/envs/zones/prod/deploy_constraint",
       json={"constraintKey": "availabilityZone", "maxParallel": 5, "constraintType": "GROUP_BY_GROUP"})
    d3 = deploy(replicas, "3333333cccc")
    started = []

    def one_zone():
        fl = in_flight(hosts, e["id"], d3["id"])
        assert len(fl) <= 1 and all(n <= 5 for n in fl.values()), fl
        for z in fl:
            if z not in started:
                assert all(h.stage_of(e["id"]) == (d3["id"], "SERVING_BUILD", "SUCCEEDED")
                           for h in hosts if h.zone in started), (z, started)
                started.append(z)
    rollout(replicas, hosts, e["id"], d3["id"], one_zone)
    assert started == ZONES
