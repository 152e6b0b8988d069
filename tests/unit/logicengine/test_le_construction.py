"""Original ``logicengine/tests/test_construction.py`` plus construction-time checks of this project."""

import pytest
from pydantic import ValidationError

from hepde.errors import ConfigError
from hepde.logicengine.engine import LogicEngine
from hepde.modules.registry import resolve


def test_a_logic_engine_without_parameters_is_rejected() -> None:
    # Divergence: the original was not default-constructible (TypeError); here the missing
    # parameters are reported by the parameter model.
    with pytest.raises(ValidationError):
        LogicEngine()


def test_facts_and_rules_are_both_required() -> None:
    # The original raised KeyError.
    with pytest.raises(ValidationError) as info:
        LogicEngine({})
    missing = {error["loc"][0] for error in info.value.errors()}
    assert missing == {"facts", "rules"}


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        LogicEngine({"facts": {}, "rules": {"r1": {"expression": "True", "action": ["p"]}}})


def test_a_trivial_configuration_requires_no_products() -> None:
    engine = LogicEngine({"rules": {}, "facts": {}, "channel_name": "test"})
    assert engine.required_products() == set()
    assert engine.evaluate({})[0] == {}


def test_a_fact_calling_len_requires_only_its_argument() -> None:
    engine = LogicEngine(
        {"facts": {"f1": "len(vals) == 10"}, "rules": {"r1": {"expression": "f1", "actions": ["launch"]}}}
    )
    assert engine.required_products() == {"vals"}


def test_a_fact_calling_methods_requires_the_objects() -> None:
    engine = LogicEngine(
        {
            "facts": {"f1": "vals.sum() > blob.available"},
            "rules": {"r1": {"expression": "f1", "actions": ["launch"]}},
        }
    )
    assert engine.required_products() == {"vals", "blob"}


def test_the_original_module_path_resolves_to_this_logic_engine() -> None:
    assert resolve("decisionengine.framework.logicengine.LogicEngine", "logicengine") is LogicEngine


def test_passthrough_selects_every_publisher() -> None:
    # Given the original's passthrough configuration
    engine = LogicEngine.passthrough(["p1", "p2"])
    # When it evaluates anything / Then every publisher is selected by rule r1
    assert engine.evaluate({})[0] == {"r1": ["p1", "p2"]}
    assert engine.referenced_publishers() == ["p1", "p2"]
    assert engine.required_products() == set()


def test_every_expression_problem_is_reported_at_once() -> None:
    # Given bad facts and rules of several kinds
    parameters = {
        "facts": {"ok": "x > 1", "bad_syntax": "x <", "evil": "__import__('os')"},
        "rules": {
            "r_lambda": {"expression": "(lambda: ok)()"},
            "r_unknown": {"expression": "ok and nope"},
            "r_fine": {"expression": "ok", "actions": ["p"]},
        },
    }
    # When the engine is constructed
    with pytest.raises(ConfigError) as info:
        LogicEngine(parameters)
    # Then one error lists every problem with its key
    by_key = {p.key: p.message for p in info.value.problems}
    assert set(by_key) == {
        "facts.bad_syntax",
        "facts.evil",
        "rules.r_lambda.expression",
        "rules.r_unknown.expression",
    }
    assert "could not be parsed" in by_key["facts.bad_syntax"]
    assert "call to '__import__' is not allowed" in by_key["facts.evil"]
    assert "lambda expressions are not allowed" in by_key["rules.r_lambda.expression"]
    assert "name 'nope' is neither a fact nor produced by any rule" in by_key["rules.r_unknown.expression"]
    assert all(p.file == "" for p in info.value.problems)


def test_circular_rules_are_a_config_error() -> None:
    rules = {
        "r1": {"expression": "b", "facts": ["a"]},
        "r2": {"expression": "a", "facts": ["b"]},
    }
    with pytest.raises(ConfigError, match="cycle") as info:
        LogicEngine({"facts": {}, "rules": rules})
    assert [p.key for p in info.value.problems] == ["rules"]


def test_a_rule_reading_only_its_own_fact_fails_at_run_time_as_in_the_original() -> None:
    # toposort ignores self-dependencies, so this constructs; the fact has no value when the rule runs
    engine = LogicEngine({"facts": {}, "rules": {"r1": {"expression": "f", "facts": ["f"]}}})
    with pytest.raises(NameError, match="name 'f' is not defined"):
        engine.evaluate({})
