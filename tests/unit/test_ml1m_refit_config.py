"""benchmarks/ml1m.py: the config of a seed, plain and as a refit of an earlier tag (no training)."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _ml1m():
    spec = importlib.util.spec_from_file_location("ml1m_bench", REPO / "benchmarks" / "ml1m.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_plain_seed_is_the_default_config_with_overrides(tmp_path):
    ml1m = _ml1m()
    cfg, base = ml1m.seed_config(tmp_path / "results", tmp_path / "work", tmp_path / "shards", "x", 1, {"epochs": 2}, None)
    assert base is None and cfg["epochs"] == 2 and cfg["d_model"] == ml1m.DEFAULT_CONFIG["d_model"]
    assert cfg["out_dir"] == str(tmp_path / "work" / "x" / "seed1") and cfg["seed"] == 1


def test_a_refit_starts_from_the_base_runs_best_checkpoint_and_config(tmp_path):
    ml1m = _ml1m()
    results, base_out = tmp_path / "results", tmp_path / "work" / "base" / "seed0"
    with pytest.raises(SystemExit, match="run that tag for seed 0 first"):
        ml1m.seed_config(results, tmp_path / "work", tmp_path / "shards", "r", 0, {}, "base")
    results.mkdir()
    base_cfg = {**ml1m.DEFAULT_CONFIG, "d_model": 32, "out_dir": str(base_out), "seed": 0}
    (results / "ml1m_base_seed0.json").write_text(json.dumps({"config": base_cfg, "best_epoch": 3}))
    with pytest.raises(SystemExit, match="is gone"):
        ml1m.seed_config(results, tmp_path / "work", tmp_path / "shards", "r", 0, {}, "base")
    base_out.mkdir(parents=True)
    (base_out / "best.pt").write_bytes(b"")
    cfg, base = ml1m.seed_config(results, tmp_path / "work", tmp_path / "shards", "r", 0, {"lr": 1e-4}, "base")
    assert base["best_epoch"] == 3 and cfg["warm_start"] == str(base_out / "best.pt")
    assert cfg["d_model"] == 32 and cfg["hold_out_last_item"] is False          # the base's model, refit on all
    assert cfg["epochs"] == ml1m.REFIT_CONFIG["epochs"] and cfg["lr"] == 1e-4   # overrides win
    assert cfg["out_dir"] == str(tmp_path / "work" / "r" / "seed0")              # never the base's folder
