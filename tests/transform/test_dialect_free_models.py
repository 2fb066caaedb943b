"""No engine-specific SQL outside the dispatch macros (cheap: reads the files, runs nothing).

DuckDB-only constructs the project once used in its models; each now lives in a ``duckdb__`` macro
of dbt_project/macros/ with a ``spark__`` twin (README, dbt on Spark).
"""

import re

import pytest

from pipelines.dbt_project import DBT_PROJECT_DIR

DUCKDB_ONLY = {
    "read_parquet(": r"read_parquet\s*\(",
    "glob(": r"\bglob\s*\(",
    "list(... order by)": r"\blist\s*\(",
    "epoch_ms": r"\bepoch_ms\b",
    "union all by name": r"union\s+all\s+by\s+name",
    ":: casts": r"::",
    "double-quoted identifiers": r'(?<![\w\'])"[A-Za-z_]+"',
    "integer[] types": r"\b\w+\[\]",
    "regexp_replace flags": r"regexp_replace\s*\(",
}


def _sql_files():
    return sorted((DBT_PROJECT_DIR / "models").rglob("*.sql"))


def _without_comments(text: str) -> str:
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    return "\n".join(line.split("--")[0] for line in text.splitlines())


@pytest.mark.parametrize("path", _sql_files(), ids=lambda p: p.name)
def test_model_has_no_duckdb_only_sql(path):
    text = _without_comments(path.read_text())
    found = [name for name, pattern in DUCKDB_ONLY.items() if re.search(pattern, text, flags=re.I)]
    assert not found, f"{path.name}: {found} belong in a dispatch macro (dbt_project/macros/dialect.sql)"


def test_every_dispatched_macro_has_duckdb_and_spark_implementations():
    macros = "\n".join(p.read_text() for p in (DBT_PROJECT_DIR / "macros").glob("*.sql"))
    dispatched = set(re.findall(r"adapter\.dispatch\('(\w+)', 'corebrain'\)", macros))
    assert {"lake_read", "ordered_list", "epoch_seconds", "col_type", "partition_config"} <= dispatched
    for name in dispatched:
        assert re.search(rf"macro (duckdb|default)__{name}\(", macros), name
        assert re.search(rf"macro spark__{name}\(", macros), name


def test_yml_fixtures_and_contracts_have_no_duckdb_only_sql():
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        text = path.read_text()
        assert "::" not in text, f"{path.name}: a DuckDB cast in a unit-test fixture"
        assert "format: sql" not in text, f"{path.name}: SQL fixtures are dialect-specific: use dict rows"
