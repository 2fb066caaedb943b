"""``core_model`` through torchrun (issue 14): the real asset, Dagster Pipes, two DDP processes on gloo.

Two retrains of the same shards, one process and two, at the same global batch and one optimiser step
(64 users, one window each, ``batch_size`` 64, one epoch): the two checkpoints' state_dicts agree within
``DDP_WEIGHT_ATOL``, and the two-process run registers a version with rank 0's metrics in MLflow (once)
and its per-epoch progress in the Dagster run's log.

Tolerance: float32 summation order is the only difference (each rank sums its half of the batch and
gloo adds the halves; the matmuls have other shapes). AdamW's first step moves every weight by about
lr = 2e-3; the two runs' weights agreed to 6.0e-7 (measured on this test's data; 3e-8 to 1.1e-6 for
the configs of benchmarks/ddp_equivalence.py), the bound is 1e-5 (0.5 % of one step). Model dropout is off (each rank draws its own masks); feature dropout, the gap
loss and the batch order are drawn for the global batch and match exactly.
"""

from __future__ import annotations

import dagster as dg
import pytest
import torch

from models.checkpoint import load_checkpoint
from models.model import CoreModel, ModelConfig
from tests.models.synth import write_shards

pytestmark = pytest.mark.production

DDP_WEIGHT_ATOL = 1e-5
ONE_STEP = {"epochs": 1, "batch_size": 64, "d_model": 16, "dropout": 0.0, "threads": 1,
            "warm_start_from_champion": False}


@pytest.fixture(scope="module")
def retrains(tmp_path_factory):
    """A home with one shards folder and two standalone ``core_model`` runs on it: N=1, then N=2."""
    from pipelines.settings import prepare_environment

    mp = pytest.MonkeyPatch()
    mp.setenv("COREBRAIN_HOME", str(tmp_path_factory.mktemp("torchrun") / "corebrain"))
    for var in ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "COREBRAIN_LAKE", "COREBRAIN_WAREHOUSE",
                "COREBRAIN_NPROC_PER_NODE"):
        mp.delenv(var, raising=False)
    try:
        paths = prepare_environment()
        write_shards(paths.shards / "2023-12-30", n_users=64, n_items=40, length=20)
        from pipelines.definitions import defs

        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey("core_model")}, asset_check_selection=set())
        runs = {}
        with dg.DagsterInstance.get() as instance:
            for n in (1, 2):
                result = job.execute_in_process(instance=instance, raise_on_error=False, run_config={
                    "ops": {"core_model": {"config": {**ONE_STEP, "nproc_per_node": n}}}})
                assert result.success, n
                (mat,) = result.asset_materializations_for_node("core_model")
                logs = [e.message for e in instance.all_logs(result.run_id)]
                runs[n] = {"metadata": {k: getattr(v, "value", v) for k, v in mat.metadata.items()}, "logs": logs}
        yield paths, runs
    finally:
        mp.undo()


def test_two_processes_take_the_same_step_as_one(retrains):
    _, runs = retrains
    one, two = (load_checkpoint(f"{runs[n]['metadata']['training_dir']}/checkpoint.pt") for n in (1, 2))
    assert one["step"] == two["step"] == 1
    assert runs[1]["metadata"]["train_world_size"] == 1 and runs[2]["metadata"]["train_world_size"] == 2
    assert one["model"].keys() == two["model"].keys()
    for name, w in one["model"].items():
        diff = (w - two["model"][name]).abs().max().item()
        assert diff <= DDP_WEIGHT_ATOL, (name, diff)
    # and not trivially: the step moved the weights (from the seeded initialisation) by about lr
    torch.manual_seed(one["train_config"]["seed"])
    start = CoreModel(ModelConfig(**one["model_config"])).state_dict()
    moved = max((one["model"][k] - start[k]).abs().max().item() for k in start)
    assert moved > 100 * DDP_WEIGHT_ATOL
    assert runs[1]["metadata"]["train_tokens"] == runs[2]["metadata"]["train_tokens"]
    assert one["history"][0]["train_loss"] == pytest.approx(two["history"][0]["train_loss"], rel=1e-6)
    assert torch.equal(torch.as_tensor(one["item_counts"]), torch.as_tensor(two["item_counts"]))


def test_a_two_process_retrain_registers_a_version_with_rank_zero_metrics(retrains):
    import mlflow

    from pipelines.gate.aliases import CHALLENGER, version_for_alias
    from pipelines.settings import REGISTERED_MODEL_NAME

    paths, runs = retrains
    meta = runs[2]["metadata"]
    client = mlflow.MlflowClient(paths.mlflow_tracking_uri)
    challenger = version_for_alias(client, REGISTERED_MODEL_NAME, CHALLENGER)
    assert str(challenger.version) == meta["model_version"] == "2"
    run = client.get_run(challenger.run_id)
    assert run.data.tags["nproc_per_node"] == "2"
    # rank 0 alone logs: one value per epoch, not one per rank
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [0]
    assert "val_ndcg_at_10" in run.data.metrics
    # progress reached Dagster through Pipes, from rank 0 of 2, as the epoch ended
    logs = runs[2]["logs"]
    assert any("rank 0 of 2" in m for m in logs), logs
    assert any("epoch 1/1 on 2 process(es): train_loss" in m for m in logs), logs
    assert any("torchrun" in m and "--nproc-per-node=2" in m for m in logs)
