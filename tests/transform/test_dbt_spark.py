"""The same dbt project on Spark (dbt-spark, session method, pyspark local mode) and on DuckDB.

One tiny lake, one DuckDB build and one Spark build (+ the dbt unit tests on Spark) for the whole
module, because a Spark start-up costs half a minute on 2 cores. Every model and data test must
pass on Spark and every mart must hold the same rows (order-independent, types normalised) as the
DuckDB build; the shards exported through the Spark warehouse must hold the same rows per file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.shards import write_shards
from pipelines.warehouse import DuckDBWarehouse
from tests.transform.engines import (
    MARTS,
    canonical,
    dbt_build,
    dbt_unit_tests,
    read_marts,
    write_small_lake,
)

pytestmark = pytest.mark.production

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (java on PATH or JAVA_HOME)", allow_module_level=True)


def _summary(build) -> str:
    return next((line for line in reversed(build.stdout.splitlines()) if "Done. PASS=" in line), "")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("spark-vs-duckdb")
    write_small_lake(home / "lake")
    env = {"COREBRAIN_LAKE": str(home / "lake"), "COREBRAIN_WAREHOUSE": str(home / "warehouse.duckdb"),
           "COREBRAIN_SPARK_WAREHOUSE": str(home / "spark-warehouse"),
           "COREBRAIN_SPARK_MASTER": "local[2]", "COREBRAIN_SPARK_SHUFFLE_PARTITIONS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        duck = dbt_build("local", home)
        spark = dbt_build("spark", home)
        spark_units = dbt_unit_tests("spark", home)
        yield {"home": home, "duck": duck, "spark": spark, "spark_units": spark_units}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def spark_warehouse(world):
    from pipelines.warehouse.spark_warehouse import SparkWarehouse

    wh = SparkWarehouse.from_environment()
    try:
        yield wh
    finally:
        wh.session.stop()


def test_every_model_and_dbt_test_passes_on_both_engines(world):
    duck, spark = world["duck"], world["spark"]
    assert duck.returncode == 0, duck.stdout[-3000:]
    assert spark.returncode == 0, spark.stdout[-4000:]
    assert "ERROR=0" in _summary(spark) and "SKIP=0" in _summary(spark)
    # the same nodes ran: models and data tests alike
    assert _summary(spark).split("Done. ")[1] == _summary(duck).split("Done. ")[1]
    units = world["spark_units"]
    assert units.returncode == 0, units.stdout[-4000:]
    assert "PASS=6 " in _summary(units)


def test_every_mart_matches_duckdb(world, spark_warehouse):
    duck = read_marts(DuckDBWarehouse(world["home"] / "warehouse.duckdb"))
    spark = read_marts(spark_warehouse)
    for mart in MARTS:
        duck_types, duck_rows = duck[mart]
        spark_types, spark_rows = spark[mart]
        assert spark_types == duck_types, mart
        assert len(spark_rows) == len(duck_rows), mart
        assert canonical(spark_rows) == canonical(duck_rows), mart
    assert len(duck["fct_events"][1]) > 50 and len(duck["holdout"][1]) > 2   # the lake is not trivial


def test_shards_export_through_spark_matches_duckdb(world, spark_warehouse, tmp_path):
    duck = write_shards(DuckDBWarehouse(world["home"] / "warehouse.duckdb"), tmp_path / "duck", n_shards=3)
    spark = write_shards(spark_warehouse, tmp_path / "spark", n_shards=3)
    assert [f["path"] for f in spark.manifest["files"]] == [f["path"] for f in duck.manifest["files"]]
    assert spark.rows == duck.rows
    for entry in duck.manifest["files"]:
        a = pq.read_table(Path(duck.folder) / entry["path"])
        b = pq.read_table(Path(spark.folder) / entry["path"])
        assert a.column_names == b.column_names, entry["path"]
        # same users in the same shard (md5_number mod n on both), same rows in the same order
        assert b.to_pylist() == a.to_pylist(), entry["path"]
    assert spark.manifest["window"] == duck.manifest["window"]
    assert spark.manifest["vocab"]["n_items"] == duck.manifest["vocab"]["n_items"]
