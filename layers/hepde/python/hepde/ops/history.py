"""Recent cycles of a channel, from its cycle records (one per generation)."""

from __future__ import annotations

from typing import Any

from hepde.datablock.api import DataBlockStore, channel_namespace
from hepde.errors import ChannelNotFoundError
from hepde.runtime.stages import CYCLE, DECISION, gen_id


def cycle_records(store: DataBlockStore, channel: str, limit: int | None = 20) -> list[dict[str, Any]]:
    """Cycle records, newest first."""
    return [
        r for _, r in store.query_records(channel_namespace(channel), CYCLE, newest_first=True, limit=limit)
    ]


#: execution-name prefixes of the tools that start cycles (the state machine does not pass a trigger on)
NAME_TRIGGERS = {"run-now-": "run-now", "cycle-": "de run", "replay-": "replay"}


def trigger_of(record: dict[str, Any]) -> str | None:
    """What started a cycle: from its execution's name (``run-now-...`` = ``de channel run-now``,
    ``cycle-...`` = ``de run``), else the cycle record's ``trigger`` (``schedule`` by default)."""
    name = str(record.get("execution_id") or "").rsplit(":", 1)[-1]
    for prefix, trigger in NAME_TRIGGERS.items():
        if name.startswith(prefix):
            return trigger
    return record.get("trigger")


def summarize(record: dict[str, Any], decision: dict[str, Any] | None = None) -> dict[str, Any]:
    """One cycle as an operator reads it: number, times, trigger, result and why."""
    error = record.get("error") or None
    stale = record.get("stale") or []
    detail = ""
    if error:
        detail = f"{error.get('error')}: {error.get('cause')}"
    elif stale:
        detail = "held: " + "; ".join(
            f"{s.get('source')}/{s.get('product') or '*'} {s.get('reason')}" for s in stale
        )
    out = {
        "cycle": int(record.get("generation", 0)),
        "status": record.get("status", "UNKNOWN"),
        "trigger": trigger_of(record),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "duration": record.get("duration"),
        "execution_id": record.get("execution_id"),
        "stale": stale,
        "error": error,
        "detail": detail,
    }
    if decision is not None:
        out["selected_publishers"] = decision.get("selected_publishers", [])
    return out


def history(
    store: DataBlockStore, channel: str, limit: int = 20, *, with_decisions: bool = True
) -> dict[str, Any]:
    """``{"channel", "cycles": [summary, ...]}`` newest first; unknown channel → :class:`ChannelNotFoundError`."""
    records = cycle_records(store, channel, limit)
    if not records:
        raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
    ns = channel_namespace(channel)
    cycles = []
    for r in records:
        decision = store.get_record(ns, DECISION, gen_id(int(r["generation"]))) if with_decisions else None
        cycles.append(summarize(r, decision if with_decisions else None))
    return {"channel": channel, "cycles": cycles}
