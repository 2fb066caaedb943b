"""Every read-out on tiny generated data: a walk (next item is learnable) and a two-colour shop
(searches, similar items and customer words have a known truth: the colour)."""

import numpy as np
import pytest
import torch

from models import readouts
from models.churn import churn_time_split
from models.data import load_train_store, open_shards, query_vocabulary
from models.inference import BadRequest, CoreReader, histories_table, normalise_history
from models.train import train
from tests.models.conftest import tiny_config
from tests.models.synth import write_colour_shards, write_shards


@pytest.fixture(scope="module")
def walk_reader(tmp_path_factory):
    root = tmp_path_factory.mktemp("walk")
    res = train(tiny_config(write_shards(root / "shards"), root / "out", epochs=4))
    return CoreReader.from_checkpoint(res.best_path)


@pytest.fixture(scope="module")
def colour_reader(tmp_path_factory):
    root = tmp_path_factory.mktemp("colour")
    shards = write_colour_shards(root / "shards")
    res = train(tiny_config(shards, root / "out", epochs=10, lr=5e-3, patience=10, tie_items=True, crop="windows"))
    return CoreReader.from_checkpoint(res.best_path)


def _colour(item_id: str) -> str:
    return item_id.split("-")[0]


def test_recommend_learns_the_walk_and_respects_exclude_seen(walk_reader):
    items, scores = readouts.recommend(walk_reader, [["i3", "i4", "i5"], [], ["never-seen"]], k=5)
    assert [len(x) for x in items] == [5, 5, 5]
    assert items[0][0] == "i6"
    assert not {"i3", "i4", "i5"} & set(items[0])
    assert scores[0] == sorted(scores[0], reverse=True)
    # an empty or unknown history gets popularity, the same list for both
    assert items[1] == items[2]
    repeat, _ = readouts.recommend(walk_reader, [["i3", "i4", "i5"]], k=walk_reader.n_items, exclude_seen=False)
    assert {"i3", "i4", "i5"} <= set(repeat[0])        # a shop may sell the same poster again
    assert len(repeat[0]) == walk_reader.n_items


def test_full_event_histories_are_read_and_bad_ones_refused(walk_reader):
    full = {"items": ["i3", None, "i4", "i5"], "event_types": ["view", "search", "add_to_cart", "purchase"],
            "ts": [1_700_000_000, "2023-11-14T22:14:00Z", 1_700_000_100, None],
            "queries": [None, "sunset poster", None, None], "market": "se"}
    items, _ = readouts.recommend(walk_reader, [full], k=3)
    assert items[0][0] == "i6"
    table = histories_table([full], walk_reader.index, walk_reader.n_items)
    assert table["item_idx"].to_pylist() == [[3, 0, 4, 5]]
    assert table["event_type"].to_pylist() == [[1, 2, 3, 4]]
    assert table["query"].to_pylist()[0][1] == "sunset poster"
    with pytest.raises(BadRequest, match="entries"):
        normalise_history({"items": ["i1", "i2"], "event_types": ["view"]})
    with pytest.raises(BadRequest, match="unknown event type"):
        walk_reader.encode([{"items": ["i1"], "event_types": ["teleport"]}])
    with pytest.raises(BadRequest, match="ISO-8601"):
        walk_reader.encode([{"items": ["i1"], "ts": ["yesterday-ish"]}])
    with pytest.raises(BadRequest, match="a list"):
        normalise_history({"items": "i1"})


def test_search_ranks_the_query_colour_first_in_both_languages(colour_reader):
    for query, colour in (("red", "red"), ("röd", "red"), ("blue", "blue"), ("blå", "blue")):
        items, _ = readouts.search(colour_reader, [[]], [query], k=5)
        assert sum(_colour(i) == colour for i in items[0]) >= 4, (query, items[0])
    # personalised: a red fan searching "blue" still gets blue items
    items, _ = readouts.search(colour_reader, [["red-1", "red-2"]], ["blue"], k=5)
    assert sum(_colour(i) == "blue" for i in items[0]) >= 4
    with pytest.raises(BadRequest, match="empty"):
        readouts.search(colour_reader, [[]], [""], k=5)
    with pytest.raises(BadRequest, match="one query per history"):
        readouts.search(colour_reader, [[], []], ["red"], k=5)


def test_similar_items_are_the_same_colour(colour_reader):
    ids = ["red-1", "blue-15", "nope"]
    items, scores = readouts.similar_items(colour_reader, ids, k=5)
    assert "red-1" not in items[0]
    assert sum(_colour(i) == "red" for i in items[0]) >= 4
    assert sum(_colour(i) == "blue" for i in items[1]) >= 4
    assert items[2] == [] and scores[2] == []
    assert all(-1.0001 <= s <= 1.0001 for s in scores[0])


def test_item_words_are_the_colour_words_in_every_language(colour_reader):
    assert set(colour_reader.words) == {"red", "röd", "blue", "blå"}
    words, scores = readouts.item_words(colour_reader, ["red-3", "blue-12"], k=2)
    assert set(words[0]) == {"red", "röd"}
    assert set(words[1]) == {"blue", "blå"}
    assert scores[0] == sorted(scores[0], reverse=True) and 0 < scores[0][0] <= 1
    assert readouts.words_missing_from_tags(["red", "röd"], "Red, poster") == [False, True]


def test_query_vocabulary_counts_words_across_queries(tmp_path):
    store = load_train_store(open_shards(write_colour_shards(tmp_path / "s", n_users=10, sessions=2)))
    words, counts = query_vocabulary(store)
    assert sum(counts) == 10 * 2                        # one word per search, two searches per user
    assert counts == sorted(counts, reverse=True)
    assert query_vocabulary(store, min_count=10_000) == ([], [])


def test_embed_and_market_similarity(colour_reader):
    v = readouts.embed(colour_reader, [["red-1", "red-2"], ["red-3", "red-4"], ["blue-11", "blue-12"], []])
    assert v.shape == (4, colour_reader.core.cfg.d_model)
    assert np.allclose(v[3], 0)
    names, sim = readouts.market_similarity(v[:3], ["se", "se", "de"])
    assert names == ["de", "se"]
    assert sim.shape == (2, 2) and np.allclose(np.diag(sim), 1)
    ids, table = readouts.item_vectors(colour_reader)
    assert ids[0] == "red-1" and table.shape == (20, colour_reader.core.cfg.d_model)
    by_hand = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    _, s = readouts.market_similarity(by_hand, ["a", "b", None])
    assert s[0, 1] == pytest.approx(0.0)


def test_churn_time_split_labels_by_hand(tmp_path):
    store = load_train_store(open_shards(write_colour_shards(tmp_path / "s", n_users=12)))
    end = int(store.ts.max()) + 1
    cut, rows, labels, cutoff = churn_time_split(store, end, horizon_days=3)
    for r, y in zip(rows, labels, strict=True):
        ts = store.ts[store.offsets[r]:store.offsets[r + 1]]
        assert y == int((ts >= cutoff).sum() == 0)
        assert cut.lengths[r] == (ts < cutoff).sum()
        assert cut.extra["last_ts"][r] == ts[ts < cutoff].max()
    assert churn_time_split(store, int(store.ts.min()), horizon_days=3) is None


def test_platt_and_recency_baseline_pure():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 4000)
    true = 1 / (1 + np.exp(-(2.0 * np.log(p / (1 - p)) - 0.5)))
    y = (rng.random(4000) < true).astype(int)
    a, b = readouts.fit_platt(p, y)
    assert a == pytest.approx(2.0, abs=0.3) and b == pytest.approx(-0.5, abs=0.2)
    days = rng.uniform(0, 100, 4000)
    rates = readouts.fit_recency_baseline(days, (rng.random(4000) < days / 100).astype(int))
    assert rates == sorted(rates) and rates[0] < 0.2 < 0.6 < rates[-1]


def test_logistic_calibration_with_recency_recovers_its_weights():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6000, 2))
    y = (rng.random(6000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))).astype(int)
    w = readouts.fit_logistic(x, y)
    assert w == pytest.approx([2.0, -1.0, 0.5], abs=0.15)
    f = readouts.churn_features(np.array([0.5, 0.9]), np.array([0.0, np.e - 1]))
    assert f[:, 0] == pytest.approx([0.0, np.log(9)]) and f[:, 1] == pytest.approx([0.0, 1.0])


def test_churn_readout_kinds(walk_reader):
    hist = [{"items": ["i1", "i2"], "ts": [1_700_000_000, 1_700_000_100]},
            {"items": ["i1", "i2"], "ts": [1_700_000_000, 1_700_000_100 - 60 * 86_400]}]
    at = 1_700_000_200
    raw = readouts.churn(CoreReader(walk_reader.core, walk_reader.item_ids, walk_reader.item_counts), hist, at)
    assert raw.shape == (2,) and ((raw >= 0) & (raw <= 1)).all()
    fallback = CoreReader(walk_reader.core, walk_reader.item_ids, walk_reader.item_counts,
                          churn_readout={"kind": "recency", "rates": list(np.linspace(0.1, 0.9, 9))})
    p = readouts.churn(fallback, [hist[0], {"items": ["i1"], "ts": [at - 200 * 86_400]},
                                  {"items": ["i1"], "ts": [at - 2 * 86_400]}, {"items": ["i1"], "ts": [at - 3 * 86_400]}], at)
    assert p[0] == pytest.approx(0.1, abs=1e-3) and p[1] == pytest.approx(0.9, abs=1e-5)
    assert p[2] == pytest.approx(0.25, abs=1e-5) and p[3] == pytest.approx(0.3, abs=1e-5)   # linear between edges
    days = np.array([0.0, 0.5, 0.5001, 2.0, 40.0, 400.0])
    assert (np.diff(readouts.recency_probability([0.1] * 9, days)) > 0).all()   # ranks exactly as recency
    platt = CoreReader(walk_reader.core, walk_reader.item_ids, walk_reader.item_counts,
                       churn_readout={"kind": "model", "a": 0.0, "b": 0.0})
    assert readouts.churn(platt, hist, at) == pytest.approx([0.5, 0.5])


def test_training_records_the_churn_readout_and_validates_every_task(tmp_path):
    shards = write_colour_shards(tmp_path / "s")
    res = train(tiny_config(shards, tmp_path / "out", epochs=2, churn_horizon_days=3,
                            select_weights={"ndcg@10": 1.0, "search_ndcg@10": 0.5, "churn_auc": 0.25}))
    assert {"ndcg@10", "search_ndcg@10", "churn_auc", "churn_recency_auc", "selection_score"} <= set(res.val)
    assert res.val["search_n"] > 0
    reader = CoreReader.from_checkpoint(res.best_path)
    assert reader.churn_readout["kind"] in ("model", "recency")
    assert "reason" in reader.churn_readout
    assert torch.isfinite(torch.as_tensor(readouts.churn(reader, [["red-1"]], 1_800_000_000))).all()
