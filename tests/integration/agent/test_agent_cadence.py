# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_cadence.py: ping cadence (long-poll, polling, backoff), failover, HTTP errors
# and host identity re-reads, against the scripted fake ping server.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Walk, wait_for  # noqa: E402


def test_server_down_then_back(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\nexit 0\n"})
    server.decide = Walk(stages=["RESTARTING"])
    assert agent.once().returncode == 0
    before = (agent.state_dir / "state.json").read_text()
    server.fail_status = 503
    r = agent.once()
    assert r.returncode == 1
    assert (agent.state_dir / "state.json").read_text() == before  # state unchanged by failed pings
    n = len(server.bodies())
    p = agent.start()
    wait_for(lambda: len(server.bodies()) >= n + 3, what="retries while down")
    server.fail_status = None
    m = len(server.bodies())
    wait_for(lambda: len(server.bodies()) > m + 1, what="pings after recovery")
    assert server.bodies()[-1]["reports"][0]["agentStatus"] == "SUCCEEDED"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0


def test_failover_to_second_url(server, make_agent):
    agent = make_agent("http://127.0.0.1:1," + server.url)
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert len(server.bodies()) == 1


def test_once_exit_code_when_unreachable(make_agent):
    agent = make_agent("http://127.0.0.1:1")
    r = agent.once()
    assert r.returncode == 1


def test_http_401_is_not_failed_over(server, make_agent):
    agent = make_agent(server.url + "," + server.url, token="s3cret")
    server.fail_status = 401
    r = agent.once()
    assert r.returncode == 1
    assert len(server.requests) == 1
    assert server.requests[0][1].get("Authorization") == "token s3cret"
    assert "down" in r.stderr  # the server's message is logged


def test_long_poll_cadence(server, make_agent):
    agent = make_agent(server.url, long_poll="true", long_poll_wait=2, ping_interval=30)
    server.hold = True
    p = agent.start()
    # held answers: the next idle ping starts within a second, not after ping_interval
    wait_for(lambda: len(server.requests) >= 3, timeout=12, what="three held pings")
    assert all(path.endswith("?wait=2") for (path, _, _) in server.requests)
    p.send_signal(signal.SIGTERM)  # abandons the held ping at once
    t0 = time.monotonic()
    assert p.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 3


def test_early_noop_falls_back_to_polling(server, make_agent):
    agent = make_agent(server.url, long_poll="true", long_poll_wait=10, ping_interval=30)
    p = agent.start()  # the fake server answers at once: not held
    wait_for(lambda: len(server.requests) >= 1, what="first ping")
    time.sleep(3)
    assert len(server.requests) == 1  # next ping only after ping_interval ±10 %
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0


def test_once_never_long_polls(server, make_agent):
    agent = make_agent(server.url, long_poll="true", long_poll_wait=10)
    server.hold = True
    r = agent.once(timeout=30)
    assert r.returncode == 0
    assert server.requests[0][0] == "/v1/system/ping"


def test_host_info_file_is_read_and_re_read(server, make_agent):
    agent = make_agent(server.url, host_id="", host_name="", groups="")
    agent.state_dir.mkdir(parents=True, exist_ok=True)
    info = agent.state_dir / "host_info"
    info.write_text("# written by provisioning\n\nid = \"i-0001\"\nhostname=web-01\ngroups=web-prod,web\n"
                    "availability-zone=us-east-1a\n")
    p = agent.start()
    wait_for(lambda: server.bodies(), what="first ping")
    b = server.bodies()[0]
    assert (b["hostId"], b["hostName"], b["groups"], b["availabilityZone"]) == \
        ("i-0001", "web-01", ["web-prod", "web"], "us-east-1a")
    time.sleep(0.05)
    info.write_text("id=i-0002\nhostname=web-02\n")
    os.utime(info, (time.time() + 5, time.time() + 5))
    wait_for(lambda: server.bodies()[-1]["hostId"] == "i-0002", what="re-read identity")
    assert "groups" not in server.bodies()[-1]
    # an invalid identity at a re-read keeps the previous one
    info.write_text("id=bad id\n")
    os.utime(info, (time.time() + 10, time.time() + 10))
    n = len(server.bodies())
    wait_for(lambda: len(server.bodies()) > n + 1, what="pings after a bad re-read")
    assert server.bodies()[-1]["hostId"] == "i-0002"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0



def test_long_poll_mode_survives_a_deploy(server, make_agent):
    agent = make_agent(server.url, long_poll="true", long_poll_wait=2, ping_interval=30)
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\nexit 0\n"})
    server.hold = True
    p = agent.start()
    wait_for(lambda: len(server.requests) >= 1, what="first ping")
    server.decide = Walk(stages=["RESTARTING"])
    # the deploy runs when the next held ping starts; afterwards the agent goes back to held idle pings at once
    wait_for(lambda: agent.state_dir.joinpath("state.json").exists()
             and agent.state()["envs"].get("web", {}).get("status") == "SUCCEEDED", timeout=15, what="deploy")
    n = len(server.requests)
    wait_for(lambda: len(server.requests) >= n + 2, timeout=8, what="idle pings right after the deploy")
    assert server.requests[-1][0].endswith("?wait=2")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 0
