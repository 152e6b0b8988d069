"""Rule ordering: dependency order first, alphabetical within a dependency level (``toposort_flatten``)."""

from hepde.logicengine.engine import LogicEngine


def test_a_rule_needing_a_produced_fact_runs_after_its_producer() -> None:
    # Given a rule that sorts first alphabetically but needs z_maker's fact
    rules = {
        "a_needs_z": {"expression": "z_made", "actions": ["pa"]},
        "z_maker": {"expression": "f", "actions": ["pz"], "facts": ["z_made"]},
    }
    engine = LogicEngine({"facts": {"f": "v > 0"}, "rules": rules})
    # Then z_maker runs first
    assert engine.rule_order == ["z_maker", "a_needs_z"]
    # and actions and publishers follow that order
    actions, _ = engine.evaluate({"v": 1})
    assert list(actions) == ["z_maker", "a_needs_z"]
    assert actions == {"z_maker": ["pz"], "a_needs_z": ["pa"]}
    assert engine.referenced_publishers() == ["pz", "pa"]


def test_independent_rules_run_alphabetically_regardless_of_configuration_order() -> None:
    rules = {name: {"expression": "True", "actions": [f"p_{name}"]} for name in ("c", "a", "b")}
    engine = LogicEngine({"facts": {}, "rules": rules})
    assert engine.rule_order == ["a", "b", "c"]
    assert engine.evaluate_detailed({}).selected_publishers() == ["p_a", "p_b", "p_c"]


def test_selected_publishers_are_de_duplicated_in_rule_order() -> None:
    rules = {
        "r1": {"expression": "True", "actions": ["p2", "p1"]},
        "r2": {"expression": "False", "false_actions": ["p1", "p3"]},
    }
    engine = LogicEngine({"facts": {}, "rules": rules})
    assert engine.evaluate_detailed({}).selected_publishers() == ["p2", "p1", "p3"]
