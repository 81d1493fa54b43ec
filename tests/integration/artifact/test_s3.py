# SPDX-License-Identifier: Apache-2.0
# s3:// artifacts against a local moto_server (AGENT.md §8.3): signed and unsigned, dotted bucket,
# percent-encoded keys, bucket allow-list. Runs (never skips) under CI=true.
import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.dirname(__file__))
from artifact_util import app_tar, s3_put, sha256


def s3_job(moto, url, **kw):
    j = {"url": url, "s3Endpoint": moto, "s3Region": "us-east-1", "httpTimeout": 5}
    j.update(kw)
    return j


def test_s3_unsigned_and_signed(run_helper, moto):
    data = app_tar()
    s3_put(moto, "/plain-bucket")
    s3_put(moto, "/plain-bucket/builds/app%20v1%2B2.tgz", data, public=True)
    url = "s3://plain-bucket/builds/app v1+2.tgz"
    res = run_helper(s3_job(moto, url, expectedSha256=sha256(data)))
    assert res.code == 0, res
    assert (res.tmp / "tree/app/config.yml").read_bytes() == b"port: 8080\n"
    res = run_helper(s3_job(moto, url, expectedSha256=sha256(data), s3AccessKeyId="AKIDTEST",
                            s3SecretAccessKey="secret", s3SessionToken="tok"))
    assert res.code == 0, res
    assert "secret" not in res.log


def test_s3_dotted_bucket(run_helper, moto):
    data = app_tar("w:xz")
    s3_put(moto, "/my.dotted.bucket")
    s3_put(moto, "/my.dotted.bucket/a.txz", data)
    res = run_helper(s3_job(moto, "s3://my.dotted.bucket/a.txz", s3AccessKeyId="AKIDTEST",
                            s3SecretAccessKey="secret"))
    assert res.code == 0, res
    assert res.result["sha256"] == sha256(data)
    # the object is private: without credentials the request is anonymous and refused (retryable)
    res = run_helper(s3_job(moto, "s3://my.dotted.bucket/a.txz"))
    assert res.code == 1 and "HTTP 403" in res.result["message"], res


def test_s3_missing_key_is_transient(run_helper, moto):
    s3_put(moto, "/empty-bucket")
    res = run_helper(s3_job(moto, "s3://empty-bucket/nope.tgz"))
    assert res.code == 1, res


def test_s3_bucket_allow_list(run_helper, moto):
    res = run_helper(s3_job(moto, "s3://plain-bucket/x.tgz", allowS3Buckets="other, more"))
    assert res.code == 2 and "download_allow_s3_buckets" in res.result["message"]
    res = run_helper(s3_job(moto, "s3://bad$bucket/x.tgz"))
    assert res.code == 2 and "invalid s3 URL" in res.result["message"]
