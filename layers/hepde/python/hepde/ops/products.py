"""``de products print`` / ``de products query``: data products of channels' cycles, as tables.

``print``: the product as the channel's last completed cycle saw it (the original de-client's
``--print-product``: "last completed generation").  ``query``: the product of every cycle since a time,
with ``channel`` and ``generation`` columns (the original de-query-tool).

``--query`` is a pandas ``DataFrame.query`` string.  pandas evaluates such strings, so a query is first
checked by the logic engine's safe expression checker (:mod:`hepde.logicengine.evaluator`: column
names, literals, comparisons, ``and``/``or``/``not``, allow-listed methods; no ``@`` locals, no
attribute internals, no calls outside the allow-list) and then run by that module with empty local
and global scopes.  A query that fails the check is a :class:`BadQueryError` naming what is not allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hepde.datablock.api import DataBlockStore, ProductRef
from hepde.errors import DEError, ProductNotFoundError
from hepde.records import CycleRecord, cycle_records
from hepde.runtime.records import cycle_report

FORMATS = ("table", "vertical", "column-names", "json", "csv")
#: cycles looked back through for a channel's last completed cycle holding a product
LOOKBACK = 20

Progress = Callable[[int, int, str], None]


class BadQueryError(DEError):
    """A ``--query`` expression is not allowed or does not evaluate on the product."""


class UnknownColumnError(DEError):
    """``--columns`` names a column the product does not have."""


@dataclass
class Found:
    channel: str
    cycle: int
    ref: ProductRef
    value: Any


def as_frame(value: Any) -> pd.DataFrame:
    """A product as a table: DataFrames as they are; a list of dicts row-wise; a dict as key/value rows;
    anything else as one ``value`` cell."""
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return pd.DataFrame(value)
    if isinstance(value, dict):
        return pd.DataFrame({"key": list(value.keys()), "value": [_cell(v) for v in value.values()]})
    return pd.DataFrame({"value": [_cell(value)]})


def _cell(v: Any) -> Any:
    return json.dumps(v, default=str) if isinstance(v, dict | list | tuple) else v


def check_query(query: str) -> Any:
    """The parsed, validated query (an evaluator :class:`Expression` over a frame named ``df``)."""
    from hepde.logicengine.evaluator import ExpressionError, parse_expression

    if not isinstance(query, str) or not query.strip():
        raise BadQueryError("the query is empty")
    try:
        return parse_expression(f"df.query({query!r})")
    except ExpressionError as exc:
        reason = exc.reason
        for prefix in (
            f"in query string {query!r}: ",
            "The following expression string could not be parsed: ",
        ):
            reason = reason.removeprefix(prefix)
        raise BadQueryError(f"bad query {query!r}: {reason}") from None


def apply_query(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    expression = check_query(query)
    try:
        result = expression.evaluate({"df": frame})
    except DEError as exc:
        raise BadQueryError(f"bad query {query!r}: {exc}") from None
    except Exception as exc:  # pandas' own errors: undefined column, type mismatch ...
        raise BadQueryError(f"bad query {query!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(result, pd.DataFrame):
        raise BadQueryError(f"bad query {query!r}: it did not select rows")
    return result


def select(
    frame: pd.DataFrame, columns: list[str] | None = None, query: str | None = None, types: bool = False
) -> pd.DataFrame:
    """Rows by ``query``, then ``columns`` in that order, then ``<column>.type`` columns if ``types``."""
    if query:
        frame = apply_query(frame, query)
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UnknownColumnError(
                f"unknown column(s) {', '.join(missing)}; the product has: "
                f"{', '.join(map(str, frame.columns)) or 'no columns'}"
            )
        frame = frame.loc[:, columns]
    if types:
        frame = frame.copy()
        for column in list(frame.columns):
            frame.insert(
                frame.columns.get_loc(column) + 1,
                f"{column}.type",
                frame[column].astype(object).map(lambda x: type(x).__name__),
            )
    return frame


def _completed(records: list[CycleRecord]) -> list[CycleRecord]:
    return [r for r in records if r.status not in ("RUNNING", "HOLDING")]


def latest(store: DataBlockStore, channels: list[str], name: str) -> list[Found]:
    """The product in each channel's last completed cycle that has it; none → :class:`ProductNotFoundError`."""
    found = []
    for channel in channels:
        for record in _completed(cycle_records(store, channel, LOOKBACK)):
            report = cycle_report(store, channel, record.generation)
            ref = report.products.get(name)
            if ref is not None:
                found.append(Found(channel, report.generation, ref, store.get_product(ref)))
                break
    if not found:
        where = ", ".join(channels) if channels else "no channels deployed"
        raise ProductNotFoundError(
            f"product '{name}' is not produced by any of the channels ({where}) "
            f"in their last {LOOKBACK} cycles"
        )
    return found


def print_product(
    store: DataBlockStore,
    channels: list[str],
    name: str,
    *,
    columns: list[str] | None = None,
    query: str | None = None,
    types: bool = False,
) -> list[tuple[Found, pd.DataFrame]]:
    if query:
        check_query(query)  # before any read: a bad query is refused whatever the data
    return [(f, select(as_frame(f.value), columns, query, types)) for f in latest(store, channels, name)]


def query_product(
    store: DataBlockStore,
    channels: list[str],
    name: str,
    since: float,
    *,
    until: float | None = None,
    columns: list[str] | None = None,
    query: str | None = None,
    max_cycles: int = 1000,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The product of every completed cycle started in [since, until], oldest first, with ``channel`` and
    ``generation`` columns (the cycle number) first."""
    if query:
        check_query(query)
    plan: list[tuple[str, int]] = []
    for channel in channels:
        for record in _completed(cycle_records(store, channel, max_cycles)):
            started = record.started_at or 0.0
            if started < since:
                break
            if until is None or started <= until:
                plan.append((channel, record.generation))
    plan.sort()
    frames = []
    cache: dict[ProductRef, Any] = {}
    seen = False
    for i, (channel, generation) in enumerate(plan):
        if progress:
            progress(i, len(plan), f"{channel} cycle {generation}")
        ref = cycle_report(store, channel, generation).products.get(name)
        if ref is None:
            continue
        seen = True
        if ref not in cache:
            cache[ref] = store.get_product(ref)
        frame = as_frame(cache[ref])
        if query:
            frame = apply_query(frame, query)
        frame = frame.copy()
        frame.insert(0, "generation", generation)
        frame.insert(0, "channel", channel)
        frames.append(frame)
    if progress:
        progress(len(plan), len(plan), "done")
    if not seen:
        raise ProductNotFoundError(
            f"product '{name}' is not in any cycle of {', '.join(channels) or 'no channels'} since the given time "
            f"({len(plan)} cycle(s) looked at)"
        )
    result = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["channel", "generation"])
    )
    if columns:
        result = select(
            result, ["channel", "generation"] + [c for c in columns if c not in ("channel", "generation")]
        )
    return result.reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-able rows (NaN → null, numpy scalars → Python)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def list_products(store: DataBlockStore, channels: list[str]) -> list[dict[str, Any]]:
    """The products of each channel's last completed cycle: name and where it is stored."""
    out: list[dict[str, Any]] = []
    for channel in channels:
        done = _completed(cycle_records(store, channel, LOOKBACK))
        if not done:
            out.append({"channel": channel, "cycle": None, "products": []})
            continue
        report = cycle_report(store, channel, done[0].generation)
        out.append(
            {
                "channel": channel,
                "cycle": report.generation,
                "products": [
                    {"product": n, "from": f"{r.namespace}@{r.generation}"}
                    for n, r in sorted(report.products.items())
                ],
            }
        )
    return out
