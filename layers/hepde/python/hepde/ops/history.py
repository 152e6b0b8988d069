"""Recent cycles of a channel, from its cycle records (one per generation)."""

from __future__ import annotations

from typing import Any

from hepde.datablock.api import DataBlockStore
from hepde.errors import ChannelNotFoundError
from hepde.records import CycleRecord, DecisionRecord, cycle_records, read_decision

__all__ = ["cycle_records", "history", "summarize", "trigger_of"]

#: execution-name prefixes of the tools that start cycles (the state machine does not pass a trigger on)
NAME_TRIGGERS = {"run-now-": "run-now", "cycle-": "de run", "replay-": "replay"}


def trigger_of(record: CycleRecord) -> str | None:
    """What started a cycle: from its execution's name (``run-now-...`` = ``de channel run-now``,
    ``cycle-...`` = ``de run``), else the cycle record's ``trigger`` (``schedule`` by default)."""
    name = str(record.execution_id or "").rsplit(":", 1)[-1]
    for prefix, trigger in NAME_TRIGGERS.items():
        if name.startswith(prefix):
            return trigger
    return record.trigger


def summarize(record: CycleRecord, decision: DecisionRecord | None = None) -> dict[str, Any]:
    """One cycle as an operator reads it: number, times, trigger, result and why."""
    error = record.error
    stale = [s.to_json() for s in record.stale]
    detail = ""
    if error:
        detail = f"{error.error}: {error.cause}"
    elif record.stale:
        detail = "held: " + "; ".join(f"{s.source}/{s.product or '*'} {s.reason}" for s in record.stale)
    out = {
        "cycle": record.generation,
        "status": record.status,
        "trigger": trigger_of(record),
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration": record.duration,
        "execution_id": record.execution_id,
        "stale": stale,
        "error": error.to_json() if error else None,
        "detail": detail,
    }
    if decision is not None:
        out["selected_publishers"] = decision.selected_publishers
    return out


def history(
    store: DataBlockStore, channel: str, limit: int = 20, *, with_decisions: bool = True
) -> dict[str, Any]:
    """``{"channel", "cycles": [summary, ...]}`` newest first; unknown channel → :class:`ChannelNotFoundError`."""
    records = cycle_records(store, channel, limit)
    if not records:
        raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
    cycles = []
    for r in records:
        decision = read_decision(store, channel, r.generation) if with_decisions else None
        cycles.append(summarize(r, decision))
    return {"channel": channel, "cycles": cycles}
