"""The generated ASL: shape, wiring and substitutions."""

from __future__ import annotations

import json

import pytest

from hepde.runtime.asl import PLACEHOLDERS, placeholders, substitute
from hepde.runtime.channel import prepare


@pytest.fixture
def definition(tmp_path):
    mods = "de_test_modules"
    cfg = {
        "sources": {
            "counter_source": {"module": mods, "name": "CounterFileSource", "parameters": {"path": "x"}}
        },
        "transforms": {
            "doubler": {"module": mods, "name": "Doubler", "parameters": {}},
            "broken": {"module": mods, "name": "FailingTransform", "parameters": {}},
        },
        "publishers": {
            "a": {"module": mods, "name": "RecordingPublisher", "parameters": {"path": "p"}},
            "b": {"module": mods, "name": "RecordingPublisher", "parameters": {"path": "p"}},
        },
        "logicengines": {
            "le": {
                "module": "decisionengine.framework.logicengine.LogicEngine",
                "parameters": {
                    "facts": {"t": "True"},
                    "rules": {"r1": {"expression": "t", "actions": ["b"], "false_actions": ["a"]}},
                },
            }
        },
    }
    path = tmp_path / "two.json"
    path.write_text(json.dumps(cfg))
    (ch,) = prepare([path])
    return ch.definition


def test_independent_transforms_share_one_parallel_level(definition):
    level = definition["States"]["Transforms level 1"]
    assert level["Type"] == "Parallel"
    assert sorted(b["StartAt"] for b in level["Branches"]) == ["Transform broken", "Transform doubler"]


def test_publishers_are_chained_in_rule_order_each_behind_a_choice(definition):
    s = definition["States"]
    assert s["LogicEngine le"]["Next"] == "Publish b?"
    assert s["Publish b?"]["Choices"][0]["Next"] == "Publish b" and s["Publish b?"]["Default"] == "Publish a?"
    assert s["Publish b"]["Next"] == "Publish a?"
    assert s["Publish a?"]["Default"] == "FinishCycle" and s["Publish a"]["Next"] == "FinishCycle"


def test_module_failures_are_caught_into_named_fail_states(definition):
    s = definition["States"]
    # a transform's HoldCycleError holds the cycle; anything else (States.ALL, always last) fails it
    assert [c["Next"] for c in s["Transforms level 1"]["Catch"]] == ["HoldCycleByTransform", "RecordFailure"]
    assert s["Transforms level 1"]["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    assert {c["StringEquals"] for c in s["WhichFailure?"]["Choices"]} >= {
        "TransformFailedError",
        "PublisherFailedError",
    }
    assert s["TransformFailed"] == {
        "Type": "Fail",
        "Error": "TransformFailedError",
        "CausePath": "$.error.Cause",
    }


def test_only_transient_errors_are_retried(definition):
    retry = definition["States"]["LogicEngine le"]["Retry"][0]["ErrorEquals"]
    assert "States.ALL" not in retry and "LogicEngineFailedError" not in retry
    assert "DataBlockUnavailableError" in retry


def test_substitution_fills_every_placeholder_and_refuses_missing_ones(definition):
    assert placeholders(definition) == set(PLACEHOLDERS)
    text = substitute(definition, {p: f"arn:{p}" for p in PLACEHOLDERS})
    assert "${" not in text
    with pytest.raises(KeyError, match="CycleFunctionArn"):
        substitute(definition, {})
