"""The product graph of a channel: who produces what, transform run order, publisher order.

Unlike the original (``taskmanager/module_graph.py``), two producers of one product are an error,
and the logic engine's outputs are declared products a publisher may consume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toposort import CircularDependencyError, toposort

from hepde.config.model import ChannelConfig
from hepde.modules.base import LogicEngineBase, Module

#: products the framework itself writes after the logic engine ran
FRAMEWORK_PRODUCTS = ("de_logicengine_facts", "actions")


@dataclass
class ChannelGraph:
    producers: dict[str, str] = field(default_factory=dict)  # product -> module key
    duplicate_producers: dict[str, list[str]] = field(default_factory=dict)
    transform_levels: list[list[str]] = field(default_factory=list)
    publisher_order: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)  # consumer key -> products nobody produces
    cycle: list[str] | None = None  # transform keys on a produce/consume cycle

    @property
    def transform_order(self) -> list[str]:
        return [k for level in self.transform_levels for k in level]


def _find_cycle(deps: dict[str, set[str]]) -> list[str]:
    """Return one cycle (first node repeated at the end) in a graph that toposort found cyclic."""
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = 1
        stack.append(node)
        for nxt in sorted(deps.get(node, ())):
            if color.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if color.get(nxt) is None and nxt in deps:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        color[node] = 2
        return None

    for start in sorted(deps):
        if color.get(start) is None:
            found = visit(start)
            if found:
                return found
    return []


def build_graph(config: ChannelConfig, instances: dict[str, Module]) -> ChannelGraph:
    """Build the graph from instantiated modules (``instances`` keyed by entry key)."""
    g = ChannelGraph()
    producers_all: dict[str, list[str]] = {}
    for section in (config.sources, config.transforms):
        for key in section:
            inst = instances.get(key)
            if inst is None:
                continue
            for product in inst.declared_produces():
                producers_all.setdefault(product, []).append(key)
    if config.logicengine is not None:
        for product in FRAMEWORK_PRODUCTS:
            producers_all.setdefault(product, []).append(config.logicengine.key)
    for product, keys in producers_all.items():
        g.producers[product] = keys[0]
        if len(keys) > 1:
            g.duplicate_producers[product] = keys

    deps: dict[str, set[str]] = {}
    for key in config.transforms:
        inst = instances.get(key)
        if inst is None:
            continue
        needed = set()
        for product in inst.declared_consumes():
            producer = g.producers.get(product)
            if producer is None:
                g.missing.setdefault(key, []).append(product)
            elif producer in config.transforms and producer != key:
                needed.add(producer)
            elif producer == key:
                g.cycle = [key, key]
        deps[key] = needed
    for key in config.publishers:
        inst = instances.get(key)
        if inst is None:
            continue
        for product in inst.declared_consumes():
            if product not in g.producers:
                g.missing.setdefault(key, []).append(product)
    le = instances.get(config.logicengine.key) if config.logicengine else None
    if isinstance(le, LogicEngineBase):
        for product in sorted(le.required_products()):
            if product not in g.producers:
                g.missing.setdefault(config.logicengine.key, []).append(product)  # type: ignore[union-attr]
    try:
        g.transform_levels = [sorted(level) for level in toposort(deps)]
    except CircularDependencyError:
        g.cycle = _find_cycle(deps)
        g.transform_levels = []
    ordered: list[str] = []
    if isinstance(le, LogicEngineBase):
        ordered = [p for p in le.referenced_publishers() if p in config.publishers]
    g.publisher_order = list(dict.fromkeys(ordered + list(config.publishers)))
    return g
