"""Original ``logicengine/tests/test_rule_with_negated_fact.py``: ``not f1`` and ``not (f1)``."""

import pandas as pd
import pytest

from hepde.logicengine.engine import LogicEngine


@pytest.fixture()
def engine() -> LogicEngine:
    rules = {
        "r1": {"expression": "not f1", "actions": ["a1"]},
        "r2": {"expression": "not (f1)", "actions": ["a2"]},
    }
    return LogicEngine({"facts": {"f1": "val > 10"}, "rules": rules}, channel_name="test")


def test_negated_rules_fire_when_the_fact_is_false(engine: LogicEngine) -> None:
    # Given val = 5, so f1 is false
    db = {"val": 5}
    assert engine.evaluate_facts(db)["f1"] is False
    # When the engine evaluates
    actions, newfacts = engine.evaluate(db)
    # Then both negated rules fire
    assert isinstance(newfacts, pd.DataFrame)
    assert actions == {"r1": ["a1"], "r2": ["a2"]}
    assert newfacts.empty


def test_negated_rules_do_not_fire_when_the_fact_is_true(engine: LogicEngine) -> None:
    # Given val = 20, so f1 is true
    db = {"val": 20}
    assert engine.evaluate_facts(db)["f1"] is True
    # When the engine evaluates
    actions, newfacts = engine.evaluate(db)
    # Then neither rule selects anything, but both are listed
    assert actions == {"r1": [], "r2": []}
    assert newfacts.empty
