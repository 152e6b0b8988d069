"""``de status``: every channel (schedule, last cycle, next run, stale holds) and every shared source."""

from __future__ import annotations

import time
from typing import Any

from hepde.datablock.api import source_namespace
from hepde.errors import ChannelNotFoundError
from hepde.naming import safe
from hepde.ops.context import OpsContext
from hepde.ops.history import cycle_records, summarize, trigger_of
from hepde.ops.schedule import next_run
from hepde.records import read_source_status
from hepde.runtime.stages import cycle_lease

#: how many recent cycles "stale holds" counts over
RECENT = 20


def channel_names(ctx: OpsContext) -> list[str]:
    """Deployed channels: state machines ``<stack>-de-*`` and schedule rules ``<stack>-cycle-*``."""
    return sorted(set(ctx.executions.channels()) | set(ctx.schedules.channel_rules()))


def channel_status(ctx: OpsContext, channel: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    schedule = ctx.schedules.channel(channel)
    records = cycle_records(ctx.store, channel, RECENT)
    last = summarize(records[0]) if records else None
    last_done = next((summarize(r) for r in records if r.status not in ("RUNNING", "HOLDING")), None)
    held = [r for r in records if r.status == "HELD"]
    last_scheduled = next(
        (r.started_at for r in records if trigger_of(r) == "schedule" and r.started_at is not None),
        None,
    )
    lease = ctx.store.get_lease(cycle_lease(channel))
    running = bool(lease and float(lease.get("expires_at", 0)) > now)
    return {
        "channel": channel,
        "schedule": schedule.to_json() if schedule else None,
        "next_run": next_run(
            schedule.expression if schedule else None,
            bool(schedule and schedule.enabled),
            now,
            last_scheduled,
        ),
        "running": running,
        "running_execution": lease.get("owner") if running and lease else None,
        "last_cycle": last,
        "last_completed": last_done,
        "stale_holds": {
            "recent_cycles": len(records),
            "held": len(held),
            "last_held_cycle": held[0].generation if held else None,
            "stale": [s.to_json() for s in held[0].stale] if held else [],
            "holding_now": bool(last_done and last_done["status"] == "HELD"),
        },
    }


def source_keys(ctx: OpsContext, channels: list[str]) -> list[str]:
    """Shared sources: those with a schedule rule and those the channels' last cycles acquired."""
    keys = set(ctx.schedules.source_rules())
    by_safe = {}
    for ch in channels:
        for r in cycle_records(ctx.store, ch, 1):
            for a in r.acquisitions:
                if a.source:
                    by_safe[safe(a.source)] = a.source
    keys = {by_safe.get(k, k) for k in keys} | set(by_safe.values())
    return sorted(keys)


def source_status(ctx: OpsContext, key: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    ns = source_namespace(key)
    latest = ctx.store.latest_generation(ns)
    last = read_source_status(ctx.store, key)
    schedule = ctx.schedules.source(key)
    products: list[dict[str, Any]] = []
    fresh = None
    acquired_at = None
    expires_at = None
    if latest is not None:
        infos = ctx.store.list_generation(ns, latest)
        for i in infos:
            products.append(
                {
                    "product": i.ref.name,
                    "created_at": i.header.create_time,
                    "expires_at": i.header.expiration_time,
                    "expired": i.header.is_expired(now),
                }
            )
        if infos:
            acquired_at = min(i.header.create_time for i in infos)
            expires_at = min(i.header.expiration_time for i in infos)
            fresh = now < expires_at
    return {
        "source": key,
        "generation": latest,
        "last_acquired_at": acquired_at,
        "age": (now - acquired_at) if acquired_at is not None else None,
        "expires_at": expires_at,
        "fresh": fresh,
        "freshness": (
            "never acquired"
            if latest is None
            else "fresh"
            if fresh
            else f"stale: expired {now - float(expires_at or now):.0f} s ago"
        ),
        "last_attempt": last.to_json() if last else None,
        "schedule": schedule.to_json() if schedule else None,
        "products": products,
    }


def status(ctx: OpsContext, channels: list[str] | None = None, now: float | None = None) -> dict[str, Any]:
    """The whole picture; ``channels`` limits it (default: every deployed channel)."""
    now = time.time() if now is None else now
    deployed = channel_names(ctx)
    names = channels if channels is not None else deployed
    unknown = [c for c in names if safe(c) not in deployed and not cycle_records(ctx.store, c, 1)]
    if unknown:
        raise ChannelNotFoundError(
            f"unknown channel(s) {', '.join(unknown)} in stack '{ctx.stack}' "
            f"(deployed channels: {', '.join(deployed) or 'none'})"
        )
    return {
        "stack": ctx.stack,
        "now": now,
        "channels": [channel_status(ctx, c, now) for c in names],
        "sources": [source_status(ctx, k, now) for k in source_keys(ctx, names)],
    }
