from pipelines.gate.smoke import recommendation_problems


def test_good_answers_have_no_problems():
    assert recommendation_problems([["a", "b"]], [["c", "d", "e"]], k=3) == []


def test_each_kind_of_bad_answer_is_named():
    problems = recommendation_problems([["a"], ["b"], ["c"]], [["x", "y"], ["b", "y", "z"], ["q", "q", "r"]], k=3)
    assert any("2 items, expected 3" in p for p in problems)
    assert any("already in the history" in p for p in problems)
    assert any("repeated items" in p for p in problems)


def test_count_mismatch():
    assert recommendation_problems([["a"], ["b"]], [["x"]], k=1) == ["1 answers for 2 histories"]
