"""Validating channel configurations: every problem at once, each with its file and key.

:func:`validate_paths` is what ``de validate`` runs.  For each channel file it reports

* structural problems (:mod:`hepde.config.loader`): unknown keys, missing keys, wrong types, bad
  ``schedule``/``lifetime``, more than one logic engine, a module key used in two sections;
* modules that cannot be resolved (:func:`hepde.modules.registry.resolve`);
* parameters that do not match the module's ``Parameters`` schema (one problem per field);
* missing ``produces``/``consumes`` declarations (the original's rule);
* products consumed (or read by the logic engine's facts) that nothing produces;
* products with more than one producer (the original silently let the last one win);
* produce/consume cycles among transforms, shown as ``a -> b -> a``;
* logic-engine actions naming a publisher the channel does not configure;

and, across channels, a source key configured differently in two channels (sources are shared by
key, as in the original: "Mismatched configurations for source with name X") and two files
defining the same channel name.

Without a ``logicengines`` section the runtime synthesises the original's pass-through logic engine
(every publisher runs), so validation does not require one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hepde.config import loader
from hepde.config.graph import FRAMEWORK_PRODUCTS, ChannelGraph, build_graph
from hepde.config.model import SECTIONS, ChannelConfig, ModuleEntry
from hepde.errors import ConfigError, ModuleResolutionError, Problem
from hepde.modules import registry
from hepde.modules.base import LogicEngineBase, Module

__all__ = ["instantiate", "validate_channel", "validate_paths"]

#: module kind -> the channel section holding it
SECTION_OF_KIND: dict[str, str] = {kind: section for section, kind in SECTIONS.items()}

_MAX_REPR = 80


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _entry_key(entry: ModuleEntry) -> str:
    """``<section>.<key>`` of an entry."""
    return f"{SECTION_OF_KIND[entry.kind]}.{entry.key}"


def _annotation_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _field_type(model: type[BaseModel], loc: Sequence[Any]) -> str | None:
    """The annotated type of a top-level parameter, for 'Field required' messages."""
    if len(loc) != 1 or not isinstance(loc[0], str):
        return None
    info = model.model_fields.get(loc[0])
    return _annotation_name(info.annotation) if info is not None else None


def _schema_problems(file: str, prefix: str, cls: type[Module], exc: ValidationError) -> list[Problem]:
    """One problem per pydantic error, keyed ``<prefix>.parameters.<loc>``."""
    model = cls.Parameters
    allowed = sorted(model.model_fields)
    problems = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        key = ".".join([f"{prefix}.parameters", *(str(part) for part in loc)])
        kind = err.get("type", "")
        msg = err.get("msg", "invalid value")
        if kind == "missing":
            tp = _field_type(model, loc)
            text = f"missing required parameter (expected {tp})" if tp else "missing required parameter"
        elif kind == "extra_forbidden" and len(loc) == 1:
            hint = (
                f"parameters of {cls.__name__}: {', '.join(allowed)}"
                if allowed
                else f"{cls.__name__} takes no parameters"
            )
            text = f"{msg} ({hint})"
        else:
            text = f"{msg}, got {_short_repr(err.get('input'))}"
        problems.append(Problem(file, key, text))
    return problems


def instantiate(config: ChannelConfig) -> tuple[dict[str, Module], list[Problem]]:
    """Resolve and construct every module of ``config``.

    Returns the modules that could be constructed (keyed by entry key) and a problem for each that
    could not: ``<section>.<key>.module`` when it does not resolve, one per schema error under
    ``<section>.<key>.parameters.<field>`` when the parameters are invalid (a ``ConfigError`` from a
    constructor — the logic engine's — is re-keyed under ``<section>.<key>.parameters.``).
    """
    file = config.path
    instances: dict[str, Module] = {}
    problems: list[Problem] = []
    for entry in config.entries():
        prefix = _entry_key(entry)
        try:
            cls = registry.resolve(entry.module, entry.kind, entry.name)
        except ModuleResolutionError as exc:
            problems.append(Problem(file, f"{prefix}.module", str(exc)))
            continue
        try:
            instances[entry.key] = cls(entry.parameters, channel_name=config.name)
        except ValidationError as exc:
            problems.extend(_schema_problems(file, prefix, cls, exc))
        except ConfigError as exc:
            for p in exc.problems:
                key = f"{prefix}.parameters.{p.key}" if p.key else f"{prefix}.parameters"
                problems.append(Problem(file, key, p.message))
        except Exception as exc:  # a constructor refusing its parameters is a config problem, not a crash
            problems.append(
                Problem(
                    file,
                    f"{prefix}.parameters",
                    f"{cls.__name__} rejected its parameters: {type(exc).__name__}: {exc}",
                )
            )
    return instances, problems


# -- checks on one channel --------------------------------------------------------------------------
def _declaration_problems(config: ChannelConfig, instances: Mapping[str, Module]) -> list[Problem]:
    """Sources/transforms must declare products, transforms/publishers what they consume."""
    problems = []
    for entry in config.entries():
        inst = instances.get(entry.key)
        if inst is None:
            continue
        if entry.kind in ("source", "transform") and not inst.declared_produces():
            problems.append(
                Problem(
                    config.path,
                    _entry_key(entry),
                    f"module is missing '@produces' declarations ({type(inst).__name__} declares no products)",
                )
            )
        if entry.kind in ("transform", "publisher") and not inst.declared_consumes():
            problems.append(
                Problem(
                    config.path,
                    _entry_key(entry),
                    f"module is missing '@consumes' declarations ({type(inst).__name__} declares no inputs)",
                )
            )
    return problems


def _entry_by_key(config: ChannelConfig) -> dict[str, ModuleEntry]:
    return {e.key: e for e in config.entries()}


def _producer_problems(
    config: ChannelConfig, graph: ChannelGraph, instances: Mapping[str, Module]
) -> list[Problem]:
    """Two producers of one product, and modules producing a product the framework reserves."""
    entries = _entry_by_key(config)
    le_key = config.logicengine.key if config.logicengine is not None else None
    problems = []
    for product, keys in graph.duplicate_producers.items():
        module_keys = [k for k in keys if k != le_key]
        if le_key in keys:
            continue  # reported below as a reserved name
        first, *others = module_keys
        for other in others:
            problems.append(
                Problem(
                    config.path,
                    _entry_key(entries[other]),
                    f"produces '{product}', which {_entry_key(entries[first])} also produces "
                    "(a product must have exactly one producer)",
                )
            )
    for key, inst in instances.items():
        entry = entries[key]
        if entry.kind not in ("source", "transform"):
            continue
        for product in inst.declared_produces():
            if product in FRAMEWORK_PRODUCTS:
                problems.append(
                    Problem(
                        config.path,
                        _entry_key(entry),
                        f"produces '{product}', a name reserved for what the framework writes after the logic engine",
                    )
                )
    return problems


def _missing_problems(config: ChannelConfig, graph: ChannelGraph, unloaded: Sequence[str]) -> list[Problem]:
    """Products consumed (or read by facts) that nothing in the channel produces."""
    entries = _entry_by_key(config)
    problems = []
    for key, products in graph.missing.items():
        if config.logicengine is None:  # the implied pass-through logic engine writes these
            products = [p for p in products if p not in FRAMEWORK_PRODUCTS]
        if not products:
            continue
        entry = entries[key]
        text = f"The following products are required but not produced: {sorted(set(products))}"
        if entry.kind == "logicengine":
            text += " (read by the facts)"
        if unloaded:
            text += f"; note that {', '.join(unloaded)} could not be loaded and may produce them"
        problems.append(Problem(config.path, _entry_key(entry), text))
    return problems


def _cycle_problem(config: ChannelConfig, graph: ChannelGraph, instances: Mapping[str, Module]) -> Problem:
    """Describe the produce/consume cycle ``a -> b -> a`` with the products along it."""
    cycle = graph.cycle or []
    edges = []
    for consumer, producer in zip(cycle, cycle[1:], strict=False):
        inst = instances.get(consumer)
        products = sorted(
            p for p in (inst.declared_consumes() if inst else {}) if graph.producers.get(p) == producer
        )
        if inst is not None and consumer == producer:
            products = sorted(set(inst.declared_consumes()) & set(inst.declared_produces()))
        names = ", ".join(f"'{p}'" for p in products)
        edges.append(f"{consumer} consumes {names} from {'itself' if consumer == producer else producer}")
    return Problem(
        config.path,
        f"transforms.{cycle[0]}" if cycle else "transforms",
        "A produces/consumes circularity exists in the configuration: "
        + " -> ".join(cycle)
        + (f" ({'; '.join(edges)})" if edges else ""),
    )


def _find_action_key(le_entry: ModuleEntry, publisher: str) -> str:
    """The key of the first rule's ``actions`` naming ``publisher`` (fallback: ``parameters.rules``)."""
    base = f"{_entry_key(le_entry)}.parameters.rules"
    rules = le_entry.parameters.get("rules")
    if isinstance(rules, dict):
        for rule_name, rule in rules.items():
            actions = rule.get("actions") if isinstance(rule, dict) else None
            if isinstance(actions, list) and publisher in actions:
                return f"{base}.{rule_name}.actions"
    return base


def _raw_actions(le_entry: ModuleEntry) -> list[str]:
    rules = le_entry.parameters.get("rules")
    names: list[str] = []
    if isinstance(rules, dict):
        for rule in rules.values():
            if isinstance(rule, dict):
                for field in ("actions", "false_actions"):
                    acts = rule.get(field)
                    if isinstance(acts, list):
                        names += [a for a in acts if isinstance(a, str)]
    return names


def _action_problems(config: ChannelConfig, instances: Mapping[str, Module]) -> list[Problem]:
    """Every publisher a rule can select must be configured in the channel."""
    le_entry = config.logicengine
    if le_entry is None:
        return []
    le = instances.get(le_entry.key)
    if isinstance(le, LogicEngineBase):
        referenced = le.referenced_publishers()
    else:  # the engine did not construct (its own problems are reported): read the actions as written
        referenced = _raw_actions(le_entry)
    configured = sorted(config.publishers)
    problems = []
    for name in dict.fromkeys(referenced):
        if name not in config.publishers:
            problems.append(
                Problem(
                    config.path,
                    _find_action_key(le_entry, name),
                    f"action '{name}' names no configured publisher "
                    f"(publishers: {', '.join(configured) if configured else 'none'})",
                )
            )
    return problems


def _check_channel(
    config: ChannelConfig, dropped: Sequence[str] = ()
) -> tuple[ChannelGraph, dict[str, Module], list[Problem]]:
    """All single-channel checks; ``dropped`` are ``section.key`` entries the loader left out."""
    instances, problems = instantiate(config)
    problems.extend(_declaration_problems(config, instances))
    graph = build_graph(config, instances)
    problems.extend(_producer_problems(config, graph, instances))
    unloaded = [k for k in dropped if k.split(".", 1)[0] in ("sources", "transforms")]
    unloaded += [
        _entry_key(e)
        for e in (*config.sources.values(), *config.transforms.values())
        if e.key not in instances
    ]
    problems.extend(_missing_problems(config, graph, unloaded))
    if graph.cycle:
        problems.append(_cycle_problem(config, graph, instances))
    problems.extend(_action_problems(config, instances))
    return graph, instances, problems


def validate_channel(config: ChannelConfig) -> tuple[ChannelGraph | None, list[Problem]]:
    """Validate one loaded channel; return its product graph (``None`` unless valid) and every problem."""
    graph, _, problems = _check_channel(config)
    return (None if problems else graph), problems


# -- checks across channels -------------------------------------------------------------------------
def _identity_diff(a: ModuleEntry, b: ModuleEntry) -> list[str]:
    """Which parts of two entries' identities differ (``module``, ``parameters.x``, ...)."""
    ia, ib = a.identity(), b.identity()
    diff = []
    for field_name in ia:
        va, vb = ia[field_name], ib[field_name]
        if va == vb:
            continue
        if field_name == "parameters" and isinstance(va, dict) and isinstance(vb, dict):
            for p in sorted(set(va) | set(vb)):
                if va.get(p, _MISSING) != vb.get(p, _MISSING):
                    diff.append(f"parameters.{p}")
        else:
            diff.append(field_name)
    return diff


_MISSING = object()


def _cross_channel_problems(configs: Sequence[ChannelConfig]) -> list[Problem]:
    """Shared sources must be configured identically; channel names must be unique."""
    problems = []
    names: dict[str, ChannelConfig] = {}
    for cfg in configs:
        other = names.setdefault(cfg.name, cfg)
        if other is not cfg:
            problems.append(
                Problem(
                    cfg.path, "channel_name", f"the channel name '{cfg.name}' is also used by {other.path}"
                )
            )
    first_seen: dict[str, tuple[ChannelConfig, ModuleEntry]] = {}
    for cfg in configs:
        for key, entry in cfg.sources.items():
            seen = first_seen.setdefault(key, (cfg, entry))
            other_cfg, other_entry = seen
            if other_cfg is cfg or other_entry.identity() == entry.identity():
                continue
            problems.append(
                Problem(
                    cfg.path,
                    f"sources.{key}",
                    f"Mismatched configurations for source with name {key}: {other_cfg.path} (channel "
                    f"'{other_cfg.name}') and {cfg.path} (channel '{cfg.name}') differ in "
                    f"{', '.join(_identity_diff(other_entry, entry))}; sources are shared by key across "
                    "channels, so every channel must configure a source key identically",
                )
            )
    return problems


def validate_paths(paths: Iterable[str | Path]) -> tuple[list[ChannelConfig], list[Problem]]:
    """Load and validate channel files (directories give their ``*.jsonnet``/``*.json``).

    Returns every channel that could be read (structurally; possibly partial when it has problems)
    and every problem found in any of them, including conflicts between channels.  The channels are
    fit to deploy only when the problem list is empty.
    """
    files, problems = loader.channel_files(paths)
    configs: list[ChannelConfig] = []
    for f in files:
        result = loader.read_file(f)
        problems.extend(result.problems)
        if result.config is None:
            continue
        configs.append(result.config)
        _, _, channel_problems = _check_channel(result.config, result.dropped)
        problems.extend(channel_problems)
    problems.extend(_cross_channel_problems(configs))
    return configs, problems
