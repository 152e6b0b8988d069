"""``de logs``: one cycle's logs from CloudWatch Logs, found by its execution id.

The stage Lambdas log through Powertools with ``correlation_id`` = the Step Functions execution id
(ARN); the state machine's own log group (if logging is on) carries ``execution_arn``.  The filter is
sent to CloudWatch Logs as a JSON pattern and checked again here, so a backend that ignores the pattern
(moto) still gives only that cycle's lines.

Lines that carry no correlation id — the Lambda runtime's ``START/END/REPORT RequestId: ...`` lines,
plain ``logging`` output and uncaught-error reports, all of which name the invocation's request id —
are added by a second pass over the log streams the correlated lines came from: every line naming one
of their ``function_request_id`` values belongs to the cycle too.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hepde.errors import ChannelNotFoundError, DEError
from hepde.ops.context import OpsContext
from hepde.records import CycleRecord, cycle_records, read_cycle
from hepde.runtime.explain import CycleNotFoundError

#: look this far around a cycle's start/finish for its lines (clock skew, log delivery)
MARGIN = 120.0


def _cycle(ctx: OpsContext, channel: str, cycle: int | None) -> CycleRecord:
    if cycle is None:
        records = cycle_records(ctx.store, channel, 1)
        if not records:
            raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
        return records[0]
    record = read_cycle(ctx.store, channel, cycle)
    if record is None:
        raise CycleNotFoundError(f"channel '{channel}' has no cycle {cycle}")
    return record


def _matches(message: str, execution_id: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether a line is *this* cycle's by its correlation fields.  A plain-text line that merely mentions
    the id (another execution's "already running a cycle (execution X)") is not; plain lines of this
    cycle are found through their request ids instead."""
    try:
        doc = json.loads(message)
    except ValueError:
        return False, None
    if not isinstance(doc, dict):
        return False, None
    ids = {doc.get("correlation_id"), doc.get("execution_arn"), doc.get("execution_id")}
    return execution_id in ids, doc


def cycle_logs(
    ctx: OpsContext,
    channel: str,
    cycle: int | None = None,
    *,
    level: str | None = None,
    limit: int = 5000,
    now: float | None = None,
) -> dict[str, Any]:
    """``{"channel", "cycle", "execution_id", "events": [{"time", "group", "level", "message", "fields"}]}``."""
    record = _cycle(ctx, channel, cycle)
    execution_id = record.execution_id
    if not execution_id:
        raise DEError(f"cycle {record.generation} of channel '{channel}' has no execution id")
    now = time.time() if now is None else now
    start = (record.started_at or now) - MARGIN
    end = (record.finished_at or now) + MARGIN
    pattern = f'{{ ($.correlation_id = "{execution_id}") || ($.execution_arn = "{execution_id}") }}'
    window = (int(start * 1000), int(end * 1000))
    found: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None]] = {}
    request_ids: set[str] = set()
    streams: set[tuple[str, str]] = set()
    for group, ev in ctx.logs.events(ctx.logs.groups(channel), pattern, *window, limit=limit):
        ok, doc = _matches(ev.get("message", ""), execution_id)
        if not ok:
            continue
        found[_key(group, ev)] = (group, ev, doc)
        if doc and doc.get("function_request_id"):
            request_ids.add(str(doc["function_request_id"]))
            if ev.get("logStreamName"):
                streams.add((group, ev["logStreamName"]))
    for group, stream in sorted(streams):
        for _, ev in ctx.logs.events([group], "", *window, limit=limit, streams=[stream]):
            message = ev.get("message", "")
            if _key(group, ev) not in found and any(rid in message for rid in request_ids):
                ok, doc = _matches(message, execution_id)
                found[_key(group, ev)] = (group, ev, doc)
    events = []
    for group, ev, doc in found.values():
        lvl = (doc or {}).get("level") or (doc or {}).get("type") or _plain_level(ev.get("message", ""))
        if level and str(lvl or "").upper() != level.upper():
            continue
        events.append(
            {
                "time": ev.get("timestamp", 0) / 1000.0,
                "group": group,
                "stream": ev.get("logStreamName"),
                "level": lvl,
                "message": _message(doc) if doc else ev.get("message", "").rstrip(),
                "fields": {
                    k: v for k, v in (doc or {}).items() if k not in ("message", "level", "timestamp")
                },
            }
        )
    events.sort(key=lambda e: (e["time"], e["group"]))
    return {
        "channel": channel,
        "cycle": record.generation,
        "execution_id": execution_id,
        "status": record.status,
        "events": events[:limit],
    }


def _key(group: str, ev: dict[str, Any]) -> str:
    return f"{group}|{ev.get('eventId') or (ev.get('logStreamName'), ev.get('timestamp'), ev.get('message'))}"


def _plain_level(message: str) -> str | None:
    """``[ERROR]`` / ``[INFO]`` of the Lambda runtime's plain-text lines; None for START/END/REPORT."""
    head = message.lstrip()
    if head.startswith("[") and "]" in head[:12]:
        return head[1 : head.index("]")]
    return None


def _message(doc: dict[str, Any]) -> str:
    """A JSON log line's text; the Lambda runtime's JSON platform records (``platform.start`` ...) have none."""
    if doc.get("message") not in (None, ""):
        return str(doc["message"])
    if doc.get("type"):
        return f"{doc['type']} {json.dumps(doc.get('record'), default=str)}"
    return json.dumps(doc, default=str)
