"""Scores per task and segment on a frozen evaluation set, through the one scoring path in ``models/``.

Next item: ``models.evaluate.rank_targets`` under the rules' protocol (seen items excluded or not),
per-user NDCG@k / HR@k from ``per_user_gains``; popularity (training counts) is its baseline.
Search: users whose held-out item came right after a search; the history plus that search goes through
the search read-out's path (``models.readouts.with_search``, the reader's tokenisation, full ranking,
``tasks.search.exclude_seen`` as ``search`` serves it); popularity within the query
(``pipelines.gate.query_popularity``) is its baseline.
Churn: ``models.churn.churn_scores`` for P(no item event in the holdout days), days since the last
event is its baseline. Segments are bool masks over each task's users.
"""

from __future__ import annotations

import numpy as np

from pipelines.gate.decision import TaskScores
from pipelines.gate.evaluation_set import EvaluationSet
from pipelines.gate.query_popularity import query_item_counts, query_popularity_scores


def _store(es: EvaluationSet):
    from models.data import store_from_table

    table = es.table()
    return table, store_from_table(table.select([c for c in table.column_names if c not in ("target",)]))


class EvaluationData:
    """The evaluation set loaded once: store, rows and targets of each task, segment masks."""

    def __init__(self, es: EvaluationSet, rules: dict):
        self.es, self.rules = es, rules
        self.table, self.store = _store(es)
        items = es.items()
        self.item_ids: list = [None] * (int(max(items["item_idx"].to_pylist(), default=0)) + 1)
        for i, s in zip(items["item_idx"].to_pylist(), items["item_id"].to_pylist(), strict=True):
            self.item_ids[i] = s
        self.n_items = len(self.item_ids) - 1
        self.counts = np.zeros(self.n_items + 1, dtype=np.int64)
        self.counts[items["item_idx"].to_numpy()] = items["train_count"].to_numpy()
        target = np.array([t or 0 for t in self.table["target"].to_pylist()], dtype=np.int64)
        has_history = self.store.lengths > 0
        self.next_rows = np.flatnonzero(has_history & (target > 0))
        self.next_targets = target[self.next_rows]
        self.churn_rows = np.flatnonzero(has_history)
        col = lambda name: self.table[name].to_pylist() if name in self.table.column_names else [None] * len(target)  # noqa: E731
        first_item = np.array([t or 0 for t in col("target_item_idx")], dtype=np.int64)
        queries, search_ts = col("search_query"), col("search_ts")
        self.search_rows = np.flatnonzero(has_history & (first_item > 0)
                                          & np.array([bool(q) for q in queries], dtype=bool))
        self.search_targets = first_item[self.search_rows]
        self.search_queries = [str(queries[r]) for r in self.search_rows]
        self.search_ts = [search_ts[r] for r in self.search_rows]
        self.query_counts = query_item_counts(
            [[i or 0 for i in r] for r in col("item_idx")], [[t or 0 for t in r] for r in col("event_type")],
            col("query")) if len(self.search_rows) else {}
        self.churned = np.asarray(self.table["churned"].to_pylist(), dtype=bool)[self.churn_rows]
        self.cutoff_ts = int(es.meta["cutoff_ts"])
        self.horizon_days = float(es.meta["horizon_days"])

    def segments(self, rows: np.ndarray, with_items: bool, launched: bool = True) -> dict[str, np.ndarray]:
        """Masks over ``rows``. Markets and launched items only with ``with_items`` (next item, search):
        the market comes from the holdout, so churned users have none; ``launched`` is of the
        next-item protocol's target."""
        col = lambda name: np.asarray(self.table[name].to_pylist(), dtype=object)[rows]  # noqa: E731
        out: dict[str, np.ndarray] = {}
        new = col("new_user").astype(bool)
        out["new_users"], out["returning_users"] = new, ~new
        for level in ("light", "medium", "heavy"):
            out[f"{level}_users"] = col("activity") == level
        if with_items:
            markets = col("market")
            for m in sorted({x for x in markets if x}):
                out[f"market={m}"] = markets == m
            if launched:
                out["items_launched_in_window"] = np.asarray([bool(x) for x in col("target_launched")])
        return out

    def vocabulary_problems(self, model_item_ids: list, n_model_items: int) -> list[str]:
        """The model's ids must mean the same items as the shards' (append-only vocabulary)."""
        if n_model_items > self.n_items:
            return [f"the model knows {n_model_items} items, the shards only {self.n_items}: wrong shards?"]
        m = min(n_model_items, len(model_item_ids) - 1)
        ours = [None if s is None else str(s) for s in model_item_ids[1:m + 1]]
        theirs = [None if s is None else str(s) for s in self.item_ids[1:m + 1]]
        bad = [i + 1 for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
        if bad:
            return [f"vocabulary differs from the shards at {len(bad)} of {m} item ids (first idx {bad[0]}: "
                    f"model {ours[bad[0] - 1]!r}, shards {theirs[bad[0] - 1]!r})"]
        return []

    def score(self, reader) -> dict[str, np.ndarray]:
        """Per-user values of one model (a ``models.inference.CoreReader``, None for the baselines):
        ``next_item`` (NDCG@k), ``next_item_hr``, ``churn`` (the churn read-out as served: calibrated
        gap head or the recency fallback the model version says it uses)."""
        from models.evaluate import per_user_gains, rank_targets
        from models.readouts import churn_from_store

        k = int(self.rules["k"])
        exclude = bool(self.rules["tasks"]["next_item"]["exclude_seen"])
        core = getattr(reader, "core", reader)
        ranks = rank_targets(core, self.store, self.next_rows, self.next_targets, self.n_items,
                             exclude_seen=exclude, item_counts=self.counts)
        ndcg, hr = per_user_gains(ranks, k)
        out = {"next_item": ndcg, "next_item_hr": hr}
        if len(self.search_rows) and (reader is None or hasattr(reader, "encode")):
            out["search"], out["search_hr"] = per_user_gains(self._search_ranks(reader), k)
        if reader is not None and hasattr(reader, "churn_readout"):
            out["churn"] = churn_from_store(reader, self.store, self.cutoff_ts, self.horizon_days, self.churn_rows)
        elif reader is not None:  # a bare CoreModel: the gap head's raw read-out
            from models.churn import churn_scores

            out["churn"] = churn_scores(core, self.store, self.churn_rows, self.cutoff_ts, self.horizon_days).numpy()
        else:  # baseline: days since the last event (unknown: now)
            last, known = self.store.extra["last_ts"][self.churn_rows], self.store.extra["last_ts_known"][self.churn_rows]
            out["churn"] = np.where(known, (self.cutoff_ts - last) / 86400.0, 0.0).astype(np.float64)
        return out

    def history(self, row: int) -> dict:
        """One evaluation row as the history dict the read-outs take (item ids, not indices)."""
        t = self.table.slice(row, 1).to_pylist()[0]
        ids = self.item_ids
        return {"items": [ids[i] if i and 0 < i < len(ids) else None for i in t["item_idx"]],
                "event_types": list(t["event_type"]), "ts": list(t["ts"]), "queries": list(t["query"])}

    def _search_ranks(self, reader):
        """Ranks of the item that came right after each held-out search: the model's through the search
        read-out's path, the baseline's by popularity within the query."""
        import torch

        from models.evaluate import rank_targets
        from models.inference import seen_matrix
        from models.metrics import target_ranks
        from models.readouts import with_search

        exclude = bool(self.rules["tasks"]["search"]["exclude_seen"])
        targets = self.search_targets
        if reader is None:
            scores = torch.as_tensor(query_popularity_scores(self.search_queries, self.query_counts, self.counts,
                                                             self.n_items), dtype=torch.float32)
            seen = seen_matrix(self.store, self.search_rows, self.n_items) if exclude else None
            return target_ranks(scores, torch.as_tensor(targets), seen)
        histories = with_search([self.history(int(r)) for r in self.search_rows], self.search_queries, self.search_ts)
        store = reader.encode(histories)
        return rank_targets(reader.core, store, np.arange(store.n_users), targets, self.n_items, exclude_seen=exclude)

    def task_scores(self, per_model: dict[str, dict[str, np.ndarray]]) -> dict[str, TaskScores]:
        """``per_model``: {model name: score()}; the baselines are added as ``popularity`` / ``recency``."""
        base = self.score(None)
        k = int(self.rules["k"])
        next_values = {name: s["next_item"] for name, s in per_model.items()} | {"popularity": base["next_item"]}
        hr = {name: s["next_item_hr"] for name, s in per_model.items()} | {"popularity": base["next_item_hr"]}
        churn = {name: s["churn"] for name, s in per_model.items() if "churn" in s} | {"recency": base["churn"]}
        out = {
            "next_item": TaskScores("mean", f"ndcg@{k}", next_values, "popularity",
                                    segments=self.segments(self.next_rows, with_items=True),
                                    reported={f"hr@{k}": hr}),
            "churn": TaskScores("auc", "auc", churn, "recency", labels=self.churned,
                                segments=self.segments(self.churn_rows, with_items=False)),
        }
        if "search" in base and "search" in self.rules["tasks"]:
            search = {name: s["search"] for name, s in per_model.items() if "search" in s}
            search_hr = {name: s["search_hr"] for name, s in per_model.items() if "search_hr" in s}
            out["search"] = TaskScores(
                "mean", f"ndcg@{k}", search | {"query_popularity": base["search"]}, "query_popularity",
                segments=self.segments(self.search_rows, with_items=True, launched=False),
                reported={f"hr@{k}": search_hr | {"query_popularity": base["search_hr"]}})
        return out
