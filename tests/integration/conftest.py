# SPDX-License-Identifier: Apache-2.0
# Fixtures for every integration suite: the test database backend (dbtarget.py). With
# SLIPWAY_TEST_DB_BACKEND=pg an unreachable cluster fails the run at once (never a skip), and the
# PostgreSQL databases a test created under its tmp_path are dropped when it ends (module-scoped
# servers' databases at the end of the session).
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbtarget  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _test_database_backend():
    if dbtarget.is_pg():
        dbtarget.pg_check()
    yield
    dbtarget.drop_all()


@pytest.fixture(autouse=True)
def _drop_test_databases(request):
    tmp = str(request.getfixturevalue("tmp_path")) if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None and dbtarget.is_pg():
        dbtarget.drop_under(tmp)
