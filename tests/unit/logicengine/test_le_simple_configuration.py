"""Original ``logicengine/tests/test_simple_configuration.py``: one fact, one rule with two actions."""

import pandas as pd
import pytest

from hepde.logicengine.engine import LogicEngine


@pytest.fixture()
def engine() -> LogicEngine:
    return LogicEngine(
        {"facts": {"f1": "val > 10"}, "rules": {"r1": {"expression": "f1", "actions": ["a1", "a2"]}}},
        channel_name="test",
    )


def test_a_fact_over_a_missing_product_raises_name_error(engine: LogicEngine) -> None:
    # Given an empty data block
    # When the facts are evaluated / Then Python's NameError wording is kept
    with pytest.raises(NameError, match=r"is not defined"):
        engine.evaluate_facts({})


def test_a_rule_that_fires_selects_its_actions_every_time(engine: LogicEngine) -> None:
    # Given a value that makes f1 true
    db = {"val": 20}
    assert engine.evaluate_facts(db)["f1"] is True
    for _ in range(2):  # repeated evaluation is stable
        # When the engine evaluates
        actions, newfacts = engine.evaluate(db)
        # Then r1 selects both actions and no facts are produced
        assert isinstance(actions, dict)
        assert isinstance(newfacts, pd.DataFrame)
        assert actions["r1"] == ["a1", "a2"]
        assert len(actions) == 1
        assert newfacts.empty


def test_a_rule_that_does_not_fire_selects_nothing_every_time(engine: LogicEngine) -> None:
    # Given a value that makes f1 false
    db = {"val": 3}
    assert engine.evaluate_facts(db)["f1"] is False
    for _ in range(2):
        # When the engine evaluates
        actions, newfacts = engine.evaluate(db)
        # Then the rule still has an (empty) entry and no facts are produced
        assert isinstance(actions, dict)
        assert isinstance(newfacts, pd.DataFrame)
        assert len(actions) == 1
        assert actions["r1"] == []
        assert newfacts.empty


def test_the_empty_facts_table_still_has_its_columns(engine: LogicEngine) -> None:
    _, newfacts = engine.evaluate({"val": 20})
    assert list(newfacts.columns) == ["rule_name", "fact_name", "fact_value"]
