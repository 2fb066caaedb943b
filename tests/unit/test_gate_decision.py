"""The gate's rule on hand-made per-user scores (no model, no MLflow)."""

import numpy as np

from pipelines.gate.decision import TaskScores, decide
from pipelines.gate.rules import load_rules

RULES = load_rules({"bootstrap": {"resamples": 400}})
N = 400


def _next_item(challenger, incumbent=None, popularity=None, segments=None, ratchet=None):
    values = {"challenger": np.asarray(challenger, float),
              "popularity": np.asarray(popularity if popularity is not None else np.full(N, 0.05), float)}
    if incumbent is not None:
        values["incumbent"] = np.asarray(incumbent, float)
    if ratchet is not None:
        values["ratchet"] = np.asarray(ratchet, float)
    return TaskScores("mean", "ndcg@10", values, "popularity", segments=segments or {})


def _users(seed=0, level=0.3):
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, 0.25, N), 0, 1)


def test_first_model_passes_on_floors_only_and_says_so():
    d = decide({"next_item": _next_item(_users())}, RULES, has_incumbent=False, infra_problems=[])
    assert d.passed and d.first_model
    assert "floors only" in d.notes[0]
    assert {r.rule for r in d.results} == {"min_users", "floor", "infra"}


def test_first_model_below_popularity_fails_the_floor():
    weak = np.full(N, 0.04)
    d = decide({"next_item": _next_item(weak)}, RULES, has_incumbent=False, infra_problems=[])
    assert not d.passed
    assert [r.rule for r in d.failed] == ["floor"]


def test_the_floor_is_a_paired_lower_bound_not_a_point_comparison():
    """No better than popularity in truth, above it on the sample mean by noise: the lower bound of the
    paired difference is below the margin, so the floor fails (a point comparison, the old rule, would
    pass it)."""
    pop = _users(seed=1, level=0.1)
    lucky = pop + np.random.default_rng(3).normal(0, 0.15, N)
    d = decide({"next_item": _next_item(lucky, popularity=pop)}, RULES, has_incumbent=False, infra_problems=[])
    floor = next(r for r in d.results if r.rule == "floor")
    assert floor.estimate > 0 and floor.lower < 0 < floor.upper
    assert not d.passed and [r.rule for r in d.failed] == ["floor"]
    assert "80% paired lower bound" in floor.detail and "[" in floor.line()
    loose = load_rules({"bootstrap": {"resamples": 400}, "tasks": {"next_item": {"floor": {"confidence": 0.51}}}})
    assert decide({"next_item": _next_item(lucky, popularity=pop)}, loose, has_incumbent=False,
                  infra_problems=[]).passed   # the floor's own confidence level is data


def test_a_model_clearly_above_popularity_passes_the_floor_and_the_margin_is_data():
    pop = _users(seed=1, level=0.1)
    good = pop + 0.05 + np.random.default_rng(3).normal(0, 0.02, N)
    d = decide({"next_item": _next_item(good, popularity=pop)}, RULES, has_incumbent=False, infra_problems=[])
    floor = next(r for r in d.results if r.rule == "floor")
    assert d.passed and floor.lower > 0 and floor.threshold == 0.0
    strict = load_rules({"bootstrap": {"resamples": 400}, "tasks": {"next_item": {"floor": {"margin": 0.08}}}})
    d = decide({"next_item": _next_item(good, popularity=pop)}, strict, has_incumbent=False, infra_problems=[])
    assert [r.rule for r in d.failed] == ["floor"]
    assert next(r for r in d.results if r.rule == "floor").threshold == 0.08


def test_a_floor_margin_on_an_auc_task_is_refused_clearly():
    rng = np.random.default_rng(0)
    labels = rng.random(N) < 0.5
    task = TaskScores("auc", "auc", {"challenger": rng.random(N), "recency": rng.random(N)}, "recency", labels=labels)
    rules = load_rules({"bootstrap": {"resamples": 400}})
    rules["tasks"]["churn"]["floor"] = {"baseline": "recency", "margin": 0.0}
    try:
        decide({"churn": task}, rules, has_incumbent=False, infra_problems=[])
    except ValueError as exc:
        assert "max_below" in str(exc)
    else:
        raise AssertionError("a paired floor margin on AUC must be refused")


def test_a_better_challenger_replaces_the_incumbent():
    inc = _users()
    d = decide({"next_item": _next_item(inc + 0.02, inc)}, RULES, has_incumbent=True, infra_problems=[])
    assert d.passed, d.summary


def test_an_equal_challenger_keeps_the_incumbent_by_the_min_improvement_rule():
    inc = _users()
    d = decide({"next_item": _next_item(inc.copy(), inc)}, RULES, has_incumbent=True, infra_problems=[])
    assert not d.passed
    assert [r.rule for r in d.failed] == ["min_improvement"]
    loose = load_rules({"bootstrap": {"resamples": 400}, "tasks": {"next_item": {"min_improvement": None}}})
    assert decide({"next_item": _next_item(inc.copy(), inc)}, loose, has_incumbent=True, infra_problems=[]).passed


def test_slightly_worse_on_average_fails_non_inferiority_by_its_lower_bound_not_its_mean():
    inc = _users()
    worse = inc - 0.015   # inside the old bare 0.02 margin on the mean...
    noisy = worse + np.random.default_rng(9).normal(0, 0.2, N)  # ...but noisy per user: wide interval
    d = decide({"next_item": _next_item(noisy, inc)}, load_rules({"bootstrap": {"resamples": 400},
                                                                  "tasks": {"next_item": {"min_improvement": None}}}),
               has_incumbent=True, infra_problems=[])
    ni = next(r for r in d.results if r.rule == "non_inferiority" and r.segment == "overall")
    assert ni.estimate > -0.02 and ni.lower < -0.02 and not ni.passed


def test_a_collapse_in_one_large_segment_fails_even_when_overall_is_better():
    inc = _users()
    market = np.arange(N) < 100
    chall = inc + 0.2
    chall[market] = 0.0
    assert chall.mean() > inc.mean() + 0.05
    d = decide({"next_item": _next_item(chall, inc, segments={"market=de": market, "market=se": ~market})},
               RULES, has_incumbent=True, infra_problems=[])
    assert not d.passed
    assert [(r.rule, r.segment) for r in d.failed] == [("non_inferiority", "market=de")]


def test_a_small_segment_is_reported_not_gated():
    inc = _users()
    tiny = np.arange(N) < 10
    chall = inc + 0.02
    chall[tiny] = 0.0
    d = decide({"next_item": _next_item(chall, inc, segments={"market=xx": tiny})}, RULES, has_incumbent=True,
               infra_problems=[])
    assert d.passed
    seg = next(r for r in d.results if r.segment == "market=xx")
    assert not seg.gated and seg.estimate < 0 and "reported" in seg.detail


def test_the_ratchet_catches_a_walk_downhill_the_incumbent_comparison_allows():
    best = _users()
    incumbent = best - 0.025            # two nights of "within the margin" already
    chall = incumbent + 0.001 + np.random.default_rng(5).normal(0, 0.001, N)   # a hair better than incumbent
    d = decide({"next_item": _next_item(chall, incumbent, ratchet=best)}, RULES, has_incumbent=True,
               has_ratchet=True, infra_problems=[])
    assert not d.passed
    assert [r.rule for r in d.failed] == ["ratchet"]
    without = decide({"next_item": _next_item(chall, incumbent)}, RULES, has_incumbent=True, infra_problems=[])
    assert without.passed  # the incumbent comparison alone would have let it through


def test_churn_floor_against_recency_and_chance():
    rng = np.random.default_rng(0)
    labels = rng.random(N) < 0.5
    recency = labels + rng.normal(0, 0.6, N)
    backwards = -recency
    task = TaskScores("auc", "auc", {"challenger": backwards, "recency": recency}, "recency", labels=labels)
    d = decide({"next_item": _next_item(_users()), "churn": task}, RULES, has_incumbent=False, infra_problems=[])
    assert not d.passed
    assert [(r.rule, r.task) for r in d.failed] == [("floor", "churn")]


def test_infra_and_lineage_problems_fail_with_their_own_reason():
    d = decide({"next_item": _next_item(_users())}, RULES, has_incumbent=False,
               infra_problems=["NaN scores"], lineage_problems=["version 3 was trained by run B"])
    assert not d.passed
    assert {r.rule for r in d.failed} == {"infra", "lineage"}
    assert "run B" in d.summary and "NaN" in d.summary


def test_too_few_users_fails():
    d = decide({"next_item": _next_item(_users()[:5], popularity=np.zeros(5))}, RULES, has_incumbent=False,
               infra_problems=[])
    assert [r.rule for r in d.failed] == ["min_users"]


def test_reasons_are_lines_with_numbers():
    inc = _users()
    d = decide({"next_item": _next_item(inc + 0.02, inc)}, RULES, has_incumbent=True, infra_problems=[])
    assert any("non_inferiority next_item vs incumbent" in line and "[" in line for line in d.reasons)
