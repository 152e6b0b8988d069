"""Helpers shared by the AWS, GCE and NERSC economics modules.

* :func:`figure_of_merit` — the original's generic FOM (``decisionengine_modules/util/figure_of_merit.py``);
* :func:`entries_of_type` — the factory entries of one type (Grid/AWS/GCE/LCF), empty when there are
  none (the original's unguarded ``Factory_Entries.xs(type)`` raised ``KeyError``, seed-system §4.9 #14);
* :func:`parse_literal` / :func:`read_mapping_file` — the original's "python-literal" configuration files
  (``{"profile": {"region": [...]}}``) read *without* ``exec``/``eval``: only literals are accepted;
* :func:`read_csv` — a CSV at a path, ``s3://`` or ``package://`` location, with a clear error.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from hepde.errors import DEError
from hepde.modules.tables import read_bytes, read_table

logger = logging.getLogger(__name__)

#: the original's "infinitely bad" figure of merit (``sys.float_info.max``)
INF: Final = sys.float_info.max

#: ``GLIDEIN_GridType`` values of each factory entry type (``glideinwms/sources/factory_entries.py``)
ENTRY_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "Grid": ("gt2", "condor"),
    "AWS": ("ec2",),
    "GCE": ("gce",),
    "LCF": ("batch slurm",),
}


class CloudConfigError(DEError):
    """A cloud module's configuration file or value is unusable; the message says which and why."""


class ProviderError(DEError):
    """A provider API (EC2, Compute Engine, NERSC) answered with an error or could not be reached."""


# -- figures of merit ---------------------------------------------------------------------------
def figure_of_merit(
    performance: Any, running: Any, max_allowed: Any, idle: Any = None, max_idle: Any = None
) -> float:
    """The original's generic figure of merit: lower is better, :data:`INF` when at a limit.

    ``performance * (running + 1) / max_allowed``; :data:`INF` if ``running >= max_allowed``, if
    ``max_allowed == 0`` or if ``idle >= max_idle`` (when both are given).  Where the original
    returned ``None`` on a ``TypeError`` (a non-numeric value, seed-system §4.9 #10) this returns
    :data:`INF`: an entry we cannot rate is never preferred.
    """
    try:
        if running >= max_allowed or max_allowed == 0:
            return INF
        if idle is not None and max_idle is not None and idle >= max_idle:
            return INF
        value = float(performance) * float(running + 1) / max_allowed
    except TypeError:
        logger.warning(
            "figure_of_merit: non-numeric input (performance=%r, running=%r, max_allowed=%r, "
            "idle=%r, max_idle=%r); using the worst value",
            performance,
            running,
            max_allowed,
            idle,
            max_idle,
        )
        return INF
    return INF if math.isnan(value) else value


def price_performance(price: pd.Series, perf: pd.Series) -> pd.Series:
    """``price / perf`` where ``perf > 0``, else :data:`INF` (GCE/NERSC rule; also AWS here, see aws.transforms)."""
    price = pd.to_numeric(price, errors="coerce").astype("float64")
    perf = pd.to_numeric(perf, errors="coerce").astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(perf > 0, price / perf.where(perf > 0, 1.0), INF)
    out = np.where(np.isnan(out), INF, out)
    return pd.Series(out, index=price.index, dtype="float64")


# -- factory entries ------------------------------------------------------------------------------
def entries_of_type(factory_entries: Any, entry_type: str) -> pd.DataFrame:
    """The factory entries of ``entry_type`` (``Grid``, ``AWS``, ``GCE``, ``LCF``) as a flat frame.

    Accepts the original's shape (a 2-level index: type, row — ``Factory_Entries.xs(type)``) and a flat
    table with an ``EntryType`` column or only ``GLIDEIN_GridType``.  No entries of that type (or no
    entries at all) gives an empty frame instead of the original's ``KeyError``.
    """
    if factory_entries is None or not isinstance(factory_entries, pd.DataFrame) or factory_entries.empty:
        return pd.DataFrame()
    frame = factory_entries
    if isinstance(frame.index, pd.MultiIndex):
        if entry_type not in frame.index.get_level_values(0):
            return pd.DataFrame(columns=frame.columns)
        return frame.xs(entry_type)
    if "EntryType" in frame.columns:
        return frame[frame["EntryType"] == entry_type].reset_index(drop=True)
    if "GLIDEIN_GridType" in frame.columns:
        grid_types = ENTRY_TYPES.get(entry_type, ())
        return frame[frame["GLIDEIN_GridType"].isin(grid_types)].reset_index(drop=True)
    return pd.DataFrame(columns=frame.columns)


# -- literal configuration files -------------------------------------------------------------------
def parse_literal(
    text: str, *, where: str = "<text>", calls: Mapping[str, Callable[..., Any]] | None = None
) -> Any:
    """Parse a Python literal (dicts, lists, tuples, sets, strings, numbers, booleans, None).

    Never runs code: the syntax tree is walked and anything but a literal is refused with a message
    naming the construct and its line.  ``calls`` may allow a few named constructors (tests use it for
    ``datetime.datetime(...)`` in the original's fixtures).
    """
    try:
        tree = ast.parse(text.strip(), filename=where, mode="eval")
    except SyntaxError as exc:
        raise CloudConfigError(f"{where}: not a valid literal (line {exc.lineno}: {exc.msg})") from exc
    allowed = dict(calls or {})

    def dotted(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Dict):
            return {walk(k): walk(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
        if isinstance(node, ast.List):
            return [walk(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(walk(e) for e in node.elts)
        if isinstance(node, ast.Set):
            return {walk(e) for e in node.elts}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = walk(node.operand)
            if isinstance(value, int | float):
                return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        if isinstance(node, ast.Call) and not node.keywords:
            name = dotted(node.func)
            if name in allowed:
                return allowed[name](*[walk(a) for a in node.args])
        raise CloudConfigError(
            f"{where}: line {getattr(node, 'lineno', '?')}: only literals are allowed "
            f"(dict, list, string, number, True/False/None), found {type(node).__name__}"
        )

    return walk(tree.body)


def read_mapping_file(location: str, *, what: str) -> dict[str, Any]:
    """Read a configuration mapping from a JSON file or an original-style Python-literal file."""
    try:
        text = read_bytes(location).decode("utf-8")
    except DEError as exc:
        raise CloudConfigError(f"{what}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CloudConfigError(f"{what}: '{location}' is not UTF-8 text") from exc
    try:
        value = json.loads(text)
    except ValueError:
        value = parse_literal(text, where=location)
    if not isinstance(value, dict):
        raise CloudConfigError(f"{what}: '{location}' must hold a mapping, found {type(value).__name__}")
    return value


def read_csv(location: str, *, what: str, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV (or Parquet/JSON) table; a missing file or column is a :class:`CloudConfigError`."""
    try:
        frame = read_table(location)
    except DEError as exc:
        raise CloudConfigError(f"{what}: {exc}") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CloudConfigError(
            f"{what}: '{location}' has no column(s) {', '.join(missing)}; columns are {', '.join(map(str, frame.columns))}"
        )
    return frame


def as_float(value: Any, default: float = 0.0) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out
