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


def test_s3_request_shape(run_helper, http_server):
    """The exact request: path-style on the endpoint, encoded key, SigV4 headers, no redirects."""
    data = app_tar()
    http_server.add("/bkt/dir/a%20b%2Bc.tgz", data)
    res = run_helper({"url": "s3://bkt/dir/a b+c.tgz", "s3Endpoint": http_server.base + "/", "s3Region": "eu-west-1",
                      "s3AccessKeyId": "AKIDTEST", "s3SecretAccessKey": "secret", "s3SessionToken": "tok"})
    assert res.code == 0, res
    path, headers = http_server.hits[-1]
    h = {k.lower(): v for k, v in headers.items()}
    assert path == "/bkt/dir/a%20b%2Bc.tgz"
    assert h["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
    assert "/eu-west-1/s3/aws4_request" in h["authorization"]
    assert "x-amz-content-sha256" in h["authorization"]  # signed header
    assert h["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert h["x-amz-security-token"] == "tok"
    assert "x-amz-date" in h
    # unsigned without credentials
    res = run_helper({"url": "s3://bkt/dir/a b+c.tgz", "s3Endpoint": http_server.base})
    assert res.code == 0, res
    h = {k.lower(): v for k, v in http_server.hits[-1][1].items()}
    assert "authorization" not in h
    # a redirect from S3 is a failed attempt, never followed
    http_server.add("/bkt/moved.tgz", status=301, headers={"Location": "/bkt/dir/a%20b%2Bc.tgz"})
    n = len(http_server.hits)
    res = run_helper({"url": "s3://bkt/moved.tgz", "s3Endpoint": http_server.base})
    assert res.code == 1 and "redirect" in res.result["message"]
    assert len(http_server.hits) == n + 1
