"""Fact gating, as the original's ``fe_group_classads`` publisher did it (seed-system §4.3.7).

A publisher that honours ``allow_<type>_requests`` facts reads them from the ``de_logicengine_facts``
product (columns ``rule_name, fact_name, fact_value``) that the logic engine wrote this cycle.  A
type is allowed only if some row has ``fact_name == allow_<type>_requests`` and ``fact_value`` True;
a missing fact means *not allowed* (the original zeroed ``ReqIdleGlideins`` then, keeping
``ReqMaxGlideins`` so running pilots can finish).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

FACTS_PRODUCT = "de_logicengine_facts"


def gate_fact_name(request_type: str) -> str:
    return f"allow_{request_type.lower()}_requests"


def fact_is_true(facts: pd.DataFrame | None, fact_name: str) -> bool:
    if facts is None or facts.empty or "fact_name" not in facts.columns:
        return False
    rows = facts[facts["fact_name"] == fact_name]
    return bool(rows["fact_value"].astype(bool).any()) if not rows.empty else False


def allowed_types(data_block: Mapping[str, Any], types: Iterable[str]) -> dict[str, bool]:
    """``{type: allowed}`` for each request type (e.g. Grid, AWS, GCE, LCF)."""
    facts = data_block.get(FACTS_PRODUCT) if hasattr(data_block, "get") else None
    return {t: fact_is_true(facts, gate_fact_name(t)) for t in types}
