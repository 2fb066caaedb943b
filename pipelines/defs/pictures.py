"""``consumer_pictures``: the pictures of the consumer batch, drawn after the tables are written (out
of their hot path), saved under ``lake/consumers/pictures/``, logged to MLflow as artifacts of the
champion's run (``pictures/``) and shown on the asset page (markdown with the PNG embedded):

- the item map: the champion's item vectors in 2-D, coloured by catalogue category (or ``colour_by``:
  ``PATH:COLUMN`` of a Parquet file with ``item_id``; the demo passes the sample shop's truth palette);
- the champion's metric history across nights, per task (from the promotions audit table);
- the churn calibration curve on the champion's own frozen holdout;
- the gate's champion-vs-challenger chart of the champion's decision.

The version is the one the tables carry (``similar_items``), so the pictures describe the same model.
"""

import os
from pathlib import Path

import dagster as dg

from pipelines.consumers import picture_data, pictures, store
from pipelines.defs.consumers import GROUP
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths

NAMES = ("item_map", "metric_history", "churn_calibration", "gate_chart")


class PicturesConfig(dg.Config):
    colour_by: str = ""              # PATH:COLUMN of a Parquet file with item_id; empty: dim_items.category


def pictures_dir(lake: Path) -> Path:
    return store.consumers_root(lake) / "pictures"


def gate_pictures(rows, version: str) -> dict[str, bytes]:
    """The metric history and the gate chart of ``version``'s decision (what the champion page shows)."""
    out = {"metric_history": pictures.metric_history(picture_data.history_series(rows))}
    row = picture_data.latest_gate_row(rows, version)
    if row is not None:
        out["gate_chart"] = pictures.gate_chart(row["scores"] or [], title=f"gate of v{version}: challenger vs champion "
                                                f"({'v' + row['incumbent_version'] if row['incumbent_version'] else 'none'}) "
                                                "and baselines")
    return out


def champion_picture_metadata(log, lake: Path, version: str) -> dict:
    """The gate chart and the metric history as metadata of a ``champion`` materialisation (the gate's
    promotion, ``promote``, ``rollback``), drawn after the alias moved; a plotting failure is logged
    and never undoes the move."""
    try:
        from pipelines.gate import audit

        pngs = gate_pictures(audit.read_rows(lake), str(version))
        return {key: dg.MetadataValue.md(pictures.markdown_image(png, f"{key} v{version}")) for key, png in pngs.items()}
    except Exception as exc:  # noqa: BLE001 - pictures are for people; the promotion stands
        log.warning(f"champion pictures not drawn: {exc!r}")
        return {}


@dg.asset(name="consumer_pictures", group_name=GROUP, deps=["similar_items", "churn_scores"], pool="duckdb",
          kinds={"matplotlib", "mlflow"},
          description="Item map, metric history, churn calibration and gate chart of the tables' champion version.")
def consumer_pictures(context: dg.AssetExecutionContext, config: PicturesConfig, mlflow_tracking: MlflowTracking):
    from models import readouts
    from models.evaluate import load_logged_model
    from pipelines.gate import audit

    paths = current_paths().ensure()
    warehouse = Path(os.environ.get("COREBRAIN_WAREHOUSE") or paths.warehouse)
    versions = store.versions_in(store.table_path(paths.lake, "similar_items"))
    if len(versions) != 1:
        raise dg.Failure("similar_items carries no single model version: run the consumers job first")
    version = versions.pop()
    mlflow_tracking.activate()
    client, name = mlflow_tracking.client(), mlflow_tracking.registered_model_name
    reader, _ = load_logged_model(f"models:/{name}/{version}")
    ids, vectors = readouts.item_vectors(reader)
    try:
        labels, what = picture_data.colour_labels(ids, store.read_categories(warehouse), config.colour_by)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    rows = audit.read_rows(paths.lake)
    pngs = {"item_map": pictures.item_map(vectors, labels, f"v{version} item vectors by {what}"),
            **gate_pictures(rows, version)}
    bins = picture_data.calibration_bins(reader, paths.home / "evaluations", picture_data.latest_gate_row(rows, version))
    pngs["churn_calibration"] = pictures.calibration(bins, f"v{version} churn calibration (its gate holdout)")
    folder = pictures_dir(paths.lake)
    folder.mkdir(parents=True, exist_ok=True)
    run_id = client.get_model_version(name, version).run_id
    for key, png in pngs.items():
        path = folder / f"{key}.png"
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(png)
        os.replace(tmp, path)
        if run_id:
            client.log_artifact(run_id, str(path), artifact_path="pictures")
    context.log.info(f"pictures of v{version} in {folder}" + (f", logged to MLflow run {run_id}" if run_id else ""))
    return dg.MaterializeResult(metadata={
        "model_version": version, "pictures_dir": str(folder), "mlflow_run_id": run_id or "none",
        "calibration_bins": len(bins),
        **{key: dg.MetadataValue.md(pictures.markdown_image(pngs[key], f"{key} v{version}")) for key in NAMES if key in pngs}})


defs = dg.Definitions(assets=[consumer_pictures])
