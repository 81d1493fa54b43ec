# SPDX-License-Identifier: Apache-2.0
# docs/getting-started.md runs as written (guide.py says how): the runtime libraries installed with apt, the
# server and two agents set up, examples/hello published, deployed to staging, promoted to prod twice and prod
# rolled back. The guide's ports 8080 (server), 8081 and 8082 (the app in staging and prod) become free ports, and
# the server listens on 127.0.0.1.
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from guide import run_guide  # noqa: E402
from hello_support import free_port  # noqa: E402


def info(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=5) as resp:
        return json.loads(resp.read())


def test_getting_started_runs_as_written(system):
    ports = {8080: free_port(), 8081: free_port(), 8082: free_port()}
    conf = system.path("/root/slipway/packaging/server.conf.example")
    text = conf.read_text()
    assert "listen = 0.0.0.0:8080" in text
    conf.write_text(text.replace("listen = 0.0.0.0:8080", f"listen = 127.0.0.1:{ports[8080]}"))
    run_guide(system, "getting-started.md", ports, min_blocks=8)
    # where the guide ends: prod was promoted twice and rolled back to the first build, staging serves the second
    staging, prod = info(ports[8081]), info(ports[8082])
    assert prod["commit"].startswith("1111111"), prod
    assert staging["commit"].startswith("2222222"), staging
