from pipelines.gate.decision import GatePolicy, decide

POP = {"hr@10": 0.10, "ndcg@10": 0.05}


def test_first_model_passes_when_it_beats_popularity():
    d = decide({"hr@10": 0.30, "ndcg@10": 0.15}, POP, None, holdout_users=100, smoke_ok=True)
    assert d.promote
    assert any("no champion yet" in r for r in d.reasons)


def test_first_model_fails_the_floor():
    d = decide({"hr@10": 0.09, "ndcg@10": 0.15}, POP, None, holdout_users=100, smoke_ok=True)
    assert not d.promote
    assert any("floor hr@10" in r and "<=" in r for r in d.reasons)


def test_worse_than_champion_beyond_margin_is_kept_out():
    d = decide({"hr@10": 0.30, "ndcg@10": 0.10}, POP, {"hr@10": 0.30, "ndcg@10": 0.15},
               holdout_users=100, smoke_ok=True, policy=GatePolicy(non_inferiority_margin=0.02))
    assert not d.promote
    assert any("non-inferiority ndcg@10" in r and "WORSE" in r for r in d.reasons)


def test_within_margin_is_promoted():
    d = decide({"hr@10": 0.29, "ndcg@10": 0.14}, POP, {"hr@10": 0.30, "ndcg@10": 0.15},
               holdout_users=100, smoke_ok=True, policy=GatePolicy(non_inferiority_margin=0.02))
    assert d.promote


def test_failed_smoke_test_blocks():
    d = decide({"hr@10": 0.30, "ndcg@10": 0.15}, POP, None, holdout_users=100, smoke_ok=False,
               smoke_detail="returned 9 items")
    assert not d.promote
    assert "FAILED (returned 9 items)" in d.summary


def test_tiny_holdout_blocks():
    d = decide({"hr@10": 0.30, "ndcg@10": 0.15}, POP, None, holdout_users=3, smoke_ok=True)
    assert not d.promote
