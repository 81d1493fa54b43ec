# SPDX-License-Identifier: Apache-2.0
# slipway-server: deploy notifications by chat (a Slack-compatible webhook) and mail (SMTP through libcurl) to a
# local chat receiver and a local SMTP receiver (aiosmtpd); a receiver that never answers does not slow deploys.
import email
import http.server
import json
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, db_query, make_env, publish, wait_for  # noqa: E402

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class ChatReceiver:
    """An HTTP server on 127.0.0.1 recording the JSON bodies posted to it; answers `status`."""

    def __init__(self, status=200):
        self.bodies, self.status, self.calls = [], status, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.calls += 1
                if outer.status == 200:
                    outer.bodies.append((self.headers.get("Content-Type"), json.loads(data)))
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/T000" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class MailReceiver:
    def __init__(self):
        self.messages = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                       email.message_from_bytes(envelope.content)))
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.ctl = aiosmtpd_controller.Controller(Handler(), hostname="127.0.0.1", port=port)
        self.ctl.start()
        self.url = "smtp://127.0.0.1:%d" % port

    def stop(self):
        self.ctl.stop()


@pytest.fixture
def chat():
    c = ChatReceiver()
    yield c
    c.stop()


@pytest.fixture
def smtp():
    m = MailReceiver()
    yield m
    m.stop()


def metric(server, name_labels):
    text = server.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(name_labels + " "):
            return int(float(line.split()[1]))
    raise AssertionError("no metric %s in %s" % (name_labels, text))


def texts(chat):
    return [b["text"] for _, b in chat.bodies]


def test_chat_and_mail_on_start_success_failure_and_rollback(server_factory, chat, smtp):
    server = server_factory(["--set", "chat_webhook_url=" + chat.url, "smtp_url=" + smtp.url,
                             "smtp_from=slipway@example.com", "board_url=https://board.example"]).start()
    env = make_env(server, chatroom="deploys", emailRecipients="alice@example.com, bob@example.com",
                   failurePolicy="ROLLBACK")
    make_env(server, stage="quiet")  # no chatroom, no recipients: nothing is sent for it
    good = publish(server, commit="aaaaaaa1111")
    bad = publish(server, commit="bbbbbbb2222", commitDate=good["commitDate"] + 1)
    q = server.post("/v1/envs/web/quiet/deploys?buildId=" + good["id"])
    assert q.status_code == 201
    d1 = server.post("/v1/envs/web/prod/deploys?buildId=" + good["id"] + "&description=first").json()
    wait_for(lambda: len(chat.bodies) >= 1 and len(smtp.messages) >= 1)
    ctype, body = chat.bodies[0]
    assert ctype == "application/json" and body["channel"] == "deploys"
    assert "web/prod: deploy started" in body["text"] and "aaaaaaa1111" in body["text"]
    assert "bootstrap-admin" in body["text"] and "https://board.example/env/web/prod" in body["text"]
    frm, rcpt, msg = smtp.messages[0]
    assert frm == "slipway@example.com" and sorted(rcpt) == ["alice@example.com", "bob@example.com"]
    assert msg["Subject"].startswith("[slipway] web/prod: deploy started") and msg["From"] == "slipway@example.com"
    assert d1["id"] in msg.get_payload() and "first" in msg.get_payload()
    # SUCCEEDING
    add_agent(server, env["id"], "h1", deploy_id=d1["id"], stage="SERVING_BUILD")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    wait_for(lambda: any("deploy succeeded" in t for t in texts(chat)))
    db_query(server, "UPDATE deploys SET state='SUCCEEDED' WHERE id=?", (d1["id"],))
    # FAILING, and the policy's rollback
    d2 = server.post("/v1/envs/web/prod/deploys?buildId=" + bad["id"]).json()
    add_agent(server, env["id"], "h1", deploy_id=d2["id"], stage="STAGING", state="PAUSED_BY_SYSTEM",
              status="SCRIPT_TIMEOUT")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    wait_for(lambda: any("rollback started" in t for t in texts(chat)))
    wait_for(lambda: len(smtp.messages) == 5)
    kinds = [t.split("\n")[0].split(": ", 1)[1].split(",")[0] for t in texts(chat)]
    assert kinds == ["deploy started", "deploy succeeded", "deploy started", "deploy is FAILING",
                     "rollback started"], kinds
    subjects = [m["Subject"] for _, _, m in smtp.messages]
    assert all(s.startswith("[slipway] web/prod: ") for s in subjects), subjects
    assert metric(server, 'slipway_notifications_total{channel="chat",result="ok"}') == 5
    assert metric(server, 'slipway_notifications_total{channel="mail",result="ok"}') == 5


def test_failing_chat_receiver_is_retried_and_counted(server_factory):
    chat = ChatReceiver(status=500)
    try:
        server = server_factory(["--set", "chat_webhook_url=" + chat.url]).start()
        make_env(server, chatroom="deploys")
        b = publish(server)
        assert server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).status_code == 201
        wait_for(lambda: metric(server, 'slipway_notifications_total{channel="chat",result="failed"}') == 1)
        assert chat.calls == 3
    finally:
        chat.stop()


def test_silent_receivers_do_not_slow_deploys(server_factory):
    # a listening socket nobody accepts on: connections complete, no answer ever comes
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = silent.getsockname()[1]
    try:
        server = server_factory(["--set", "chat_webhook_url=http://127.0.0.1:%d/hook" % port,
                                 "smtp_url=smtp://127.0.0.1:%d" % port, "smtp_from=s@example.com"]).start()
        make_env(server, chatroom="deploys", emailRecipients="ops@example.com")
        builds = [publish(server, commit="%07d" % (1000000 + i)) for i in range(5)]
        t0 = time.time()
        for b in builds:
            assert server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).status_code == 201
        elapsed = time.time() - t0
        assert elapsed < 2.0, elapsed
        assert metric(server, 'slipway_notifications_total{channel="chat",result="ok"}') == 0
        # the server still stops at once (the fixture checks a clean exit): calls in flight are aborted
        t0 = time.time()
        assert server.stop() == 0
        assert time.time() - t0 < 5
    finally:
        silent.close()
