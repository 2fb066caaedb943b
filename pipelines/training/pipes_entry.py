"""The training process that Dagster starts through Pipes (``python -m`` or under ``torchrun``).

It reads its ``TrainConfig`` (JSON) from ``COREBRAIN_TRAIN_CONFIG``, trains with ``models.train``, and reports the
result back to the orchestrating step: a log line per epoch as it ends (progress in the Dagster run's
log), and the final metrics as the materialisation's metadata. Per-epoch metrics go to the MLflow run
named by ``MLFLOW_RUN_ID``; the orchestrator logs and registers the model afterwards. Under torchrun
only rank 0 talks to Dagster and MLflow and writes checkpoints; the other ranks just train.
"""

from __future__ import annotations

import json
import os
import sys

PROGRESS_KEYS = ("train_loss", "val_ndcg@10", "val_search_ndcg@10", "val_churn_auc", "val_selection_score",
                 "epoch_seconds", "tokens_per_s")


def _report(result) -> dict:
    return {
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "n_items": result.n_items,
        **{f"val_{k}": float(v) for k, v in result.val.items() if isinstance(v, int | float)},
        **{f"train_{k}": float(v) for k, v in result.train_stats.items() if isinstance(v, int | float)},
    }


def progress_line(record: dict) -> str:
    """One epoch's progress for the Dagster log (pure)."""
    shown = " ".join(f"{k} {record[k]:.4g}" for k in PROGRESS_KEYS if isinstance(record.get(k), int | float))
    best = " (best so far)" if record.get("improved") else ""
    return (f"epoch {record['epoch'] + 1}/{record.get('epochs', '?')} on {record.get('world_size', 1)} "
            f"process(es): {shown}{best}")


def main() -> int:
    from models.train import train

    config = json.loads(os.environ["COREBRAIN_TRAIN_CONFIG"])
    if int(os.environ.get("RANK", "0")) != 0:
        train(config)
        return 0

    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        world = os.environ.get("WORLD_SIZE", "1")
        pipes.log.info(f"training in pid {os.getpid()} (rank 0 of {world}): {json.dumps(config)}")

        def progress(record: dict) -> None:
            pipes.log.info(progress_line(record))

        result = train(config, progress=progress)
        report = _report(result)
        pipes.log.info(f"trained: {json.dumps(report)}")
        pipes.report_asset_materialization(metadata=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
