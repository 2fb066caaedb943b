"""The ``training_shards`` asset: the dbt marts as Parquet shards + manifest for ``models/``.

Unpartitioned, downstream of ``user_sequences`` / ``holdout`` / ``item_vocab`` / ``training_window``
(the window itself is chosen by the ``dbt_marts`` run config). In pool ``duckdb`` because it opens
the warehouse (read-only). The folder it wrote is in the output metadata (``shards_dir``) and is
found again with ``pipelines.shards.latest_shards_dir(paths)``. A blocking check re-reads every file
and compares rows and sha256 with the manifest.
"""

from pathlib import Path

import dagster as dg

from pipelines.dbt_project import dbt_project
from pipelines.ingest.erasure import ERASURE_LOG_NAME, erasure_generation
from pipelines.settings import current_paths
from pipelines.shards import ShardsManifestError, latest_shards_dir, verify_shards, write_shards
from pipelines.warehouse import warehouse_for_target

MART_KEYS = [dg.AssetKey(name) for name in ("user_sequences", "holdout", "item_vocab", "training_window")]
MANIFEST_CHECK = "manifest_matches_files"


class ShardsConfig(dg.Config):
    n_shards: int = 4


@dg.asset(
    deps=MART_KEYS,
    group_name="transform",
    pool="duckdb",
    kinds={"duckdb", "parquet"},
    description="Training shards (train-NNNNN / holdout / items Parquet + manifest.json) of the training window.",
    check_specs=[dg.AssetCheckSpec(MANIFEST_CHECK, asset="training_shards", blocking=True,
                                   description="Every file listed in manifest.json exists with its rows and sha256.")],
)
def training_shards(context: dg.AssetExecutionContext, config: ShardsConfig) -> dg.MaterializeResult:
    paths = current_paths().ensure()
    result = write_shards(warehouse_for_target(duckdb_path=paths.warehouse), paths.shards, n_shards=config.n_shards,
                          dbt_manifest=dbt_project.manifest_path,
                          erasure_generation=erasure_generation(paths.lake / ERASURE_LOG_NAME))
    manifest = result.manifest
    rows = result.rows
    context.log.info(f"shards {result.folder}: {rows} rows, window {manifest['window']}")
    try:
        verify_shards(result.folder)
        passed, problem = True, ""
    except ShardsManifestError as exc:
        passed, problem = False, str(exc)
    return dg.MaterializeResult(
        metadata={
            "shards_dir": dg.MetadataValue.path(str(result.folder)),
            "manifest_sha256": result.manifest_sha256,
            "window_start": manifest["window"]["start"],
            "window_end": manifest["window"]["end"],
            "holdout_cutoff": manifest["window"]["holdout_cutoff"],
            "train_users": rows.get("train", 0),
            "holdout_users": rows.get("holdout", 0),
            "n_items": manifest["vocab"]["n_items"],
            "vocab_version": manifest["vocab"]["version"],
            "dbt_manifest_sha256": manifest["lineage"]["dbt_manifest_sha256"] or "",
            "erasure_generation": manifest["lineage"]["erasure_generation"],
            "n_shards": config.n_shards,
        },
        check_results=[dg.AssetCheckResult(check_name=MANIFEST_CHECK, passed=passed,
                                           metadata={"problem": problem or "none"})],
    )


def shards_dir_from_metadata(metadata: dict) -> Path | None:
    """The ``shards_dir`` of a ``training_shards`` materialization's metadata, if any."""
    value = metadata.get("shards_dir")
    if value is None:
        return None
    return Path(getattr(value, "path", getattr(value, "value", value)))


__all__ = ["latest_shards_dir", "shards_dir_from_metadata", "training_shards", "defs"]

defs = dg.Definitions(assets=[training_shards])
