# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_deploy.py: full deploy walks (download, staging, scripts) of a small app whose
# tarball is built here, against the scripted fake ping server; redeploy, rollback and download failures.
import hashlib
import io
import os
import signal
import sys
import tarfile

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Walk, recorder, wait_for  # noqa: E402

FULL = ["PRE_DOWNLOAD", "DOWNLOADING", "POST_DOWNLOAD", "STAGING", "PRE_RESTART", "RESTARTING", "POST_RESTART",
        "SERVING_BUILD"]
SCRIPTED = ["PRE_DOWNLOAD", "POST_DOWNLOAD", "PRE_RESTART", "RESTARTING", "POST_RESTART", "SERVING_BUILD"]


def make_tarball(path, seen_log, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data, mode=0o644):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
        for stage in SCRIPTED:
            body = recorder(seen_log, 'echo "build=${BUILD_ID-none} commit=${BUILD_COMMIT-none} version=%s" >> %s'
                            % (version, seen_log))
            add("teletraan/" + stage, body.encode(), 0o755)
        add("teletraan/app.conf.tmpl", b"port=${TELETRAAN_PORT}\nname=$TELETRAAN_NAME\n")
        add("bin/app", b"#!/bin/sh\necho app %s\n" % version.encode(), 0o755)
        add("VERSION", version.encode() + b"\n")
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def build_record(build_id, path, sha256, commit):
    return {"id": build_id, "name": "web", "artifactUrl": "file://" + str(path), "type": "Github", "repo": "acme/web",
            "branch": "main", "commit": commit, "commitShort": commit[:7], "commitInfo": None,
            "commitDate": 1767225600000, "publishInfo": None, "publishDate": 1767225700000, "publisher": "ci",
            "artifactSha256": sha256, "artifactSignature": None}


def deploy(server, agent, build, deploy_id, op_code="DEPLOY", variables=None):
    server.decide = Walk(stages=FULL, build=build, deploy_id=deploy_id, op_code=op_code,
                         script_variables=variables if variables is not None else {"PORT": "8080", "NAME": "web"},
                         first_deploy=False)
    r = agent.once()
    assert r.returncode == 0, r.stderr
    return r


def test_full_deploy_walk_redeploy_and_rollback(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    seen = tmp_path / "seen.log"
    art1, art2 = tmp_path / "web-1.tar.gz", tmp_path / "web-2.tar.gz"
    b1 = build_record("Build1AAAAAAAAAAAAA_abc1234", art1, make_tarball(art1, seen, "v1"), "abc1234def")
    b2 = build_record("Build2BBBBBBBBBBBBB_def5678", art2, make_tarball(art2, seen, "v2"), "def5678abc")

    # first deploy: PRE_DOWNLOAD has no TARGET yet (first deploy: nothing runs), the rest runs from the new build
    deploy(server, agent, b1, "Deploy1AAAAAAAAAAAAAAAA")
    lines = seen.read_text().splitlines()
    steps = [l.split()[0] for l in lines if l.startswith("step=")]
    assert steps == ["step=" + s for s in ["PRE_RESTART", "RESTARTING", "POST_RESTART", "SERVING_BUILD"]]
    assert all(("build=%s commit=abc1234def version=v1" % b1["id"]) in l for l in lines if l.startswith("build="))
    target = agent.target_dir / "web"
    tree1 = agent.builds_dir / "web" / b1["id"]
    assert os.readlink(target) == str(tree1)
    assert (tree1 / "teletraan" / "app.conf").read_text() == "port=8080\nname=web\n"
    assert (agent.builds_dir / "web" / (b1["id"] + ".extracted")).exists()
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"], e["targetBuildId"]) == ("SERVING_BUILD", "SUCCEEDED", b1["id"])
    assert e["build"]["id"] == b1["id"] and e["build"]["artifactSha256"] == b1["artifactSha256"]
    assert not [n for n in os.listdir(agent.builds_dir / "web") if n.startswith(".tmp-")]

    # second deploy: PRE_DOWNLOAD and POST_DOWNLOAD run from the old build (v1), later stages from v2;
    # PRE_DOWNLOAD still sees the previous build's BUILD_*, POST_DOWNLOAD the new one
    seen.write_text("")
    deploy(server, agent, b2, "Deploy2BBBBBBBBBBBBBBBB")
    lines = seen.read_text().splitlines()
    pairs = list(zip(lines[0::2], lines[1::2]))
    assert [p[0].split()[0] for p in pairs] == ["step=" + s for s in SCRIPTED]
    assert "build=%s" % b1["id"] in pairs[0][1] and "version=v1" in pairs[0][1]   # PRE_DOWNLOAD
    assert "build=%s" % b2["id"] in pairs[1][1] and "version=v1" in pairs[1][1]   # POST_DOWNLOAD
    assert all("version=v2" in p[1] for p in pairs[2:])
    assert os.readlink(target) == str(agent.builds_dir / "web" / b2["id"])
    e = agent.state()["envs"]["web"]
    assert (e["targetBuildId"], e["previousBuildId"]) == (b2["id"], b1["id"])

    # rollback to b1: the build is on disk (no download; the artifact may even be gone), a symlink flip
    art1.unlink()
    seen.write_text("")
    deploy(server, agent, b1, "Deploy3CCCCCCCCCCCCCCCC", op_code="ROLLBACK")
    assert os.readlink(target) == str(tree1)
    lines = seen.read_text().splitlines()
    assert "type=ROLLBACK" in lines[0]
    e = agent.state()["envs"]["web"]
    assert (e["status"], e["targetBuildId"], e["previousBuildId"]) == ("SUCCEEDED", b1["id"], b2["id"])
    env_log = (agent.log_dir / "web.log").read_text()
    assert "DOWNLOADING attempt 1/3" in env_log


def test_sha256_mismatch_is_agent_failed_without_retry(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    art = tmp_path / "web.tar.gz"
    make_tarball(art, tmp_path / "seen.log", "v1")
    b = build_record("BuildXAAAAAAAAAAAAA_abc1234", art, "0" * 64, "abc1234def")
    deploy(server, agent, b, "Deploy1AAAAAAAAAAAAAAAA")
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"], e["failCount"]) == ("DOWNLOADING", "AGENT_FAILED", 1)
    assert "sha256" in e["errorMessage"]
    assert (agent.log_dir / "web.log").read_text().count("DOWNLOADING attempt") == 1
    assert not [n for n in os.listdir(agent.builds_dir / "web") if n.startswith(".tmp-")]
    assert not (agent.target_dir / "web").exists()


def test_missing_artifact_retries_then_too_many_retry(server, make_agent, tmp_path):
    agent = make_agent(server.url, max_retry=2, backoff=1)
    b = build_record("BuildYAAAAAAAAAAAAA_abc1234", tmp_path / "nope.tar.gz", None, "abc1234def")
    deploy(server, agent, b, "Deploy1AAAAAAAAAAAAAAAA")
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"], e["failCount"]) == ("DOWNLOADING", "TOO_MANY_RETRY", 2)
    assert (agent.log_dir / "web.log").read_text().count("DOWNLOADING attempt") == 2


def test_goal_without_build_is_agent_failed(server, make_agent):
    agent = make_agent(server.url)
    server.decide = Walk(stages=["DOWNLOADING"], build=None)
    assert agent.once().returncode == 0
    e = agent.state()["envs"]["web"]
    assert (e["status"], e["errorMessage"]) == ("AGENT_FAILED", "goal has no build")


def test_staging_without_download_is_agent_failed(server, make_agent):
    agent = make_agent(server.url)
    server.decide = Walk(stages=["STAGING"])
    assert agent.once().returncode == 0
    e = agent.state()["envs"]["web"]
    assert e["status"] == "AGENT_FAILED"


def test_sigterm_during_download_leaves_no_tmp(server, make_agent, tmp_path):
    # a FIFO as the artifact: the helper blocks reading it until the agent is stopped
    agent = make_agent(server.url, termination_timeout=1)
    fifo = tmp_path / "slow.tar.gz"
    os.mkfifo(fifo)
    b = build_record("BuildZAAAAAAAAAAAAA_abc1234", fifo, None, "abc1234def")
    server.decide = Walk(stages=["DOWNLOADING"], build=b)
    p = agent.start()
    envdir = agent.builds_dir / "web"
    wait_for(lambda: envdir.exists() and [n for n in os.listdir(envdir) if n.startswith(".tmp-")],
             what="download in progress")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"]) == ("DOWNLOADING", "UNKNOWN")  # re-run after restart
    assert not [n for n in os.listdir(envdir) if n.startswith(".tmp-")]


def proc_children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(c) for c in f.read().split()]


def proc_name_and_cmdline(pid):
    with open("/proc/%d/comm" % pid) as f:
        comm = f.read().strip()
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return comm, f.read().rstrip(b"\0")


def test_download_helper_and_job_have_their_own_titles(server, make_agent, tmp_path):
    # the helper is a fork of the agent: without a title of its own, ps shows it as a second agent with the
    # agent's command line (the config path); the FIFO holds a job open so it can be looked at too
    agent = make_agent(server.url, termination_timeout=1)
    fifo = tmp_path / "slow.tar.gz"
    os.mkfifo(fifo)
    server.decide = Walk(stages=["DOWNLOADING"], build=build_record("BuildTAAAAAAAAAAAAA_abc1234", fifo, None,
                                                                    "abc1234def"))
    p = agent.start()
    helper = wait_for(lambda: proc_children(p.pid), what="the download helper")[0]
    job = wait_for(lambda: proc_children(helper), what="a download job")[0]
    assert proc_name_and_cmdline(helper) == ("slipway-dl", b"slipway-agent: download helper")
    assert proc_name_and_cmdline(job) == ("slipway-dl-job", b"slipway-agent: download job")
    comm, cmdline = proc_name_and_cmdline(p.pid)  # the agent keeps its own
    assert comm == "slipway-agent" and str(agent.conf).encode() in cmdline.split(b"\0")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0


def test_retention_keeps_serving_previous_and_newest(server, make_agent, tmp_path):
    agent = make_agent(server.url, keep_builds=1)
    seen = tmp_path / "seen.log"
    builds = []
    for i in range(1, 4):
        art = tmp_path / ("web-%d.tar.gz" % i)
        builds.append(build_record("Build%dXXXXXXXXXXXXX_abc1234" % i, art, make_tarball(art, seen, "v%d" % i),
                                   "abc1234def"))
    for i, b in enumerate(builds):
        deploy(server, agent, b, "Deploy%dXXXXXXXXXXXXXXXX" % (i + 1))
    left = sorted(n for n in os.listdir(agent.builds_dir / "web") if not n.startswith("."))
    assert left == sorted([builds[1]["id"], builds[1]["id"] + ".extracted", builds[2]["id"],
                           builds[2]["id"] + ".extracted"])


def test_tls_verification_and_ca_file(make_agent, tmp_path):
    import subprocess as sp
    from agent_support import FakeServer
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    sp.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
           check=True, capture_output=True)
    srv = FakeServer(tls=(str(cert), str(key)))
    try:
        agent = make_agent(srv.url)
        assert agent.once().returncode == 1  # unknown CA: verification fails
        assert len(srv.bodies()) == 0
        agent = make_agent(srv.url, ca_file=str(cert))
        assert agent.once().returncode == 0
        agent = make_agent(srv.url, tls_verify="false")
        r = agent.once()
        assert r.returncode == 0 and "tls_verify is off" in r.stderr
        assert len(srv.bodies()) == 2
    finally:
        srv.stop()


def test_run_as_drops_privileges(server, make_agent, tmp_path):
    if os.getuid() != 0:
        import pytest
        pytest.skip("needs root to switch users")
    # every directory on the way must be traversable by the unprivileged user
    p = tmp_path
    while str(p) != "/":
        os.chmod(p, os.stat(p).st_mode | 0o111)
        p = p.parent
    out = tmp_path / "who"
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    agent = make_agent(server.url, run_as="nobody")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        body = ("#!/bin/sh\necho \"$(id -u) $(id -g) $HOME $USER $DEPLOY_STEP\" >> %s/$DEPLOY_STEP\n" % out).encode()
        for stage in ["PRE_RESTART", "RESTARTING"]:
            info = tarfile.TarInfo("teletraan/" + stage)
            info.size = len(body)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(body))
    art = tmp_path / "app.tar.gz"
    art.write_bytes(buf.getvalue())
    os.chmod(art, 0o644)
    b = build_record("BuildRunAsXXXXXXXXX_abc1234", art, None, "abc1234def")
    server.decide = Walk(stages=["DOWNLOADING", "STAGING", "PRE_RESTART", "RESTARTING"], build=b)
    r = agent.once()
    assert r.returncode == 0, r.stderr
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"]) == ("RESTARTING", "SUCCEEDED"), e
    line = (out / "RESTARTING").read_text().split()
    assert line == ["65534", "65534", "/nonexistent", "nobody", "RESTARTING"]
    tree = agent.builds_dir / "web" / b["id"]
    assert os.stat(tree).st_uid == 65534
    assert (os.stat(agent.log_dir / "web.log").st_uid, os.stat(agent.log_dir / "web.log").st_mode & 0o777) == (0, 0o640)
