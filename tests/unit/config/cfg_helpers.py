"""Builders and paths shared by the channel-configuration tests (imported as ``cfg_helpers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the original Decision Engine's test channel configurations (copied verbatim)
FRAMEWORK_CONFIGS = Path(__file__).resolve().parents[2] / "fixtures" / "framework-configs"
#: the production pressure-based-provisioning template (HEPCloud/contrib config_template/EL9)
CONTRIB_TEMPLATE = Path(__file__).resolve().parents[2] / "fixtures" / "contrib-config-template-EL9"

TESTS = "decisionengine.framework.tests"


def entry(cls: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A module entry for one of the original's framework test modules."""
    return {"module": f"{TESTS}.{cls}", "parameters": parameters or {}, **extra}


def channel(
    sources: dict[str, Any] | None = None,
    transforms: dict[str, Any] | None = None,
    publishers: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A channel document with the three mandatory sections."""
    return {"sources": sources or {}, "transforms": transforms or {}, "publishers": publishers or {}, **extra}
