"""The gate: a blocking asset check on THIS run's challenger, then the alias move.

``passes_gate`` (a blocking check on ``core_model``, pool ``gate``) takes the model version from this
run's own ``core_model`` materialisation (never the ``challenger`` alias), checks its lineage, freezes
the evaluation set from the shards that run trained on, scores every task and segment, runs the
clean-process infra check, applies the rules (``pipelines/gate/rules.yaml``, override: config
``rules_override``) and writes one row to the ``promotions`` audit table. A failed check stops the
run there: ``champion`` never materialises on a rejection. ``champion`` (pool ``gate``) runs only
after a pass and moves the alias (``previous_champion`` keeps the old one).
"""


from pathlib import Path

import dagster as dg

from pipelines.gate import audit
from pipelines.gate.aliases import CHAMPION, promote, version_for_alias
from pipelines.gate.judge import Candidate, judge
from pipelines.gate.lineage import run_chain, upstream_of
from pipelines.gate.rules import RULES_FILE, load_rules
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths

GATE_CHECK = "passes_gate"
GATE_POOL = "gate"
CORE_MODEL = dg.AssetKey("core_model")


class GateConfig(dg.Config):
    rules_override: str = ""  # YAML/JSON mapping merged into pipelines/gate/rules.yaml (its hash is recorded)


def _root(context) -> str:
    return run_chain(context.instance, context.run)[-1]


@dg.asset_check(
    asset=CORE_MODEL, name=GATE_CHECK, blocking=True, pool=GATE_POOL,
    description="The gate's verdict on this run's challenger (rules.yaml): floors, paired non-inferiority "
                "per task and segment, ratchet, clean-process infra check. Blocks the alias move.",
)
def passes_gate(context: dg.AssetCheckExecutionContext, config: GateConfig,
                mlflow_tracking: MlflowTracking) -> dg.AssetCheckResult:
    paths = current_paths().ensure()
    rules = load_rules(config.rules_override)
    upstream = upstream_of(context, CORE_MODEL)
    if upstream is None:
        raise dg.Failure("no core_model materialisation in this run (or any run): materialise core_model first")
    meta = upstream.metadata
    for key in ("model_version", "shards_dir", "shards_manifest_sha256"):
        if not meta.get(key):
            raise dg.Failure(f"core_model's materialisation by {upstream.source} has no `{key}`: it predates "
                             "run-scoped lineage; retrain (materialise core_model) and rerun the gate")
    context.log.info(f"gating version {meta['model_version']} from {upstream.source}, shards {meta['shards_dir']}")
    mlflow_tracking.activate()
    client, name = mlflow_tracking.client(), mlflow_tracking.registered_model_name
    candidate = Candidate(str(meta["model_version"]), Path(str(meta["shards_dir"])),
                          {"dagster_run_id": upstream.run_id,
                           "shards_manifest_sha256": meta["shards_manifest_sha256"],
                           "shards_dir": str(meta["shards_dir"])})
    outcome = judge(client, name, candidate, rules, home=paths.home, lake=paths.lake, run_id=context.run.run_id,
                    root_run_id=_root(context), trigger=audit.trigger_of(context.run.tags),
                    log=context.log.info)
    row = outcome.row
    if not outcome.reused:
        for key, value in {"gate.decision": row["verdict"], "gate.rules_sha256": row["rules_sha256"],
                           "gate.evaluation_sha256": row["evaluation_sha256"],
                           "gate.audit_id": row["decision_id"]}.items():
            client.set_model_version_tag(name, candidate.version, key, value)
        run_id = client.get_model_version(name, candidate.version).run_id
        if run_id and outcome.metrics:
            from mlflow.entities import Metric

            stamp = int(row["decided_at"].timestamp() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in outcome.metrics.items()])
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("pass" if outcome.passed else "fail") + f": version {candidate.version}",
        metadata={
            "decision": row["verdict"],
            "audit_id": row["decision_id"],
            "candidate_version": candidate.version,
            "incumbent_version": row["incumbent_version"] or "none",
            "first_model": bool(row["first_model"]),
            "failed_rules": dg.MetadataValue.md("\n".join(f"- {r}" for r in row["failed_rules"]) or "none"),
            "notes": "\n".join(row["notes"]) or "none",
            "evaluation_sha256": row["evaluation_sha256"] or "none",
            "rules_sha256": row["rules_sha256"],
            "rules_file": str(RULES_FILE),
            "trigger": row["trigger"],
            "decision_table": dg.MetadataValue.md(outcome.table or "(reused an earlier attempt's decision: "
                                                  "see the promotions audit row)"),
        },
    )


@dg.asset(
    deps=[CORE_MODEL], group_name="gate", pool=GATE_POOL, kinds={"mlflow"},
    description="Moves the MLflow alias `champion` to this run's challenger; runs only after `passes_gate` "
                "passed (a rejection leaves the champion, and this asset, untouched).",
)
def champion(context: dg.AssetExecutionContext, mlflow_tracking: MlflowTracking) -> dg.MaterializeResult:
    paths = current_paths().ensure()
    root = _root(context)
    rows = [r for r in audit.read_rows(paths.lake) if r["kind"] == "gate" and r["root_run_id"] == root]
    if not rows or rows[-1]["verdict"] != "pass":
        raise dg.Failure(f"no passing gate decision for run {root} in the promotions table: the alias stays "
                         "where it is (run the gate check first)")
    row = rows[-1]
    mlflow_tracking.activate()
    client, name = mlflow_tracking.client(), mlflow_tracking.registered_model_name
    current = version_for_alias(client, name, CHAMPION)
    now = None if current is None else str(current.version)
    if now not in (row["incumbent_version"], row["candidate_version"]):
        raise dg.Failure(f"the champion moved to v{now} after decision {row['decision_id']} judged v"
                         f"{row['candidate_version']} against v{row['incumbent_version'] or 'none'}: not promoting "
                         "on a stale comparison; rerun the nightly job (or promote by hand, audited)")
    promote(client, name, row["candidate_version"])  # idempotent: a rerun after a crash completes it
    context.log.info(f"champion {row['incumbent_version'] or 'none'} -> {row['candidate_version']} "
                     f"(decision {row['decision_id']})")
    return dg.MaterializeResult(metadata={
        **_pictures(context, paths, row["candidate_version"]),
        "decision": "promoted",
        "audit_id": row["decision_id"],
        "champion_before": row["incumbent_version"] or "none",
        "champion_after": row["candidate_version"],
        "evaluation_sha256": row["evaluation_sha256"],
        "rules_sha256": row["rules_sha256"],
    })


def _pictures(context, paths, version: str) -> dict:
    from pipelines.defs.pictures import champion_picture_metadata

    return champion_picture_metadata(context.log, paths.lake, version)


defs = dg.Definitions(assets=[champion], asset_checks=[passes_gate])
