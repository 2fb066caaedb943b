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
full = pd.DataFrame({"items": [["i3", "", "i4", "i5"], ["i9"]],
                     "event_types": [["view", "search", "view", "purchase"], ["view"]],
                     "ts": [[1.7e9, 1.7e9 + 30, 1.7e9 + 90, 1.7e9 + 300], [1.7e9]],
                     "queries": [["", "sunset poster", "", ""], [""]], "market": ["se", "de"],
                     "query": ["sunset postr", "solnedgång"], "item_id": ["i3", "i4"], "at": [1.7e9 + 86400, 1.7e9 + 86400]})
tasks = {}
for task in ("recommend", "search", "similar", "words", "churn", "embed"):
    res = m.predict(full, params={"task": task, "k": 3})
    tasks[task] = {c: [v.tolist() if hasattr(v, "tolist") else v for v in res[c]] for c in res.columns}
bad = {}
for name, frame, params in (("task", full, {"task": "teleport"}), ("empty", full.iloc[:0], {}),
                            ("search_without_query", full.drop(columns=["query"]), {"task": "search"}),
                            ("k", full, {"k": "ten"}),
                            ("event_type", full.assign(event_types=[["fly", "view", "view", "view"], ["view"]]), {})):
    try:
        m.predict(frame, params=params)
        bad[name] = "no error"
    except Exception as e:
        bad[name] = f"{type(e).__name__}: {e}"
print(json.dumps({"items": [list(x) for x in out["items"]], "scores": [list(map(float, x)) for x in out["scores"]],
                  "sig": m.metadata.signature.to_dict(), "tasks": tasks, "bad": bad,
                  "has_example": m.metadata.saved_input_example_info is not None}))
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
    # the original input column comes first and still works; event histories and task inputs follow
    assert [c["name"] for c in json.loads(out["sig"]["inputs"])] == [
        "history", "items", "event_types", "ts", "queries", "market", "query", "item_id", "at"]
    assert [p["name"] for p in json.loads(out["sig"]["params"])] == ["task", "k", "exclude_seen", "horizon_days"]
    assert out["has_example"]
    tasks = out["tasks"]
    assert [len(x) for x in tasks["recommend"]["items"]] == [3, 3]
    assert tasks["recommend"]["items"][0][0] == "i6"              # full event lists read like the item list
    assert len(tasks["search"]["items"][0]) == 3
    assert tasks["similar"]["items"][0] and "i3" not in tasks["similar"]["items"][0]
    assert tasks["words"]["words"][0] and set(tasks["words"]["words"][0]) <= {"solnedgång", "poster", "sunset", "postr"}
    assert all(0 <= p <= 1 for p in tasks["churn"]["churn_probability"])
    assert len(tasks["embed"]["vector"][0]) == 16
    for bad, message in out["bad"].items():
        assert message.startswith("MlflowException"), (bad, message)
    assert "unknown task" in out["bad"]["task"] and "empty input" in out["bad"]["empty"]
    assert "'query'" in out["bad"]["search_without_query"] and "'k'" in out["bad"]["k"]
    assert "unknown event type" in out["bad"]["event_type"]
