"""The pictures' pure parts: PNGs come out, the markdown embeds them, PCA keeps the main axis, the
metric history follows the champion, colour labels say what is wrong with a bad ``colour_by``."""

import base64
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.consumers import picture_data, pictures

PNG = b"\x89PNG\r\n\x1a\n"


def test_every_picture_is_a_png_and_the_markdown_embeds_it():
    rng = np.random.default_rng(0)
    scores = [{"task": "churn", "segment": "overall", "model": m, "metric": "auc", "value": v}
              for m, v in (("challenger", 0.7), ("incumbent", 0.65), ("recency", 0.6))]
    pngs = [pictures.item_map(rng.normal(size=(30, 8)), ["a", "b", None] * 10),
            pictures.metric_history({"churn auc": [("v1", 0.6), ("v2", 0.7)]}),
            pictures.calibration([(0.1, 0.12, 40), (0.5, 0.4, 10)]),
            pictures.gate_chart(scores), pictures.calibration([]), pictures.metric_history({})]
    for png in pngs:
        assert png.startswith(PNG) and len(png) > 1000
    md = pictures.markdown_image(pngs[0], "item map")
    assert md.startswith("![item map](data:image/png;base64,")
    assert base64.b64decode(md.split(",", 1)[1].rstrip(")")) == pngs[0]


def test_pca_finds_the_main_axis():
    rng = np.random.default_rng(1)
    v = np.outer(rng.normal(size=200), [3.0, 0, 0, 0]) + 0.01 * rng.normal(size=(200, 4))
    xy = pictures.pca_2d(v)
    assert xy.shape == (200, 2) and xy[:, 0].var() > 100 * xy[:, 1].var()
    assert pictures.pca_2d(np.zeros((1, 4))).shape == (1, 2)


def _row(verdict, candidate, after, value, champion_value=None, day=1):
    scores = [{"task": "next_item", "segment": "overall", "model": "challenger", "metric": "ndcg@10", "value": value},
              {"task": "next_item", "segment": "market=se", "model": "challenger", "metric": "ndcg@10", "value": 0.0}]
    if champion_value is not None:
        # "incumbent": the name pipelines/gate/decision.py gives the champion's scores in the audit rows
        scores.append({"task": "next_item", "segment": "overall", "model": "incumbent", "metric": "ndcg@10",
                       "value": champion_value})
    return {"kind": "gate", "verdict": verdict, "candidate_version": candidate, "champion_after": after,
            "decided_at": dt.datetime(2026, 6, day, 2, 0, tzinfo=dt.UTC), "scores": scores}


def test_the_metric_history_follows_the_champion_after_each_decision():
    rows = [_row("pass", "1", "1", 0.10, day=1), _row("fail", "2", "1", 0.05, champion_value=0.11, day=2),
            _row("pass", "3", "3", 0.20, champion_value=0.12, day=3), {"kind": "promote", "champion_after": "1"}]
    series = picture_data.history_series(rows)
    assert list(series) == ["next_item ndcg@10"]
    assert [v for _, v in series["next_item ndcg@10"]] == [0.10, 0.11, 0.20]
    assert series["next_item ndcg@10"][0][0].startswith("v1 06-01")
    assert picture_data.latest_gate_row(rows, "2")["verdict"] == "fail"
    assert picture_data.latest_gate_row(rows)["candidate_version"] == "3"
    assert picture_data.latest_gate_row(rows, "9") is None


def test_colour_labels_default_to_the_category_and_explain_a_bad_file(tmp_path):
    labels, what = picture_data.colour_labels(["i1", "i2"], {"i1": "poster"})
    assert labels == ["poster", None] and what == "category"
    path = tmp_path / "truth.parquet"
    pq.write_table(pa.table({"item_id": ["i2"], "palette": ["ocean"]}), path)
    assert picture_data.colour_labels(["i1", "i2"], {}, f"{path}:palette") == ([None, "ocean"], "palette")
    for bad in (f"{path}:nope", f"{tmp_path}/missing.parquet:palette", "palette"):
        with pytest.raises(ValueError, match="colour_by"):
            picture_data.colour_labels(["i1"], {}, bad)
