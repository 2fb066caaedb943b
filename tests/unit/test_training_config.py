from pathlib import Path

from models.train import TrainConfig
from pipelines.defs.training import CoreModelConfig, train_config


def test_launchpad_config_becomes_a_valid_train_config():
    cfg = train_config(CoreModelConfig(tie_items=True, crop="windows", max_minutes=5), Path("/s"), Path("/o"), None)
    tc = TrainConfig.from_dict(cfg)                       # every key is a real TrainConfig field
    assert tc.tie_items and tc.crop == "windows" and tc.max_minutes == 5 and tc.warm_start is None
    assert tc.shards_dir == "/s" and tc.out_dir == "/o" and tc.threads == 1


def test_defaults_keep_the_separate_output_table_and_the_newest_window():
    tc = TrainConfig.from_dict(train_config(CoreModelConfig(), Path("/s"), Path("/o"), Path("/champ/best.pt")))
    assert not tc.tie_items and tc.crop == "last" and tc.warm_start == "/champ/best.pt"
