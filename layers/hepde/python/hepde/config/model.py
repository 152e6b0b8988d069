"""The typed channel-configuration model (what a loaded, structurally valid channel file holds)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: the original's default source schedule (seconds)
DEFAULT_SOURCE_SCHEDULE = 300.0
#: the original's default product lifetime (``Header.expiration_time - create_time``)
DEFAULT_PRODUCT_LIFETIME = 1800.0

#: keys a channel file may have at top level (``task_manager`` is the original's legacy key, ignored)
TOP_LEVEL_KEYS = frozenset(
    {"sources", "transforms", "logicengines", "publishers", "channel_name", "task_manager", "schedule"}
)
#: keys a module entry may have (``lifetime`` only for sources: seconds a product stays fresh)
ENTRY_KEYS = frozenset({"module", "name", "parameters", "schedule", "lifetime"})
SECTIONS = {
    "sources": "source",
    "transforms": "transform",
    "logicengines": "logicengine",
    "publishers": "publisher",
}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class ModuleEntry:
    """One module entry of a channel (``sources.<key>``, ``transforms.<key>``, ...)."""

    key: str
    kind: str  # source | transform | logicengine | publisher
    module: str
    name: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    schedule: float | None = None
    lifetime: float | None = None

    @property
    def effective_schedule(self) -> float:
        return float(self.schedule) if self.schedule is not None else DEFAULT_SOURCE_SCHEDULE

    @property
    def effective_lifetime(self) -> float:
        """Seconds a source product stays fresh: ``lifetime`` or max(1800 s, 3 × schedule)."""
        if self.lifetime is not None:
            return float(self.lifetime)
        return max(DEFAULT_PRODUCT_LIFETIME, 3 * self.effective_schedule)

    def identity(self) -> dict[str, Any]:
        """What makes two entries with the same key the same (shared) module."""
        return {
            "module": self.module,
            "name": self.name,
            "parameters": self.parameters,
            "schedule": self.schedule,
            "lifetime": self.lifetime,
        }

    def config_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.identity()).encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, **self.identity()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleEntry:
        return cls(**data)


@dataclass(frozen=True)
class ChannelConfig:
    """A channel: sources -> transforms -> (at most one) logic engine -> publishers."""

    name: str
    path: str
    sources: dict[str, ModuleEntry]
    transforms: dict[str, ModuleEntry]
    logicengine: ModuleEntry | None
    publishers: dict[str, ModuleEntry]
    schedule: float | None = None  # seconds between cycles (EventBridge rate); None = min source schedule

    def entries(self) -> Iterator[ModuleEntry]:
        yield from self.sources.values()
        yield from self.transforms.values()
        if self.logicengine is not None:
            yield self.logicengine
        yield from self.publishers.values()

    @property
    def cycle_schedule(self) -> float:
        if self.schedule is not None:
            return float(self.schedule)
        scheds = [e.effective_schedule for e in self.sources.values()]
        return min(scheds) if scheds else DEFAULT_SOURCE_SCHEDULE

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "schedule": self.schedule,
            "sources": {k: e.to_json() for k, e in self.sources.items()},
            "transforms": {k: e.to_json() for k, e in self.transforms.items()},
            "logicengine": self.logicengine.to_json() if self.logicengine else None,
            "publishers": {k: e.to_json() for k, e in self.publishers.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChannelConfig:
        def section(name: str) -> dict[str, ModuleEntry]:
            return {k: ModuleEntry.from_json(v) for k, v in (data.get(name) or {}).items()}

        le = data.get("logicengine")
        return cls(
            name=data["name"],
            path=data.get("path", ""),
            schedule=data.get("schedule"),
            sources=section("sources"),
            transforms=section("transforms"),
            logicengine=ModuleEntry.from_json(le) if le else None,
            publishers=section("publishers"),
        )
