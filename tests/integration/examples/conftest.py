# SPDX-License-Identifier: Apache-2.0
# Fixtures for the examples/hello script tests (helpers live in hello_support.py).
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hello_support import Deployment, pack  # noqa: E402


@pytest.fixture(scope="session")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("artifact") / "hello.tar.gz"
    info = pack(out, "--commit", "4be1f0c93dabc")
    return info


@pytest.fixture
def deployments(tmp_path):
    made = []

    def make(**kw):
        d = Deployment(str(tmp_path / f"host{len(made)}"), **kw)
        made.append(d)
        return d
    yield make
    for d in made:
        d.cleanup()
