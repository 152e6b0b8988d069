"""Original ``logicengine/tests/test_duplicate_fact_names.py``: the first value of a name wins."""

from hepde.logicengine.engine import LogicEngine


def test_rules_producing_a_top_level_fact_name_still_read_the_top_level_value() -> None:
    # Given a top-level fact and two rules that produce a fact of the same name
    rules = {
        "publish_1": {"expression": "(should_publish)", "facts": ["should_publish"]},
        "publish_2": {"expression": "(should_publish)", "facts": ["should_publish"]},
    }
    engine = LogicEngine({"facts": {"should_publish": "(True)"}, "rules": rules}, channel_name="test")
    assert engine.evaluate_facts({})["should_publish"]
    # When the engine evaluates
    actions, newfacts = engine.evaluate({})
    # Then both rules record their fact: two rows
    assert len(newfacts) == 2
    assert list(newfacts["rule_name"]) == ["publish_1", "publish_2"]


def test_a_produced_fact_never_overwrites_the_top_level_fact() -> None:
    # Given a top-level fact that is true and a rule that produces the same name as false
    rules = {
        "a_flip": {"expression": "not flag", "facts": ["flag"]},
        "b_read": {"expression": "flag", "actions": ["pub"]},
    }
    engine = LogicEngine({"facts": {"flag": "True"}, "rules": rules})
    # When the engine evaluates
    evaluation = engine.evaluate_detailed({})
    # Then the rule's fact is recorded as False but later rules still see the top-level True
    assert evaluation.new_facts == {"a_flip": {"flag": False}}
    assert evaluation.actions == {"a_flip": [], "b_read": ["pub"]}


def test_the_first_rule_producing_a_fact_is_the_one_later_rules_depend_on() -> None:
    # Given two rules producing 'f' (configuration order: z_first then a_second) and a reader
    rules = {
        "z_first": {"expression": "True", "facts": ["f"]},
        "a_second": {"expression": "False", "facts": ["f"]},
        "reader": {"expression": "f", "actions": ["pub"]},
    }
    engine = LogicEngine({"facts": {}, "rules": rules})
    # Then the reader runs after z_first (alphabetical order within a level puts a_second first)
    assert engine.rule_order == ["a_second", "z_first", "reader"]
    # and, as in the original, the value seen is the first one *produced*: a_second's False
    assert engine.evaluate({})[0]["reader"] == []
