"""Original ``logicengine/tests/test_cascaded_rules.py``: rules chained through produced facts."""

import pandas as pd
import pytest

from hepde.logicengine.engine import LogicEngine


@pytest.fixture()
def engine() -> LogicEngine:
    rules = {
        "r1": {"expression": "f1", "actions": ["a1"], "facts": ["f2"]},
        "r2": {"expression": "f2", "actions": ["a2"], "facts": ["f3"]},
        "r3": {"expression": "f3", "facts": ["f4"]},
        "r4": {"expression": "f4", "actions": ["a4"], "false_actions": ["fa4"]},
    }
    return LogicEngine({"facts": {"f1": "val > 10"}, "rules": rules}, channel_name="test")


def _as_rows(newfacts: pd.DataFrame) -> list[tuple[str, str, bool]]:
    return [(r, f, bool(v)) for r, f, v in newfacts.itertuples(index=False)]


def test_a_true_fact_cascades_through_every_rule(engine: LogicEngine) -> None:
    # Given val = 20
    db = {"val": 20}
    assert engine.evaluate_facts(db)["f1"] is True
    # When the engine evaluates
    actions, newfacts = engine.evaluate(db)
    # Then each rule fires in turn and produces its fact as True
    assert actions == {"r1": ["a1"], "r2": ["a2"], "r3": [], "r4": ["a4"]}
    assert list(actions) == ["r1", "r2", "r3", "r4"]
    assert _as_rows(newfacts) == [("r1", "f2", True), ("r2", "f3", True), ("r3", "f4", True)]
    # and the original's way of reading the table gives the same
    as_dict = newfacts.set_index("rule_name").T.to_dict("list")
    assert as_dict == {"r1": ["f2", True], "r2": ["f3", True], "r3": ["f4", True]}


def test_a_false_fact_cascades_to_the_false_actions(engine: LogicEngine) -> None:
    # Given val = 5
    db = {"val": 5}
    assert engine.evaluate_facts(db)["f1"] is False
    # When the engine evaluates
    actions, newfacts = engine.evaluate(db)
    # Then only r4's false action is selected and every produced fact is False
    assert actions == {"r1": [], "r2": [], "r3": [], "r4": ["fa4"]}
    assert _as_rows(newfacts) == [("r1", "f2", False), ("r2", "f3", False), ("r3", "f4", False)]


def test_the_detailed_evaluation_records_every_step(engine: LogicEngine) -> None:
    # When the engine evaluates in detail
    evaluation = engine.evaluate_detailed({"val": 20})
    # Then fact values, rule results, new facts and selected publishers are all there
    assert evaluation.fact_values == {"f1": True}
    assert evaluation.rule_results == {"r1": True, "r2": True, "r3": True, "r4": True}
    assert evaluation.new_facts == {"r1": {"f2": True}, "r2": {"f3": True}, "r3": {"f4": True}}
    assert evaluation.selected_publishers() == ["a1", "a2", "a4"]
    assert engine.referenced_publishers() == ["a1", "a2", "a4", "fa4"]
