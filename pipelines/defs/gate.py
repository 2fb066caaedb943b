"""The ``champion`` asset: the gate between a retrain and every downstream consumer.

Champion, challenger and popularity are scored on the same frozen, time-based holdout (the current
shards' ``holdout.parquet``) through the consumers' own interface (the pyfunc), the challenger is
loaded and asked for recommendations in a clean process, and the pure rule in
``pipelines.gate.decision`` decides. The alias ``champion`` moves only on a pass; the reasons are
written as tags on the challenger's model version and as this materialisation's metadata.
"""


from pathlib import Path

import dagster as dg

from pipelines.gate.aliases import CHALLENGER, CHAMPION, promote, version_for_alias
from pipelines.gate.decision import GatePolicy, decide
from pipelines.gate.scoring import popularity_rankings, topk_metrics
from pipelines.gate.smoke import run_smoke_check
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths

K = 10
SMOKE_HISTORIES = 5


class GateConfig(dg.Config):
    non_inferiority_margin: float = 0.02
    min_holdout_users: int = 20


def holdout_histories(shards_dir: Path) -> tuple[list[list[str]], list[str], list[list[str]]]:
    """(holdout histories, their targets, training histories) as item id strings."""
    import pyarrow.parquet as pq

    names = dict(zip(*pq.read_table(shards_dir / "items.parquet", columns=["item_idx", "item_id"])
                     .to_pydict().values(), strict=True))

    def as_ids(rows) -> list[list[str]]:
        return [[names[i] for i in row if i and i in names] for row in rows]

    holdout = pq.read_table(shards_dir / "holdout.parquet", columns=["item_idx", "target_item_id"]).to_pydict()
    train_rows = []
    for shard in sorted(shards_dir.glob("train-*.parquet")):
        train_rows.extend(pq.read_table(shard, columns=["item_idx"]).column("item_idx").to_pylist())
    return as_ids(holdout["item_idx"]), list(holdout["target_item_id"]), as_ids(train_rows)


def rankings_of(model_uri: str, histories: list[list[str]]) -> list[list[str]]:
    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(model_uri)
    out = model.predict(pd.DataFrame({"history": histories}), params={"k": K})
    return [list(items) for items in out["items"]]


@dg.asset(
    deps=["core_model"],
    group_name="gate",
    description="Moves the MLflow alias `champion` to the challenger only if it passes every gate.",
)
def champion(context: dg.AssetExecutionContext, config: GateConfig, mlflow_tracking: MlflowTracking):
    from pipelines.shards import latest_shards_dir

    mlflow_tracking.activate()
    client = mlflow_tracking.client()
    name = mlflow_tracking.registered_model_name
    shards_dir = latest_shards_dir(current_paths())
    if shards_dir is None:
        raise dg.Failure("no training shards found: materialise training_shards first")

    challenger = version_for_alias(client, name, CHALLENGER)
    if challenger is None:
        raise dg.Failure(f"no `{CHALLENGER}` alias on model {name}: materialise core_model first")
    current = version_for_alias(client, name, CHAMPION)

    histories, targets, train_histories = holdout_histories(shards_dir)
    context.log.info(f"holdout: {len(targets)} users from {shards_dir}")
    scores = {
        "popularity": topk_metrics(targets, popularity_rankings(train_histories, histories, K), K),
        "challenger": topk_metrics(targets, rankings_of(f"models:/{name}/{challenger.version}", histories), K),
    }
    if current is not None and current.version != challenger.version:
        scores["champion"] = topk_metrics(targets, rankings_of(f"models:/{name}/{current.version}", histories), K)
    elif current is not None:
        scores["champion"] = scores["challenger"]

    smoke_ok, smoke_detail = run_smoke_check(f"models:/{name}/{challenger.version}",
                                             histories[:SMOKE_HISTORIES] or [[]], k=K)
    decision = decide(
        scores["challenger"], scores["popularity"], scores.get("champion"),
        holdout_users=len(targets), smoke_ok=smoke_ok, smoke_detail=smoke_detail,
        policy=GatePolicy(non_inferiority_margin=config.non_inferiority_margin,
                          min_holdout_users=config.min_holdout_users),
    )
    before = None if current is None else str(current.version)
    after = before
    if decision.promote:
        promote(client, name, challenger.version)
        after = str(challenger.version)

    verdict = "promoted" if decision.promote else "rejected"
    audit = {"gate.decision": verdict, "gate.reasons": "\n".join(decision.reasons),
             "gate.dagster_run_id": context.run.run_id, "gate.champion_before": before or "none",
             "gate.holdout_users": str(len(targets)), "gate.shards": str(shards_dir)}
    for who, metrics in scores.items():
        for metric, value in metrics.items():
            audit[f"gate.{who}.{metric.replace('@', '_at_')}"] = f"{value:.4f}"
    for key, value in audit.items():
        client.set_model_version_tag(name, challenger.version, key, value)
    context.log.info(decision.summary)

    rows = [f"| {who} | {m[f'hr@{K}']:.4f} | {m[f'ndcg@{K}']:.4f} |" for who, m in scores.items()]
    table = "| model | HR@10 | NDCG@10 |\n|---|---|---|\n" + "\n".join(rows)
    return dg.MaterializeResult(metadata={
        "decision": verdict,
        "reasons": "\n".join(decision.reasons),
        "challenger_version": str(challenger.version),
        "champion_before": before or "none",
        "champion_after": after or "none",
        "holdout_users": len(targets),
        "scores": dg.MetadataValue.md(table),
        **{f"{who}_{metric.replace('@', '_at_')}": value for who, m in scores.items() for metric, value in m.items()},
    })


defs = dg.Definitions(assets=[champion])
