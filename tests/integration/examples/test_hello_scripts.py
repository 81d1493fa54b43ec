# SPDX-License-Identifier: Apache-2.0
# examples/hello: the deploy scripts run by hand with the environment of AGENT.md §10.2 — start, health check,
# idempotent restart, stop, per-env isolation, deliberately bad builds, the prod override directory, pack.sh.
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import sys
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hello_support import HELLO, STAGES, free_port, hello_pids, pack, pid_alive, port_open, render, wait_for  # noqa: E402


def get(port, path="/"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.read().decode()


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


def test_scripts_are_posix_sh_with_shebang():
    for d in ("teletraan", "teletraan/prod"):
        for stage in STAGES:
            path = os.path.join(HELLO, d, stage)
            assert os.access(path, os.X_OK), f"{path} is not executable"
            with open(path) as f:
                assert f.readline() == "#!/bin/sh\n", f"{path} needs a #!/bin/sh shebang"
            # dash is Debian's /bin/sh and rejects most bashisms at parse time
            subprocess.run(["dash", "-n", path], check=True)
    for extra in ("bin/hello-ctl", "pack.sh"):
        subprocess.run(["dash", "-n", os.path.join(HELLO, extra)], check=True)


def test_prod_dir_is_complete():
    # a per-env directory replaces teletraan/ as a whole (AGENT.md §10.1): it must hold every stage script
    generic = {f for f in os.listdir(os.path.join(HELLO, "teletraan")) if f.isupper()}
    prod = {f for f in os.listdir(os.path.join(HELLO, "teletraan", "prod")) if f.isupper()}
    assert generic == set(STAGES)
    assert prod == generic


def test_app_uses_only_perl_base_modules():
    if shutil.which("dpkg") is None:
        pytest.skip("not a Debian system")
    files = subprocess.run(["dpkg", "-L", "perl-base"], capture_output=True, text=True, check=True).stdout
    with open(os.path.join(HELLO, "bin", "hello-server")) as f:
        modules = re.findall(r"^use ([A-Z][\w:]*)", f.read(), re.M)
    assert modules, "no modules found"
    for m in modules:
        rel = "/" + m.replace("::", "/") + ".pm"
        assert any(line.endswith(rel) for line in files.splitlines()), f"{m} is not in perl-base"


def test_template_rendering_expectations():
    with open(os.path.join(HELLO, "teletraan", "config", "app.conf.tmpl")) as f:
        tmpl = f.read()
    conf = lambda text: dict(re.findall(r"^(\w+) = (.*)$", text, re.M))  # noqa: E731
    # defaults when no script variables are configured
    assert conf(render(tmpl, {})) == {"port": "8080", "bind": "127.0.0.1", "greeting": "hello", "name": "hello"}
    # script variables win; values are not rescanned
    got = conf(render(tmpl, {"PORT": "8082", "GREETING": "hi from prod", "BIND": "0.0.0.0",
                             "APP_NAME": "$TELETRAAN_PORT"}))
    assert got == {"port": "8082", "bind": "0.0.0.0", "greeting": "hi from prod", "name": "$TELETRAAN_PORT"}
    # an empty value is a value, not "unset"
    assert conf(render(tmpl, {"GREETING": ""}))["greeting"] == ""
    # the other placeholder forms of AGENT.md §9.1, with foo=bar
    v = {"foo": "bar"}
    assert render("${TELETRAAN_foo} ${TELETRAAN_baz:qux} [${TELETRAAN_baz:}] ${TELETRAAN_baz}", v) == \
        "bar qux [] ${TELETRAAN_baz}"
    assert render("{$TELETRAAN_foo} $TELETRAAN_{foo} $TELETRAAN_foo $TELETRAAN_$TELETRAAN_", v) == \
        "bar bar bar $TELETRAAN_"


def test_restart_check_stop(deployments, artifact):
    d = deployments(variables={"GREETING": "hi there"})
    d.install(artifact["artifact"], "Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c", artifact["commit"])
    ok(d.run("PRE_RESTART"))
    ok(d.run("RESTARTING"))
    wait_for(lambda: port_open(d.port), what="app port")
    ok(d.run("POST_RESTART"))
    status, body = get(d.port, "/")
    assert status == 200
    assert "hi there from hello" in body
    assert "Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c" in body and "4be1f0c93dabc" in body
    assert get(d.port, "/health") == (200, "ok\n")
    info = json.loads(get(d.port, "/info")[1])
    assert info["buildId"] == "Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c"
    assert info["commit"] == "4be1f0c93dabc"
    assert (info["env"], info["stage"]) == ("hello", "staging")
    pid = d.pid()
    assert info["pid"] == pid and pid_alive(pid)
    # the daemon left the script's session, so killing the script's process group spares it
    assert os.getsid(pid) == pid
    # its output goes to the run dir, derived from TARGET, never into the build tree
    wait_for(lambda: "listening on" in open(os.path.join(d.run_dir, "hello.log")).read(), what="app log")
    ok(d.run("SERVING_BUILD"))
    with open(os.path.join(d.run_dir, "serving")) as f:
        assert f.read().startswith("Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c 4be1f0c93dabc ")
    ok(d.run("STOPPING"))
    assert not pid_alive(pid)
    assert not port_open(d.port)
    assert not os.path.exists(os.path.join(d.run_dir, "hello.pid"))
    # stopping again, or a POST_RESTART with nothing running
    ok(d.run("STOPPING"))
    r = d.run("POST_RESTART", {"HEALTH_RETRIES": "2"})
    assert r.returncode != 0 and "not running" in r.stderr


def test_restarting_twice_leaves_one_process(deployments, artifact):
    d = deployments()
    d.install(artifact["artifact"], "Aaaaaaaaaaaaaaaaaaaaaa_4be1f0c", artifact["commit"])
    ok(d.run("RESTARTING"))
    first = d.pid()
    ok(d.run("RESTARTING"))
    second = d.pid()
    assert first != second
    assert not pid_alive(first)
    assert hello_pids(d.run_dir) == [second]
    ok(d.run("POST_RESTART"))


def test_new_build_replaces_old_instance(deployments, artifact, tmp_path):
    d = deployments()
    d.install(artifact["artifact"], "Bbbbbbbbbbbbbbbbbbbbbb_4be1f0c", artifact["commit"])
    ok(d.run("RESTARTING"))
    old = d.pid()
    info2 = pack(tmp_path / "v2.tar.gz", "--commit", "9f86d081abc")
    d.install(info2["artifact"], "Cccccccccccccccccccccc_9f86d08", info2["commit"])
    ok(d.run("POST_DOWNLOAD"))
    ok(d.run("PRE_RESTART"))
    ok(d.run("RESTARTING"))
    ok(d.run("POST_RESTART"))
    assert not pid_alive(old)
    assert hello_pids(d.run_dir) == [d.pid()]
    assert json.loads(get(d.port, "/info")[1])["commit"] == "9f86d081abc"
    # POST_RESTART checks that the port is served by the build being deployed, not by a leftover
    r = d.run("POST_RESTART", {"BUILD_ID": "Bbbbbbbbbbbbbbbbbbbbbb_4be1f0c"})
    assert r.returncode != 0 and "is not served by build" in r.stderr


def test_two_envs_on_one_host_do_not_clash(deployments, artifact):
    a = deployments(env_name="hello")
    b = deployments(env_name="hello2")
    # same host root for both: TARGETs differ by env name
    b.root = a.root
    b.builds_dir = os.path.join(a.root, "builds", "hello2")
    b.target = os.path.join(a.root, "current", "hello2")
    b.run_dir = b.target + ".run"
    os.makedirs(b.builds_dir, exist_ok=True)
    for d in (a, b):
        d.install(artifact["artifact"], "Dddddddddddddddddddddd_4be1f0c", artifact["commit"])
        ok(d.run("RESTARTING"))
        ok(d.run("POST_RESTART"))
    assert a.pid() != b.pid()
    ok(a.run("STOPPING"))
    assert not port_open(a.port)
    assert port_open(b.port)
    assert json.loads(get(b.port, "/info")[1])["env"] == "hello2"


def test_bad_build_marker_fails_post_restart(deployments, tmp_path):
    d = deployments()
    info = pack(tmp_path / "bad.tar.gz", "--commit", "deadbee1", "--bad")
    assert info["commit"] == "deadbee1-bad"
    d.install(info["artifact"], "Eeeeeeeeeeeeeeeeeeeeee_deadbee", info["commit"])
    ok(d.run("RESTARTING"))
    r = d.run("POST_RESTART")
    assert r.returncode == 1
    assert "BAD_BUILD" in r.stderr
    # it fails the check, not the app: the bad build is running and is stopped normally
    assert port_open(d.port)
    ok(d.run("STOPPING"))


@pytest.mark.parametrize("value,fails", [("*", True), ("all", True), ("web-1,demo-staging", True),
                                         ("web-1, web-2", False), ("", False)])
def test_fail_post_restart_matches_host(deployments, artifact, value, fails):
    d = deployments(variables={"FAIL_POST_RESTART": value})
    d.install(artifact["artifact"], "Ffffffffffffffffffffff_4be1f0c", artifact["commit"])
    ok(d.run("RESTARTING"))
    r = d.run("POST_RESTART", {"HELLO_HOST_NAME": "demo-staging"})
    if fails:
        assert r.returncode == 1 and "FAIL_POST_RESTART" in r.stderr
    else:
        ok(r)


def test_unrendered_config_is_refused(deployments, artifact):
    d = deployments()
    d.install(artifact["artifact"], "Gggggggggggggggggggggg_4be1f0c", artifact["commit"], render_templates=False)
    for step in ("PRE_RESTART", "RESTARTING"):
        r = d.run(step)
        assert r.returncode == 1 and "was not rendered" in r.stderr
    # a config with a placeholder left in it is refused too
    conf = os.path.join(d.target, "teletraan", "config", "app.conf")
    with open(conf, "w") as f:
        f.write("port = ${TELETRAAN_PORT}\n")
    r = d.run("PRE_RESTART")
    assert r.returncode == 1 and "unrendered placeholder" in r.stderr
    assert hello_pids(d.run_dir) == []


def test_port_taken_fails_restarting(deployments, artifact):
    d = deployments()
    d.install(artifact["artifact"], "Hhhhhhhhhhhhhhhhhhhhhh_4be1f0c", artifact["commit"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", d.port))
        s.listen()
        r = d.run("RESTARTING")
    assert r.returncode != 0 and "cannot listen" in r.stderr
    assert hello_pids(d.run_dir) == []


def test_prod_override_directory(deployments, artifact):
    d = deployments(env_name="prod", stage_name="canary")
    d.install(artifact["artifact"], "Iiiiiiiiiiiiiiiiiiiiii_4be1f0c", artifact["commit"])
    assert d.script_dir().endswith("teletraan/prod")
    r = d.run("PRE_RESTART", {"PORT": ""})
    assert r.returncode == 1 and "prod needs the script variable PORT" in r.stderr
    ok(d.run("PRE_RESTART"))
    ok(d.run("RESTARTING"))
    ok(d.run("POST_RESTART"))
    assert json.loads(get(d.port, "/info")[1])["env"] == "prod"
    ok(d.run("STOPPING"))
    assert not port_open(d.port)


def test_download_stage_scripts(deployments, artifact):
    d = deployments()
    d.install(artifact["artifact"], "Jjjjjjjjjjjjjjjjjjjjjj_4be1f0c", artifact["commit"])
    ok(d.run("PRE_DOWNLOAD"))
    r = d.run("PRE_DOWNLOAD", {"MIN_FREE_KB": str(1 << 60)})
    assert r.returncode == 1 and "free under" in r.stderr
    ok(d.run("POST_DOWNLOAD"))
    r = d.run("POST_DOWNLOAD", {"BUILD_ID": "Kkkkkkkkkkkkkkkkkkkkkk_0000000"})
    assert r.returncode == 1 and "has no bin/hello-server" in r.stderr


def test_pack_is_reproducible_and_well_formed(tmp_path):
    a = pack(tmp_path / "a.tar.gz", "--commit", "c0ffee0")
    b = pack(tmp_path / "b.tar.gz", "--commit", "c0ffee0")
    assert a["sha256"] == b["sha256"]
    assert a["artifact"] == str(tmp_path / "a.tar.gz")
    with tarfile.open(a["artifact"]) as t:
        names = t.getnames()
        assert t.extractfile("VERSION").read() == b"c0ffee0\n"
        assert t.getmember("teletraan/RESTARTING").mode & 0o111
    assert not any(n in (".", "./") or n.startswith("/") or ".." in n.split("/") for n in names)
    assert {"VERSION", "bin/hello-server", "bin/hello-ctl", "teletraan/config/app.conf.tmpl",
            "teletraan/prod/RESTARTING"} <= set(names)
    assert "BAD_BUILD" not in names
    c = pack(tmp_path / "c.tar.gz", "--commit", "c0ffee1")
    assert c["sha256"] != a["sha256"]
    r = subprocess.run([os.path.join(HELLO, "pack.sh"), "--commit", "bad/commit", str(tmp_path / "x.tar.gz")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "must match" in r.stderr
    # without --commit: a commit is derived (git or content hash) and is path-safe
    d = pack(tmp_path / "d.tar.gz", env={k: v for k, v in os.environ.items() if k != "COMMIT"})
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", d["commit"])
