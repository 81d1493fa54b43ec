# SPDX-License-Identifier: Apache-2.0
# The docs tests' throwaway system (guide.py): a fresh one per test, destroyed afterwards.
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guide import new_system  # noqa: E402


@pytest.fixture
def system(tmp_path):
    s = new_system(tmp_path)
    try:
        yield s
    finally:
        s.destroy()
