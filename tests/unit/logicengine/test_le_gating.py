"""Fact gating of request types through ``de_logicengine_facts`` (the original's allow_<type>_requests)."""

from __future__ import annotations

import pandas as pd

from hepde.logicengine.engine import LogicEngine
from hepde.logicengine.gating import allowed_types, gate_fact_name


def test_a_type_is_allowed_only_by_a_true_allow_fact_produced_by_a_rule():
    # Given the production template's rules: only allow_grid_requests is produced
    le = LogicEngine(
        {
            "facts": {"publish_requests": "(True)", "allow_grid": "(True)", "allow_aws": "(True)"},
            "rules": {
                "publish_glidein_requests": {
                    "expression": "(publish_requests)",
                    "actions": ["glideclient_manifests"],
                },
                "publish_grid_requests": {"expression": "(allow_grid)", "facts": ["allow_grid_requests"]},
            },
        }
    )
    _, facts = le.evaluate({})
    # When a publisher asks which entry types it may request for
    allowed = allowed_types({"de_logicengine_facts": facts}, ["Grid", "AWS", "GCE", "LCF"])
    # Then only Grid is allowed: a top-level fact is not a gate, a produced one is
    assert allowed == {"Grid": True, "AWS": False, "GCE": False, "LCF": False}


def test_a_false_allow_fact_or_no_facts_product_denies():
    facts = pd.DataFrame({"rule_name": ["r"], "fact_name": [gate_fact_name("AWS")], "fact_value": [False]})
    assert allowed_types({"de_logicengine_facts": facts}, ["AWS"]) == {"AWS": False}
    assert allowed_types({}, ["Grid"]) == {"Grid": False}
