"""Plain-text rendering shared by CLI commands."""

from __future__ import annotations

from typing import Any

import pandas as pd


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
