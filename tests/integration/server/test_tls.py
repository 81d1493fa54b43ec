# SPDX-License-Identifier: Apache-2.0
# slipway-server over HTTPS (tls_cert + tls_key through libmicrohttpd's GnuTLS backend).
import os
import shutil
import subprocess
import sys

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_https_only(server_factory, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    s = server_factory(["--set", "tls_cert=%s" % cert, "tls_key=%s" % key])
    s.start()
    url = s.url.replace("http://", "https://")
    r = requests.get(url + "/healthz", verify=str(cert), timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = requests.get(url + "/v1/envs", verify=str(cert), timeout=10, headers=s.headers())
    assert r.status_code == 200 and r.json() == []
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(s.url + "/healthz", timeout=5)
