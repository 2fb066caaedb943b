"""A Postgres database of its own for the production-marked deploy tests (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def database():
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"corebrain_t14c_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"no Postgres on 127.0.0.1:5432 (`make test-production` needs it; .ci/run waits for it): {exc}")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
