"""Plain-text rendering shared by CLI commands."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from hepde.errors import DEError
from hepde.ops.products import FORMATS


def table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells[1:]]
    return "\n".join(out)


def describe_value(value: Any) -> str:
    if isinstance(value, pd.DataFrame):
        return f"table {value.shape[0]} rows x {value.shape[1]} cols"
    if isinstance(value, pd.Series):
        return f"series {len(value)}"
    if isinstance(value, dict):
        return f"dict {len(value)} keys"
    if isinstance(value, list):
        return f"list {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def frame_text(frame: pd.DataFrame, max_rows: int = 20) -> str:
    if frame.empty:
        return "(no rows)"
    shown = frame.head(max_rows)
    text = table(shown.values.tolist(), [str(c) for c in shown.columns])
    if len(frame) > max_rows:
        text += f"\n... {len(frame) - max_rows} more row(s)"
    return text


# -- rendering (the original de-client / de-query-tool formats) ------------------------------------
def _tabulate(frame: Any, headers: Any, showindex: Any = "default") -> str:
    try:
        from tabulate import tabulate
    except ImportError:  # pragma: no cover - the CLI extra brings tabulate
        f = pd.DataFrame(frame)
        return table(
            f.values.tolist(), [str(c) for c in (headers if isinstance(headers, list) else f.columns)]
        )
    return tabulate(frame, headers=headers, tablefmt="psql", showindex=showindex)


def render(frame: pd.DataFrame, fmt: str = "table") -> str:
    """One frame as text: ``table`` (psql grid), ``vertical`` (one grid per row), ``column-names``,
    ``json`` (pandas' column-oriented JSON, indented), ``csv``."""
    if fmt == "table":
        return _tabulate(frame, "keys") + "\n"
    if fmt == "vertical":
        return "".join(
            f"Row {i}\n" + _tabulate(frame.T.iloc[:, [i]], (), showindex=True) + "\n"
            for i in range(len(frame))
        )
    if fmt == "column-names":
        return _tabulate([[c] for c in frame.columns], ["columns"], showindex=False) + "\n"
    if fmt == "json":
        return json.dumps(json.loads(frame.to_json()), indent=4) + "\n"
    if fmt == "csv":
        return frame.to_csv()
    raise DEError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def print_text(name: str, results: list[tuple[Any, pd.DataFrame]], fmt: str = "table") -> str:
    """``Product foo:  Found in channel C`` followed by the rendered product, per channel (the original's text)."""
    text = f"Product {name}: "
    for found, frame in results:
        text += f" Found in channel {found.channel}\n" + render(frame, fmt)
    return text
