"""Test-only: pause a dbt process right after it executes a chosen SQL statement, so that a test can
``kill -9`` it exactly there (``test_kill_runs``). Active only where ``COREBRAIN_TEST_PAUSE_SQL`` (a
regex) and ``COREBRAIN_TEST_PAUSE_MARKER`` (a file written when paused) are set and this folder is on
``PYTHONPATH``; it wraps dbt-duckdb's cursor, the statement itself runs unchanged."""

import importlib.abc
import importlib.util
import os
import re
import sys
import time

PATTERN = os.environ.get("COREBRAIN_TEST_PAUSE_SQL")
MARKER = os.environ.get("COREBRAIN_TEST_PAUSE_MARKER")
TARGET = "dbt.adapters.duckdb.environments.local"


def _patch(module) -> None:
    wrapper = module.DuckDBCursorWrapper
    real = wrapper.execute
    matcher = re.compile(PATTERN, re.IGNORECASE | re.DOTALL)

    def execute(self, sql, bindings=None):
        out = real(self, sql, bindings)
        if matcher.search(sql):
            with open(MARKER, "w") as handle:
                handle.write(sql[:500])
            time.sleep(300)
        return out

    wrapper.execute = execute


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


if PATTERN and MARKER:
    sys.meta_path.insert(0, _Finder())
