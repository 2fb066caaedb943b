"""Consumer tables from one champion version (issue 10), through real Dagster, DuckDB, MLflow, torch.

One real nightly run (simulated shop -> ingest -> dbt -> shards -> training -> gate -> consumers)
makes champion v1 and its tables; a second version is that champion's checkpoint registered again
with the same lineage (as in test_planted_challengers), so moving the alias with the real ``promote``
and ``rollback`` jobs must refresh every table to the new version, never a mix. The erasure job must
then remove users from every consumer table and its view.
"""

from __future__ import annotations

import datetime as dt
import os
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


def test_catalogue_anomalies_come_from_the_similar_items_readout_and_beat_chance(world):
    """The evidence is the champion's behaviour neighbours (the similar_items read-out, whose top 10 is
    the first 10 of the anomaly's 20) and the catalogue's own tags; the flagged items find the
    simulator's planted wrong palette tags more often than flagging as many items at random."""
    from pipelines import quality
    from pipelines.consumers.anomalies import labels_of

    table = _table(world, "catalogue_anomalies").to_pandas()
    assert len(table) > 0
    sims = _table(world, "similar_items").to_pandas().sort_values(["item_id", "rank"])
    top = sims.groupby("item_id").similar_item_id.apply(list).to_dict()
    with duckdb.connect(str(world["paths"].warehouse), read_only=True) as con:
        cat = {i: labels_of(t, c) for i, t, c in con.sql(
            "select item_id, tags, category from dim_items where in_catalogue").fetchall()}
    for row in table.itertuples():
        neigh = list(row.neighbour_ids)
        assert neigh[:10] == top[row.item_id], row.item_id
        assert (row.label_kind, row.disagreeing_label) in cat[row.item_id]
        carrying = [n for n in neigh if (row.label_kind, row.disagreeing_label) in cat.get(n, set())]
        assert row.neighbour_share == pytest.approx(len(carrying) / len(neigh))
        assert row.log_likelihood_ratio <= 0
        assert row.suggested_label is None or (row.label_kind, row.suggested_label) not in cat[row.item_id]
    truth = pq.read_table(world["paths"].home / "truth" / "items.parquet").to_pandas()
    universe = set(sims.item_id) & set(cat)
    q = quality.anomaly_quality(set(table.item_id), set(truth.item_id[truth.catalogue_error]), universe)
    print(f"catalogue_anomalies on the test shop: {q}")
    assert q["errors"] > 0 and q["hits"] > 0
    assert q["precision"] > q["chance_precision"] and q["recall"] > q["chance_recall"]


def test_demand_outlook_sums_the_users_propensities_beside_the_warehouses_moving_average(world):
    """moving_average_forecast is the item's purchases in the window's last 7 days as fct_events
    counts them (an independent path: SQL over the warehouse); expected purchases sum to the users'
    expected purchases (the next-item probabilities sum to one per user)."""
    table = _table(world, "demand_outlook").to_pandas()
    assert (table.expected_purchases >= 0).all() and table.expected_purchases.sum() > 0
    assert (table.horizon_days == 7).all()
    at = table.scored_at.iloc[0]
    with duckdb.connect(str(world["paths"].warehouse), read_only=True) as con:
        counts = dict(con.sql("select item_id, count(*) from fct_events where event_type = 'purchase' "
                              "and ts >= ? and ts < ? group by item_id",
                              params=[at.to_pydatetime() - dt.timedelta(days=7), at.to_pydatetime()]).fetchall())
    assert sum(counts.values()) > 0
    got = dict(zip(table.item_id, table.moving_average_forecast, strict=True))
    assert {i: got.get(i, 0) for i in counts} == {i: float(c) for i, c in counts.items()}
    assert np.allclose(table.moving_average * 7, table.moving_average_forecast)


def test_the_audiences_job_ranks_the_likeliest_buyers_of_a_tag_from_the_champion(world):
    champion = str(version_for_alias(world["client"], NAME, CHAMPION).version)
    churn = set(_table(world, "churn_scores").column("user_id").to_pylist())     # the active users
    result = _run(world, "audiences", {"ops": {"audience_users": {"config": {"tag": "Nature", "top_n": 25}}}})
    path = store.consumers_root(world["paths"].lake) / "audiences" / "tag-nature.parquet"
    table = pq.read_table(path).to_pandas()
    assert len(table) == 25 and table["rank"].tolist() == list(range(1, 26))
    assert table.propensity.is_monotonic_decreasing and (table.target == "nature").all()
    assert set(table.model_version) == {champion} and set(table.dagster_run_id) == {result.run_id}
    assert set(table.user_id) <= churn and table.n_target_items.iloc[0] > 1
    assert _view(world, "select count(*), min(model_version) from consumers.audiences") == [(25, champion)]
    mats = _mats(result)
    assert mats["audiences"]["model_version"] == champion and mats["audiences"]["rows"] == 25
    # nothing given, or a tag no item carries: the run fails saying what to give, no table is written
    for config, message in (({}, "exactly one of item_id, category or tag"),
                            ({"tag": "no-such-tag"}, "names no item the champion knows")):
        with dg.DagsterInstance.get() as instance:
            bad = world["defs"].resolve_job_def("audiences").execute_in_process(
                instance=instance, raise_on_error=False, run_config={"ops": {"audience_users": {"config": config}}})
        assert not bad.success
        assert any(message in (e.message or "") or message in str(e.event_specific_data) for e in bad.all_events
                   if e.is_failure), config
    assert [p.name for p in path.parent.iterdir()] == ["tag-nature.parquet"]


def test_a_real_browser_sees_the_metadata_and_the_pictures(world, tmp_path):
    """The Dagster webserver on 127.0.0.1 over this world's home, headless Chromium (DevTools on a pipe):
    the champion decision page and the consumer_pictures page show their metadata, and opening a
    picture's markdown entry renders the PNG."""
    from tests.integration import helpers_browser as hb

    chromium = hb.find_chromium()
    if chromium is None:
        pytest.skip("headless Chromium not found (/usr/bin/chromium): `apt-get install -y chromium "
                    "chromium-driver` (as .ci/run does) to run the browser test")
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    server, base = hb.start_webserver(tmp_path / "webserver.log", env)
    try:
        browser = hb.Browser(chromium, tmp_path / "chromium-profile")
        try:
            # champion: its latest materialisation is the rollback's (manual moves draw the pictures too)
            for page, keys in (("champion", ("champion_after", "gate_chart", "metric_history")),
                               ("consumer_pictures", ("pictures_dir", "item_map", "churn_calibration"))):
                browser.open(f"{base}/assets/{page}")
                browser.wait_for(" && ".join(f"{hb.TEXT}.includes({key!r})" for key in keys)
                                 + f" && {hb.TEXT}.includes('[Show Markdown]')")
                assert browser.js(hb.SHOW_MARKDOWN) >= 2, page
                shown = browser.wait_for(f"{hb.PICTURE}.length > 0 && {hb.PICTURE}")
                assert shown and "x" in shown[0], (page, shown)
                print(f"browser: {page} shows {shown}")
        finally:
            browser.close()
    finally:
        hb.stop_group(server)


def test_erasure_removes_the_users_from_every_consumer_table(world):
    import json

    audience = store.consumers_root(world["paths"].lake) / "audiences" / "tag-nature.parquet"
    users = sorted(pq.read_table(audience).column("user_id").to_pylist())[:3]
    assert all(u in set(_table(world, "churn_scores").column("user_id").to_pylist()) for u in users)
    _run(world, "erase_users", {"user_ids": users, "reason": "consumer erasure test"})
    for name in USER_TABLES:
        left = set(_table(world, name).column("user_id").to_pylist())
        assert not left & set(users), name
        assert _view(world, f"select count(*) from consumers.{name} where user_id in ({', '.join('?' * 3)})"
                     .replace("?", "'{}'").format(*users)) == [(0,)]
    assert not set(pq.read_table(audience).column("user_id").to_pylist()) & set(users)
    assert _view(world, "select count(*) from consumers.audiences where user_id in ({})"
                 .format(", ".join(f"'{u}'" for u in users))) == [(0,)]
    log = [json.loads(line) for line in (world["paths"].lake / "erasure_log.jsonl").read_text().splitlines()]
    assert log[-1]["rows_removed"]["consumers"] >= 3 * 12       # 10 recommendations + 1 churn + 1 audience row each
    assert not list(store.consumers_root(world["paths"].lake).rglob(".*.tmp-*"))
