"""Shared fixtures: every test that touches state gets its own ``$COREBRAIN_HOME`` in a tmp dir."""

from __future__ import annotations

import pytest

from pipelines.settings import prepare_environment

ENV_DERIVED_FROM_HOME = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE",
                         "COREBRAIN_DAGSTER_HOME", "COREBRAIN_MLFLOW_TRACKING_URI", "COREBRAIN_SPARK_WAREHOUSE")


@pytest.fixture
def corebrain_home(tmp_path, monkeypatch):
    """A fresh, fully independent installation; the environment is restored afterwards."""
    monkeypatch.setenv("COREBRAIN_HOME", str(tmp_path / "corebrain"))
    for var in ENV_DERIVED_FROM_HOME:
        monkeypatch.delenv(var, raising=False)
    return prepare_environment()
