# SPDX-License-Identifier: Apache-2.0
# `slipway build tag|tags` against a real server: tags set, the effective tag inherited by later builds.
import json


def publish(cli, name, commit, commit_date):
    r = cli("build", "publish", "--name", name, "--repo", "acme/" + name, "--branch", "main", "--commit", commit,
            "--commit-date", str(commit_date), "--artifact-url", "https://art.example/a.tar.gz")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_tag_and_tags(cli, server, names):
    name = names("b")
    first = publish(cli, name, "aaaaaaa1", 1767225600000)
    later = publish(cli, name, "bbbbbbb2", 1767225700000)

    r = cli("build", "tags", first, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"effective": None, "tags": []}

    r = cli("build", "tag", first, "bad_build", "--comment", "crashes on start")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"build {first} tagged BAD_BUILD")
    status, tags = server.api("GET", f"/v1/tags/targets/{name}")
    assert status == 200 and [(t["value"], t["comments"]) for t in tags] == [("BAD_BUILD", "crashes on start")]

    # the later build of the same repo and branch inherits it, but has no tag of its own
    r = cli("build", "tags", later, "--json")
    doc = json.loads(r.stdout)
    assert doc["effective"]["value"] == "BAD_BUILD" and doc["tags"] == []
    r = cli("build", "tags", first)
    lines = r.stdout.splitlines()
    assert lines[1].split()[:2] == ["effective", "BAD_BUILD"]
    assert lines[2].split()[:2] == ["set", "BAD_BUILD"] and "crashes on start" in lines[2]

    r = cli("build", "tag", later, "GOOD_BUILD", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["value"] == "GOOD_BUILD"
    doc = json.loads(cli("build", "tags", later, "--json").stdout)
    assert doc["effective"]["value"] == "GOOD_BUILD" and [t["value"] for t in doc["tags"]] == ["GOOD_BUILD"]
    doc = json.loads(cli("build", "tags", first, "--json").stdout)
    assert doc["effective"]["value"] == "BAD_BUILD" and [t["value"] for t in doc["tags"]] == ["BAD_BUILD"]


def test_tag_bad_input(cli, names):
    build = publish(cli, names("b"), "ccccccc3", 1767225600000)
    r = cli("build", "tag", build, "ENABLE_ENV")
    assert r.returncode == 64 and "not BAD_BUILD, GOOD_BUILD or CERTIFIED_BUILD" in r.stderr
    r = cli("build", "tag", build)
    assert r.returncode == 64
    r = cli("build", "tag", build, "BAD_BUILD", "--colour", "red")
    assert r.returncode == 64
    r = cli("build", "tag", "nosuchbuild_0000000", "BAD_BUILD")
    assert r.returncode == 68, r.stderr
    r = cli("build", "tags", "nosuchbuild_0000000")
    assert r.returncode == 68, r.stderr
    r = cli("build", "tags")
    assert r.returncode == 64
    assert cli("build", "tag", "--help").stdout.startswith("usage: slipway build tag ")
    assert cli("build", "tags", "--help").stdout.startswith("usage: slipway build tags ")
