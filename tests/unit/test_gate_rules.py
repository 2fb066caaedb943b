import pytest

from pipelines.gate.rules import RULES_FILE, RulesError, load_rules, rules_hash


def test_the_repo_file_loads_and_has_every_task():
    rules = load_rules()
    assert set(rules["tasks"]) == {"next_item", "search", "churn"}
    assert rules["tasks"]["next_item"]["exclude_seen"] is True
    assert RULES_FILE.name == "rules.yaml"


def test_an_override_changes_the_rule_and_its_hash():
    base = load_rules()
    tighter = load_rules("tasks: {next_item: {non_inferiority_margin: 0.01}}")
    assert tighter["tasks"]["next_item"]["non_inferiority_margin"] == 0.01
    assert tighter["tasks"]["churn"] == base["tasks"]["churn"]        # merged key by key
    assert rules_hash(tighter) != rules_hash(base)
    assert rules_hash(load_rules({})) == rules_hash(base)             # same effective rule, same hash


def test_a_misspelt_key_is_refused_not_ignored():
    with pytest.raises(RulesError, match="unknown rules key 'tasks.next_item.non_inferiority_marign'"):
        load_rules({"tasks": {"next_item": {"non_inferiority_marign": 0.5}}})


@pytest.mark.parametrize("override, message", [
    ("bootstrap: {confidence: 1.5}", "confidence"),
    ("tasks: {churn: {non_inferiority_margin: -1}}", "must be >= 0"),
    ("[1, 2]", "must be a mapping"),
    ("tasks: 3", "is a mapping"),
])
def test_bad_overrides_say_what_is_wrong(override, message):
    with pytest.raises(RulesError, match=message):
        load_rules(override)
