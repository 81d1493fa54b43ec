# SPDX-License-Identifier: Apache-2.0
# The download helper (AGENT.md §8): formats, verification, hostile archives, URL policy.
import base64
import io
import os
import stat
import subprocess
import tarfile
import time
import zipfile

import pytest

import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.dirname(__file__))
from artifact_util import app_tar, make_tar, make_zip, sha256


def job(url, **kw):
    j = {"url": url, "allowHttp": True, "httpTimeout": 5}
    j.update(kw)
    return j


def file_job(path, **kw):
    kw.setdefault("allowFileDirs", str(path.parent))
    return job("file://" + str(path), **kw)


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def check_app_tree(tree):
    assert (tree / "teletraan/RESTARTING").read_bytes().startswith(b"#!/bin/sh")
    assert os.stat(tree / "teletraan/RESTARTING").st_mode & 0o111 == 0o111
    assert (tree / "app/config.yml").read_bytes() == b"port: 8080\n"
    assert os.readlink(tree / "app/link") == "config.yml"


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_tar_formats(run_helper, tmp_path, mode):
    data = app_tar(mode)
    res = run_helper(file_job(write(tmp_path, "a.bin", data), expectedSha256=sha256(data).upper()))
    assert res.code == 0, res
    assert res.result["ok"] and res.result["sha256"] == sha256(data)
    assert res.result["bytes"] == len(data)
    check_app_tree(res.tmp / "tree")
    assert (tmp_path / "a.bin").exists()  # read in place, never removed


def test_tar_zstd(run_helper, tmp_path):
    plain = write(tmp_path, "a.tar", app_tar("w"))
    subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(tmp_path / "a.tar.zst")], check=True)
    res = run_helper(file_job(tmp_path / "a.tar.zst"))
    assert res.code == 0, res
    check_app_tree(res.tmp / "tree")


def test_zip_keeps_exec_bits(run_helper, tmp_path):
    data = make_zip([("teletraan/", b"", 0o755), ("teletraan/RESTARTING", b"#!/bin/sh\n", 0o755),
                     ("conf.txt", b"x", 0o644), ("wide.sh", b"#!/bin/sh\n", 0o777)])
    res = run_helper(file_job(write(tmp_path, "a.zip", data)))
    assert res.code == 0, res
    tree = res.tmp / "tree"
    assert stat.S_IMODE(os.stat(tree / "teletraan/RESTARTING").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tree / "conf.txt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tree / "wide.sh").st_mode) == 0o755  # g+w/o+w stripped


def test_zip_without_unix_modes(run_helper, tmp_path):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in (("dir/", b""), ("dir/f", b"x")):
            zi = zipfile.ZipInfo(name)
            zi.create_system = 0  # MS-DOS: no Unix mode in the external attributes
            z.writestr(zi, data)
    res = run_helper(file_job(write(tmp_path, "dos.zip", bio.getvalue())))
    assert res.code == 0, res
    assert stat.S_IMODE(os.stat(res.tmp / "tree/dir").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(res.tmp / "tree/dir/f").st_mode) == 0o644


def test_sha_mismatch_is_fatal(run_helper, tmp_path):
    data = app_tar()
    res = run_helper(file_job(write(tmp_path, "a.tgz", data), expectedSha256="0" * 64))
    assert res.code == 2, res
    assert res.result["fatal"] and "sha256 mismatch" in res.result["message"]
    assert not (res.tmp / "tree").exists()


def test_unsupported_format(run_helper, tmp_path):
    res = run_helper(file_job(write(tmp_path, "a.bin", b"just some text, not an archive\n" * 10)))
    assert res.code == 2, res
    assert "unsupported artifact format" in res.result["message"]


HOSTILE = [
    ("absolute", [{"name": "/ABS/evil", "data": b"x"}], "absolute path"),
    ("dotdot", [{"name": "a/../../evil", "data": b"x"}], "'..' component"),
    ("symlink-abs", [{"name": "l", "type": tarfile.SYMTYPE, "link": "/etc/passwd"}], "symlink target"),
    ("symlink-escape", [{"name": "a/l", "type": tarfile.SYMTYPE, "link": "../../x"}], "symlink target"),
    ("symlink-dotdot-after-name", [{"name": "d", "type": tarfile.SYMTYPE, "link": "."},
                                   {"name": "l", "type": tarfile.SYMTYPE, "link": "d/.."}], "symlink target"),
    ("hardlink-escape", [{"name": "h", "type": tarfile.LNKTYPE, "link": "../../outside"}], "hard link"),
    ("hardlink-missing", [{"name": "h", "type": tarfile.LNKTYPE, "link": "nope"}], "hard link"),
    ("write-through-symlink", [{"name": "dir", "type": tarfile.SYMTYPE, "link": "."},
                               {"name": "dir/f", "data": b"x"}], "dir/f"),
    ("chardev", [{"name": "dev", "type": tarfile.CHRTYPE}], "device"),
    ("fifo", [{"name": "fifo", "type": tarfile.FIFOTYPE}], "device, fifo"),
]


@pytest.mark.parametrize("name,entries,needle", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_archives(run_helper, tmp_path, name, entries, needle):
    entries = [dict(e, name=e["name"].replace("/ABS", str(tmp_path))) for e in entries]
    res = run_helper(file_job(write(tmp_path, "evil.tgz", make_tar(entries))))
    assert res.code == 2, res
    assert res.result["fatal"]
    assert needle in res.result["message"], res.result["message"]
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "env" / "evil").exists()


def test_symlink_inside_ok_and_setuid_stripped(run_helper, tmp_path):
    data = make_tar([
        {"name": "bin/tool", "data": b"#!/bin/sh\n", "mode": 0o4755},
        {"name": "bin/g", "data": b"x", "mode": 0o2777},
        {"name": "d", "type": tarfile.DIRTYPE, "mode": 0o000},
        {"name": "lib/l", "type": tarfile.SYMTYPE, "link": "../bin/tool"},
        {"name": "hl", "type": tarfile.LNKTYPE, "link": "bin/tool"},
    ])
    res = run_helper(file_job(write(tmp_path, "a.tgz", data)))
    assert res.code == 0, res
    tree = res.tmp / "tree"
    assert stat.S_IMODE(os.stat(tree / "bin/tool").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tree / "bin/g").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tree / "d").st_mode) & 0o700 == 0o700
    assert os.readlink(tree / "lib/l") == "../bin/tool"
    assert os.stat(tree / "hl").st_ino == os.stat(tree / "bin/tool").st_ino


def test_entry_limit(run_helper, tmp_path):
    data = make_tar([{"name": f"f{i}", "data": b"x"} for i in range(5)])
    p = write(tmp_path, "a.tgz", data)
    assert run_helper(file_job(p, maxArchiveEntries=5)).code == 0
    res = run_helper(file_job(p, maxArchiveEntries=4))
    assert res.code == 2 and "max_archive_entries" in res.result["message"]


def test_extracted_bytes_limit(run_helper, tmp_path):
    data = make_tar([{"name": "a", "data": b"x" * 600}, {"name": "b", "data": b"y" * 400}])
    p = write(tmp_path, "a.tgz", data)
    assert run_helper(file_job(p, maxExtractedBytes=1000)).code == 0
    res = run_helper(file_job(p, maxExtractedBytes=999))
    assert res.code == 2 and "max_extracted_bytes" in res.result["message"]


def test_artifact_size_limit(run_helper, tmp_path):
    data = app_tar()
    p = write(tmp_path, "a.tgz", data)
    assert run_helper(file_job(p, maxArtifactBytes=len(data))).code == 0
    res = run_helper(file_job(p, maxArtifactBytes=len(data) - 1))
    assert res.code == 2 and "max_artifact_bytes" in res.result["message"]


def test_file_allow_dirs(run_helper, tmp_path):
    (tmp_path / "ok").mkdir()
    p = write(tmp_path / "ok", "a.tgz", app_tar())
    assert run_helper(file_job(p, allowFileDirs=str(tmp_path / "ok"))).code == 0
    os.symlink(p, tmp_path / "via-link.tgz")
    res = run_helper(file_job(tmp_path / "via-link.tgz", allowFileDirs=str(tmp_path / "other")))
    assert res.code == 2 and "download_allow_file_dirs" in res.result["message"]
    res = run_helper(job("file://otherhost" + str(p)))
    assert res.code == 2
    # no allow-list: file:// is refused outright, wherever the file is
    res = run_helper(job("file://" + str(p)))
    assert res.code == 2 and "download_allow_file_dirs is empty" in res.result["message"], res
    assert not (res.tmp / "tree").exists()
    # ".." cannot climb out of an allowed directory
    (tmp_path / "ok" / "sub").mkdir()
    outside = write(tmp_path, "b.tgz", app_tar())
    res = run_helper(job("file://%s/ok/sub/../../b.tgz" % tmp_path, allowFileDirs=str(tmp_path / "ok")))
    assert res.code == 2 and "not under download_allow_file_dirs" in res.result["message"], res
    assert run_helper(file_job(outside)).code == 0


# ---- signatures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("good", "other"):
        pem = d / f"{name}.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(pem)], check=True)
        der = subprocess.run(["openssl", "pkey", "-in", str(pem), "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        out[name] = (pem, base64.b64encode(der[-32:]).decode())
    return out


def sign(pem, path):
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", str(pem), "-in", str(path)],
                         check=True, capture_output=True).stdout
    return base64.b64encode(sig).decode()


def test_signature_good(run_helper, tmp_path, keys):
    p = write(tmp_path, "a.tgz", app_tar())
    pem, pub = keys["good"]
    res = run_helper(file_job(p, signature=sign(pem, p), signingKey=pub))
    assert res.code == 0, res
    assert res.result["signatureKey"] == pub
    # local list only: any listed key may verify
    res = run_helper(file_job(p, signature=sign(pem, p), trustedSigningKeys=f"{keys['other'][1]}, {pub}"))
    assert res.code == 0, res
    assert res.result["signatureKey"] == pub


def test_signature_bad(run_helper, tmp_path, keys):
    p = write(tmp_path, "a.tgz", app_tar())
    other_sig = sign(keys["other"][0], p)
    res = run_helper(file_job(p, signature=other_sig, signingKey=keys["good"][1]))
    assert res.code == 2 and "signature invalid" in res.result["message"]
    assert not (res.tmp / "tree").exists()


def test_signature_missing(run_helper, tmp_path, keys):
    p = write(tmp_path, "a.tgz", app_tar())
    res = run_helper(file_job(p, trustedSigningKeys=keys["good"][1]))
    assert res.code == 2 and "signature required" in res.result["message"]


def test_signature_untrusted_server_key(run_helper, tmp_path, keys):
    p = write(tmp_path, "a.tgz", app_tar())
    pem, pub = keys["other"]
    res = run_helper(file_job(p, signature=sign(pem, p), signingKey=pub, trustedSigningKeys=keys["good"][1]))
    assert res.code == 2 and "not trusted on this host" in res.result["message"]


# ---- http ------------------------------------------------------------------------------------

def test_http_ok_and_query_string(run_helper, http_server):
    data = app_tar()
    http_server.add("/builds/app", data)
    res = run_helper(job(http_server.base + "/builds/app?X-Amz-Signature=SECRETSIG-not-in-logs", expectedSha256=sha256(data)))
    assert res.code == 0, res
    check_app_tree(res.tmp / "tree")
    assert not (res.tmp / "artifact").exists()
    assert "SECRETSIG-not-in-logs" not in res.log
    # a hash to check: downloaded whole, verified, then extracted
    assert "verified before extraction" in res.log and "while downloading" not in res.log
    # nothing to check: extracted while it downloads
    res = run_helper(job(http_server.base + "/builds/app"))
    assert res.code == 0, res
    check_app_tree(res.tmp / "tree")
    assert "while downloading" in res.log


def test_credentials_never_logged(run_helper, http_server):
    res = run_helper(job(http_server.base.replace("http://", "http://user:hunter2@") + "/missing?sig=s3cr3t"))
    assert res.code == 1, res
    assert "hunter2" not in res.log and "s3cr3t" not in res.log
    assert "hunter2" not in res.result["message"] and "s3cr3t" not in res.result["message"]
    assert "***@" in res.result["message"]


def test_http_needs_allow_http(run_helper, http_server):
    http_server.add("/a.tgz", app_tar())
    res = run_helper(job(http_server.base + "/a.tgz", allowHttp=False))
    assert res.code == 2 and "allow_http" in res.result["message"]
    assert http_server.hits == []


def test_allow_hosts(run_helper, http_server):
    http_server.add("/a.tgz", app_tar())
    url = http_server.base + "/a.tgz"
    assert run_helper(job(url, allowHosts=f"example.com, 127.0.0.1:{http_server.port}")).code == 0
    assert run_helper(job(url, allowHosts="127.0.0.1")).code == 0
    res = run_helper(job(url, allowHosts="127.0.0.1:1, *.example.com"))
    assert res.code == 2 and "download_allow_hosts" in res.result["message"]
    # "*.d" matches any sub-domain of d (curl resolves *.localhost to loopback), never d itself
    sub = "http://app.LOCALHOST:%d/a.tgz" % http_server.port
    assert run_helper(job(sub, allowHosts="*.localhost")).code == 0
    res = run_helper(job("http://localhost:%d/a.tgz" % http_server.port, allowHosts="*.localhost"))
    assert res.code == 2 and "download_allow_hosts" in res.result["message"]


def test_redirects_are_rechecked(run_helper, http_server):
    data = app_tar()
    http_server.add("/final.tgz", data)
    http_server.add("/r1", status=302, headers={"Location": "/final.tgz"})
    res = run_helper(job(http_server.base + "/r1", expectedSha256=sha256(data)))
    assert res.code == 0, res
    # a redirect to a host outside the allow-list
    http_server.add("/r2", status=302, headers={"Location": "http://localhost:%d/final.tgz" % http_server.port})
    res = run_helper(job(http_server.base + "/r2", allowHosts="127.0.0.1"))
    assert res.code == 2 and "download_allow_hosts" in res.result["message"]
    # a redirect to file:// is never followed
    http_server.add("/r3", status=302, headers={"Location": "file:///etc/passwd"})
    res = run_helper(job(http_server.base + "/r3"))
    assert res.code == 2
    # a loop: at most 5 redirects, then a failed (retryable) attempt
    http_server.add("/loop", status=302, headers={"Location": "/loop"})
    res = run_helper(job(http_server.base + "/loop"))
    assert res.code == 1 and "too many redirects" in res.result["message"]
    assert len([h for h in http_server.hits if h[0] == "/loop"]) == 6


def test_http_errors_are_transient(run_helper, http_server):
    res = run_helper(job(http_server.base + "/missing"))
    assert res.code == 1 and "HTTP 404" in res.result["message"]
    assert not res.result["fatal"]


def test_truncated_body_is_transient(run_helper, http_server):
    data = app_tar()
    http_server.add("/t.tgz", data, truncate_to=len(data) // 2)
    res = run_helper(job(http_server.base + "/t.tgz"))
    assert res.code == 1, res
    assert not (res.tmp / "tree").exists()


def test_stalled_transfer_is_transient(run_helper, http_server):
    data = app_tar()
    http_server.add("/slow.tgz", data, truncate_to=100, stall_s=6)
    t = time.monotonic()
    res = run_helper(job(http_server.base + "/slow.tgz", httpTimeout=1))
    assert res.code == 1, res
    assert "stalled" in res.result["message"]
    assert time.monotonic() - t < 5


def test_content_length_over_cap_fails_before_body(run_helper, http_server):
    data = app_tar()
    http_server.add("/big.tgz", data, headers={"Content-Length": str(2 * 1024 ** 3)}, truncate_to=0)
    res = run_helper(job(http_server.base + "/big.tgz", maxArtifactBytes=1024 ** 3))
    assert res.code == 2 and "max_artifact_bytes" in res.result["message"]


def test_connection_refused_is_transient(run_helper):
    res = run_helper(job("http://127.0.0.1:1/a.tgz"))
    assert res.code == 1 and not res.result["fatal"]


def test_bad_scheme_and_bad_job(run_helper):
    res = run_helper(job("ftp://127.0.0.1/a.tgz"))
    assert res.code == 2 and "scheme" in res.result["message"]
    res = run_helper({"nourl": 1})
    assert res.code == 2 and "invalid download job" in res.result["message"]


# ---- streaming extraction (tar formats over http/s3 are extracted while downloading) --------------

def test_http_hostile_archive_streamed(run_helper, http_server):
    data = make_tar([{"name": "a/../../evil", "data": b"x"},
                     {"name": "big.bin", "data": os.urandom(4 * 1024 * 1024)}], "w")
    http_server.add("/evil.tar", data)
    res = run_helper(job(http_server.base + "/evil.tar"))
    assert res.code == 2, res
    assert "'..' component" in res.result["message"]
    assert not (res.tmp / "tree").exists()
    # the download stopped as soon as the extractor refused the archive
    assert res.result["bytes"] < len(data)


def test_http_sha_mismatch_streamed(run_helper, http_server):
    data = app_tar()
    http_server.add("/a.tgz", data)
    res = run_helper(job(http_server.base + "/a.tgz", expectedSha256="1" * 64))
    assert res.code == 2 and "sha256 mismatch" in res.result["message"]
    assert not (res.tmp / "tree").exists()


def test_http_zip_keeps_modes(run_helper, http_server):
    data = make_zip([("bin/run", b"#!/bin/sh\n", 0o755), ("conf", b"x", 0o600)])
    http_server.add("/a.zip", data)
    res = run_helper(job(http_server.base + "/a.zip"))
    assert res.code == 0, res
    assert stat.S_IMODE(os.stat(res.tmp / "tree/bin/run").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(res.tmp / "tree/conf").st_mode) == 0o600
    assert "while downloading" not in res.log


def test_http_trailing_bytes_after_archive(run_helper, http_server):
    data = app_tar("w") + b"\0" * (3 * 1024 * 1024)
    http_server.add("/pad.tar", data)
    for extra in ({}, {"expectedSha256": sha256(data)}):  # streamed, then verified first
        res = run_helper(job(http_server.base + "/pad.tar", **extra))
        assert res.code == 0, res
        assert res.result["bytes"] == len(data) and res.result["sha256"] == sha256(data)
        check_app_tree(res.tmp / "tree")


def test_http_signature_verified_before_extraction(run_helper, http_server, keys, tmp_path):
    p = write(tmp_path, "s.tgz", app_tar())
    pem, pub = keys["good"]
    http_server.add("/s.tgz", p.read_bytes())
    res = run_helper(job(http_server.base + "/s.tgz", signature=sign(pem, p), signingKey=pub))
    assert res.code == 0, res
    assert "while downloading" not in res.log
    res = run_helper(job(http_server.base + "/s.tgz", signature=sign(keys["other"][0], p), signingKey=pub))
    assert res.code == 2 and "signature invalid" in res.result["message"]
    assert not (res.tmp / "tree").exists()
