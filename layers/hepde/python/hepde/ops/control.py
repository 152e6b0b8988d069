"""``de channel start|stop|run-now``: the channel's schedule rule on/off, a cycle now."""

from __future__ import annotations

from typing import Any

from hepde.ops.context import OpsContext


def start(ctx: OpsContext, channel: str) -> dict[str, Any]:
    """Enable the channel's EventBridge schedule (its cycles run again on schedule)."""
    ctx.executions.arn(channel)  # unknown channel → ChannelNotFoundError naming the deployed ones
    schedule = ctx.schedules.set_enabled(channel, True)
    return {"channel": channel, "action": "start", "schedule": schedule.to_json()}


def stop(ctx: OpsContext, channel: str) -> dict[str, Any]:
    """Disable the channel's schedule.  A cycle already running finishes; none starts on schedule."""
    ctx.executions.arn(channel)
    schedule = ctx.schedules.set_enabled(channel, False)
    return {
        "channel": channel,
        "action": "stop",
        "schedule": schedule.to_json(),
        "running": running(ctx, channel),
    }


def running(ctx: OpsContext, channel: str, now: float | None = None) -> list[dict[str, Any]]:
    """The cycle running now, from the channel's cycle lease (works for Standard and Express state
    machines alike; Express ones cannot be listed or described)."""
    import time

    from hepde.runtime.stages import cycle_lease

    lease = ctx.store.get_lease(cycle_lease(channel))
    now = time.time() if now is None else now
    if lease and float(lease.get("expires_at", 0)) > now:
        return [{"execution_arn": lease.get("owner"), "lease_expires_at": float(lease["expires_at"])}]
    return []


def lease(ctx: OpsContext, channel: str, now: float | None = None) -> dict[str, Any]:
    """The channel's cycle lease as ``de channel unlock`` shows it before breaking it."""
    import time

    from hepde.runtime.stages import cycle_lease, queue_lease

    ctx.executions.arn(channel)
    now = time.time() if now is None else now
    held = ctx.store.get_lease(cycle_lease(channel))
    waiting = ctx.store.get_lease(queue_lease(channel))
    return {
        "channel": channel,
        "lease": held,
        "active": bool(held and float(held.get("expires_at", 0)) > now),
        "waiting": waiting.get("owner") if waiting and float(waiting.get("expires_at", 0)) > now else None,
    }


def unlock(ctx: OpsContext, channel: str) -> dict[str, Any]:
    """Break the channel's cycle lease (and its waiting slot): the next start runs a cycle at once.

    For a lease left by an execution that was aborted: a lease expires by itself when its execution is
    certainly over (Express: 300 s after it started).  Breaking the lease of a cycle that still runs lets a
    second cycle overlap it: the operator confirms first (``--yes``).
    """
    from hepde.runtime.stages import break_lease

    before = lease(ctx, channel)
    broken = break_lease(ctx.store, channel)
    return {"channel": channel, "action": "unlock", "broken": broken, "was_active": before["active"]}


def run_now(ctx: OpsContext, channel: str, trigger: str = "de channel run-now") -> dict[str, Any]:
    """Start a cycle now (schedule on or off).  If one is running, the new start waits for it (the
    channel's one waiting slot) or, when another start already waits, coalesces into it and ends
    SUCCEEDED without a cycle of its own (:func:`hepde.runtime.stages.begin_cycle`)."""
    started = ctx.executions.start(channel, trigger)
    return {"channel": channel, "action": "run-now", **started}


FINAL = ("SUCCEEDED", "FAILED", "HELD")
#: the execution ended without a cycle: another cycle was running and a start already waited for it
COALESCED = "COALESCED"


def wait(
    ctx: OpsContext,
    channel: str,
    execution_arn: str,
    timeout: float = 900.0,
    poll: float = 1.0,
    progress: Any = None,
) -> dict[str, Any]:
    """Wait for a cycle started by :func:`run_now` to finish; ``progress(elapsed_seconds)`` each poll.

    The channel's cycle record (found by the execution's name) says when the cycle finished, for Standard
    and Express state machines alike; ``DescribeExecution`` (Standard only) adds the execution's own status
    and catches executions that ended before opening a cycle (another cycle was running).
    Returns ``{"status", "execution_status", "cycle", "error", "cause"}``; ``status`` is the cycle's
    (SUCCEEDED, HELD, FAILED), else the execution's, else ``TIMEOUT``.
    """
    import time

    from hepde.ops.aws import AWSAccessError
    from hepde.records import cycle_records

    name = execution_arn.rsplit(":", 1)[-1]
    describable = True
    started = time.time()
    while True:
        record = next(
            (
                r
                for r in cycle_records(ctx.store, channel, 5)
                if str(r.execution_id or "").endswith(f":{name}")
            ),
            None,
        )
        desc: dict[str, Any] = {}
        if describable:
            try:
                desc = ctx.executions.describe(execution_arn)
            except AWSAccessError:  # an Express state machine: executions cannot be described
                describable = False
        execution_status = desc.get("status")
        error = record.error if record is not None else None
        if record is not None and record.status in FINAL:
            return {
                "status": record.status,
                "execution_status": execution_status,
                "cycle": record.generation,
                "error": (error.error if error else None) or desc.get("error"),
                "cause": (error.cause if error else None) or desc.get("cause"),
            }
        if execution_status not in (None, "RUNNING") and (record is None or execution_status != "SUCCEEDED"):
            return {
                "status": COALESCED
                if execution_status == "SUCCEEDED" and record is None
                else execution_status,
                "execution_status": execution_status,
                "cycle": record.generation if record else None,
                "error": desc.get("error"),
                "cause": desc.get("cause"),
            }
        elapsed = time.time() - started
        if elapsed > timeout:
            return {
                "status": "TIMEOUT",
                "execution_status": execution_status,
                "cycle": record.generation if record else None,
                "error": None,
                "cause": f"not finished after {timeout:g} s",
            }
        if progress is not None:
            progress(elapsed)
        time.sleep(poll)
