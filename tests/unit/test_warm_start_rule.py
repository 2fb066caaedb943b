"""The warm-start rule keys on the data a champion was trained on (issue 13, item 3): its shards'
erasure generation, not its registration time; and the file must lie inside this installation."""

import datetime as dt
import json
import os

import mlflow
import pytest

from pipelines.ingest.erasure import append_erasure_log, erasure_generation, stamp_erasure_generation
from pipelines.training.warm_start import (
    GENERATION_TAG,
    UntrustedWarmStart,
    champion_warm_start,
    may_warm_start,
    trusted_checkpoint,
)


def test_no_log_means_generation_zero(tmp_path):
    assert erasure_generation(tmp_path / "erasure_log.jsonl") == 0
    assert may_warm_start({GENERATION_TAG: "0"}, 0)[0]


def test_shards_older_than_the_last_erasure_force_a_cold_start():
    allowed, why = may_warm_start({GENERATION_TAG: "2"}, 3)
    assert not allowed and "1 erasure(s)" in why and "generation 2, now 3" in why
    assert may_warm_start({GENERATION_TAG: "3"}, 3)[0]


def test_a_champion_without_the_tag_starts_cold():
    assert not may_warm_start({}, 0)[0]
    assert not may_warm_start({GENERATION_TAG: "-1"}, 0)[0]      # a manifest from before the rule
    assert not may_warm_start({GENERATION_TAG: "junk"}, 0)[0]


def _register(client, name: str, tags: dict) -> object:
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    return client.create_model_version(name, source="file:///nonexistent", tags=tags)


def test_the_race_trained_before_the_erasure_registered_after_it_is_refused(corebrain_home):
    """The defect: the old guard compared the champion's *registration* time with the erasure
    time, so a model whose shards were written before an erasure, but which was registered just
    after it, seeded the next retrain with weights that had seen the erased users."""
    log = corebrain_home.lake / "erasure_log.jsonl"
    training_dir = corebrain_home.training_runs / "run-1"
    training_dir.mkdir(parents=True)
    (training_dir / "best.pt").write_bytes(b"weights")
    generation_at_training = erasure_generation(log)              # the shards are written: 0
    erased_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    append_erasure_log(log, {"erased_at": erased_at.isoformat(), "n_users": 1})   # the erasure
    client = mlflow.MlflowClient()
    champion = _register(client, "race", {GENERATION_TAG: str(generation_at_training),
                                          "training_dir": str(training_dir)})   # registered after it
    assert champion.creation_timestamp / 1000 > erased_at.timestamp()   # registered after the erasure
    notes: list[str] = []
    assert champion_warm_start(champion, corebrain_home, download=_no_download, log=notes.append) is None
    assert "1 erasure(s)" in notes[0]

    # a model trained on the shards the erasure cleaned (generation 1) may seed the next retrain
    clean = _register(client, "race", {GENERATION_TAG: "1", "training_dir": str(training_dir)})
    assert champion_warm_start(clean, corebrain_home, download=_no_download, log=notes.append) == (
        training_dir / "best.pt").resolve()


def _no_download(dst):
    raise AssertionError("the local checkpoint should have been used")


def test_a_warm_start_path_outside_the_installation_is_refused(corebrain_home, tmp_path):
    outside = tmp_path / "elsewhere" / "best.pt"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    with pytest.raises(UntrustedWarmStart, match="outside this installation"):
        trusted_checkpoint(outside, corebrain_home)
    sneaky = corebrain_home.training_runs / "link"
    os.symlink(outside.parent, sneaky)            # inside by name, outside once resolved
    with pytest.raises(UntrustedWarmStart):
        trusted_checkpoint(sneaky / "best.pt", corebrain_home)
    with pytest.raises(UntrustedWarmStart):
        trusted_checkpoint(corebrain_home.training_runs / ".." / ".." / "elsewhere" / "best.pt", corebrain_home)
    inside = corebrain_home.training_runs / "r" / "best.pt"
    inside.parent.mkdir()
    inside.write_bytes(b"x")
    assert trusted_checkpoint(inside, corebrain_home) == inside.resolve()

    # a forged training_dir tag pointing outside is ignored; the registered artifact is used instead
    artifact = corebrain_home.training_runs / "_warm_start" / "v7"
    champion = type("V", (), {"version": "7", "tags": {GENERATION_TAG: "0", "training_dir": str(outside.parent)}})()

    def download(dst):
        dst.mkdir(parents=True, exist_ok=True)
        (dst / "best.pt").write_bytes(b"weights")
        return dst

    notes: list[str] = []
    assert champion_warm_start(champion, corebrain_home, download, notes.append) == (artifact / "best.pt").resolve()
    assert "ignoring the champion's training_dir tag" in notes[0]
    assert json.dumps(notes)  # the reason is logged, in words


def test_the_erasure_stamps_every_shards_manifest_with_its_generation(tmp_path):
    for name in ("2026-01-01", "2026-01-02", ".tmp-2026-01-03-abcd"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps({"lineage": {"erasure_generation": 0}}))
    stamped = stamp_erasure_generation(tmp_path, 1)
    assert len(stamped) == 2
    for name in ("2026-01-01", "2026-01-02"):
        assert json.loads((tmp_path / name / "manifest.json").read_text())["lineage"]["erasure_generation"] == 1
    assert stamp_erasure_generation(tmp_path, 1) == []      # a rerun changes nothing
