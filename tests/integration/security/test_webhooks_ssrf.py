# SPDX-License-Identifier: Apache-2.0
# Webhook destinations (issue 12 item 1). The attack: an OPERATOR of one env sets a pre-deploy hook that
# POSTs to the server's own /v1/system/user_roles with the trusted proxy's user header; the server calls
# itself from 127.0.0.1, a trusted proxy, and the attacker becomes SYSTEM ADMIN. Hooks must not reach
# loopback, link-local, private, multicast or unspecified addresses (names, IPv6 and v4-mapped forms,
# redirects included) unless webhook_allowed_networks names them, and may not set credential headers.
import http.server
import json
import os
import re
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
from srv_support import assert_error, make_env, publish  # noqa: E402

# the reverse-proxy set-up docs/security.md recommends: the proxy runs on the same host
PROXY = ["--set", "trusted_user_header=X-Forwarded-User", "trusted_groups_header=X-Forwarded-Groups",
         "trusted_proxies=127.0.0.1"]


def poll(fn, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def metric(s, result):
    for line in s.get("/metrics").text.splitlines():
        if line.startswith('slipway_webhook_calls_total{result="%s"}' % result):
            return int(line.split()[-1])
    return None


def calls_done(s, n=1):
    """Wait until n hook calls ended (ok or failed); returns (ok, failed)."""
    poll(lambda: (metric(s, "ok") or 0) + (metric(s, "failed") or 0) >= n, what="%d webhook calls" % n)
    return metric(s, "ok"), metric(s, "failed")


class Receiver:
    """An HTTP receiver on (host, port 0) recording each request; answers 200, or `redirect` as a 302."""

    def __init__(self, host="127.0.0.1", family=socket.AF_INET, redirect=None):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                calls.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                              "body": self.rfile.read(n).decode() if n else ""})
                self.send_response(302 if redirect else 200)
                if redirect:
                    self.send_header("Location", redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        class Srv(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self.srv = Srv((host, 0), Handler)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(*a, **kw):
        r = Receiver(*a, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def hook_env(s, stage="prod", env="web"):
    make_env(s, env, stage)
    return publish(s)


def operator_token(s, env="web"):
    r = s.post("/v1/envs/%s/token_roles" % env, json={"name": "mallory-ci", "role": "OPERATOR"})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def deploy(s, build, token=None, env="web", stage="prod"):
    r = s.post("/v1/envs/%s/%s/deploys" % (env, stage), params={"buildId": build["id"]}, token=token)
    assert r.status_code == 201, r.text


def put_hooks(s, hooks, token=None, env="web", stage="prod"):
    return s.put("/v1/envs/%s/%s/web_hooks" % (env, stage), json={"preDeployHooks": hooks}, token=token)


def escalation_hook(s, host, header_line):
    port = s.url.rsplit(":", 1)[1]
    return {"method": "POST", "url": "http://%s:%s/v1/system/user_roles?token=sekrit" % (host, port),
            "headers": header_line + "; Content-Type: application/json",
            "body": json.dumps({"name": "mallory", "role": "ADMIN"})}


def admin_user(s):
    # the user whose name the attacker puts in the proxy header
    r = s.post("/v1/system/user_roles", json={"name": "alice", "role": "ADMIN"})
    assert r.status_code == 201, r.text


def test_operator_cannot_set_a_self_escalating_hook(server_factory):
    """The attack as written: refused at PUT (loopback literal), and its header alone is refused too."""
    s = server_factory(PROXY).start()
    hook_env(s)
    admin_user(s)
    op = operator_token(s)
    hook = escalation_hook(s, "127.0.0.1", "X-Forwarded-User: alice")
    assert_error(put_hooks(s, [hook], token=op), 400, "preDeployHooks[0].url")
    hook["url"] = "https://hooks.example.com/x"
    body = assert_error(put_hooks(s, [hook], token=op), 400, "preDeployHooks[0].headers")
    assert "X-Forwarded-User" in body["message"]
    assert s.get("/v1/envs/web/prod/web_hooks").json()["preDeployHooks"] is None  # still no hooks


def test_self_escalation_end_to_end(server_factory):
    """A hook that passes the PUT checks (a name for loopback; the user header spelled through a
    placeholder) is refused when called: recorded as failed, and nobody becomes ADMIN."""
    s = server_factory(PROXY).start()
    b = hook_env(s, stage="X-Forwarded-User")
    admin_user(s)
    op = operator_token(s)
    hook = escalation_hook(s, "localhost", "$TELETRAAN_STAGE_NAME: alice")
    r = put_hooks(s, [hook], token=op, stage="X-Forwarded-User")
    assert r.status_code == 204, r.text
    deploy(s, b, token=op, stage="X-Forwarded-User")
    ok, failed = calls_done(s)
    assert s.get("/v1/system/user_roles/mallory").status_code == 404
    assert (ok, failed) == (0, 1)
    log = s.logtext()
    assert "sekrit" not in log and "/v1/system/user_roles" not in log
    assert re.search(r"webhook POST 'http://localhost:\d+' of pre-deploy hooks .* failed", log), log


def test_hook_stored_by_an_older_server_is_refused_when_called(server_factory):
    """The literal attack stored before this check existed (written to the database directly)."""
    s = server_factory(PROXY).start()
    b = hook_env(s)
    admin_user(s)
    assert put_hooks(s, [{"url": "https://hooks.example.com/x"}]).status_code == 204
    hook = escalation_hook(s, "127.0.0.1", "X-Forwarded-User: alice")
    s.db.query("UPDATE env_configs SET value = ? WHERE kind = 'webhooks'",
               (json.dumps({"preDeployHooks": [hook], "postDeployHooks": []}),))
    deploy(s, b)
    assert calls_done(s) == (0, 1)
    assert s.get("/v1/system/user_roles/mallory").status_code == 404


def restricted_v4(addr):
    a = [int(x) for x in addr.split(".")]
    return a[0] in (10, 127) or (a[0] == 172 and 16 <= a[1] < 32) or a[:2] == [192, 168]


def local_name():
    """A name other than 'localhost' that resolves to an internal address of this machine: the host
    name (127.0.1.1 on Debian, the container address in Docker) or an /etc/hosts entry; loopback first."""
    names = [socket.gethostname()]
    try:
        with open("/etc/hosts") as f:
            for line in f:
                names += line.split("#", 1)[0].split()[1:]
    except OSError:
        pass
    found = []
    for name in dict.fromkeys(n for n in names if n.lower() not in ("localhost", "localhost.localdomain")):
        try:
            addr = socket.getaddrinfo(name, None, socket.AF_INET)[0][4][0]
        except (OSError, IndexError):
            continue
        if restricted_v4(addr):
            found.append((not addr.startswith("127."), name, addr))
    return min(found)[1:] if found else (None, None)


@pytest.mark.parametrize("which", ["localhost", "hostname"])
def test_a_name_for_an_internal_address_is_refused_when_called(server_factory, receivers, which):
    name, addr = ("localhost", "127.0.0.1") if which == "localhost" else local_name()
    if name is None:
        pytest.skip("no name other than localhost resolves to an internal address of this machine")
    target = receivers(addr)
    s = server_factory().start()
    b = hook_env(s)
    assert put_hooks(s, [{"url": "http://%s:%d/x" % (name, target.port)}]).status_code == 204
    deploy(s, b)
    assert calls_done(s) == (0, 1)
    assert target.calls == []
    # (a name may also resolve to an IPv6 address, refused too: the log names the last one tried)
    assert re.search(r"refused: address \S+ is (loopback|private)", s.logtext()), s.logtext()


def test_ipv6_loopback_forms_are_refused(server_factory, receivers):
    s = server_factory().start()
    b = hook_env(s)
    v4 = receivers("127.0.0.1")
    try:
        v6 = receivers("::1", socket.AF_INET6)
    except OSError:
        v6 = None  # no IPv6 loopback here: the call below then fails either way
    urls = ["http://[::1]:%d/x" % (v6.port if v6 else v4.port), "http://[::ffff:127.0.0.1]:%d/x" % v4.port,
            "http://[::127.0.0.1]:%d/x" % v4.port]
    for url in urls:
        body = assert_error(put_hooks(s, [{"url": url}]), 400, "preDeployHooks[0].url")
        assert "loopback" in body["message"] and "webhook_allowed_networks" in body["message"]
    # the same hooks stored by an older server are refused when called
    assert put_hooks(s, [{"url": "https://hooks.example.com/x"}]).status_code == 204
    s.db.query("UPDATE env_configs SET value = ? WHERE kind = 'webhooks'",
               (json.dumps({"preDeployHooks": [{"method": "POST", "url": u} for u in urls],
                            "postDeployHooks": []}),))
    deploy(s, b)
    assert calls_done(s, 3) == (0, 3)
    assert v4.calls == [] and (v6 is None or v6.calls == [])


@pytest.mark.parametrize("host", ["169.254.169.254", "2852039166", "[fe80::1%25eth0]", "10.1.2.3", "172.31.0.1",
                                  "192.168.1.1", "100.64.0.1", "[fd00::1]", "0.0.0.0", "224.0.0.1", "127.1",
                                  "[::]", "[::ffff:169.254.169.254]", "[64:ff9b::a9fe:a9fe]"])
def test_internal_literal_addresses_are_refused_at_put(server, host):
    make_env(server)
    body = assert_error(put_hooks(server, [{"url": "http://%s/latest/meta-data/" % host}]), 400,
                        "preDeployHooks[0].url")
    assert "outside webhook_allowed_networks" in body["message"]
    r = server.put("/v1/envs/web/prod/web_hooks",
                   json={"postDeployHooks": [{"url": "https://ok.example/x"}, {"url": "http://%s:81/" % host}]})
    assert_error(r, 400, "postDeployHooks[1].url")
    assert server.get("/v1/envs/web/prod/web_hooks").json()["postDeployHooks"] is None  # nothing stored


@pytest.mark.parametrize("header", ["Authorization: token abc", "authorization:x", "COOKIE: a=b", "Host: evil",
                                    "Proxy-Authorization: Basic eA==", "x-forwarded-user: alice",
                                    "X-FORWARDED-GROUPS: admins"])
def test_credential_headers_are_refused_at_put(server_factory, header):
    s = server_factory(PROXY).start()
    make_env(s)
    body = assert_error(put_hooks(s, [{"url": "https://hooks.example.com/x",
                                       "headers": "X-Ok: 1; " + header}]), 400, "preDeployHooks[0].headers")
    assert header.split(":")[0].lower() in body["message"].lower()


def test_header_injection_is_refused_at_put(server):
    make_env(server)
    for headers in ["X-A: a\r\nAuthorization: token abc", "X-A: a\nHost: evil", "Bad Name: x", "X(A): y"]:
        assert_error(put_hooks(server, [{"url": "https://hooks.example.com/x", "headers": headers}]), 400,
                     "preDeployHooks[0].headers")


def test_an_allowed_network_is_reached(server_factory, receivers):
    target = receivers("127.0.0.1")
    s = server_factory(["--set", "webhook_allowed_networks=10.0.0.0/8, 127.0.0.0/8", "log_level=info"]).start()
    b = hook_env(s)
    # public addresses and names pass the PUT checks (names are judged when called)
    public = [{"url": "http://8.8.8.8/x"}, {"url": "https://[2001:4860:4860::8888]/x"},
              {"url": "https://hooks.example.com/$TELETRAAN_DEPLOY_ID"}, {"url": "http://$TELETRAAN_ENV_NAME.example/"}]
    assert put_hooks(s, public).status_code == 204
    hooks = [{"url": "http://127.0.0.1:%d/literal?token=sekrit" % target.port},
             {"url": "http://user:pw@localhost:%d/name" % target.port, "headers": "X-Hook: yes"}]
    assert put_hooks(s, hooks).status_code == 204
    deploy(s, b)
    assert calls_done(s, 2) == (2, 0)
    assert [c["path"] for c in target.calls] == ["/literal?token=sekrit", "/name"]
    assert target.calls[1]["headers"]["X-Hook"] == "yes"
    log = s.logtext()
    assert "webhook POST 'http://127.0.0.1:%d' of pre-deploy hooks" % target.port in log, log
    assert "webhook POST 'http://localhost:%d' of pre-deploy hooks" % target.port in log, log
    assert "sekrit" not in log and "pw@" not in log and "/literal" not in log


def test_a_redirect_out_of_the_allowed_network_is_not_followed(server_factory, receivers):
    """The receiver on 127.0.0.2 (allowed) answers 302 to 127.0.0.1 (not allowed): never visited."""
    target = receivers("127.0.0.1")
    redirector = receivers("127.0.0.2", redirect="http://127.0.0.1:%d/stolen" % target.port)
    s = server_factory(["--set", "webhook_allowed_networks=127.0.0.2/32"]).start()
    b = hook_env(s)
    assert_error(put_hooks(s, [{"url": "http://127.0.0.1:%d/x" % target.port}]), 400, "preDeployHooks[0].url")
    assert put_hooks(s, [{"url": "http://127.0.0.2:%d/hook" % redirector.port}]).status_code == 204
    deploy(s, b)
    calls_done(s)
    assert [c["path"] for c in redirector.calls] == ["/hook"]
    time.sleep(0.5)  # give a (wrongly) followed redirect time to arrive
    assert target.calls == []


def test_bad_allowed_networks_setting_is_refused(server_factory):
    from srv_support import SERVER_BIN
    import subprocess
    for bad in ["10.0.0.0/33", "localhost", "10.0.0.0/8,,fe80::/129"]:
        out = subprocess.run([SERVER_BIN, "--check", "--set", "webhook_allowed_networks=" + bad],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and "webhook_allowed_networks" in out.stderr, (bad, out.stderr)
    out = subprocess.run([SERVER_BIN, "--check", "--set", "webhook_allowed_networks=10.0.0.0/8 fd00::/8,127.0.0.1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
