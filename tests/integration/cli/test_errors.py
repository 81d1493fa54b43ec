# SPDX-License-Identifier: Apache-2.0
# Server URL/token resolution (flags, environment, config file) and the exit codes of failures.
import socket


def test_no_server_configured_is_usage_error(cli):
    r = cli("env", "list", use_env=False)
    assert r.returncode == 64
    assert "no server" in r.stderr


def test_unreachable_server(cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        r = cli("--server", f"http://127.0.0.1:{port}", "env", "list")
    assert r.returncode == 69
    assert "127.0.0.1" in r.stderr


def test_bad_token_is_noperm(cli):
    r = cli("env", "list", token="not-a-real-token")
    assert r.returncode == 77
    assert "HTTP 401" in r.stderr


def test_no_token_is_noperm(cli):
    r = cli("env", "create", "noauth/prod", token=None)
    assert r.returncode == 77


def test_flags_beat_environment(cli, server):
    # the environment points at a dead server, the flags at the real one
    r = cli("--server", server.url, "--token", server.token, "env", "list",
            extra_env={"SLIPWAY_SERVER": "http://127.0.0.1:1", "SLIPWAY_TOKEN": "bad"})
    assert r.returncode == 0, r.stderr
    # flags are accepted after the command too
    r = cli("env", "list", "--server", server.url, "--token", server.token,
            extra_env={"SLIPWAY_SERVER": "http://127.0.0.1:1"})
    assert r.returncode == 0, r.stderr


def test_config_file(cli, server, home):
    cfgdir = home / ".config" / "slipway"
    cfgdir.mkdir(parents=True)
    (cfgdir / "config").write_text(f"# written by the test\nserver = {server.url}/\ntoken = {server.token}\n")
    r = cli("env", "list", use_env=False)
    assert r.returncode == 0, r.stderr
    # the environment beats the file
    r = cli("env", "list", use_env=False, extra_env={"SLIPWAY_TOKEN": "bad-token"})
    assert r.returncode == 77
    # a broken file is a configuration error naming file:line
    (cfgdir / "config").write_text("server = http://x\ntimeout = soon\n")
    r = cli("env", "list", use_env=False)
    assert r.returncode == 78
    assert "config:2" in r.stderr


def test_explicit_config_flag(cli, server, tmp_path):
    cfg = tmp_path / "other.conf"
    cfg.write_text(f"server = {server.url}\ntoken = {server.token}\n")
    r = cli("--config", str(cfg), "env", "list", use_env=False)
    assert r.returncode == 0, r.stderr
    r = cli("--config", str(tmp_path / "missing.conf"), "env", "list", use_env=False)
    assert r.returncode == 78


def test_usage_errors(cli):
    for args in (["frobnicate"], ["deploy"], ["deploy", "web/prod"], ["deploy", "web", "--build", "b"],
                 ["env", "capacity", "add", "web/prod", "h1"], ["build"], ["--bogus", "env", "list"]):
        r = cli(*args)
        assert r.returncode == 64, (args, r.stderr)
        assert r.stderr.startswith("slipway: "), args


def test_help_everywhere(cli):
    r = cli("--help", use_env=False)
    assert r.returncode == 0
    assert "exit codes:" in r.stdout and "deploy" in r.stdout
    for args in (["deploy", "--help"], ["env", "--help"], ["env", "capacity", "add", "--help"],
                 ["build", "publish", "--help"], ["status", "--help"], ["agents", "--help"],
                 ["env", "scripts", "set", "--help"], ["promote", "--help"], ["rollback", "--help"],
                 ["restart", "--help"], ["pause", "--help"], ["resume", "--help"], ["hosts", "--help"]):
        r = cli(*args, use_env=False)
        assert r.returncode == 0, args
        assert "usage: slipway" in r.stdout, args
