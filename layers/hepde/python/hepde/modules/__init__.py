"""Channel modules: the base API (``base``), the alias table for the original's paths (``registry``)
and this project's module implementations."""

from hepde.modules.base import (
    LogicEngineBase,
    Module,
    ModuleParameters,
    Publisher,
    PublishResult,
    Source,
    Transform,
)

__all__ = [
    "LogicEngineBase",
    "Module",
    "ModuleParameters",
    "PublishResult",
    "Publisher",
    "Source",
    "Transform",
]
