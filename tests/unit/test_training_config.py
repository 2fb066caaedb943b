from pathlib import Path

from models.train import TrainConfig
from pipelines.defs.training import CoreModelConfig, train_config


def test_launchpad_config_becomes_a_valid_train_config():
    cfg = train_config(CoreModelConfig(tie_items=True, crop="windows", max_minutes=5), Path("/s"), Path("/o"), None)
    tc = TrainConfig.from_dict(cfg)                       # every key is a real TrainConfig field
    assert tc.tie_items and tc.crop == "windows" and tc.max_minutes == 5 and tc.warm_start is None
    assert tc.shards_dir == "/s" and tc.out_dir == "/o" and tc.threads == 1


def test_defaults_are_the_measured_best_and_select_on_every_task():
    # issue 9: the nightly job ran without the tied item table and whole-history windows that won on
    # ML-1M and on the sample shop (benchmarks/tasks.py); the epoch is now chosen on every task
    tc = TrainConfig.from_dict(train_config(CoreModelConfig(), Path("/s"), Path("/o"), Path("/champ/best.pt")))
    assert tc.tie_items and tc.crop == "windows" and tc.warm_start == "/champ/best.pt"
    assert tc.select_weights == {"ndcg@10": 1.0, "search_ndcg@10": 0.5, "churn_auc": 0.25}
    assert tc.exclude_seen is True and tc.patience == 3 and tc.auto_dropout is False
    off = TrainConfig.from_dict(train_config(CoreModelConfig(select_on_all_tasks=False, tie_items=False, crop="last"),
                                             Path("/s"), Path("/o"), None))
    assert off.select_weights is None and not off.tie_items and off.crop == "last"
