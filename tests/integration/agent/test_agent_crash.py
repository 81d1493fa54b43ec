# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_crash.py: kill -9 of the agent at arbitrary instants of a deploy (DOWNLOADING,
# STAGING, scripts): TARGET always points to a complete build, and the restarted agent finishes the deploy; and two
# envs deployed on one host side by side.
import os
import random
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Walk, wait_for  # noqa: E402
from test_agent_deploy import FULL, build_record, make_tarball  # noqa: E402


def big_tarball(path, seen, version, mb=24):
    """The deploy test's app plus incompressible padding, so DOWNLOADING (hash + extract) takes a while."""
    import io
    import tarfile
    import hashlib
    small = path.with_suffix(".small.tar.gz")
    make_tarball(small, seen, version)
    buf = io.BytesIO()
    with tarfile.open(small, "r:gz") as src, tarfile.open(fileobj=buf, mode="w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        # a large template, so STAGING (pristine copy + render) lasts long enough to be killed in
        line = b"name=${TELETRAAN_NAME} port=${TELETRAAN_PORT:80} padding padding padding padding\n"
        data = line * ((32 << 20) // len(line))
        info = tarfile.TarInfo("teletraan/big.conf.tmpl")
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
        for i in range(mb // 4):
            data = os.urandom(4 << 20)
            info = tarfile.TarInfo("pad/%02d.bin" % i)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    small.unlink()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_target_complete(agent):
    """TARGET is absent or points to an extracted build whose completion marker exists."""
    target = agent.target_dir / "web"
    if not os.path.lexists(target):
        return None
    dest = os.readlink(target)
    build_id = os.path.basename(dest)
    assert os.path.isdir(dest), "TARGET dangles: %s" % dest
    assert os.path.exists(os.path.join(os.path.dirname(dest), build_id + ".extracted")), \
        "TARGET points to an incomplete build %s" % dest
    assert os.path.exists(os.path.join(dest, "VERSION"))
    return build_id


def test_kill9_at_any_instant_keeps_target_complete_and_resumes(server, make_agent, tmp_path):
    agent = make_agent(server.url, max_retry="10")
    seen = tmp_path / "seen.log"
    art1, art2 = tmp_path / "web-1.tar.gz", tmp_path / "web-2.tar.gz"
    b1 = build_record("Build1AAAAAAAAAAAAA_abc1234", art1, big_tarball(art1, seen, "v1"), "abc1234def")
    b2 = build_record("Build2BBBBBBBBBBBBB_def5678", art2, big_tarball(art2, seen, "v2"), "def5678abc")

    server.decide = Walk(stages=FULL, build=b1, deploy_id="Deploy1AAAAAAAAAAAAAAAA", first_deploy=False,
                         script_variables={"PORT": "8080", "NAME": "web"})
    r = agent.once(timeout=120)
    assert r.returncode == 0, r.stderr
    assert assert_target_complete(agent) == b1["id"]

    walk = Walk(stages=FULL, build=b2, deploy_id="Deploy2BBBBBBBBBBBBBBBB", first_deploy=False,
                script_variables={"PORT": "8080", "NAME": "web"})
    server.decide = walk
    kills, stages_killed = 0, []

    def stage_now():
        try:
            return agent.state()["envs"]["web"]["deployStage"]
        except (OSError, ValueError, KeyError):
            return None

    # kill -9 as soon as the persisted state shows each of these stages (it is persisted UNKNOWN before the step
    # runs, so the kill lands at the start of or inside the step); twice in DOWNLOADING, once after a random delay
    # (PRE_RESTART and POST_DOWNLOAD are not saved before they run: test_kill9_in_a_script_after_a_builtin_step)
    for want in ("DOWNLOADING", "DOWNLOADING", "STAGING", "RESTARTING", "POST_RESTART"):
        if walk.done:
            break
        p = agent.start()
        if want == "DOWNLOADING" and kills == 1:
            time.sleep(random.Random(1234).uniform(0.05, 0.3))
        else:
            end = time.monotonic() + 60
            while stage_now() != want and p.poll() is None and not walk.done and time.monotonic() < end:
                time.sleep(0.002)
        if p.poll() is None:
            stages_killed.append(stage_now())
            os.killpg(p.pid, signal.SIGKILL)  # the agent and its running step (its own process group died too)
            p.wait()
            kills += 1
        assert assert_target_complete(agent) in (b1["id"], b2["id"])
        agent.procs.remove(p)
        p.stdout.close()
        p.stderr.close()
    assert kills >= 3, "the agent was killed only %d times mid-deploy: %s" % (kills, stages_killed)
    assert {"DOWNLOADING", "STAGING"} <= set(stages_killed), stages_killed
    # then let it finish undisturbed
    agent.start()
    wait_for(lambda: walk.done, timeout=120, what="the deploy to finish after the kills")
    assert assert_target_complete(agent) == b2["id"]
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"], e["targetBuildId"]) == ("SERVING_BUILD", "SUCCEEDED", b2["id"])
    assert (agent.builds_dir / "web" / b2["id"] / "teletraan" / "app.conf").read_text() == "port=8080\nname=web\n"
    with open(agent.builds_dir / "web" / b2["id"] / "teletraan" / "big.conf") as f:
        assert f.readline() == "name=web port=8080 padding padding padding padding\n"
    agent.stop_all()
    # a restart removes what a killed download left behind
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert not [n for n in os.listdir(agent.builds_dir / "web") if n.startswith(".tmp-")]
    print("killed %d times, in stages %s" % (kills, stages_killed))


def armed_tarball(path, seen, arm_dir):
    """Every script records its run; one whose stage is armed (arm_dir/<STAGE>) disarms itself and sleeps."""
    import hashlib
    import io
    import tarfile
    from agent_support import recorder
    from test_agent_deploy import SCRIPTED
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for stage in SCRIPTED:
            body = recorder(seen, 'if [ -e %s/$DEPLOY_STEP ]; then rm %s/$DEPLOY_STEP; exec sleep 30; fi'
                            % (arm_dir, arm_dir)).encode()
            info = tarfile.TarInfo("teletraan/" + stage)
            info.size, info.mode = len(body), 0o755
            tar.addfile(info, io.BytesIO(body))
        info = tarfile.TarInfo("VERSION")
        info.size = 3
        tar.addfile(info, io.BytesIO(path.name[:3].encode()))
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("script,builtin", [("POST_DOWNLOAD", "DOWNLOADING"), ("PRE_RESTART", "STAGING")])
def test_kill9_in_a_script_after_a_builtin_step(server, make_agent, tmp_path, script, builtin):
    # The stage right after a built-in step is not saved before its script runs: the built-in stage, saved as not
    # done, is what a kill -9 leaves on disk; after the restart it runs again as a no-op, then the script again.
    agent = make_agent(server.url)
    seen, arm = tmp_path / "seen.log", tmp_path / "arm"
    arm.mkdir()
    art1, art2 = tmp_path / "v1-web.tar.gz", tmp_path / "v2-web.tar.gz"
    b1 = build_record("Build1AAAAAAAAAAAAA_abc1234", art1, armed_tarball(art1, seen, arm), "abc1234def")
    b2 = build_record("Build2BBBBBBBBBBBBB_def5678", art2, armed_tarball(art2, seen, arm), "def5678abc")
    server.decide = Walk(stages=FULL, build=b1, deploy_id="Deploy1AAAAAAAAAAAAAAAA", first_deploy=False)
    r = agent.once()
    assert r.returncode == 0, r.stderr
    walk = Walk(stages=FULL, build=b2, deploy_id="Deploy2BBBBBBBBBBBBBBBB", first_deploy=False)
    server.decide = walk
    (arm / script).touch()
    p = agent.start()
    wait_for(lambda: not (arm / script).exists(), timeout=60, what="the armed %s script" % script)
    e = agent.state()["envs"]["web"]
    assert (e["deployId"], e["deployStage"], e["status"]) == (walk.deploy_id, builtin, "UNKNOWN")
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert assert_target_complete(agent) == (b1["id"] if script == "POST_DOWNLOAD" else b2["id"])
    p2 = agent.start()
    wait_for(lambda: walk.done, timeout=60, what="the deploy to finish after the kill")
    p2.send_signal(signal.SIGTERM)
    log = p2.communicate(timeout=20)[1]
    assert "env 'web': running %s (deploy %s" % (builtin, walk.deploy_id) in log  # re-run after the restart
    assert assert_target_complete(agent) == b2["id"]
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"], e["targetBuildId"]) == ("SERVING_BUILD", "SUCCEEDED", b2["id"])
    runs = [l for l in seen.read_text().splitlines() if "deploy=" + walk.deploy_id in l]
    assert sum("step=%s " % script in l for l in runs) == 2  # killed once, then run again from the start
    assert sum("step=RESTARTING " in l for l in runs) == 1


def test_two_envs_on_one_host(server, make_agent, tmp_path):
    agent = make_agent(server.url)
    seen = tmp_path / "seen.log"
    art = tmp_path / "app.tar.gz"
    build = build_record("BuildSharedAAAAAAAAA_abc1234", art, make_tarball(art, seen, "v1"), "abc1234def")
    web = Walk(env="web", env_id="EnvWebAAAAAAAAAAAAAAAA", deploy_id="DeployWebAAAAAAAAAAAAAA", stages=FULL,
               build=build, first_deploy=True, script_variables={"PORT": "8081", "NAME": "web"})
    api = Walk(env="api", env_id="EnvApiAAAAAAAAAAAAAAAA", deploy_id="DeployApiAAAAAAAAAAAAAA", stages=FULL,
               build=build, first_deploy=True, script_variables={"PORT": "8082", "NAME": "api"})
    server.decide = lambda req: web(req) or api(req)
    r = agent.once(timeout=120)
    assert r.returncode == 0, r.stderr
    assert web.done and api.done
    # the same build id gets a tree per env, each rendered with its own variables, each TARGET on its own tree
    for env, port in (("web", "8081"), ("api", "8082")):
        tree = agent.builds_dir / env / build["id"]
        assert os.readlink(agent.target_dir / env) == str(tree)
        assert (tree / "teletraan" / "app.conf").read_text() == "port=%s\nname=%s\n" % (port, env)
    envs = agent.state()["envs"]
    assert set(envs) == {"web", "api"}
    assert all(e["status"] == "SUCCEEDED" and e["deployStage"] == "SERVING_BUILD" for e in envs.values())
    lines = [l for l in seen.read_text().splitlines() if l.startswith("step=")]
    assert any("env=web" in l and "port=8081" in l for l in lines)
    assert any("env=api" in l and "port=8082" in l for l in lines)
    assert not any("env=web" in l and "port=8082" in l for l in lines)
    # every ping carries both envs' reports once both exist
    last = server.bodies()[-1]
    assert {r["envId"] for r in last["reports"]} == {web.env_id, api.env_id}
