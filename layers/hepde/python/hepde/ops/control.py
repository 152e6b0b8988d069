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
    return {"channel": channel, "action": "stop", "schedule": schedule.to_json(),
            "running": ctx.executions.running(channel)}


def run_now(ctx: OpsContext, channel: str, trigger: str = "de channel run-now") -> dict[str, Any]:
    """Start a cycle now (schedule on or off).  If one is running, the new cycle is refused by the
    channel's cycle lease and its execution fails with ``CycleInProgressError``."""
    started = ctx.executions.start(channel, trigger)
    return {"channel": channel, "action": "run-now", **started}


def wait(ctx: OpsContext, execution_arn: str, timeout: float = 900.0, poll: float = 1.0,
         progress: Any = None) -> dict[str, Any]:
    """Poll an execution until it leaves RUNNING; ``progress(elapsed_seconds)`` is called each poll."""
    import time

    started = time.time()
    while True:
        d = ctx.executions.describe(execution_arn)
        if d["status"] != "RUNNING":
            return d
        elapsed = time.time() - started
        if elapsed > timeout:
            return d
        if progress is not None:
            progress(elapsed)
        time.sleep(poll)
