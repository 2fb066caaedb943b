"""The training process that Dagster starts through Pipes (``python -m`` or under ``torchrun``).

It reads its ``TrainConfig`` (JSON) from ``COREBRAIN_TRAIN_CONFIG``, trains with ``models.train``, and reports the
result back to the orchestrating step. Per-epoch metrics go to the MLflow run named by
``MLFLOW_RUN_ID``; the orchestrator logs and registers the model afterwards. Under torchrun only
rank 0 talks to Dagster; the other ranks just train.
"""

from __future__ import annotations

import json
import os
import sys


def _report(result) -> dict:
    return {
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "n_items": result.n_items,
        **{f"val_{k}": float(v) for k, v in result.val.items() if isinstance(v, int | float)},
        **{f"train_{k}": float(v) for k, v in result.train_stats.items() if isinstance(v, int | float)},
    }


def main() -> int:
    from models.train import train

    config = json.loads(os.environ["COREBRAIN_TRAIN_CONFIG"])
    if int(os.environ.get("RANK", "0")) != 0:
        train(config)
        return 0

    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        pipes.log.info(f"training in pid {os.getpid()}: {json.dumps(config)}")
        result = train(config)
        report = _report(result)
        pipes.log.info(f"trained: {json.dumps(report)}")
        pipes.report_asset_materialization(metadata=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
