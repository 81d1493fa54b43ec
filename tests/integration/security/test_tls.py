# SPDX-License-Identifier: Apache-2.0
# HTTPS end to end (PROTOCOL §10 tls_cert/tls_key, AGENT §2 tls_verify/ca_file): a throwaway CA made
# here with openssl signs a server certificate for IP 127.0.0.1; the CLI and the agent succeed with
# the CA file, fail without it, and their explicit insecure switches work but warn.
import os
import shutil
import subprocess
import sys

import pytest
import requests

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
sys.path.insert(0, os.path.join(HERE, "..", "agent"))
from srv_support import BUILD_DIR, make_env  # noqa: E402
from agent_support import Agent  # noqa: E402

CLI_BIN = os.path.join(BUILD_DIR, "src/cli/slipway")

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def make_ca(d):
    ca_key, ca, key, csr, cert, ext = (d / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "ext"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "1",
            "-subj", "/CN=Slipway Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out",
            str(cert), "-days", "1", "-extfile", str(ext))
    return ca, cert, key


@pytest.fixture
def tls_server(server_factory, tmp_path):
    ca, cert, key = make_ca(tmp_path)
    s = server_factory(["--set", "tls_cert=%s" % cert, "tls_key=%s" % key]).start()
    s.url = s.url.replace("http://", "https://")
    return s, ca


def cli(s, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["HOME"] = str(s.dir)
    env["XDG_CONFIG_HOME"] = str(s.dir / "xdg")
    env.update(env_extra or {})
    return subprocess.run([CLI_BIN, "--server", s.url, "--token", s.token] + list(args), capture_output=True,
                          text=True, timeout=60, env=env)


def test_server_https_with_ca(tls_server):
    s, ca = tls_server
    r = requests.get(s.url + "/healthz", verify=str(ca), timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(s.url + "/healthz", timeout=10)  # the system store does not know our CA


def test_cli_verifies_certificates(tls_server):
    s, ca = tls_server
    make_env_https(s, ca)
    ok = cli(s, "--ca-file", str(ca), "--json", "env", "list")
    assert ok.returncode == 0, ok.stderr
    assert "web" in ok.stdout
    ok = cli(s, "--json", "env", "list", env_extra={"SLIPWAY_CA_FILE": str(ca)})
    assert ok.returncode == 0, ok.stderr
    bad = cli(s, "--json", "env", "list")
    assert bad.returncode == 69, (bad.returncode, bad.stdout, bad.stderr)  # EX_UNAVAILABLE
    assert "web" not in bad.stdout
    insecure = cli(s, "--insecure", "--json", "env", "list")
    assert insecure.returncode == 0, insecure.stderr
    assert "not verified" in insecure.stderr


def make_env_https(s, ca):
    r = requests.post(s.url + "/v1/envs", json={"envName": "web", "stageName": "prod"}, headers=s.headers(),
                      verify=str(ca), timeout=10)
    assert r.status_code == 201, r.text


def test_agent_verifies_certificates(tls_server, tmp_path):
    s, ca = tls_server
    for d in ("good", "bad", "insecure"):
        (tmp_path / d).mkdir()
    good = Agent(tmp_path / "good", s.url, token=s.token, ca_file=str(ca))
    r = good.once()
    assert r.returncode == 0, r.stderr
    # the ping reached the server: the host is known
    hosts = requests.get(s.url + "/v1/hosts/host-1", headers=s.headers(), verify=str(ca), timeout=10)
    assert hosts.status_code == 200, hosts.text
    bad = Agent(tmp_path / "bad", s.url, token=s.token, host_id="host-2", host_name="host-2")
    r = bad.once()
    assert r.returncode == 1, r.stderr
    insecure = Agent(tmp_path / "insecure", s.url, token=s.token, tls_verify="false", host_id="host-3",
                     host_name="host-3")
    r = insecure.once()
    assert r.returncode == 0, r.stderr
    assert "tls_verify is off" in r.stderr
