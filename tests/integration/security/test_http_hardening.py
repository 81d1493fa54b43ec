# SPDX-License-Identifier: Apache-2.0
# The HTTP layer against browsers and slow clients: the CSRF guard of proxy-signed-in users (JSON content type,
# same origin), pings authenticated by token only, the per-address connection limit on by default, the absolute
# deadline for receiving a request (slow-loris) that leaves held long-polls alone, and the security headers on
# every answer (CSP on the board).
import json
import os
import socket
import sys
import threading
import time

import pytest
import requests

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from srv_support import BUILD, assert_error, make_env, publish  # noqa: E402

PROXY = ["--set", "trusted_user_header=X-Forwarded-User", "trusted_groups_header=X-Forwarded-Groups",
         "trusted_proxies=127.0.0.1"]
ALICE = {"X-Forwarded-User": "alice"}


def addr(s):
    host, port = s.url.split("//")[1].rsplit(":", 1)
    return host, int(port)


def proxy_server(server_factory, extra=(), name="srv"):
    s = server_factory(PROXY + list(extra), name=name).start()
    assert s.post("/v1/system/user_roles", json={"name": "alice", "role": "ADMIN"}).status_code == 201
    return s


def as_alice(s, method, path, headers=None, **kw):
    h = dict(ALICE)
    h.update(headers or {})
    return s.req(method, path, auth=False, headers=h, **kw)


def env_names(s):
    return s.get("/v1/envs/names").json()


ENV = {"envName": "web", "stageName": "prod"}


def wait_for(cond, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


# ---- CSRF ---------------------------------------------------------------------------------------------------


def test_proxy_user_write_needs_json_content_type(server_factory):
    s = proxy_server(server_factory)
    # what a cross-site <form> can send: text/plain (the JSON smuggled in it) and form encoding
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": ctype} if ctype else {}
        r = as_alice(s, "POST", "/v1/envs", headers=headers, data=json.dumps(ENV))
        body = assert_error(r, 415)
        assert "application/json" in body["message"]
    assert "web" not in env_names(s)
    # the same request as JSON passes, also with parameters on the type
    r = as_alice(s, "POST", "/v1/envs", headers={"Content-Type": "Application/JSON; charset=utf-8"},
                 data=json.dumps(ENV))
    assert r.status_code == 201, r.text
    # a write with no body at all (its action in the query string) needs the type too
    build = publish(s)
    path = "/v1/envs/web/prod/deploys?buildId=" + build["id"]
    assert_error(as_alice(s, "POST", path), 415)
    assert_error(as_alice(s, "DELETE", "/v1/envs/web/prod"), 415)
    assert not s.get("/v1/envs/web/prod").json().get("deployId")
    r = as_alice(s, "POST", path, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert s.get("/v1/envs/web/prod").json()["deployId"] == r.json()["id"]


def test_proxy_user_write_from_foreign_origin_refused(server_factory):
    s = proxy_server(server_factory)
    host, port = addr(s)
    js = {"Content-Type": "application/json"}
    for extra in ({"Origin": "https://evil.example"}, {"Origin": "http://%s:%d" % (host, port + 1)},
                  {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                  {"Origin": "http://%s:%d" % (host, port), "Sec-Fetch-Site": "cross-site"}):
        r = as_alice(s, "POST", "/v1/envs", headers=dict(js, **extra), json=ENV)
        assert_error(r, 403)
    assert "web" not in env_names(s)
    # same origin (the Host the request came to), or no Origin / Sec-Fetch-Site at all, passes
    same = dict(js, Origin="http://%s:%d" % (host, port), **{"Sec-Fetch-Site": "same-origin"})
    assert as_alice(s, "POST", "/v1/envs", headers=same, json=ENV).status_code == 201
    assert as_alice(s, "PUT", "/v1/envs/web/prod", headers=dict(js, **{"Sec-Fetch-Site": "none"}),
                    json={"description": "x"}).status_code == 204
    # behind the proxy: the host and scheme the browser used, as the proxy forwards them
    fwd = dict(js, Origin="https://deploy.example.com", **{"X-Forwarded-Host": "deploy.example.com",
                                                           "X-Forwarded-Proto": "https"})
    assert as_alice(s, "PUT", "/v1/envs/web/prod", headers=fwd, json={"description": "y"}).status_code == 204
    fwd["X-Forwarded-Proto"] = "http"
    assert_error(as_alice(s, "PUT", "/v1/envs/web/prod", headers=fwd, json={"description": "z"}), 403)
    assert s.get("/v1/envs/web/prod").json()["description"] == "y"
    # reads are never refused
    assert as_alice(s, "GET", "/v1/envs/web/prod", headers={"Origin": "https://evil.example",
                                                            "Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_public_url_is_the_only_origin(server_factory):
    s = proxy_server(server_factory, ["public_url=https://deploy.example.com"])
    host, port = addr(s)
    js = {"Content-Type": "application/json"}
    r = as_alice(s, "POST", "/v1/envs", headers=dict(js, Origin="http://%s:%d" % (host, port)), json=ENV)
    assert_error(r, 403)
    r = as_alice(s, "POST", "/v1/envs", headers=dict(js, Origin="https://deploy.example.com:443"), json=ENV)
    assert r.status_code == 201, r.text
    bad = server_factory(["--set", "public_url=https://deploy.example.com/board?x=1"], name="bad")
    with pytest.raises(RuntimeError, match="public_url"):
        bad.start()


def test_token_requests_unchanged(server_factory):
    s = proxy_server(server_factory)
    # a token is sent by a program, never by a browser on its own: no content type or origin rule
    r = s.post("/v1/envs", headers={"Content-Type": "text/plain", "Origin": "https://evil.example",
                                    "Sec-Fetch-Site": "cross-site"}, data=json.dumps(ENV))
    assert r.status_code == 201, r.text
    build = publish(s)
    r = s.post("/v1/envs/web/prod/deploys?buildId=" + build["id"])
    assert r.status_code == 201, r.text


# ---- pings ----------------------------------------------------------------------------------------------------


def test_ping_authenticates_by_token_only(server_factory):
    s = proxy_server(server_factory)
    body = {"hostId": "h1", "hostName": "h1", "hostIp": "10.0.0.1", "groups": [], "agentVersion": "t/1",
            "reports": []}
    # alice is a SYSTEM ADMIN through the proxy, but a ping is never a proxy user's
    r = as_alice(s, "POST", "/v1/system/ping", headers={"Content-Type": "application/json"}, json=body)
    assert_error(r, 401)
    r = s.post("/v1/system/ping", json=body)
    assert r.status_code == 200 and r.json()["opCode"] == "NOOP", r.text


# ---- connection limits and the read deadline ------------------------------------------------------------------


def served(c):
    """Does connection c get an answer to a request?"""
    try:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return c.recv(4096).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def served_count(s, n):
    """Open n connections from one address at once, then ask on each: how many are served?"""
    socks = [socket.create_connection(addr(s), timeout=5) for _ in range(n)]
    try:
        return sum(served(c) for c in socks)
    finally:
        for c in socks:
            c.close()


def test_per_ip_limit_on_by_default(server_factory):
    s = server_factory().start()
    # which one is refused depends on the order the server accepts them in: count
    assert served_count(s, 257) == 256


def test_per_ip_limit_configured(server_factory):
    s = server_factory(["--set", "per_ip_connection_limit=2"]).start()
    assert served_count(s, 3) == 2
    # the old name still works
    s = server_factory(["--set", "max_connections_per_ip=4"], name="old").start()
    assert served_count(s, 6) == 4
    s = server_factory(["--set", "per_ip_connection_limit=0"], name="off").start()
    assert served_count(s, 300) == 300


def closed_after(c, trickle, limit):
    """Send `trickle` one byte every 0.2 s until the server closes c; the seconds that took (None: never)."""
    t0 = time.monotonic()
    for i in range(len(trickle)):
        if time.monotonic() - t0 > limit:
            return None
        try:
            c.sendall(trickle[i:i + 1])
            c.settimeout(0.2)
            data = c.recv(4096)
            if data == b"" or data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 5"):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def test_slow_loris_headers_cut_at_the_deadline(server_factory):
    s = server_factory(["--set", "request_read_timeout=2", "connection_timeout=30", "log_level=info"]).start()
    with socket.create_connection(addr(s), timeout=5) as c:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        took = closed_after(c, b"X-Slow: " + b"a" * 200, 8)
    # never idle for a second, yet cut off once its request took longer than the deadline
    assert took is not None and 1.5 < took < 4, took
    assert wait_for(lambda: "request_read_timeout" in s.logtext()), s.logtext()
    assert "closing the connection from 127.0.0.1:" in s.logtext()  # the peer, looked up when it is closed
    assert "slipway_http_read_deadline_closed_total 1" in s.get("/metrics").text


def test_slow_body_cut_at_the_deadline(server_factory):
    s = server_factory(["--set", "request_read_timeout=2", "connection_timeout=30"]).start()
    with socket.create_connection(addr(s), timeout=5) as c:
        c.sendall(("POST /v1/builds HTTP/1.1\r\nHost: x\r\nAuthorization: token %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n" % s.token).encode())
        took = closed_after(c, json.dumps(BUILD).encode().ljust(400), 8)
    assert took is not None and 1.5 < took < 4, took
    assert s.get("/v1/builds", params={"name": "web"}).json() == []


def test_held_long_poll_outlives_the_deadline(server_factory):
    s = server_factory(["--set", "request_read_timeout=1"]).start()
    make_env(s, "web", "prod")
    r = s.put("/v1/envs/web/prod/capacity", params={"capacityType": "GROUP"}, json=["g"])
    assert r.status_code in (200, 204), r.text
    body = {"hostId": "h1", "hostName": "h1", "hostIp": "10.0.0.1", "groups": ["g"], "agentVersion": "t/1",
            "reports": []}
    out = {}

    def held():
        t0 = time.monotonic()
        out["resp"] = requests.post(s.url + "/v1/system/ping", params={"wait": 3}, json=body, headers=s.headers(),
                                    timeout=15)
        out["took"] = time.monotonic() - t0

    t = threading.Thread(target=held)
    t.start()
    t.join(15)
    assert not t.is_alive()
    assert out["resp"].status_code == 200 and out["resp"].json()["opCode"] == "NOOP"
    assert 2.5 < out["took"] < 6, out["took"]
    # and the keep-alive connection is still usable after a quick request
    with requests.Session() as sess:
        assert sess.get(s.url + "/healthz", timeout=5).status_code == 200
        assert sess.get(s.url + "/healthz", timeout=5).status_code == 200


# ---- response headers -----------------------------------------------------------------------------------------


def check_common(r):
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    assert r.headers.get("X-Frame-Options") == "DENY", r.headers
    assert r.headers.get("Referrer-Policy") == "no-referrer", r.headers


def test_security_headers_on_every_answer(server_factory):
    s = proxy_server(server_factory)
    ok = s.get("/v1/envs")
    assert ok.status_code == 200
    check_common(ok)
    missing = s.get("/v1/envs/nope/prod")
    assert_error(missing, 404)
    check_common(missing)
    check_common(s.get("/v1/envs", auth=False))  # 401
    check_common(as_alice(s, "POST", "/v1/envs", headers={"Content-Type": "text/plain"}, data="{}"))  # 415
    check_common(s.get("/healthz"))
    # a ping's NOOP is one answer built once and sent again and again: every copy carries them
    for _ in range(3):
        noop = s.post("/v1/system/ping", json={"hostId": "hdr-1", "hostName": "hdr-1"})
        assert noop.status_code == 200 and noop.json() == {"opCode": "NOOP", "deployGoal": None}, noop.text
        assert noop.headers.get("Content-Type") == "application/json", noop.headers
        check_common(noop)
    for path in ("/", "/index.html", "/js/app.js", "/envs/web/prod"):
        page = s.get(path, auth=False)
        assert page.status_code == 200, path
        check_common(page)
        csp = page.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, (path, csp)
    # a revalidated board file (304) still carries them
    etag = s.get("/js/app.js", auth=False).headers["ETag"]
    again = s.get("/js/app.js", auth=False, headers={"If-None-Match": etag})
    assert again.status_code == 304
    check_common(again)
