# SPDX-License-Identifier: Apache-2.0
# Helpers for testing examples/hello's deploy scripts directly: a build tree packed with pack.sh, extracted and
# rendered the way slipway-agent does it (AGENT.md §8, §9.1), a TARGET symlink, and the script environment of §10.2.
import os
import re
import signal
import socket
import subprocess
import tarfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HELLO = os.path.join(REPO, "examples", "hello")
STAGES = ["PRE_DOWNLOAD", "POST_DOWNLOAD", "PRE_RESTART", "RESTARTING", "POST_RESTART", "SERVING_BUILD", "STOPPING"]

_PLACEHOLDER = re.compile(
    r"\$TELETRAAN_\$TELETRAAN_"
    r"|\$\{TELETRAAN_([A-Za-z0-9_-]+)(?::([^}\n]*))?\}"
    r"|\{\$TELETRAAN_([A-Za-z0-9_-]+)(?::([^}\n]*))?\}"
    r"|\$TELETRAAN_\{([A-Za-z0-9_-]+)\}"
    r"|\$TELETRAAN_([A-Za-z][A-Za-z0-9_-]*)")


def render(text, variables):
    """Reference rendering of AGENT.md §9.1 (one left-to-right pass; values are not rescanned)."""
    def sub(m):
        if m.group(0) == "$TELETRAAN_$TELETRAAN_":
            return "$TELETRAAN_"
        for key_group, default_group in ((1, 2), (3, 4)):
            key = m.group(key_group)
            if key is not None:
                if key in variables:
                    return variables[key]
                default = m.group(default_group)
                return default if default is not None else m.group(0)
        key = m.group(5) or m.group(6)
        return variables.get(key, m.group(0))
    return _PLACEHOLDER.sub(sub, text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def hello_pids(run_dir):
    """pids of hello-server processes whose pid file lives in run_dir."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"hello-server") for a in argv) and os.path.join(run_dir, "hello.pid").encode() in argv:
            if pid_alive(int(d)):
                pids.append(int(d))
    return pids


def pack(out, *args, env=None):
    r = subprocess.run([os.path.join(HELLO, "pack.sh"), *args, str(out)], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.split())


class Deployment:
    """One env on one host: builds dir, TARGET, script variables, and a way to run a stage script."""

    def __init__(self, root, env_name="hello", stage_name="staging", port=None, variables=None):
        self.root = root
        self.env_name = env_name
        self.stage_name = stage_name
        self.builds_dir = os.path.join(root, "builds", env_name)
        self.target = os.path.join(root, "current", env_name)
        self.run_dir = self.target + ".run"
        self.port = port or free_port()
        self.variables = {"PORT": str(self.port)}
        self.variables.update(variables or {})
        self.build_id = None
        self.commit = None
        os.makedirs(self.builds_dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.target), exist_ok=True)

    def install(self, artifact, build_id, commit, render_templates=True):
        """Extract like DOWNLOADING, render like STAGING (teletraan_template/ copy), then flip TARGET."""
        tree = os.path.join(self.builds_dir, build_id)
        os.makedirs(tree)
        with tarfile.open(artifact) as t:
            t.extractall(tree, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(tree)
        if render_templates:
            for d, _, files in os.walk(os.path.join(tree, "teletraan")):
                for f in files:
                    if f.endswith(".tmpl"):
                        src = os.path.join(d, f)
                        with open(src) as fh:
                            text = fh.read()
                        with open(src[:-len(".tmpl")], "w") as fh:
                            fh.write(render(text, self.variables))
        tmp = self.target + ".slipway-tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(tree, tmp)
        os.rename(tmp, self.target)
        self.build_id, self.commit = build_id, commit
        return tree

    def env(self, step, extra=None):
        e = dict(os.environ)
        e.update({"DEPLOY_ID": "dep1", "DEPLOY_STEP": step, "OPCODE": "DEPLOY", "DEPLOY_TYPE": "REGULAR",
                  "ENV_NAME": self.env_name, "STAGE_NAME": self.stage_name, "COMPUTE_ENV_TYPE": "PRODUCTION",
                  "TARGET": self.target, "BUILDS_DIR": self.builds_dir})
        e.update(self.variables)
        if self.build_id:
            e.update({"BUILD_ID": self.build_id, "BUILD_COMMIT": self.commit, "BUILD_NAME": "hello",
                      "BUILD_REPO": "acme/hello", "BUILD_BRANCH": "main"})
        e.update(extra or {})
        return e

    def script_dir(self):
        per_env = os.path.join(self.target, "teletraan", self.env_name)
        return per_env if os.path.isdir(per_env) else os.path.join(self.target, "teletraan")

    def run(self, step, extra=None, timeout=60):
        """Run a stage script as slipway-agent does (cwd = script dir, stdin /dev/null, own session)."""
        d = self.script_dir()
        return subprocess.run([os.path.join(d, step)], cwd=d, env=self.env(step, extra), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, start_new_session=True)

    def pid(self):
        try:
            with open(os.path.join(self.run_dir, "hello.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def cleanup(self):
        if os.path.exists(self.target):
            self.run("STOPPING")
        for pid in hello_pids(self.run_dir):
            os.kill(pid, signal.SIGKILL)
