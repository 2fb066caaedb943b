"""Consumer tables from one champion version (issue 10), through real Dagster, DuckDB, MLflow, torch.

One real nightly run (simulated shop -> ingest -> dbt -> shards -> training -> gate -> consumers)
makes champion v1 and its tables; a second version is that champion's checkpoint registered again
with the same lineage (as in test_planted_challengers), so moving the alias with the real ``promote``
and ``rollback`` jobs must refresh every table to the new version, never a mix. The erasure job must
then remove users from every consumer table and its view.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from pipelines.consumers import store
from pipelines.gate.aliases import CHAMPION, version_for_alias
from pipelines.settings import REGISTERED_MODEL_NAME as NAME

pytestmark = pytest.mark.slow
START, DAYS = dt.date(2026, 6, 1), 12
LINEAGE = ("dagster_run_id", "shards_manifest_sha256", "shards_dir")
USER_TABLES = ("recommendations", "churn_scores")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tests.integration.helpers_runs import nightly_world

    with nightly_world(tmp_path_factory, "consumers", {"epochs": 6}, start=START, days=DAYS) as w:
        yield w


def _mats(result) -> dict[str, dict]:
    return {e.event_specific_data.materialization.asset_key.path[-1]:
            {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
            for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}


def _run(world, job: str, run_config: dict | None = None):
    with dg.DagsterInstance.get() as instance:
        result = world["defs"].resolve_job_def(job).execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config or {})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _table(world, name: str):
    return pq.read_table(store.table_path(world["paths"].lake, name))


def _view(world, sql: str):
    with duckdb.connect(str(world["paths"].warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def _second_version(world, tmp_path: Path) -> str:
    """The champion's checkpoint registered again with the same lineage: a second servable version."""
    import mlflow

    from models.checkpoint import load_checkpoint, save_atomic
    from models.pyfunc import log_core_model

    champion = world["champion"]
    ckpt = load_checkpoint(Path(champion.tags["training_dir"]) / "best.pt")
    out = tmp_path / "v2"
    out.mkdir()
    save_atomic(ckpt, out / "best.pt")
    tags = {k: champion.tags[k] for k in LINEAGE}
    with mlflow.start_run(run_name="second version"):
        version = log_core_model(out, NAME, tags=tags)
    for key, value in tags.items():
        world["client"].set_model_version_tag(NAME, version.version, key, value)
    return str(version.version)


def test_the_nightly_run_builds_every_consumer_from_its_champion(world):
    version, run_id = str(world["champion"].version), world["nightly"].run_id
    mats = _mats(world["nightly"])
    for name in store.TABLES:
        assert mats[name]["model_version"] == version and mats[name]["skipped"] is False, mats[name]
        print(f"consumer {name}: {mats[name]['rows']} rows in {mats[name]['build_seconds']} s")
        table = _table(world, name)
        assert table.num_rows > 0, name
        assert set(table.column("model_version").to_pylist()) == {version}, name
        assert set(table.column("dagster_run_id").to_pylist()) == {run_id}, name
        assert _view(world, f"select count(*) from consumers.{name}") == [(table.num_rows,)]

    recs = _table(world, "recommendations").to_pandas()
    assert recs.groupby("user_id")["rank"].max().max() == 10
    assert (recs.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    sims = _table(world, "similar_items").to_pandas()
    assert (sims.item_id != sims.similar_item_id).all() and sims.groupby("item_id").size().max() == 10
    churn = _table(world, "churn_scores").to_pandas()
    assert churn.churn_probability.between(0, 1).all() and set(churn.risk_band) <= {"low", "medium", "high"}
    assert set(churn.user_id) == set(recs.user_id)           # the same active users
    words = _table(world, "item_words").to_pandas()
    assert words.missing_from_tags.notna().any() and words.groupby("item_id").size().max() == 5
    market = _table(world, "market_map").to_pandas()
    diag = market[market.market == market.other_market]
    assert len(diag) >= 2 and np.allclose(diag.similarity, 1.0)


def test_the_item_words_flag_is_the_readouts_own(world):
    from models.readouts import words_missing_from_tags

    with duckdb.connect(str(world["paths"].warehouse), read_only=True) as con:
        tags = dict(con.sql("select item_id, tags from dim_items where in_catalogue").fetchall())
    words = _table(world, "item_words").to_pandas()
    for item, group in list(words.groupby("item_id"))[:20]:
        assert group.missing_from_tags.tolist() == words_missing_from_tags(group.word.tolist(), tags[item])


def test_a_second_run_with_the_same_champion_is_skipped_and_changes_nothing(world):
    before = {n: store.table_path(world["paths"].lake, n).read_bytes() for n in store.TABLES}
    mats = _mats(_run(world, "consumers"))
    for name in store.TABLES:
        assert mats[name]["skipped"] is True and mats[name]["model_version"] == str(world["champion"].version)
        assert "already built" in mats[name]["reason"]
        assert store.table_path(world["paths"].lake, name).read_bytes() == before[name]


def test_promote_then_rollback_refreshes_every_table_to_the_new_version_never_a_mix(world, tmp_path):
    v1, v2 = str(world["champion"].version), _second_version(world, tmp_path)
    _run(world, "promote", {"ops": {"promote_version": {"config": {"version": v2, "reason": "consumer test"}}}})
    moved = _run(world, "consumers")
    for name in store.TABLES:
        assert store.versions_in(store.table_path(world["paths"].lake, name)) == {v2}, name
        assert set(_table(world, name).column("dagster_run_id").to_pylist()) == {moved.run_id}
        assert _view(world, f"select distinct model_version from consumers.{name}") == [(v2,)]
    _run(world, "rollback", {"ops": {"rollback_champion": {"config": {"reason": "consumer test"}}}})
    back = _mats(_run(world, "consumers"))
    for name in store.TABLES:
        assert back[name]["skipped"] is False
        assert store.versions_in(store.table_path(world["paths"].lake, name)) == {v1}, name


def test_the_champion_sensor_asks_for_one_refresh_per_move(world):
    from pipelines.defs.consumers import champion_sensor

    current = str(version_for_alias(world["client"], NAME, CHAMPION).version)
    with dg.DagsterInstance.get() as instance:
        first = champion_sensor(dg.build_sensor_context(instance=instance, cursor=None))
        same = champion_sensor(dg.build_sensor_context(instance=instance, cursor=current))
    assert isinstance(first, dg.RunRequest) and first.tags["champion_version"] == current
    assert isinstance(same, dg.SkipReason)


def test_erasure_removes_the_users_from_every_consumer_table(world):
    import json

    users = sorted(set(_table(world, "recommendations").column("user_id").to_pylist()))[:3]
    assert all(u in set(_table(world, "churn_scores").column("user_id").to_pylist()) for u in users)
    _run(world, "erase_users", {"user_ids": users, "reason": "consumer erasure test"})
    for name in USER_TABLES:
        left = set(_table(world, name).column("user_id").to_pylist())
        assert not left & set(users), name
        assert _view(world, f"select count(*) from consumers.{name} where user_id in ({', '.join('?' * 3)})"
                     .replace("?", "'{}'").format(*users)) == [(0,)]
    log = [json.loads(line) for line in (world["paths"].lake / "erasure_log.jsonl").read_text().splitlines()]
    assert log[-1]["rows_removed"]["consumers"] >= 3 * 11       # 10 recommendations + 1 churn row each
    assert not list(store.consumers_root(world["paths"].lake).rglob(".*.tmp-*"))
