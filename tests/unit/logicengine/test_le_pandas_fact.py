"""Original ``logicengine/tests/test_pandas_fact.py``: facts over DataFrame columns."""

import pandas as pd
import pytest

from hepde.logicengine.engine import LogicEngine


@pytest.fixture()
def engine() -> LogicEngine:
    facts = {"f1": "y > 10", "f2": "vals.one.sum() > 10"}
    rules = {"r1": {"expression": "f1 and f2", "actions": ["a1", "a2"]}}
    return LogicEngine({"facts": facts, "rules": rules}, channel_name="test")


def data_block(y: int) -> dict[str, object]:
    frame = pd.DataFrame(
        {
            "one": pd.Series([1.0, 5.0, 3.0, 10.0], index=["a", "b", "c", "d"]),
            "two": pd.Series([1.0, 2.0, 3.0, 4.0], index=["a", "b", "c", "d"]),
        }
    )
    return {"vals": frame, "y": y}


def test_a_rule_over_a_dataframe_column_fires(engine: LogicEngine) -> None:
    db = data_block(20)
    assert engine.evaluate_facts(db) == {"f1": True, "f2": True}
    for _ in range(2):
        actions, newfacts = engine.evaluate(db)
        assert actions == {"r1": ["a1", "a2"]}
        assert isinstance(newfacts, pd.DataFrame)
        assert newfacts.empty


def test_a_rule_over_a_dataframe_column_does_not_fire(engine: LogicEngine) -> None:
    db = data_block(3)
    assert engine.evaluate_facts(db) == {"f1": False, "f2": True}
    for _ in range(2):
        actions, newfacts = engine.evaluate(db)
        assert actions == {"r1": []}
        assert newfacts.empty


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        ("vals.shape[0] > 0", True),
        ("not vals.empty", True),
        ("vals.size == 8", True),
        ("'one' in vals.columns", True),
        ("len(vals.index) == 4", True),
        ("vals.values.sum() == 29", True),
        ("(vals.one > 4).sum() == 2", True),
        ("vals[(vals.one > 2) & (vals.two < 4)].shape[0] == 2", True),
        ("vals[~(vals.one > 2) | (vals.two == 4)].shape[0] == 2", True),
        ("vals.one.isin([5.0, 10.0]).sum() == 2", True),
        ("vals.query('one > 4 and two > 2').shape[0] == 1", True),
        ("vals.loc['b', 'one'] == 5", True),
        ("vals.one.mean() == 4.75", True),
        ("vals.notna().all().all()", True),
        ("vals.one.nunique() == 4", True),
    ],
)
def test_common_dataframe_facts_evaluate(fact: str, expected: bool) -> None:
    engine = LogicEngine({"facts": {"f": fact}, "rules": {}})
    assert engine.evaluate_facts(data_block(1)) == {"f": expected}
