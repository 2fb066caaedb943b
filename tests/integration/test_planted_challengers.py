"""Planted bad challengers are never promoted, each for its own stated reason (issue 11, tests).

One real nightly run (Dagster, dbt, DuckDB, torch, MLflow) makes a champion; each planted challenger
is that champion's checkpoint after surgery, logged and registered as a new version with the same
lineage, then judged by the gate (``pipelines.gate.judge``: the same code the ``passes_gate`` check
runs) against the real champion on the real frozen evaluation set, each in its own audit history.
The shuffled-histories challenger is in test_nightly_end_to_end (trained through Dagster).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.gate.aliases import CHAMPION, version_for_alias
from pipelines.settings import REGISTERED_MODEL_NAME as NAME

pytestmark = pytest.mark.slow
START, DAYS = dt.date(2026, 6, 1), 12
LINEAGE = ("dagster_run_id", "shards_manifest_sha256", "shards_dir")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tests.integration.helpers_runs import nightly_world

    # the model config these planted cases were written against (separate output table, newest
    # window): with the tied table an untrained model already beats popularity on this
    # 35-user set (its states echo the input embeddings), so "zero steps" would not show the floor
    with nightly_world(tmp_path_factory, "planted", {"epochs": 6, "tie_items": False, "crop": "last"},
                       start=START, days=DAYS) as w:
        yield w


def _plant(world, tmp_path, surgery, name: str) -> str:
    """Register the champion's checkpoint after ``surgery(ckpt)`` as a new version, same lineage."""
    import mlflow

    from models.checkpoint import load_checkpoint, save_atomic
    from models.pyfunc import log_core_model

    champion = world["champion"]
    ckpt = load_checkpoint(Path(champion.tags["training_dir"]) / "best.pt")
    surgery(ckpt)
    out = tmp_path / name
    out.mkdir()
    save_atomic(ckpt, out / "best.pt")
    tags = {k: champion.tags[k] for k in LINEAGE}
    with mlflow.start_run(run_name=f"planted {name}"):
        version = log_core_model(out, NAME, tags=tags)
    for key, value in tags.items():
        world["client"].set_model_version_tag(NAME, version.version, key, value)
    return str(version.version)


def _judge(world, tmp_path, version: str, override: dict | None = None):
    from pipelines.gate.judge import Candidate, judge
    from pipelines.gate.rules import load_rules

    champion = world["champion"]
    lake = tmp_path / "lake"  # each test its own audit history
    candidate = Candidate(version, Path(champion.tags["shards_dir"]), {k: champion.tags[k] for k in LINEAGE})
    outcome = judge(world["client"], NAME, candidate, load_rules(override or {}), home=world["paths"].home,
                    lake=lake, run_id=f"planted-{version}", root_run_id=f"planted-{version}", trigger="test")
    assert str(version_for_alias(world["client"], NAME, CHAMPION).version) == str(champion.version)
    return outcome


def _failed(outcome) -> set[tuple[str, str]]:
    return {(r["rule"], r["task"]) for r in outcome.row["results"] if r["gated"] and not r["passed"]}


def test_zero_training_steps_fails_the_next_item_floor(world, tmp_path):
    from models.model import CoreModel, ModelConfig

    def untrained(ckpt):
        torch.manual_seed(0)
        ckpt["model"] = CoreModel(ModelConfig(**ckpt["model_config"])).state_dict()

    outcome = _judge(world, tmp_path, _plant(world, tmp_path, untrained, "zero-steps"))
    assert not outcome.passed
    assert ("floor", "next_item") in _failed(outcome), outcome.row["failed_rules"]


def test_a_permuted_vocabulary_is_refused_by_the_vocabulary_check(world, tmp_path):
    def permuted(ckpt):
        ids = list(ckpt["item_ids"])
        rest = ids[1:]
        ckpt["item_ids"] = [ids[0], *np.random.default_rng(0).permutation(rest).tolist()]

    outcome = _judge(world, tmp_path, _plant(world, tmp_path, permuted, "permuted"))
    assert not outcome.passed
    assert any("vocabulary differs" in r for r in outcome.row["failed_rules"]), outcome.row["failed_rules"]


def test_an_unloadable_artifact_is_a_verdict_not_a_crash(world, tmp_path):
    from urllib.parse import urlparse

    version = _plant(world, tmp_path, lambda ckpt: None, "unloadable")
    root = Path(urlparse(world["client"].get_model_version_download_uri(NAME, version)).path)
    damaged = list(root.rglob("*.pt"))
    assert damaged, root
    for pt in damaged:
        pt.write_bytes(b"not a checkpoint")
    outcome = _judge(world, tmp_path, version)
    assert not outcome.passed
    assert any("unloadable artifact" in r for r in outcome.row["failed_rules"]), outcome.row["failed_rules"]


def test_next_item_fine_but_churn_broken_fails_the_churn_floor(world, tmp_path):
    def constant_gap(ckpt):
        w = next(k for k in ckpt["model"] if k.startswith("gap_head.") and k.endswith("weight"))
        b = w.replace("weight", "bias")
        ckpt["model"][w] = torch.zeros_like(ckpt["model"][w])
        ckpt["model"][b] = torch.full_like(ckpt["model"][b], -30.0)
        ckpt["model"][b][1] = 30.0      # every next event "within a minute": churn is 0 for everyone

    outcome = _judge(world, tmp_path, _plant(world, tmp_path, constant_gap, "churn-broken"),
                     {"tasks": {"next_item": {"min_improvement": None}}})
    assert not outcome.passed
    failed = _failed(outcome)
    assert ("floor", "churn") in failed and {task for _, task in failed} == {"churn"}, outcome.row["failed_rules"]


def test_an_equal_challenger_keeps_the_incumbent(world, tmp_path):
    outcome = _judge(world, tmp_path, _plant(world, tmp_path, lambda ckpt: None, "equal"))
    assert not outcome.passed
    assert _failed(outcome) == {("min_improvement", "next_item")}, outcome.row["failed_rules"]
    assert outcome.row["champion_after"] == str(world["champion"].version)


def test_a_better_challenger_is_promoted_and_the_alias_moves(world, tmp_path):
    """The incumbent here is a damaged copy of the champion; the real champion's weights, registered
    again, must beat it (a fresh audit history: no ratchet from earlier tests)."""
    from pipelines.gate.aliases import promote

    def damaged(ckpt):
        g = torch.Generator().manual_seed(1)
        for key in ckpt["model"]:
            if key.startswith("blocks") and ckpt["model"][key].is_floating_point():
                ckpt["model"][key] = ckpt["model"][key] + 0.5 * torch.randn(ckpt["model"][key].shape, generator=g)

    client, original = world["client"], str(world["champion"].version)
    weak = _plant(world, tmp_path, damaged, "weak")
    promote(client, NAME, weak)
    try:
        world_weak = dict(world, champion=client.get_model_version(NAME, weak))
        better = _plant(world, tmp_path, lambda ckpt: None, "better")
        outcome = _judge(world_weak, tmp_path, better)
        assert outcome.passed, outcome.row["failed_rules"]
        ni = next(r for r in outcome.row["results"] if r["rule"] == "non_inferiority" and r["segment"] == "overall"
                  and r["task"] == "next_item")
        assert ni["estimate"] > 0 and ni["lower"] > -0.02
    finally:
        promote(client, NAME, original)
    shutil.rmtree(tmp_path / "lake", ignore_errors=True)
