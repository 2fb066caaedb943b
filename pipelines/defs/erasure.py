"""The ``erase_users`` job: remove users from landing, lake, quarantine, shards and the warehouse.

Launchpad config (top level, mapped onto the ops)::

    user_ids: ["u123", "u456"]
    reason: "GDPR request #42"
    requested_by: "alice"        # optional; defaults to the run's dagster/user tag or $USER

Steps, each in the pool that serialises it with whatever could write the same data back:

1. landing, lake, quarantine and other files, in pool ``ingest`` (as ``raw_events``), so an ingest
   that read a landing file before the erasure cannot write its rows to the lake after it;
2. the warehouse, then the training shards and the consumer tables, in pool ``duckdb`` (as dbt,
   ``training_shards`` and ``consumer_tables``), so shards are never rebuilt from a warehouse that
   still holds the users, nor consumer tables from shards that do;
3. one line appended to ``lake/erasure_log.jsonl`` (when, who, why, sha256 of each id, rows removed
   per place). Rerunning it is harmless (removes 0 rows). The model holds no per-user parameters, so the
next retrain on the erased shards has never seen them.
"""

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.ingest.erasure import (
    ALL_PLACES,
    ERASURE_LOG_NAME,
    REPORT_KEYS,
    append_erasure_log,
    erase_from_files,
    erase_from_warehouse,
    erasure_generation,
    hashed_ids,
    stamp_erasure_generation,
)
from pipelines.settings import current_paths
from pipelines.warehouse import warehouse_for_target

ERASURE_LOG = ERASURE_LOG_NAME


class ErasureRequest(dg.Config):
    user_ids: list[str]
    reason: str
    requested_by: str = ""


@dg.op(pool="ingest", description="Rewrite landing, lake, quarantine and other files without the users.")
def erase_user_files(context: dg.OpExecutionContext, config: ErasureRequest) -> dict:
    ids = sorted({u.strip() for u in config.user_ids if u.strip()})
    if not ids:
        raise dg.Failure("erase_users needs at least one non-empty user id")
    if not config.reason.strip():
        raise dg.Failure("erase_users needs a reason (it is written to the erasure log)")
    counts = erase_from_files(current_paths(), ids, places=("landing", "lake", "quarantine", "other"))
    removed = {place: sum(files.values()) for place, files in counts.items() if place in ALL_PLACES}
    context.log.info(f"erased {len(ids)} users from files: {removed}")
    requested_by = (config.requested_by or context.run.tags.get("dagster/user")
                    or os.environ.get("USER") or getpass.getuser())
    return {"user_ids": ids, "reason": config.reason, "requested_by": requested_by, "files": counts,
            "removed": removed}


@dg.op(pool="duckdb", description="DELETE the users from every warehouse table with a user_id column, "
                                  "then rewrite the training shards (and manifests) and consumer tables.")
def erase_user_warehouse(context: dg.OpExecutionContext, request: dict) -> dict:
    warehouse = Path(os.environ.get("COREBRAIN_WAREHOUSE") or current_paths().warehouse)
    tables = erase_from_warehouse(warehouse_for_target(duckdb_path=warehouse), request["user_ids"])
    context.log.info(f"erased from warehouse tables: {tables}")
    paths = current_paths()
    shards = erase_from_files(paths, request["user_ids"], places=("shards", "consumers"))
    context.log.info(f"erased from shards: {shards}")
    # every shards folder is now clean of these users: a model trained on it may seed a warm start
    generation = erasure_generation(paths.lake / ERASURE_LOG) + 1
    stamped = stamp_erasure_generation(paths.shards, generation)
    context.log.info(f"shards manifests stamped with erasure generation {generation}: {len(stamped)}")
    files = {**request["files"], "shards": shards["shards"], "consumers": shards["consumers"],
             "manifests": {**request["files"].get("manifests", {}), **shards["manifests"]},
             **{key: {**request["files"].get(key, {}), **shards[key]} for key in REPORT_KEYS}}
    removed = {**request["removed"], "shards": sum(shards["shards"].values()),
               "consumers": sum(shards["consumers"].values()), "warehouse": sum(tables.values())}
    return {**request, "files": files, "warehouse": tables, "removed": removed}


@dg.op(description="Append who, when, why and how many rows per place to lake/erasure_log.jsonl.")
def log_erasure(context: dg.OpExecutionContext, result: dict) -> None:
    entry = {
        "erased_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "requested_by": result["requested_by"], "reason": result["reason"],
        "n_users": len(result["user_ids"]), "user_id_sha256": hashed_ids(result["user_ids"]),
        "rows_removed": result["removed"],
        # of those, lines with no readable fields removed because they contain an id (per file)
        "unparsed_lines_removed": result["files"].get("unparsed", {}),
        # leftovers of killed writers, deleted; files that could not be read and so were NOT erased
        "temp_files_deleted": sorted(result["files"].get("temp_files", {})),
        "unreadable_files": sorted(result["files"].get("unreadable", {})),
        "files": {place: files for place, files in result["files"].items()
                  if files and place not in REPORT_KEYS},
        "warehouse_tables": result["warehouse"], "dagster_run_id": context.run_id,
    }
    path = current_paths().lake / ERASURE_LOG
    append_erasure_log(path, entry)
    context.log.info(f"erasure logged to {path}: {result['removed']}")
    if entry["unreadable_files"]:
        context.log.warning(f"{len(entry['unreadable_files'])} file(s) could not be read, so were not erased: "
                            f"{entry['unreadable_files']}; repair or delete them, then rerun erase_users")


@dg.config_mapping(config_schema=ErasureRequest.to_config_schema())
def _erasure_config(values: dict) -> dict:
    return {"ops": {"erase_user_files": {"config": values}}}


# In process, outputs in memory: the ids passed between steps are never pickled to Dagster's storage.
@dg.job(config=_erasure_config, executor_def=dg.in_process_executor,
        resource_defs={"io_manager": dg.mem_io_manager},
        description="Erase users everywhere (launchpad: user_ids, reason).")
def erase_users():
    log_erasure(erase_user_warehouse(erase_user_files()))


defs = dg.Definitions(jobs=[erase_users])
