# SPDX-License-Identifier: Apache-2.0
# `slipway build publish|list|show` against a real slipway-server.
import hashlib
import json


def publish(cli, *extra, name="web", commit="4be1f0c93dab"):
    return cli("build", "publish", "--name", name, "--repo", "acme/web", "--branch", "main", "--commit", commit,
               "--artifact-url", "https://art.example/web.tar.gz", *extra)


def test_publish_prints_id_and_server_has_the_build(cli, server):
    r = publish(cli, "--publish-info", "ci#812", "--commit-date", "1767225600000")
    assert r.returncode == 0, r.stderr
    build_id = r.stdout.strip()
    assert build_id.endswith("_4be1f0c")
    status, b = server.api("GET", f"/v1/builds/{build_id}")
    assert status == 200
    assert b["name"] == "web" and b["repo"] == "acme/web" and b["branch"] == "main"
    assert b["commit"] == "4be1f0c93dab" and b["commitShort"] == "4be1f0c"
    assert b["publishInfo"] == "ci#812" and b["commitDate"] == 1767225600000
    assert b["artifactSha256"] is None


def test_publish_artifact_computes_sha256(cli, server, tmp_path):
    art = tmp_path / "web.tar.gz"
    art.write_bytes(b"artifact bytes \x00\x01" * 10000)
    r = publish(cli, "--artifact", str(art), "--json", commit="aaaa1111")
    assert r.returncode == 0, r.stderr
    b = json.loads(r.stdout)
    assert b["artifactSha256"] == hashlib.sha256(art.read_bytes()).hexdigest()
    # the same build as the server stores it
    status, stored = server.api("GET", f"/v1/builds/{b['id']}")
    assert status == 200 and stored == b


def test_publish_sha256_mismatch_is_usage_error(cli, tmp_path):
    art = tmp_path / "a"
    art.write_bytes(b"x")
    r = publish(cli, "--artifact", str(art), "--sha256", "0" * 64)
    assert r.returncode == 64
    assert "does not match" in r.stderr


def test_publish_missing_artifact_file(cli, tmp_path):
    r = publish(cli, "--artifact", str(tmp_path / "missing"))
    assert r.returncode == 66
    assert "missing" in r.stderr


def test_publish_validates_locally_naming_the_flag(cli, server):
    r = cli("build", "publish", "--name", "web", "--repo", "r", "--branch", "b", "--commit", "c/d",
            "--artifact-url", "https://x/y")
    assert r.returncode == 64
    assert "--commit" in r.stderr
    r = publish(cli, "--signature", "bm90IDY0IGJ5dGVz")
    assert r.returncode == 64 and "--signature" in r.stderr


def test_publish_rejected_by_server_shows_message(cli, make_server):
    srv = make_server("--set", "artifact_url_allow=^https://allowed[.]example/")
    r = cli("build", "publish", "--name", "web", "--repo", "r", "--branch", "b", "--commit", "c1",
            "--artifact-url", "https://other.example/x.tgz", srv=srv)
    assert r.returncode == 65, r.stderr
    assert "artifactUrl" in r.stderr and "HTTP 400" in r.stderr
    r = cli("build", "publish", "--name", "web", "--repo", "r", "--branch", "b", "--commit", "c1",
            "--artifact-url", "https://allowed.example/x.tgz", srv=srv)
    assert r.returncode == 0, r.stderr


def test_list_and_show(cli, server):
    ids = []
    for commit in ("1111111aaa", "2222222bbb"):
        r = publish(cli, name="listed", commit=commit)
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
    r = cli("build", "list", "--name", "listed", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert sorted(b["id"] for b in listed) == sorted(ids)
    r = cli("build", "list", "--name", "listed")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    assert {ln.split()[0] for ln in lines[1:]} == set(ids)
    r = cli("build", "list", "--commit", "2222222")
    assert r.returncode == 0 and ids[1] in r.stdout and ids[0] not in r.stdout

    r = cli("build", "show", ids[0])
    assert r.returncode == 0
    fields = dict(ln.split(None, 1) for ln in r.stdout.splitlines())
    assert fields["id"] == ids[0] and fields["commit"] == "1111111aaa" and fields["name"] == "listed"
    r = cli("build", "show", ids[0], "--json")
    assert json.loads(r.stdout)["id"] == ids[0]


def test_list_needs_name_or_commit(cli):
    r = cli("build", "list")
    assert r.returncode == 64


def test_show_unknown_build_is_not_found(cli):
    r = cli("build", "show", "nosuchbuild_1234567")
    assert r.returncode == 68
    assert "HTTP 404" in r.stderr
