"""The channel's real decision code for ``de simulate``: its transforms, logic engine and glideclient publisher.

The channel file is loaded and validated as ``de run`` would (:func:`hepde.config.loader.load_channel`,
:func:`hepde.config.validate.instantiate`); its **sources** are not run — the simulated pool provides their
products — and its publishers run as dry runs (:meth:`GlideinWMSManifests.gated_requests`: the fact
gating the real publisher applies, nothing sent).  Each module is bound to a :class:`ModuleContext` whose
``previous_product`` returns the previous decided cycle's products (what the runtime gives), so holds,
hysteresis and circuit-breaker state work across cycles as deployed.

Policies: ``original`` = the channel with ``compat_original: true`` on its glidein-request transform (the
2.0.6 computation, no decision policies); ``default`` = the channel as shipped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hepde.config.loader import load_channel
from hepde.config.validate import instantiate
from hepde.errors import ConfigError, DEError, HoldCycleError
from hepde.logicengine.gating import FACTS_PRODUCT
from hepde.modules.base import LogicEngineBase, Module, Publisher, Source, Transform
from hepde.modules.context import MemoryQueue, MemoryRecords, ModuleContext
from hepde.modules.glideinwms.publishers import GlideinWMSManifests
from hepde.modules.glideinwms.transforms import GlideinRequestManifests
from hepde.modules.registry import resolve

POLICIES = ("original", "default")


class SimulationError(DEError):
    """The channel cannot be simulated (no glidein-request transform, a product the pool cannot give ...)."""


@dataclass
class _Services:
    previous: dict[str, tuple[Any, float]] = field(default_factory=dict)
    channels: dict[str, MemoryRecords] = field(default_factory=dict)

    def previous_product(self, name: str) -> tuple[Any, float] | None:
        return self.previous.get(name)

    def records(self, channel: str) -> MemoryRecords:
        return self.channels.setdefault(channel, MemoryRecords())

    def action_queue(self, bridge: str, queue: str = "", *, create_if_missing: bool = False) -> MemoryQueue:
        return MemoryQueue(f"sim-{bridge}")

    def snapshots(self) -> Any:
        raise SimulationError("a simulated cycle reads no snapshot")

    def bucket(self) -> str:
        return "simulated"


@dataclass
class Decision:
    """One cycle's outcome: the glideclient requests (entry, group) → ad, or ``held`` with the reason."""

    requests: list[dict[str, Any]]
    published: bool
    held: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    table: pd.DataFrame | None = None


class ChannelDecider:
    """Loads ``channel`` once; :meth:`decide` runs one cycle's transforms, logic engine and publishers."""

    def __init__(self, channel: str | Path, policy: str) -> None:
        if policy not in POLICIES:
            raise SimulationError(f"unknown policy '{policy}'; expected one of {', '.join(POLICIES)}")
        path = Path(channel)
        if not path.is_file():
            raise SimulationError(
                f"channel file '{channel}' not found (run from the project root or give --channel)"
            )
        config = load_channel(path)
        self.name = config.name
        request_keys = [
            key
            for key, entry in config.transforms.items()
            if issubclass(resolve(entry.module, "transform", entry.name), GlideinRequestManifests)
        ]
        if not request_keys:
            raise SimulationError(
                f"{path}: no glidein-request transform (glideinwms.transforms.glidein_requests)"
            )
        if policy == "original":
            config = copy.deepcopy(config)
            for key in request_keys:
                config.transforms[key].parameters["compat_original"] = True
        instances, problems = instantiate(config)
        if problems:
            raise ConfigError(problems)
        self.sources: list[Source] = [instances[k] for k in config.sources]  # type: ignore[misc]
        self.transforms: list[Transform] = [instances[k] for k in config.transforms]  # type: ignore[misc]
        self.engine: LogicEngineBase | None = (
            instances[config.logicengine.key] if config.logicengine is not None else None  # type: ignore[assignment]
        )
        self.publishers: dict[str, Publisher] = {k: instances[k] for k in config.publishers}  # type: ignore[misc]
        self.glideclient = [k for k, p in self.publishers.items() if isinstance(p, GlideinWMSManifests)]
        if not self.glideclient:
            raise SimulationError(
                f"{path}: no glideclient publisher (glideinwms.publishers.fe_group_classads)"
            )
        self.source_products = sorted({n for s in self.sources for n in s.declared_produces()})
        self.services = _Services()
        self._acquired: dict[str, Any] | None = None
        self.generation = 0

    def _bind(self, module: Module, now: float) -> None:
        module.bind(ModuleContext(self.name, self.generation, f"sim-{self.generation}", now, self.services))

    def _order(self, available: set[str]) -> list[Transform]:
        todo, order = list(self.transforms), []
        while todo:
            ready = [t for t in todo if set(t.declared_consumes()) <= available]
            if not ready:
                missing = {n for t in todo for n in t.declared_consumes()} - available
                raise SimulationError(f"the simulated pool does not provide {sorted(missing)}")
            for t in ready:
                order.append(t)
                todo.remove(t)
                available |= set(t.declared_produces())
        return order

    def _other_sources(self, provided: set[str]) -> dict[str, Any]:
        """Sources whose products the pool does not simulate (spend, empty FOM stubs) run for real, once."""
        if self._acquired is None:
            self._acquired = {}
            for src in self.sources:
                if set(src.declared_produces()) <= provided:
                    continue
                try:
                    self._acquired.update(src.acquire())
                except Exception as exc:
                    raise SimulationError(
                        f"source {type(src).__name__} (not simulated) failed: {type(exc).__name__}: {exc}"
                    ) from exc
        return self._acquired

    def decide(self, products: dict[str, Any], now: float) -> Decision:
        self.generation += 1
        db: dict[str, Any] = {}
        others = self._other_sources(set(products))
        for name in self.source_products:
            db[name] = products[name] if name in products else others.get(name, pd.DataFrame())
        try:
            for t in self._order(set(db)):
                self._bind(t, now)
                db.update(t.transform(db))
        except HoldCycleError as exc:
            return Decision(requests=[], published=False, held=str(exc))
        selected: set[str] = set(self.publishers)
        if self.engine is not None:
            self._bind(self.engine, now)
            actions, facts = self.engine.evaluate(db)
            db[FACTS_PRODUCT] = facts
            selected = {p for acts in actions.values() for p in acts}
        for name, value in db.items():
            if name not in self.source_products:
                self.services.previous[name] = (value, now)
        summary = db.get("glidein_request_summary") or {}
        requests: list[dict[str, Any]] = []
        published = False
        for key in self.glideclient:
            if key not in selected:
                continue
            pub = self.publishers[key]
            self._bind(pub, now)
            gated = pub.gated_requests(db)  # type: ignore[attr-defined]
            published = True
            if gated.empty:
                continue
            gated = gated.drop_duplicates(subset="Name", keep="last")
            requests.extend(gated.to_dict("records"))
        return Decision(
            requests=requests,
            published=published,
            summary=dict(summary),
            table=db.get("glidein_request_table"),
        )
