"""Contract of the generated state machines with the code and the deploy.

Step Functions matches Retry/Catch ``ErrorEquals`` on exact exception class names, fails at runtime
on a transition to a missing state, and CloudFormation leaves an unfilled ``${...}`` as text: each is
checked here for the committed definitions in ``statemachines/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepde import errors
from hepde.runtime.asl import PLACEHOLDERS, placeholders, render
from hepde.runtime.channel import prepare

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "statemachines").glob("*.asl.json"))
CHANNELS = sorted((ROOT / "channels").glob("*.jsonnet"))


def _walk(states: dict) -> tuple[dict, list[tuple[str, str]]]:
    """All states (nested Parallel branches included) and every (from, to) transition."""
    found, edges = {}, []
    for name, st in states.items():
        found[name] = st
        for target in (
            [st.get("Next"), st.get("Default")]
            + [c.get("Next") for c in st.get("Choices", [])]
            + [c.get("Next") for c in st.get("Catch", [])]
        ):
            if target:
                edges.append((name, target))
        for br in st.get("Branches", []):
            inner, inner_edges = _walk(br["States"])
            assert br["StartAt"] in inner
            found.update(inner)
            edges += inner_edges
    return found, edges


def _reachable(definition: dict) -> set[str]:
    seen, todo = set(), [definition["StartAt"]]
    states = definition["States"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        st = states[name]
        todo += [t for t in [st.get("Next"), st.get("Default")] if t]
        todo += [c["Next"] for c in st.get("Choices", []) + st.get("Catch", [])]
    return seen


@pytest.fixture(params=COMMITTED, ids=lambda p: p.name)
def definition(request) -> dict:
    return json.loads(request.param.read_text())


def test_there_is_a_committed_state_machine_per_example_channel():
    assert {p.name.removesuffix(".asl.json") for p in COMMITTED} >= {p.stem for p in CHANNELS}


def test_every_transition_target_exists(definition):
    found, edges = _walk(definition["States"])
    missing = [(a, b) for a, b in edges if b not in found]
    assert missing == []


def test_every_state_is_reachable(definition):
    assert set(definition["States"]) - _reachable(definition) == set()


def test_every_placeholder_has_a_substitution_and_vice_versa(definition):
    assert placeholders(definition) == set(PLACEHOLDERS)


def test_every_custom_error_name_is_an_exception_class_of_the_code(definition):
    found, _ = _walk(definition["States"])
    names = set()
    for st in found.values():
        for clause in st.get("Retry", []) + st.get("Catch", []):
            names |= {n for n in clause["ErrorEquals"] if not n.startswith(("States.", "Lambda."))}
        if st["Type"] == "Fail" and st.get("Error") and st["Error"] != "CycleFailedError":
            names.add(st["Error"])
        for choice in st.get("Choices", []):
            if choice.get("Variable") == "$.error.Error":
                names.add(choice["StringEquals"])
    for name in sorted(names):
        cls = getattr(errors, name, None)
        assert isinstance(cls, type) and issubclass(cls, Exception), (
            f"{name} is not an exception class in hepde.errors"
        )


@pytest.mark.parametrize("config", CHANNELS, ids=lambda p: p.name)
def test_committed_definition_matches_the_generator(config):
    (ch,) = prepare([config])
    committed = ROOT / "statemachines" / f"{ch.name}.asl.json"
    assert committed.read_text() == render(ch.definition), "run `de asl channels/*.jsonnet` and commit"
