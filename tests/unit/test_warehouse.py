"""The warehouse interface's pure parts and the DuckDB implementation (tiny DuckDB files)."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.warehouse import DuckDBWarehouse, MissingTable, Warehouse, warehouse_for_target
from pipelines.warehouse.spark_warehouse import md5_mod_expr, spark_conf


def _warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select * from (values (' u1 ', 1), ('u2', 2), (null, 3)) v(user_id, x)")
        con.execute("create table q as select * from (values (null, '{\"user_id\": \"u2\"}'), (null, 'x')) v(user_id, raw)")
        con.execute("create view tv as select * from t")
    return DuckDBWarehouse(path)


def test_unknown_target_is_a_clear_error():
    with pytest.raises(ValueError, match="expected 'local'"):
        warehouse_for_target("bigquery")


def test_local_target_is_the_duckdb_file(tmp_path, monkeypatch):
    monkeypatch.delenv("COREBRAIN_TARGET", raising=False)
    wh = warehouse_for_target(duckdb_path=tmp_path / "x.duckdb")
    assert isinstance(wh, DuckDBWarehouse) and isinstance(wh, Warehouse)
    assert not wh.exists() and wh.tables() == set()


def test_duckdb_reads_copies_and_erases(tmp_path):
    wh = _warehouse(tmp_path)
    assert {"t", "q", "tv"} <= wh.tables()
    assert wh.read_arrow("select x from t order by x").column("x").to_pylist() == [1, 2, 3]
    with pytest.raises(MissingTable):
        wh.read_arrow("select * from nope")
    out = tmp_path / "t.parquet"
    wh.copy_to_parquet("select x from t order by x desc", out)
    assert pq.read_table(out).column("x").to_pylist() == [3, 2, 1]

    def owns(table):
        return pa.array(['"u2"' in (r or "") for r in table.column("raw").to_pylist()])

    counts = wh.erase_users(["u1", "u2"], owns)
    assert counts == {"main.q": 1, "main.t": 2}      # trimmed ids; the view follows its table
    assert wh.read_arrow("select x from tv").column("x").to_pylist() == [3]


def test_spark_shard_expr_is_duckdb_md5_number_mod_n():
    # the generated Spark SQL, run in DuckDB with Spark's conv() and pmod() as DuckDB macros
    con = duckdb.connect()
    con.execute("create macro pmod(a, b) as ((a % b) + b) % b")
    con.execute("create macro conv(s, f, t) as cast(cast(('0x' || s) as bigint) as varchar)")
    con.execute("create table u as select * from (values ('u1'), ('alice'), ('ünï'), ('42'), ('')) v(user_id)")
    for n in (1, 3, 7, 1024):
        spark, duck = con.sql(f"select list({md5_mod_expr('user_id', n)} order by user_id), "
                              f"list(cast(md5_number(user_id) % {n} as bigint) order by user_id) from u").fetchall()[0]
        assert spark == duck, n


def test_spark_conf_follows_the_profile_variables(tmp_path):
    conf = spark_conf({"COREBRAIN_SPARK_WAREHOUSE": str(tmp_path), "COREBRAIN_SPARK_MASTER": "local[1]"})
    assert conf["spark.master"] == "local[1]"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path)
    assert str(tmp_path) in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert conf["spark.sql.session.timeZone"] == "UTC"
