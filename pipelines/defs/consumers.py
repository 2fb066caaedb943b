"""The ``consumers`` group: tables downstream teams read, from exactly one champion version per run.

``consumer_tables`` (one multi-asset step, pool ``duckdb``) resolves the alias ``champion`` ONCE to a
version, loads that version, reads the histories from the shards it trained on, and for each selected
table either skips it (it already carries that version: said in the metadata) or builds it through
``models.readouts``, stamps every row with ``model_version`` and the run id, writes it aside and swaps
it in, then (re)creates the ``consumers.<table>`` view in the warehouse. Pool ``duckdb`` because it
writes the warehouse and because the erasure job rewrites shards and consumer tables in that pool: a
batch can never rebuild a table from shards an erasure is about to clean.

``champion_sensor`` starts the ``consumers`` job when the champion's version changes (nightly
promotion, ``promote``, ``rollback``); the nightly job also runs the group after its gate.
"""


import os
import time
from pathlib import Path

import dagster as dg

from pipelines.consumers import store, tables
from pipelines.consumers.batch import NoChampion, active_rows, read_histories, resolve_champion
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths

GROUP = "consumers"
DESCRIPTIONS = {
    "recommendations": "Top-K next items per active user (readouts.recommend).",
    "similar_items": "Top-K behaviour neighbours per item, with cosine scores (readouts.similar_items).",
    "item_words": "The words customers use for each item; missing_from_tags = the merchandiser's to-do list.",
    "churn_scores": "P(no event in the horizon) per active user, with a risk band (readouts.churn).",
    "market_map": "Market-to-market cosine of the mean user vectors (readouts.embed + market_similarity).",
    "catalogue_anomalies": "Catalogue tags / categories an item's behaviour neighbours disagree with, with the evidence.",
    "demand_outlook": "Expected purchases per item in the next days from users' propensities, beside a moving average.",
}
SPECS = [dg.AssetSpec(name, group_name=GROUP, deps=["champion"], kinds={"parquet", "duckdb"},
                      description=DESCRIPTIONS[name]) for name in store.TABLES]


class ConsumersConfig(dg.Config):
    k: int = 10                      # recommendations per user
    active_days: float = 30          # a user is active with an event in this many days before the window end
    exclude_seen: bool = True        # recommendations never repeat an item the user has seen
    similar_k: int = 10
    words_k: int = 5
    churn_horizon_days: float = 14
    high_risk: float = 0.7           # risk_band thresholds on the churn probability
    medium_risk: float = 0.4
    anomaly_k: int = 20              # behaviour neighbours judged per item (catalogue_anomalies)
    anomaly_min_lift: float = 1.5    # a label is judged only where behaviour follows it this much
    anomaly_max_llr: float = 0.0     # flag where log P(neighbours | carries it) - log P(.. | random) <= this
    demand_horizon_days: float = 7


def _preview(table, n: int = 5) -> dg.MetadataValue:
    rows = table.slice(0, n).to_pylist()
    if not rows:
        return dg.MetadataValue.md("(no rows)")
    cols = [c for c in table.column_names if c != "dagster_run_id"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |"
              for r in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _build(name: str, reader, config: ConsumersConfig, hist, active, tags: dict, markets: dict, categories: dict,
           warehouse: Path):
    if name == "recommendations":
        return tables.recommendations(reader, [hist.user_ids[i] for i in active],
                                      [hist.histories[i] for i in active], config.k, config.exclude_seen)
    if name == "similar_items":
        return tables.similar_items(reader, config.similar_k)
    if name == "item_words":
        return tables.item_words(reader, tags, config.words_k)
    if name == "churn_scores":
        return tables.churn_scores(reader, [hist.user_ids[i] for i in active], [hist.histories[i] for i in active],
                                   [hist.last_ts[i] for i in active], hist.scored_at, config.churn_horizon_days,
                                   config.high_risk, config.medium_risk)
    if name == "market_map":
        return tables.market_map(reader, hist.histories, [markets.get(u) for u in hist.user_ids])
    if name == "catalogue_anomalies":
        return tables.catalogue_anomalies(reader, tags, categories, config.anomaly_k, config.anomaly_min_lift,
                                          config.anomaly_max_llr)
    if name == "demand_outlook":
        recent = store.read_purchases(warehouse, hist.scored_at - config.demand_horizon_days * 86_400, hist.scored_at)
        return tables.demand_outlook(reader, hist.histories, hist.scored_at, config.demand_horizon_days, recent)
    raise ValueError(f"unknown consumer table {name!r}")


@dg.multi_asset(specs=SPECS, name="consumer_tables", can_subset=True, pool="duckdb",
                description="Every selected consumer table from ONE champion version (skipped when current).")
def consumer_tables(context: dg.AssetExecutionContext, config: ConsumersConfig, mlflow_tracking: MlflowTracking):
    paths = current_paths().ensure()
    warehouse = Path(os.environ.get("COREBRAIN_WAREHOUSE") or paths.warehouse)
    mlflow_tracking.activate()
    try:
        champ = resolve_champion(mlflow_tracking.client(), mlflow_tracking.registered_model_name)
    except NoChampion as exc:
        raise dg.Failure(str(exc)) from exc
    context.log.info(f"consumer batch: champion v{champ.version} ({champ.model_uri}), shards {champ.shards_dir}")
    names = [n for n in store.TABLES if dg.AssetKey(n) in context.selected_asset_keys]
    todo = [n for n in names if not store.is_current(store.table_path(paths.lake, n), champ.version)]
    for name in names:
        if name not in todo:
            yield dg.MaterializeResult(asset_key=name, metadata={
                "model_version": champ.version, "skipped": True,
                "reason": f"already built from champion v{champ.version}: not rebuilt",
                "path": str(store.table_path(paths.lake, name))})
    if not todo:
        return
    from models.evaluate import load_logged_model

    reader, _ = load_logged_model(champ.model_uri)
    hist = read_histories(champ.shards_dir)
    active = active_rows(hist.last_ts, hist.scored_at, config.active_days)
    tags, markets = store.read_catalogue(warehouse)
    categories = store.read_categories(warehouse)
    context.log.info(f"{len(hist.user_ids)} users in the shards, {len(active)} active in the last "
                     f"{config.active_days} days; {len(tags)} catalogue items, {len(markets)} users with a market")
    for name in todo:
        started = time.perf_counter()
        table = store.stamp(_build(name, reader, config, hist, active, tags, markets, categories, warehouse), champ.version, context.run.run_id)
        path = store.table_path(paths.lake, name)
        store.write_swap(table, path)
        views = store.create_views(warehouse, paths.lake, [name])
        yield dg.MaterializeResult(asset_key=name, metadata={
            "model_version": champ.version, "skipped": False, "dagster_run_id": context.run.run_id,
            "rows": table.num_rows, "path": str(path), "view": ", ".join(views) or "none",
            "build_seconds": round(time.perf_counter() - started, 3), "preview": _preview(table)})


consumers_job = dg.define_asset_job("consumers", selection=dg.AssetSelection.groups(GROUP)
                                    - dg.AssetSelection.assets("audiences"),
                                    description="Rebuild the consumer tables from the current champion.")


def _champion_version() -> str | None:
    tracking = MlflowTracking()
    tracking.activate()
    from pipelines.gate.aliases import CHAMPION, version_for_alias

    mv = version_for_alias(tracking.client(), tracking.registered_model_name, CHAMPION)
    return None if mv is None else str(mv.version)


@dg.sensor(name="champion_sensor", job=consumers_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Refreshes the consumer tables when the champion's version changes.")
def champion_sensor(context: dg.SensorEvaluationContext):
    version = _champion_version()
    if version is None or version == context.cursor:
        return dg.SkipReason(f"champion is {'unset' if version is None else 'v' + version}: nothing to refresh")
    previous = context.cursor or "none"
    context.update_cursor(version)
    # no run_key: a rollback to an earlier version must refresh again; the cursor asks once per move
    return dg.RunRequest(tags={"champion_version": version, "champion_before": previous})


defs = dg.Definitions(assets=[consumer_tables], jobs=[consumers_job], sensors=[champion_sensor])
