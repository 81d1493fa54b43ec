# SPDX-License-Identifier: Apache-2.0
# A failed deploy explains itself: --wait, status and hosts name each failing host with its step, exit code and
# the last lines of its script output; an automatic rollback is reported as such (exit 1); a host's error goes
# away once it succeeds; on a terminal --wait draws a bar that names failed hosts.
import json
import os
import select
import subprocess
import time

import pytest
from fakehost import publish, stage_with_host

OUTPUT = "\n".join("line %d of the script" % i for i in range(1, 9)) + "\nfatal: port 8080 in use\n"


@pytest.fixture
def supported(server, require_endpoint):
    require_endpoint(server, "POST", "/v1/system/ping")
    require_endpoint(server, "PUT", "/v1/envs/x/y/deploys/current/progress")


def fail_at_staging(goal):
    return "TOO_MANY_RETRY" if goal["deployStage"] == "STAGING" else "SUCCEEDED"


def test_wait_status_hosts_name_the_failing_host(cli, cli_bg, server, names, supported):
    env = names("why")
    host = stage_with_host(cli, server, env)
    host.error_message, host.error_code = OUTPUT, 7
    p = cli_bg("deploy", f"{env}/prod", "--build", publish(cli, env, "f00dcafe"), "--wait", "--interval", "0.1",
               "--timeout", "60")
    deploy_id = p.stdout.readline().strip()
    host.run_until_idle(status_for_goal=fail_at_staging)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, out + err
    assert f"deploy {deploy_id} is FAILING (1 of 1 hosts failed)" in err
    want = f"{host.host}: STAGING failed (TOO_MANY_RETRY, exit 7)"
    assert "failing hosts:\n  " + want in out, out
    # the last five lines of the output, not the first ones
    assert "      | line 5 of the script" in out and "      | fatal: port 8080 in use" in out
    assert "line 4 of" not in out
    assert f"failed: {host.host}" in out  # the progress line names it too

    r = cli("status", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    assert want in r.stdout and "      | fatal: port 8080 in use" in r.stdout and "outcome    FAILED" in r.stdout
    r = cli("hosts", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    assert want in r.stdout and "      | fatal: port 8080 in use" in r.stdout

    # reset: the host redeploys and succeeds; its old error is gone everywhere
    assert cli("host", "reset", f"{env}/prod", host.host).returncode == 0
    host.run_until_idle()
    code, _ = server.api("GET", f"/v1/envs/{env}/prod/agents/errors/{host.host}")
    assert code == 404
    r = cli("hosts", f"{env}/prod")
    assert "failing hosts" not in r.stdout and "port 8080" not in r.stdout, r.stdout


def test_automatic_rollback_is_a_failure(cli, cli_bg, server, names, supported):
    env = names("rb")
    host = stage_with_host(cli, server, env)
    server.api("PUT", f"/v1/envs/{env}/prod/deploys/current/progress")  # the first deploy succeeds
    good = server.api("GET", f"/v1/envs/{env}/prod/deploys/current")[1]
    assert good["outcome"] == "SUCCEEDED"
    assert cli("env", "config", "set", f"{env}/prod", "failurePolicy=ROLLBACK").returncode == 0
    bad = publish(cli, env, "bad0bad0")
    p = cli_bg("deploy", f"{env}/prod", "--build", bad, "--wait", "--interval", "0.1", "--timeout", "60")
    deploy_id = p.stdout.readline().strip()
    host.error_message = OUTPUT
    goal = host.ping(status_for_goal="TOO_MANY_RETRY")
    assert goal["deployId"] == deploy_id
    host.ping()  # reports the failure
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, out + err
    rb = server.api("GET", f"/v1/envs/{env}/prod/deploys/current")[1]
    assert rb["type"] == "ROLLBACK", (out, err, rb)
    assert rb["rollbackFromDeployId"] == deploy_id
    assert (f"deploy {deploy_id} failed, rolled back to {good['id']} (build {good['buildId']}) automatically "
            f"(rollback deploy {rb['id']})") in err, err
    assert "was replaced" not in err and "ABORTED" not in err
    assert f"{host.host}: PRE_DOWNLOAD failed (TOO_MANY_RETRY, exit 1)" in out, out
    failed = server.api("GET", f"/v1/deploys/{deploy_id}")[1]
    assert failed["outcome"] == "ROLLED_BACK" and failed["replacedByDeployId"] == rb["id"]

    # `deploy list`: the history says how each deploy ended, newest first; the rollback names what it undid
    r = cli("deploy", "list", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0][:3] == ["ID", "STARTED", "(UTC)"], r.stdout
    by_id = {row[0]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == [rb["id"], deploy_id, good["id"]], r.stdout
    assert by_id[rb["id"]][2:4] == ["ROLLBACK", good["buildId"]] and by_id[rb["id"]][-2:] == ["(from", deploy_id + ")"]
    assert by_id[deploy_id][3] == bad and by_id[deploy_id][5:8] == ["ROLLED_BACK", "0/1", "(1"], r.stdout
    assert by_id[good["id"]][5] == "SUCCEEDED" and by_id[good["id"]][6] == "1/1", r.stdout
    # paging: one a page, the rest announced
    r = cli("deploy", "list", f"{env}/prod", "--size", "1", "--page", "2")
    assert r.returncode == 0, r.stderr
    assert deploy_id in r.stdout and rb["id"] not in r.stdout and "(3 deploys in all: --page for more)" in r.stdout
    got = json.loads(cli("deploy", "list", f"{env}/prod", "--json").stdout)
    assert [d["id"] for d in got["deploys"]] == [rb["id"], deploy_id, good["id"]] and got["total"] == 3


def test_deploy_list_refuses_bad_input(cli, names, supported):
    env = names("dl")
    r = cli("deploy", "list", f"{env}/prod", "--size", "0")
    assert r.returncode == 64 and "deploy list: bad --size '0' (an integer from 1 to 1000)" in r.stderr
    r = cli("deploy", "list")
    assert r.returncode == 64 and "give one ENV/STAGE" in r.stderr
    r = cli("deploy", "list", "nosuchenv/prod")
    assert r.returncode == 68, r.stderr
    r = cli("deploy", "list", "x/y", "--bogus")
    assert r.returncode == 64, r.stderr


def test_replaced_deploy_exits_2_and_names_its_successor(cli, cli_bg, server, names, supported):
    env = names("rp")
    host = stage_with_host(cli, server, env)
    p = cli_bg("deploy", f"{env}/prod", "--build", publish(cli, env, "abab1212"), "--wait", "--interval", "0.1",
               "--timeout", "60")
    first = p.stdout.readline().strip()
    host.ping(status_for_goal="UNKNOWN")
    deadline = time.monotonic() + 30
    line = ""
    while "RUNNING" not in line and time.monotonic() < deadline:
        line = p.stdout.readline()
    r = cli("deploy", f"{env}/prod", "--build", publish(cli, env, "cdcd3434"))
    second = r.stdout.strip()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2, out + err
    assert f"deploy {first} was replaced by deploy {second} before it succeeded" in err


def test_wait_on_a_terminal_draws_a_bar(server, home, cli, names, supported):
    env = names("tty")
    host = stage_with_host(cli, server, env)
    build = publish(cli, env, "7777aaaa")
    master, slave = os.openpty()
    envv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8",
            "SLIPWAY_SERVER": server.url, "SLIPWAY_TOKEN": server.token}
    cli_bin = os.path.join(os.environ["SLIPWAY_BUILD_DIR"], "src", "cli", "slipway")
    p = subprocess.Popen([cli_bin, "deploy", f"{env}/prod", "--build", build, "--wait", "--interval", "0.1",
                          "--timeout", "60"], env=envv, stdout=slave, stderr=subprocess.PIPE, text=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        pinged = False
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            if not pinged and b"[" in seen:
                host.run_until_idle(status_for_goal=fail_at_staging)
                pinged = True
            if p.poll() is not None and not ready:
                break
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    text = seen.decode("utf-8", "replace")
    assert p.returncode == 1, text
    # redrawn in place: carriage return + erase line, a bar of '#'/'.', hosts by stage, the failed host named
    assert "\r\x1b[K[" in text and "/1 RUNNING" in text, text
    assert f"failed: {host.host}" in text, text
    assert f"{host.host}: STAGING failed (TOO_MANY_RETRY, exit 1)" in text
