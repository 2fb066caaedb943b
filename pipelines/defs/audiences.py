"""The ``audiences`` job: for an item, category or tag given on the launchpad, the users most likely
to buy it, from ONE champion version (resolved once, as every consumer batch), stamped with
``model_version`` and the run id, swapped in, and readable as the view ``consumers.audiences``.

Its own job, not part of ``nightly`` or ``consumers``: it needs a target. Propensity is
``pipelines.consumers.demand.audience`` (P(active in the horizon) x purchase rate x P(next item in
the target), all from ``models.readouts``). Pool ``duckdb``: it writes the view.
"""


import os
import time
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa

from pipelines.consumers import audiences as aud
from pipelines.consumers import demand, store
from pipelines.consumers.batch import NoChampion, active_rows, read_histories, resolve_champion
from pipelines.defs.consumers import GROUP, _preview
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths

VIEW = f"{store.VIEW_SCHEMA}.audiences"


class AudienceConfig(dg.Config):
    item_id: str | None = None       # exactly one of item_id, category, tag
    category: str | None = None
    tag: str | None = None
    top_n: int = 100
    horizon_days: float = 7
    active_days: float = 30          # only users with an event in this many days before the window end


def create_audiences_view(warehouse: Path, lake: Path) -> None:
    """``consumers.audiences`` over every target's file (pool ``duckdb``)."""
    folder = store.consumers_root(lake) / "audiences"
    if not any(folder.glob("*.parquet")):
        return
    glob = str((folder / "*.parquet").resolve()).replace("'", "''")
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {store.VIEW_SCHEMA}")
        con.execute(f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * FROM read_parquet('{glob}', union_by_name = true)")


# the op is `audience_users` (launchpad: ops.audience_users.config): a repository may not hold an op
# and a job both named `audiences`
@dg.multi_asset(specs=[dg.AssetSpec("audiences", group_name=GROUP, deps=["champion"], kinds={"parquet", "duckdb"},
                                    description="The users most likely to buy a given item / category / tag "
                                                "(launchpad), from the champion.")],
                name="audience_users", pool="duckdb")
def audiences(context: dg.AssetExecutionContext, config: AudienceConfig, mlflow_tracking: MlflowTracking):
    paths = current_paths().ensure()
    warehouse = Path(os.environ.get("COREBRAIN_WAREHOUSE") or paths.warehouse)
    try:
        kind, value = aud.target_of(config.item_id, config.category, config.tag)
    except aud.BadTarget as exc:
        raise dg.Failure(str(exc)) from exc
    mlflow_tracking.activate()
    try:
        champ = resolve_champion(mlflow_tracking.client(), mlflow_tracking.registered_model_name)
    except NoChampion as exc:
        raise dg.Failure(str(exc)) from exc
    from models.evaluate import load_logged_model

    started = time.perf_counter()
    reader, _ = load_logged_model(champ.model_uri)
    tags, _ = store.read_catalogue(warehouse)
    try:
        items = aud.target_items(kind, value, tags, store.read_categories(warehouse), set(reader.index))
    except aud.BadTarget as exc:
        raise dg.Failure(str(exc)) from exc
    hist = read_histories(champ.shards_dir)
    active = active_rows(hist.last_ts, hist.scored_at, config.active_days)
    table = demand.audience(reader, [hist.user_ids[i] for i in active], [hist.histories[i] for i in active],
                            items, hist.scored_at, config.top_n, config.horizon_days)
    n = table.num_rows
    table = pa.table({"target_kind": pa.array([kind] * n, pa.string()), "target": pa.array([value] * n, pa.string()),
                      "n_target_items": pa.array([len(items)] * n, pa.int32()),
                      **{c: table.column(c) for c in table.column_names}})
    table = store.stamp(table, champ.version, context.run.run_id)
    path = aud.audience_path(paths.lake, kind, value)
    store.write_swap(table, path)
    create_audiences_view(warehouse, paths.lake)
    context.log.info(f"audience for {kind} {value!r} ({len(items)} items): {n} users from champion v{champ.version}")
    return dg.MaterializeResult(asset_key="audiences", metadata={
        "model_version": champ.version, "dagster_run_id": context.run.run_id, "target": f"{kind} {value}",
        "target_items": len(items), "rows": n, "path": str(path), "view": VIEW,
        "build_seconds": round(time.perf_counter() - started, 3), "preview": _preview(table)})


audiences_job = dg.define_asset_job("audiences", selection=dg.AssetSelection.assets("audiences"),
                                    description="The users most likely to buy an item / category / tag "
                                                "(give one in the launchpad config).")

defs = dg.Definitions(assets=[audiences], jobs=[audiences_job])
