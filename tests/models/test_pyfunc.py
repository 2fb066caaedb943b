"""The pyfunc logs, registers, and loads by alias in a separate Python process."""

import json
import subprocess
import sys

import mlflow

from models.pyfunc import log_core_model
from models.train import train
from tests.models.conftest import tiny_config

LOADER = r"""
import json, sys
import mlflow, mlflow.pyfunc, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
m = mlflow.pyfunc.load_model("models:/corebrain-test@champion")
out = m.predict(pd.DataFrame({"history": [["i3", "i4", "i5"], [], ["unknown-item"]]}), params={"k": 5})
print(json.dumps({"items": [list(x) for x in out["items"]], "scores": [list(map(float, x)) for x in out["scores"]],
                  "sig": m.metadata.signature.to_dict()}))
"""


def test_log_register_and_load_in_clean_process(shards, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("core", artifact_location=str(tmp_path / "artifacts"))
    with mlflow.start_run(experiment_id=exp) as run:
        res = train(tiny_config(shards, tmp_path / "out", epochs=4))   # metrics go to the active run
        mv = log_core_model(res.out_dir, "corebrain-test")
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_ndcg_at_10")
    assert [m.step for m in history] == list(range(res.epochs_run))
    mlflow.MlflowClient().set_registered_model_alias("corebrain-test", "champion", mv.version)
    assert str(mv.version) == "1"
    p = subprocess.run([sys.executable, "-c", LOADER, uri], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    items, scores = out["items"], out["scores"]
    assert [len(x) for x in items] == [5, 5, 5]
    assert not {"i3", "i4", "i5"} & set(items[0])          # history removed
    assert items[0][0] == "i6"                              # the learned next step of the walk
    assert scores[0] == sorted(scores[0], reverse=True)
    assert [c["name"] for c in json.loads(out["sig"]["inputs"])] == ["history"]
    assert json.loads(out["sig"]["params"])[0]["name"] == "k"
