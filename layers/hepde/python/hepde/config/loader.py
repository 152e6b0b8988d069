"""Loading channel configuration files into :class:`~hepde.config.model.ChannelConfig`.

A channel file is Jsonnet (``.jsonnet``, ``.libsonnet``) or JSON (``.json``).  Jsonnet imports resolve
relative to the importing file, then in the directory of the file being loaded, then in this
package's config directory — so ``import 'de_std.libsonnet'`` works as in the original.

Loading checks the *structure* only (what modules are configured, not whether they exist): every
problem found is collected, each with the file and a dotted key such as
``sources.source1.parameters``, and :func:`load_channel` raises one
:class:`~hepde.errors.ConfigError` carrying all of them.  Module resolution, parameter schemas and
the product graph are checked by :mod:`hepde.config.validate`.

Structure (the original's rules, plus what it left unchecked):

* top level: ``sources``, ``transforms`` and ``publishers`` are mandatory objects (may be empty);
  ``logicengines`` is optional and holds at most one entry; ``channel_name`` (a non-empty string)
  overrides the name taken from the file's basename; ``schedule`` is seconds between cycles;
  ``task_manager`` (legacy) is ignored; any other key is an error;
* a module entry is an object with ``module`` (string) and ``parameters`` (object), optionally
  ``name`` (class name), ``schedule`` and — sources only — ``lifetime``; any other key is an error;
* ``schedule`` and ``lifetime`` are numbers > 0 (seconds);
* a module key is used once across all sections (modules are addressed by key).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _jsonnet

from hepde.config.model import ENTRY_KEYS, SECTIONS, TOP_LEVEL_KEYS, ChannelConfig, ModuleEntry
from hepde.errors import ConfigError, Problem

__all__ = [
    "CHANNEL_SUFFIXES",
    "CONFIG_DIR",
    "LoadResult",
    "channel_files",
    "evaluate_file",
    "load_channel",
    "load_channels",
    "parse_channel",
    "read_channel",
    "read_file",
]

#: the package's config directory (holds ``de_std.libsonnet``); always on the Jsonnet import path
CONFIG_DIR = Path(__file__).resolve().parent
#: extensions a channel file given explicitly may have
SUPPORTED_SUFFIXES = (".jsonnet", ".libsonnet", ".json")
#: extensions of the channel files picked up when a directory is given (libsonnet files are imports)
CHANNEL_SUFFIXES = (".jsonnet", ".json")

MANDATORY_SECTIONS = ("sources", "transforms", "publishers")
MANDATORY_ENTRY_KEYS = ("module", "parameters")


def _type_name(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _unsupported_extension(path: Path) -> Problem:
    return Problem(
        str(path),
        "",
        f"unsupported file extension '{path.suffix}' (a channel file is .jsonnet, .libsonnet or .json)",
    )


# -- reading files ----------------------------------------------------------------------------------
def evaluate_file(path: str | Path, jpathdirs: Iterable[str | Path] = ()) -> Any:
    """Evaluate a Jsonnet or JSON file and return the decoded value.

    Raises :class:`ConfigError` with a single problem (the Jsonnet/JSON error message, no Python
    traceback) when the file cannot be read or evaluated, or has an unsupported extension.
    """
    file = str(path)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ConfigError([_unsupported_extension(p)])
    if not p.is_file():
        raise ConfigError([Problem(file, "", "no such file")])
    if suffix == ".json":
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([Problem(file, "", f"cannot read file: {exc}")]) from None
        if not text.strip():
            raise ConfigError([Problem(file, "", "empty configuration file")])
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([Problem(file, "", f"invalid JSON: {exc}")]) from None
    # Jsonnet: the right-most search directory wins, so the file's own directory beats the package's.
    search = [str(CONFIG_DIR), *(str(d) for d in jpathdirs), str(p.resolve().parent)]
    try:
        if not p.read_text(encoding="utf-8").strip():
            raise ConfigError([Problem(file, "", "empty configuration file")])
        text = _jsonnet.evaluate_file(file, jpathdir=search)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(file, "", f"cannot read file: {exc}")]) from None
    except RuntimeError as exc:  # the jsonnet binding reports every Jsonnet error this way
        raise ConfigError([Problem(file, "", str(exc).rstrip())]) from None
    return json.loads(text)


def channel_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Expand ``paths`` into channel files: a directory gives its ``*.jsonnet``/``*.json``, sorted.

    Returns the files (each once, in order) and a problem for every path that does not exist, has
    an unsupported extension, or is a directory without channel files.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                (c for c in p.iterdir() if c.is_file() and c.suffix.lower() in CHANNEL_SUFFIXES),
                key=lambda c: c.name,
            )
            if not found:
                problems.append(
                    Problem(
                        str(p), "", "no channel configuration files (*.jsonnet, *.json) in this directory"
                    )
                )
            files.extend(found)
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                problems.append(_unsupported_extension(p))
            else:
                files.append(p)
        else:
            problems.append(Problem(str(p), "", "no such file or directory"))
    unique: dict[str, Path] = {}
    for f in files:
        unique.setdefault(os.path.realpath(f), f)
    return list(unique.values()), problems


# -- structure --------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    """What reading one channel file gave: the (best-effort) config and every structural problem.

    ``config`` is ``None`` when the file could not be evaluated or is not an object; otherwise it
    holds every entry that could be built (entries with structural problems may be left out), so
    that later checks can still run and report their problems in the same pass.
    """

    path: str
    config: ChannelConfig | None
    problems: list[Problem] = field(default_factory=list)
    #: keys (``sources.x``) of entries left out of ``config`` because of structural problems
    dropped: list[str] = field(default_factory=list)


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


def _parse_entry(file: str, section: str, key: str, raw: Any, problems: list[Problem]) -> ModuleEntry | None:
    """Check one module entry; return it, or ``None`` when it cannot be used at all."""
    where = _join(section, key)
    kind = SECTIONS[section]
    if not isinstance(raw, dict):
        problems.append(Problem(file, where, f"a module entry must be an object, got {_type_name(raw)}"))
        return None
    usable = True
    for extra in sorted(set(raw) - ENTRY_KEYS):
        problems.append(
            Problem(file, _join(where, extra), f"unknown key (allowed: {', '.join(sorted(ENTRY_KEYS))})")
        )
    for mandatory in MANDATORY_ENTRY_KEYS:
        if mandatory not in raw:
            problems.append(Problem(file, _join(where, mandatory), "missing mandatory key"))
            usable = False
    module = raw.get("module")
    if "module" in raw and not (isinstance(module, str) and module.strip()):
        problems.append(
            Problem(
                file, _join(where, "module"), f"must be a non-empty string (a module path), got {module!r}"
            )
        )
        usable = False
    name = raw.get("name")
    if name is not None and not (isinstance(name, str) and name.strip()):
        problems.append(
            Problem(file, _join(where, "name"), f"must be a non-empty string (a class name), got {name!r}")
        )
        usable = False
    parameters = raw.get("parameters", {})
    if not isinstance(parameters, dict):
        problems.append(
            Problem(file, _join(where, "parameters"), f"must be an object, got {_type_name(parameters)}")
        )
        usable = False
    schedule = raw.get("schedule")
    if schedule is not None and not _positive_number(schedule):
        problems.append(
            Problem(file, _join(where, "schedule"), f"must be a number of seconds > 0, got {schedule!r}")
        )
        schedule = None
    lifetime = raw.get("lifetime")
    if lifetime is not None:
        if kind != "source":
            problems.append(
                Problem(
                    file,
                    _join(where, "lifetime"),
                    "only sources have a lifetime (seconds a product stays fresh)",
                )
            )
            lifetime = None
        elif not _positive_number(lifetime):
            problems.append(
                Problem(file, _join(where, "lifetime"), f"must be a number of seconds > 0, got {lifetime!r}")
            )
            lifetime = None
    if not usable:
        return None
    return ModuleEntry(
        key=key,
        kind=kind,
        module=str(module).strip(),
        name=name.strip() if isinstance(name, str) else None,
        parameters=dict(parameters),
        schedule=float(schedule) if schedule is not None else None,
        lifetime=float(lifetime) if lifetime is not None else None,
    )


def read_channel(data: Any, path: str | Path, name: str | None = None) -> LoadResult:
    """Check the structure of a decoded channel document; collect every problem.

    ``name`` defaults to the top-level ``channel_name``, else the file's basename without extension.
    """
    file = str(path)
    problems: list[Problem] = []
    dropped: list[str] = []
    if not isinstance(data, dict):
        problems.append(
            Problem(file, "", f"a channel configuration must be an object, got {_type_name(data)}")
        )
        return LoadResult(file, None, problems)

    for extra in sorted(set(data) - TOP_LEVEL_KEYS):
        problems.append(
            Problem(file, extra, f"unknown top-level key (allowed: {', '.join(sorted(TOP_LEVEL_KEYS))})")
        )

    channel_name = Path(file).stem
    if "channel_name" in data:
        value = data["channel_name"]
        if isinstance(value, str) and value.strip():
            channel_name = value.strip()
        else:
            problems.append(Problem(file, "channel_name", f"must be a non-empty string, got {value!r}"))
    if name:
        channel_name = name

    schedule = data.get("schedule")
    if schedule is not None and not _positive_number(schedule):
        problems.append(Problem(file, "schedule", f"must be a number of seconds > 0, got {schedule!r}"))
        schedule = None

    sections: dict[str, dict[str, ModuleEntry]] = {s: {} for s in SECTIONS}
    owner: dict[str, str] = {}  # module key -> section that used it first
    for section in SECTIONS:
        if section not in data:
            if section in MANDATORY_SECTIONS:
                problems.append(Problem(file, section, "missing mandatory key (use {} for none)"))
            continue
        raw_section = data[section]
        if not isinstance(raw_section, dict):
            problems.append(
                Problem(
                    file,
                    section,
                    f"must be an object mapping module keys to module entries, got {_type_name(raw_section)}",
                )
            )
            continue
        for key, raw_entry in raw_section.items():
            if not key.strip():
                problems.append(Problem(file, section, "a module key must be a non-empty string"))
                continue
            if key in owner:
                problems.append(
                    Problem(
                        file,
                        _join(section, key),
                        f"the module key '{key}' is also used in '{owner[key]}'; "
                        "module keys must be unique across sections",
                    )
                )
                dropped.append(_join(section, key))
                continue
            owner[key] = section
            entry = _parse_entry(file, section, key, raw_entry, problems)
            if entry is None:
                dropped.append(_join(section, key))
            else:
                sections[section][key] = entry

    logicengines = sections["logicengines"]
    raw_les = data.get("logicengines")
    if isinstance(raw_les, dict) and len(raw_les) > 1:
        keys = list(raw_les)
        problems.append(
            Problem(
                file,
                "logicengines",
                f"a channel has at most one logic engine, found {len(keys)}: {', '.join(keys)}",
            )
        )
    config = ChannelConfig(
        name=channel_name,
        path=file,
        sources=sections["sources"],
        transforms=sections["transforms"],
        logicengine=next(iter(logicengines.values()), None),
        publishers=sections["publishers"],
        schedule=float(schedule) if schedule is not None else None,
    )
    return LoadResult(file, config, problems, dropped)


def read_file(path: str | Path, jpathdirs: Iterable[str | Path] = ()) -> LoadResult:
    """Evaluate and structurally check one channel file without raising."""
    try:
        data = evaluate_file(path, jpathdirs)
    except ConfigError as exc:
        return LoadResult(str(path), None, exc.problems)
    return read_channel(data, path)


def parse_channel(data: Any, path: str | Path, name: str | None = None) -> ChannelConfig:
    """Build a :class:`ChannelConfig` from a decoded document; raise :class:`ConfigError` on problems."""
    result = read_channel(data, path, name)
    if result.problems or result.config is None:
        raise ConfigError(result.problems)
    return result.config


def load_channel(path: str | Path, *, jpathdirs: Iterable[str | Path] = ()) -> ChannelConfig:
    """Load one channel file (``.jsonnet``, ``.libsonnet`` or ``.json``).

    Raises :class:`ConfigError` listing every structural problem of the file.
    """
    result = read_file(path, jpathdirs)
    if result.problems or result.config is None:
        raise ConfigError(result.problems)
    return result.config


def load_channels(
    paths: Iterable[str | Path], *, jpathdirs: Iterable[str | Path] = ()
) -> list[ChannelConfig]:
    """Load channel files; directories give their ``*.jsonnet``/``*.json`` files in name order.

    Raises :class:`ConfigError` listing every problem of every file (nothing is returned unless all
    files load).
    """
    jpaths = list(jpathdirs)
    files, problems = channel_files(paths)
    configs: list[ChannelConfig] = []
    for f in files:
        result = read_file(f, jpaths)
        problems.extend(result.problems)
        if result.config is not None:
            configs.append(result.config)
    if problems:
        raise ConfigError(problems)
    return configs
