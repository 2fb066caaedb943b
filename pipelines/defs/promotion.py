"""Manual alias moves from the launchpad: ``promote`` a given version, ``rollback`` to the previous one.

Both need a reason. Each move is audited: a row in the ``promotions`` audit table (kind ``forced``
or ``rollback``, with who, why and the run), tags on the model version it affects, a log line, and
a materialisation of the ``champion`` asset (so the asset's history in the UI is the full list of
who was champion when, and why). Both run in pool ``gate``: never during a gate's alias move.
"""

import datetime as dt

import dagster as dg

from pipelines.gate import audit
from pipelines.gate.aliases import PREVIOUS_CHAMPION, promote, version_for_alias
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths


class PromoteConfig(dg.Config):
    version: str
    reason: str
    requested_by: str = "unknown"


class RollbackConfig(dg.Config):
    reason: str
    requested_by: str = "unknown"


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise dg.Failure("a reason is required for a manual alias move (it goes into the audit trail)")


def _audit(context, client, name: str, version: str, action: str, reason: str, who: str,
           before: str | None) -> None:
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for key, value in {f"manual.{action}.at": stamp, f"manual.{action}.reason": reason,
                       f"manual.{action}.by": who, f"manual.{action}.dagster_run_id": context.run_id}.items():
        client.set_model_version_tag(name, version, key, value)
    paths = current_paths().ensure()
    row = audit.new_row(kind="forced" if action == "promote" else "rollback",
                        verdict="forced" if action == "promote" else "rollback", run_id=context.run_id,
                        root_run_id=context.run.root_run_id or context.run_id, trigger=audit.trigger_of(context.run.tags),
                        candidate=str(version), incumbent=before, champion_after=str(version), requested_by=who,
                        reason=reason)
    audit.write_row(paths.lake, paths.home, row)
    context.log.info(f"{action}: champion {before or 'none'} -> {version} by {who}: {reason} "
                     f"(audit row {row['decision_id']})")
    context.log_event(dg.AssetMaterialization(
        asset_key="champion",
        description=f"manual {action}",
        metadata={**_pictures(context, paths, str(version)),
                  "decision": f"manual {action}", "reasons": reason, "requested_by": who,
                  "champion_before": before or "none", "champion_after": version,
                  "audit_id": row["decision_id"]},
    ))


def _pictures(context, paths, version: str) -> dict:
    from pipelines.defs.pictures import champion_picture_metadata

    return champion_picture_metadata(context.log, paths.lake, version)


@dg.op(pool="gate")
def promote_version(context: dg.OpExecutionContext, config: PromoteConfig, mlflow_tracking: MlflowTracking):
    _require_reason(config.reason)
    mlflow_tracking.activate()
    client, name = mlflow_tracking.client(), mlflow_tracking.registered_model_name
    client.get_model_version(name, config.version)  # a clear MLflow error if it does not exist
    before = promote(client, name, config.version)
    _audit(context, client, name, config.version, "promote", config.reason, config.requested_by, before)


@dg.op(pool="gate")
def rollback_champion(context: dg.OpExecutionContext, config: RollbackConfig, mlflow_tracking: MlflowTracking):
    _require_reason(config.reason)
    mlflow_tracking.activate()
    client, name = mlflow_tracking.client(), mlflow_tracking.registered_model_name
    previous = version_for_alias(client, name, PREVIOUS_CHAMPION)
    if previous is None:
        raise dg.Failure(f"model {name} has no `{PREVIOUS_CHAMPION}` alias: nothing to roll back to")
    before = promote(client, name, previous.version)  # the demoted one becomes previous_champion
    _audit(context, client, name, str(previous.version), "rollback", config.reason, config.requested_by, before)


@dg.job(name="promote", description="Make a given model version the champion (launchpad: version, reason).")
def promote_job():
    promote_version()


@dg.job(name="rollback", description="Swap `champion` and `previous_champion` (launchpad: reason).")
def rollback_job():
    rollback_champion()


defs = dg.Definitions(jobs=[promote_job, rollback_job])
