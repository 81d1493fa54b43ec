# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_scripts.py: script stages, retries, timeouts, crash recovery, DELETE,
# STOP, server outages, --once, --status and the lock, against the scripted fake ping server.
import json
import os
import signal
import subprocess
import time

import sys

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import (DEPLOY_ID, ENV_ID, SCRIPT_STAGES, Walk, pid_alive, recorder, wait_for)


def test_script_walk_order_and_environment(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    log = tmp_path / "seen.log"
    tree = agent.make_build("web", "b1", {s: recorder(log) for s in SCRIPT_STAGES})
    server.decide = Walk()
    r = agent.once()
    assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    assert [l.split()[0] for l in lines] == ["step=" + s for s in SCRIPT_STAGES]
    first = lines[0]
    assert "env=web stage=prod op=DEPLOY type=REGULAR" in first
    assert "target=%s/web" % agent.target_dir in first
    assert "first=True docker=unset compute=PRODUCTION port=8080 deploy=%s" % DEPLOY_ID in first
    assert "builds=%s/web" % agent.builds_dir in first
    assert "pwd=%s/teletraan" % tree in first
    # script variables are persisted: the later stages (no scriptVariables in their goals) still see them
    assert all("port=8080" in l for l in lines)
    st = agent.state()
    e = st["envs"]["web"]
    assert e["deployStage"] == "SERVING_BUILD" and e["status"] == "SUCCEEDED"
    assert e["scriptVariables"] == {"PORT": "8080"}
    # every stage was reported as SUCCEEDED right after it ran, in order
    succeeded = [r["deployStage"] for r in server.reports() if r["agentStatus"] == "SUCCEEDED"]
    assert succeeded[:4] == SCRIPT_STAGES
    body = server.bodies()[-1]
    assert body["hostId"] == "host-1" and body["groups"] == ["web-prod"]
    assert body["agentVersion"].startswith("slipway-agent/")
    assert "ec2Tags" not in body and "availabilityZone" not in body
    # the env log has a header line per attempt, mode 0640
    envlog = agent.log_dir / "web.log"
    assert "=== " in envlog.read_text() and "RESTARTING attempt 1/3 deploy %s ===" % DEPLOY_ID in envlog.read_text()
    assert (os.stat(envlog).st_mode & 0o777) == 0o640
    assert (os.stat(agent.log_dir).st_mode & 0o777) == 0o750
    assert (os.stat(agent.state_dir / "state.json").st_mode & 0o777) == 0o600
    prom = (agent.state_dir / "slipway_agent.prom").read_text()
    assert 'slipway_agent_env_status{env="web",status="SUCCEEDED"} 1' in prom


def test_per_env_script_directory(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    generic, specific = tmp_path / "generic.log", tmp_path / "specific.log"
    agent.make_build("web", "b1", {"RESTARTING": recorder(generic)})
    agent.make_build("web", "b1", {"RESTARTING": recorder(specific)}, sub="web")
    server.decide = Walk(stages=["RESTARTING"])
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert not generic.exists()
    assert "step=RESTARTING" in specific.read_text()


def test_missing_restarting_script_is_agent_failed(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    agent.make_build("web", "b1", {"PRE_RESTART": "#!/bin/sh\nexit 0\n"})
    server.decide = Walk(stages=["PRE_RESTART", "RESTARTING"])
    assert agent.once().returncode == 0
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"], e["errorMessage"]) == ("RESTARTING", "AGENT_FAILED",
                                                                  "RESTARTING script does not exist")


def test_failing_script_retries_then_too_many_retry(server, make_agent, tmp_path):
    agent = make_agent(server.url, max_retry=3, backoff=1, backoff_max=1)
    count = tmp_path / "count"
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\necho run >> %s\necho 'broken: caf\u00e9'\nexit 3\n" % count})
    server.decide = Walk(stages=["RESTARTING"])
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert count.read_text().count("run") == 3
    e = agent.state()["envs"]["web"]
    assert (e["status"], e["errorCode"], e["failCount"]) == ("TOO_MANY_RETRY", 3, 3)
    assert e["errorMessage"] == "broken: caf\u00e9\n"
    final = [r for r in server.reports() if r["agentStatus"] == "TOO_MANY_RETRY"]
    assert final and final[0]["failCount"] == 3 and final[0]["errorCode"] == 3


def test_timeout_kills_the_whole_group(server, make_agent, tmp_path):
    agent = make_agent(server.url, termination_timeout=1)
    pids = tmp_path / "pids"
    body = "#!/bin/sh\n(trap '' TERM; sleep 60) &\necho $! >> %s\necho $$ >> %s\necho started\nsleep 60\n" % (pids, pids)
    agent.make_build("web", "b1", {"RESTARTING": body})
    server.decide = Walk(stages=["RESTARTING"], agent_configs={"process_timeout": "1"})
    t0 = time.monotonic()
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 20
    e = agent.state()["envs"]["web"]
    assert (e["status"], e["errorCode"], e["failCount"]) == ("SCRIPT_TIMEOUT", 1, 1)
    assert e["errorMessage"] == "started\ntimed out after 1 s"
    for pid in [int(x) for x in pids.read_text().split()]:
        assert not pid_alive(pid), "process %d of the group survived" % pid


def test_kill_during_script_then_restart_reruns_stage(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    starts = tmp_path / "starts"
    flag = tmp_path / "release"
    body = "#!/bin/sh\necho start >> %s\nwhile [ ! -e %s ]; do sleep 0.1; done\nexit 0\n" % (starts, flag)
    agent.make_build("web", "b1", {"RESTARTING": body})
    server.decide = Walk(stages=["RESTARTING"])
    p = agent.start()
    wait_for(lambda: starts.exists() and "start" in starts.read_text(), what="first start")
    st = agent.state()["envs"]["web"]
    assert (st["deployStage"], st["status"]) == ("RESTARTING", "UNKNOWN")  # persisted before it ran
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    n_before = len(server.bodies())
    flag.write_text("go")
    p2 = agent.start()
    wait_for(lambda: starts.read_text().count("start") == 2, what="re-run after restart")
    first = server.bodies()[n_before]
    rep = first["reports"][0]
    assert (rep["deployStage"], rep["agentStatus"]) == ("RESTARTING", "UNKNOWN")
    wait_for(lambda: agent.state()["envs"]["web"]["status"] == "SUCCEEDED", what="success after re-run")
    p2.send_signal(signal.SIGTERM)
    assert p2.wait(timeout=15) == 0


def test_delete_of_unknown_env_does_not_crash(server, make_agent):
    agent = make_agent(server.url)
    calls = []

    def decide(req):
        calls.append(req)
        if len(calls) == 1:
            return {"opCode": "DELETE", "deployGoal": {"envId": "UnknownEnvIdXXXXXXXXXXX", "envName": "ghost",
                                                        "deployId": "x", "deployStage": "SERVING_BUILD"}}
        return None

    server.decide = decide
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert agent.state()["envs"] == {}
    assert len(calls) == 2  # pinged again at once after the DELETE


def test_delete_forgets_a_known_env(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\nexit 0\n"})
    server.decide = Walk(stages=["RESTARTING"])
    assert agent.once().returncode == 0
    server.decide = lambda req: {"opCode": "DELETE", "deployGoal": {"envId": ENV_ID, "envName": "web",
                                                                     "deployId": DEPLOY_ID,
                                                                     "deployStage": "SERVING_BUILD"}} \
        if req["reports"] else None
    assert agent.once().returncode == 0
    st = agent.state()
    assert st["envs"] == {} and st["forgotten"]["web"]["envId"] == ENV_ID
    assert server.bodies()[-1]["reports"] == []
    assert (agent.target_dir / "web").is_symlink()  # TARGET stays until retention


def test_stop_flow(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    log = tmp_path / "seen.log"
    agent.make_build("web", "b1", {"STOPPING": recorder(log), "STOPPED": recorder(log)})

    def decide(req):
        rep = (req["reports"] or [None])[0]
        if rep is None:
            return None
        if rep["deployStage"] == "SERVING_BUILD":
            return Walk(op_code="STOP").goal("STOPPING")
        if rep["deployStage"] == "STOPPING" and rep["agentStatus"] == "SUCCEEDED":
            return Walk(op_code="DEPLOY").goal("STOPPED")
        return None

    # first a normal deploy to get an env entry
    agent.make_build("web", "b1", {"SERVING_BUILD": "#!/bin/sh\nexit 0\n"})
    server.decide = Walk(stages=["SERVING_BUILD"])
    assert agent.once().returncode == 0
    server.decide = decide
    assert agent.once().returncode == 0
    lines = log.read_text().splitlines()
    assert lines[0].startswith("step=STOPPING") and "op=STOP type=STOP" in lines[0]
    assert lines[1].startswith("step=STOPPED") and "type=REGULAR" in lines[1]
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"]) == ("STOPPED", "SUCCEEDED")


def test_status_output(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\nexit 0\n"})
    server.decide = Walk(stages=["RESTARTING"])
    assert agent.once().returncode == 0
    r = agent.run("--status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("agent: not running")
    assert "host-1" in r.stdout
    row = [l for l in r.stdout.splitlines() if l.startswith("web")][0].split()
    assert row[:5] == ["web", "prod", "RESTARTING", "SUCCEEDED", "0"]
    r = agent.run("--status", "--json")
    assert r.returncode == 0
    j = json.loads(r.stdout)
    assert j["running"] is False and j["pid"] is None and j["hostId"] == "host-1"
    assert j["envs"][0]["envName"] == "web" and j["envs"][0]["status"] == "SUCCEEDED"
    assert j["envs"][0]["envId"] == ENV_ID


def test_status_reports_running_agent_and_lock_exit_3(server, make_agent):
    agent = make_agent(server.url)
    p = agent.start()
    wait_for(lambda: (agent.state_dir / "agent.lock").exists() and server.bodies(), what="agent running")
    r = agent.run("--status", "--json")
    j = json.loads(r.stdout)
    assert j["running"] is True and j["pid"] == p.pid
    r = agent.once()
    assert r.returncode == 3
    assert "another slipway-agent holds" in r.stderr
    # SIGHUP and SIGUSR1 are ignored
    p.send_signal(signal.SIGHUP)
    p.send_signal(signal.SIGUSR1)
    n = len(server.bodies())
    wait_for(lambda: len(server.bodies()) > n, what="pings after SIGHUP")
    assert p.poll() is None
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0


def test_corrupt_state_is_moved_aside(server, make_agent):
    agent = make_agent(server.url)
    agent.state_dir.mkdir(parents=True, exist_ok=True)
    (agent.state_dir / "state.json").write_text('{"version": 1, "envs": {"web": ')
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert any(n.startswith("state.json.corrupt-") for n in os.listdir(agent.state_dir))
    assert server.bodies()[0]["reports"] == []


def test_config_errors_and_check_config(make_agent, tmp_path):
    agent = make_agent("http://127.0.0.1:1", token="abc")
    r = agent.run("--check-config")
    assert r.returncode == 0, r.stderr
    assert "token = ***" in r.stdout and "configuration OK" in r.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("server_url = http://x\nmax_retry = 101\n")
    r = subprocess.run([agent.cmd()[0], "--config", str(bad), "--check-config"], capture_output=True, text=True)
    assert r.returncode == 2 and "bad.conf:2" in r.stderr
    r = subprocess.run([agent.cmd()[0], "--config", str(tmp_path / "missing.conf"), "--once"], capture_output=True,
                       text=True)
    assert r.returncode == 2
    r = subprocess.run([agent.cmd()[0], "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "process_timeout" in r.stdout and "1..86400" in r.stdout


def test_sigterm_during_script_waits_for_it(server, make_agent, tmp_path):
    agent = make_agent(server.url, termination_timeout=5)
    started = tmp_path / "started"
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\ntouch %s\nsleep 1\nexit 0\n" % started})
    server.decide = Walk(stages=["RESTARTING"])
    p = agent.start()
    wait_for(started.exists, what="script start")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0
    e = agent.state()["envs"]["web"]
    assert e["status"] == "SUCCEEDED"  # it ended in time: persisted for the next agent to report


def test_heartbeat_plan_change_aborts_step(server, make_agent, tmp_path):
    agent = make_agent(server.url, heartbeat_interval=1)
    pids = tmp_path / "pids"
    after = tmp_path / "after.log"
    agent.make_build("web", "b1", {
        "RESTARTING": "#!/bin/sh\necho $$ >> %s\nsleep 60\n" % pids,
        "POST_RESTART": recorder(after),
    })
    walk = Walk(stages=["RESTARTING"])
    state = {"abort": False}

    def decide(req):
        rep = (req["reports"] or [None])[0]
        if state["abort"] and rep and rep["deployStage"] == "RESTARTING":
            other = Walk(stages=["POST_RESTART"], deploy_id="NewDeployCCCCCCCCCCCCCC")
            return other.goal("POST_RESTART")
        return walk(req)

    server.decide = decide
    p = agent.start()
    wait_for(lambda: pids.exists(), what="script start")
    # the heartbeat carries the in-flight report: UNKNOWN
    wait_for(lambda: any(r["deployStage"] == "RESTARTING" and r["agentStatus"] == "UNKNOWN"
                         for r in server.reports()), what="heartbeat")
    state["abort"] = True
    wait_for(lambda: after.exists(), what="new goal run after abort")
    pid = int(pids.read_text().split()[0])
    assert not pid_alive(pid)
    # the aborted step was never reported as finished
    assert not any(r["deployStage"] == "RESTARTING" and r["agentStatus"] != "UNKNOWN" for r in server.reports())
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0


def test_custom_target_and_ignored_agent_configs(server, make_agent, tmp_path):
    agent = make_agent(server.url, allowed_target_roots=tmp_path / "srv")
    log = tmp_path / "seen.log"
    tree = agent.make_build("web", "b1", {"RESTARTING": recorder(log)})
    custom = tmp_path / "srv" / "web"
    custom.parent.mkdir()
    custom.symlink_to(tree)
    server.decide = Walk(stages=["RESTARTING"], agent_configs={"target": str(custom), "state_dir": "/evil",
                                                                 "max_retry": "1000"})
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert "target=%s " % custom in log.read_text()
    assert "'state_dir' may not be overridden" in r.stderr
    assert "max_retry" in r.stderr and "ignoring" in r.stderr
    assert agent.state()["envs"]["web"]["target"] == str(custom)
    # a relative or inner target is refused
    server.decide = Walk(stages=["RESTARTING"], deploy_id="OtherDeployDDDDDDDDDDDD",
                         agent_configs={"target": str(agent.state_dir / "x")})
    assert agent.once().returncode == 0
    e = agent.state()["envs"]["web"]
    assert e["status"] == "AGENT_FAILED"


def test_env_log_rotation_and_stale_tmp_files(server, make_agent, tmp_path):
    agent = make_agent(server.url, log_max_bytes=4096)
    agent.state_dir.mkdir(parents=True, exist_ok=True)
    stale = agent.state_dir / "state.json.tmp.abcdef"
    stale.write_text("half")
    agent.make_build("web", "b1", {"RESTARTING": "#!/bin/sh\nhead -c 5000 /dev/zero | tr '\\\\0' x\necho\n"})
    server.decide = Walk(stages=["RESTARTING"])
    assert agent.once().returncode == 0
    assert not stale.exists()
    log = agent.log_dir / "web.log"
    assert log.stat().st_size > 4096
    server.decide = Walk(stages=["RESTARTING"], deploy_id="SecondDeployEEEEEEEEEEE")
    assert agent.once().returncode == 0
    rotated = agent.log_dir / "web.log.1"
    assert rotated.exists() and rotated.stat().st_size > 4096
    assert "SecondDeployEEEEEEEEEEE" in log.read_text() and "SecondDeploy" not in rotated.read_text()

