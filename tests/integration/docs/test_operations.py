# SPDX-License-Identifier: Apache-2.0
# The PostgreSQL and two-replica walk-through of docs/operations.md runs as written (guide.py says how):
# PostgreSQL installed with apt, its role, password and pg_hba.conf line, two replicas on one database, data and
# tokens shared between them, a rolling restart. The guide's ports 8080 and 8090 (the replicas) and 5432
# (PostgreSQL) become free ports on 127.0.0.1.
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from guide import run_guide  # noqa: E402
from hello_support import free_port  # noqa: E402


def test_two_replicas_on_postgresql_as_written(system):
    ports = {8080: free_port(), 8090: free_port(), 5432: free_port()}
    run_guide(system, "operations.md", ports, min_blocks=4)
    # both replicas answer from the one database, which is PostgreSQL
    token = system.path("/var/lib/slipway-server/admin.token").read_text().strip()
    for port in (ports[8080], ports[8090]):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/envs/hello/staging",
                                     headers={"Authorization": "token " + token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["envName"] == "hello"
    with urllib.request.urlopen(f"http://127.0.0.1:{ports[8090]}/v1/system/version", timeout=10) as resp:
        assert json.loads(resp.read())["schemaVersion"]
    assert not system.path("/var/lib/slipway-server/slipway.db").exists()
