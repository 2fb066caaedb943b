"""The ``core_model`` asset: retrain the core behaviour model and register it as the challenger.

Training runs as its own process through Dagster Pipes (``pipelines.training.pipes_entry``), so the
same step runs ``python -m`` on a laptop, ``torchrun`` over N processes (``nproc_per_node``), or a
Kubernetes pod running torchrun (``COREBRAIN_TRAINING_LAUNCHER=k8s``, ``pipelines.training.k8s_pod``). This step opens the MLflow
run with the lineage tags (Dagster run, shards manifest, dbt manifest, window, git sha), the training
process logs per-epoch metrics into it, and this step then logs the pyfunc with its signature,
registers a new version and points the alias ``challenger`` at it.
"""


import hashlib
import json
import subprocess
import sys
from pathlib import Path

import dagster as dg

from models.selection import ALL_TASKS
from pipelines.gate.aliases import CHALLENGER, CHAMPION, version_for_alias
from pipelines.resources.mlflow_tracking import MlflowTracking
from pipelines.settings import current_paths
from pipelines.training.k8s_pod import pod_command, run_training_pod, training_launcher
from pipelines.training.launch import nproc_per_node, training_command
from pipelines.training.warm_start import GENERATION_TAG, champion_warm_start

REPO_ROOT = Path(__file__).resolve().parents[2]


class CoreModelConfig(dg.Config):
    """The knobs a data engineer turns from the launchpad; the rest are models.train defaults."""

    epochs: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    max_len: int = 50
    d_model: int = 64
    n_layers: int = 2
    dropout: float = 0.2
    loss: str = "full"
    n_negatives: int = 256
    # what won on ML-1M (docs/model.md) and on the sample shop (benchmarks/tasks.py): the input item table
    # scores next items, and the whole history trains as consecutive windows
    tie_items: bool = True
    crop: str = "windows"
    patience: int = 3
    # dropout from the data's density (models.train.DENSITY_DROPOUT); off: on the sparse shop it moved
    # every task by less than the noise (benchmarks/results/tasks_shop_sparse.json), so ``dropout`` stays
    auto_dropout: bool = False
    gap_loss_weight: float = 0.1      # the time-gap head (churn) beside the next-item loss
    censored_gap_weight: float = 0.0  # right-censored last gaps (models/churn.py); = gap_loss_weight: exact likelihood
    # the epoch is chosen on every task (models/selection.py ALL_TASKS): next item, search, churn
    select_on_all_tasks: bool = True
    # validation ranks as the recommend read-out serves: False lets seen items back (repeat purchase)
    exclude_seen: bool = True
    seed: int = 0
    # small models gain nothing from more threads, and oversubscribed cores cost 5-10x (measured: 3.6k vs
    # 500 tokens/s on a busy 2-core machine); 0 means torch's default (all cores)
    threads: int = 1
    warm_start_from_champion: bool = True
    # training processes (torchrun ranks, DDP on gloo) on this node; 0: $COREBRAIN_NPROC_PER_NODE, else 1.
    # ``batch_size`` is the global batch, so N processes take the same steps as one (models/distributed.py)
    nproc_per_node: int = 0
    max_minutes: float = 0.0  # 0: no wall-time budget


def train_config(config: CoreModelConfig, shards_dir: Path, out_dir: Path, warm_start: Path | None) -> dict:
    """The ``models.train.TrainConfig`` fields for one retrain (pure)."""
    cfg = {
        "shards_dir": str(shards_dir),
        "out_dir": str(out_dir),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "max_len": config.max_len,
        "d_model": config.d_model,
        "n_layers": config.n_layers,
        "dropout": config.dropout,
        "loss": config.loss,
        "n_negatives": config.n_negatives,
        "tie_items": config.tie_items,
        "crop": config.crop,
        "patience": config.patience,
        "auto_dropout": config.auto_dropout,
        "gap_loss_weight": config.gap_loss_weight,
        "censored_gap_weight": config.censored_gap_weight,
        "exclude_seen": config.exclude_seen,
        "select_weights": dict(ALL_TASKS) if config.select_on_all_tasks else None,
        "seed": config.seed,
        "warm_start": str(warm_start) if warm_start else None,
    }
    if config.threads:
        cfg["threads"] = config.threads
    if config.max_minutes:
        cfg["max_minutes"] = config.max_minutes
    return cfg


def churn_readout_tags(out_dir: Path) -> dict[str, str]:
    """How this version serves churn (models/selection.py), as model-version tags: never silent when
    the read-out fell back to the recency baseline."""
    metrics = out_dir / "metrics.json"
    readout = json.loads(metrics.read_text()).get("churn_readout", {}) if metrics.exists() else {}
    return {"churn_readout": str(readout.get("kind", "none")),
            "churn_readout_reason": str(readout.get("reason", "no metrics.json"))[:500]}


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def upstream_shards_dir(context: dg.AssetExecutionContext) -> tuple[Path, str]:
    """(folder, where it came from) of the shards THIS run's ``training_shards`` step wrote (or the run
    it re-executes); only a run without that step (a standalone retrain) takes the latest
    materialisation, and says so. A folder rewritten since (another run) is refused."""
    from pipelines.gate.lineage import upstream_of
    from pipelines.shards import latest_shards_dir

    found = upstream_of(context, dg.AssetKey("training_shards"))
    if found is not None and found.metadata.get("shards_dir"):
        folder = Path(str(found.metadata["shards_dir"]))
        want = found.metadata.get("manifest_sha256")
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            raise dg.Failure(f"the shards {folder} written by {found.source} are gone: rerun training_shards")
        # a standalone retrain takes the folder as it is now (an erasure rewrites shards in place)
        if found.this_run and want and hashlib.sha256(manifest.read_bytes()).hexdigest() != want:
            raise dg.Failure(f"the shards {folder} were rewritten after {found.source} wrote them (another run?): "
                             "rerun this run's training_shards step, then core_model")
        if not found.this_run:
            context.log.warning(f"this run has no training_shards step: training on {folder} from {found.source}")
        return folder, found.source
    from pipelines.gate.lineage import allowed_fallback

    if not allowed_fallback(context, dg.AssetKey("training_shards"), True):
        raise dg.Failure("this run's training_shards step recorded no shards folder: rerun it")
    folder = latest_shards_dir(current_paths())
    if folder is None:
        raise dg.Failure("no training shards found: materialise training_shards first")
    context.log.warning(f"no training_shards materialisation anywhere: training on the newest folder {folder}")
    return folder, "newest shards folder (no materialisation recorded)"


def champion_checkpoint(client, name: str, context: dg.AssetExecutionContext | None = None) -> Path | None:
    """The current champion's checkpoint, to warm-start from (None when there is no champion, or
    when its shards predate the last erasure: its weights have seen erased users). Only a file
    inside this installation's training/ or artifact store (``pipelines.training.warm_start``)."""
    import mlflow.artifacts

    champion = version_for_alias(client, name, CHAMPION)
    if champion is None:
        return None

    def download(dst: Path) -> Path:
        dst.mkdir(parents=True, exist_ok=True)
        return Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{champion.version}", dst_path=str(dst)))

    def log(message: str) -> None:
        if context is not None:
            context.log.warning(message)

    return champion_warm_start(champion, current_paths(), download, log)


@dg.asset(
    deps=["training_shards"],
    group_name="training",
    pool="training",  # one retrain at a time; the gate reads its version from this step's output
    kinds={"pytorch", "mlflow"},
    description="Retrains the core behaviour model on the shards this run wrote; registers the version "
                "(alias `challenger`) and hands it to the gate in this materialisation's metadata.",
)
def core_model(context: dg.AssetExecutionContext, config: CoreModelConfig, mlflow_tracking: MlflowTracking,
               pipes_subprocess_client: dg.PipesSubprocessClient) -> dg.MaterializeResult:
    import mlflow

    from models.pyfunc import log_core_model

    paths = current_paths().ensure()
    shards_dir, shards_source = upstream_shards_dir(context)
    manifest_text = (shards_dir / "manifest.json").read_text()
    manifest = json.loads(manifest_text)
    out_dir = paths.training_runs / context.run.run_id
    out_dir.mkdir(parents=True, exist_ok=True)

    mlflow_tracking.activate()
    client = mlflow_tracking.client()
    name = mlflow_tracking.registered_model_name
    warm_start = champion_checkpoint(client, name, context) if config.warm_start_from_champion else None
    cfg = train_config(config, shards_dir, out_dir, warm_start)

    lineage = {
        "dagster_run_id": context.run.run_id,
        "shards_dir": str(shards_dir),
        "shards_manifest_sha256": hashlib.sha256(manifest_text.encode()).hexdigest(),
        "dbt_manifest_sha256": str(manifest.get("lineage", {}).get("dbt_manifest_sha256") or ""),
        "window_start": manifest["window"]["start"],
        "window_end": manifest["window"]["end"],
        "holdout_cutoff": manifest["window"]["holdout_cutoff"],
        "vocab_version": manifest["vocab"]["version"],
        # the data this model has seen, for the warm-start rule (a manifest from before the rule: -1)
        GENERATION_TAG: str(manifest.get("lineage", {}).get("erasure_generation", -1)),
        "git_sha": git_sha(),
        "warm_start": str(warm_start or "none"),
        "training_dir": str(out_dir),
        "shards_source": shards_source,
    }
    with mlflow.start_run(run_name=f"core_model {manifest['window']['end']} {context.run.run_id[:8]}") as run:
        mlflow.set_tags(lineage)
        mlflow.log_params({k: v for k, v in cfg.items() if k not in ("shards_dir", "out_dir")})
        env = {"COREBRAIN_TRAIN_CONFIG": json.dumps(cfg), "MLFLOW_RUN_ID": run.info.run_id,
               "MLFLOW_TRACKING_URI": mlflow_tracking.resolved_tracking_uri(),
               "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(REPO_ROOT)}
        nproc = nproc_per_node(config.nproc_per_node)
        mlflow.set_tag("nproc_per_node", str(nproc))
        if training_launcher() == "k8s":   # a pod of its own (deploy/k8s/training-pod.yaml)
            context.log.info(f"training in a pod: {' '.join(pod_command(nproc))} (warm start: {warm_start or 'none'})")
            invocation = run_training_pod(context, env, nproc)
        else:
            command = training_command(sys.executable, nproc_per_node=nproc)
            context.log.info(f"training: {' '.join(command)} (warm start: {warm_start or 'none'})")
            invocation = pipes_subprocess_client.run(command=command, context=context, env=env, cwd=str(REPO_ROOT))
        trained = invocation.get_materialize_result().metadata or {}
        version = log_core_model(out_dir, name, tags=lineage)
    readout = churn_readout_tags(out_dir)
    for key, value in {**lineage, **readout}.items():
        client.set_model_version_tag(name, version.version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    context.log.info(f"registered {name} version {version.version} as `{CHALLENGER}`")

    return dg.MaterializeResult(metadata={
        "model_version": str(version.version),
        "model_uri": f"models:/{name}/{version.version}",
        "mlflow_run_id": run.info.run_id,
        **lineage,
        **{key: getattr(value, "value", value) for key, value in trained.items()},
    })


defs = dg.Definitions(assets=[core_model])

