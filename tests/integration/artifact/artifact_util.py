# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the artifact tests (archive builders, hashing, S3 upload).
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
import zipfile

import pytest


def snapshot(root, skip):
    """Every path under root (not following links) except those under skip."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath.startswith(skip):
            continue
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not p.startswith(skip):
                out.add(p)
    return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def make_tar(entries, mode="w:gz"):
    """entries: list of (TarInfo-like dict, bytes or None)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode=mode, format=tarfile.PAX_FORMAT) as t:
        for spec in entries:
            ti = tarfile.TarInfo(spec["name"])
            ti.type = spec.get("type", tarfile.REGTYPE)
            ti.mode = spec.get("mode", 0o644)
            ti.linkname = spec.get("link", "")
            data = spec.get("data", b"")
            if ti.type == tarfile.REGTYPE:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return bio.getvalue()


def make_zip(entries):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in entries:
            zi = zipfile.ZipInfo(name)
            zi.create_system = 3
            zi.external_attr = (mode | (0o040000 if name.endswith("/") else 0o100000)) << 16
            z.writestr(zi, data)
    return bio.getvalue()


def app_tar(mode="w:gz"):
    return make_tar([
        {"name": "teletraan/", "type": tarfile.DIRTYPE, "mode": 0o755},
        {"name": "teletraan/RESTARTING", "data": b"#!/bin/sh\necho restart\n", "mode": 0o755},
        {"name": "app/config.yml", "data": b"port: 8080\n", "mode": 0o644},
        {"name": "app/link", "type": tarfile.SYMTYPE, "link": "config.yml"},
    ], mode)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def s3_put(base, path, data=b"", public=False):
    headers = {"Content-Type": "application/octet-stream"}
    if public:
        headers["x-amz-acl"] = "public-read"
    req = urllib.request.Request(base + path, data=data, method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status in (200, 201)

