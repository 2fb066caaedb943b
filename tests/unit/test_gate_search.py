"""Search in the gate, without a model: its label in the evaluation set, its baseline (popularity
within the query) and its rules (gated like next item, reported below its minimum of users)."""

from collections import Counter

import numpy as np
import pyarrow as pa

from pipelines.gate.decision import TaskScores, decide
from pipelines.gate.evaluation_set import build_table
from pipelines.gate.query_popularity import query_item_counts, query_popularity_scores
from pipelines.gate.rules import load_rules

RULES = load_rules({"bootstrap": {"resamples": 400}})


def test_query_counts_take_the_item_right_after_each_search_normalised():
    items = [[0, 3, 0, 2, 5], [0, 0, 3]]
    types = [[2, 1, 2, 4, 1], [2, 2, 1]]
    queries = [["Red  Mug", None, "red mug", None, None], ["lamp", "red mug", None]]
    counts = query_item_counts(items, types, queries)
    # u1: "red mug" -> 3, "red mug" -> 2; u2: "lamp" is followed by another search (no item), "red mug" -> 3
    assert counts == {"red mug": Counter({3: 2, 2: 1})}


def test_query_popularity_ranks_by_the_query_then_overall_popularity():
    counts = {"red mug": Counter({3: 2, 2: 1})}
    popularity = np.array([0, 50, 1, 0, 9])          # by item_idx, [0] unused
    s = query_popularity_scores(["RED mug", "unknown words"], counts, popularity, n_items=4)
    assert s.shape == (2, 4)
    assert list(np.argsort(-s[0])[:3] + 1) == [3, 2, 1]   # the query's items first, then popular ones
    assert list(np.argsort(-s[1]) + 1) == [1, 4, 2, 3]    # an unknown query: popularity alone
    assert s[1].max() < 1                                  # popularity only breaks ties


def test_the_evaluation_set_carries_the_search_label_of_the_first_held_out_item():
    day = 86400
    cutoff = 100 * day
    lists = {"item_idx": pa.array([[1, 2], [3]], pa.list_(pa.int32())),
             "event_type": pa.array([[1, 1], [1]], pa.list_(pa.int8())),
             "ts": pa.array([[10 * day, 11 * day], [98 * day]], pa.list_(pa.int64())),
             "query": pa.array([[None, None], [None]], pa.list_(pa.string()))}
    train = pa.table({"user_id": ["u1", "u2"], **lists})
    holdout = pa.table({"user_id": ["u1", "u2"], **lists,
                        "target_item_idx": pa.array([2, 4], pa.int32()),
                        "target_new_item_idx": pa.array([None, 4], pa.int32()),
                        "target_ts": pa.array([cutoff + 5, cutoff + 9], pa.int64()),
                        "target_query": pa.array([None, "blue lamp"], pa.string()), "market": ["se", "de"]})
    items = pa.table({"item_idx": [1, 2, 3, 4], "item_id": ["a", "b", "c", "d"]})
    t = build_table(train, holdout, items, cutoff_ts=cutoff, rules=RULES).to_pydict()
    assert t["search_query"] == [None, "blue lamp"]
    assert t["search_ts"] == [None, cutoff + 9]
    old = holdout.drop_columns(["target_query"])     # shards written before the label existed
    assert build_table(train, old, items, cutoff_ts=cutoff, rules=RULES)["search_query"].to_pylist() == [None, None]


def _tasks(n_search: int, search_challenger_offset: float):
    rng = np.random.default_rng(0)
    n = 200
    inc = np.clip(0.3 + rng.normal(0, 0.2, n), 0, 1)
    nxt = TaskScores("mean", "ndcg@10", {"challenger": inc + 0.02, "incumbent": inc, "popularity": inc * 0.3},
                     "popularity")
    base = np.clip(0.3 + rng.normal(0, 0.2, n_search), 0, 1)
    search = TaskScores("mean", "ndcg@10", {"challenger": base + search_challenger_offset, "incumbent": base + 0.3,
                                            "query_popularity": base}, "query_popularity")
    return {"next_item": nxt, "search": search}


def test_search_non_inferiority_is_gated_and_its_floor_reported_unless_the_rules_gate_it():
    d = decide(_tasks(120, 0.31), RULES, has_incumbent=True, infra_problems=[])
    assert d.passed, d.summary
    worse = decide(_tasks(120, 0.0), RULES, has_incumbent=True, infra_problems=[])  # = the baseline, far below the incumbent
    assert {(r.rule, r.task, r.segment) for r in worse.failed} == {("non_inferiority", "search", "overall")}
    floor = next(r for r in worse.results if r.rule == "floor" and r.task == "search")
    assert not floor.passed and not floor.gated and "reported, not gated" in floor.detail
    gated = load_rules({"bootstrap": {"resamples": 400}, "tasks": {"search": {"floor": {"gated": True}}}})
    worse = decide(_tasks(120, 0.0), gated, has_incumbent=True, infra_problems=[])
    assert {(r.rule, r.task, r.segment) for r in worse.failed} == {("floor", "search", "overall"),
                                                                   ("non_inferiority", "search", "overall")}


def test_search_with_too_few_users_is_reported_not_gated():
    d = decide(_tasks(12, 0.0), RULES, has_incumbent=True, infra_problems=[])
    assert d.passed, d.summary
    search = [r for r in d.results if r.task == "search"]
    assert search and not any(r.gated for r in search)
    assert any(not r.passed for r in search)                    # still visible as below
    assert all("under tasks.search.min_users 60" in r.detail for r in search)
