"""Sources of the direct-submission channel.

* :class:`QueueSnapshot` — the newest snapshots the condor bridge uploaded (:mod:`hepde.snapshots`) of
  one or more schedds' job queues, as one table, plus ``<product>_snapshot``: when they were taken;
* :class:`BridgeActionLog` — the actions this channel sent to the bridge (``bridge_action`` records,
  written by the publisher) joined with what the bridge reported (``bridge_result`` records).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from pydantic import Field

from hepde.actions import RESULT_RECORD, SENT_RECORD
from hepde.modules.base import ModuleParameters, Source


class QueueSnapshot(Source):
    """Job ads of ``origins`` (schedd names) from the bridge's ``job_queue`` snapshots.

    Produces ``product`` (one row per job, ``ScheddName`` added when missing) and ``<product>_snapshot``
    (``{"taken_at": oldest of the origins' snapshots, "origins": {origin: taken_at}, "rows": n}``).
    A missing snapshot, or one older than ``max_age`` seconds, fails the source: the runtime keeps the
    last good products while they are fresh, then holds the cycle — never "no jobs".
    """

    params: Parameters

    class Parameters(ModuleParameters):
        origins: list[str] = Field(min_length=1)
        product: str
        #: ``s3://{bucket}/snapshots`` (the deployment's products bucket), a directory or ``package://``
        location: str = "s3://{bucket}/snapshots"
        #: seconds; None: any age (bundled sample data only)
        max_age: float | None = Field(default=600.0, gt=0)
        #: keep only these columns (all if empty)
        attributes: list[str] = Field(default_factory=list)

    def __init__(self, parameters: Any = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._produces = {self.params.product: pd.DataFrame, f"{self.params.product}_snapshot": dict}

    def acquire(self) -> dict[str, Any]:
        p = self.params
        snapshots = self.context.snapshots
        frames, taken = [], {}
        for origin in p.origins:
            snap = snapshots.latest(p.location, "job_queue", origin, max_age=p.max_age)
            frame = snap.frame
            if "ScheddName" not in frame.columns:
                frame = frame.assign(ScheddName=origin)
            frames.append(frame)
            taken[origin] = snap.manifest.taken_at
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if p.attributes:
            frame = frame[[c for c in p.attributes if c in frame.columns]]
        return {
            p.product: frame,
            f"{p.product}_snapshot": {
                "taken_at": min(taken.values()),
                "origins": taken,
                "rows": int(len(frame)),
            },
        }


ACTION_LOG_COLUMNS = [
    "key",
    "kind",
    "target",
    "route",
    "count",
    "nodes",
    "sent_at",
    "expires_at",
    "send_status",
    "result_status",
    "result_at",
    "jobs",
    "detail",
    #: the user job ids an MPI submit or an export names (JSON list; "" for others)
    "job_ids",
]


@Source.produces(bridge_actions=pd.DataFrame)
class BridgeActionLog(Source):
    """A channel's bridge actions of the last ``horizon`` seconds and their results (newest first).

    Sources are shared by key across channels: give this one a key of its own channel
    (``<channel>_actions``) and name the channel in ``channel`` (default: the channel running it).
    """

    params: Parameters

    class Parameters(ModuleParameters):
        #: whose actions (default: the channel that acquires the source)
        channel: str = ""
        horizon: float = Field(default=6 * 3600.0, gt=0)
        limit: int = Field(default=2000, ge=1)

    def acquire(self) -> dict[str, pd.DataFrame]:
        records = self.context.records_of(self.params.channel or self.channel_name)
        since = self.context.now - self.params.horizon
        # idents are "<created ms>-<key>": newest first, the limit keeps the most recent
        sent = records.query(SENT_RECORD, newest_first=True, limit=self.params.limit)
        results = {
            rec.get("key"): rec
            for _, rec in records.query(RESULT_RECORD, newest_first=True, limit=self.params.limit)
        }
        rows = []
        for _, rec in sent:
            if float(rec.get("sent_at") or 0) < since:
                break
            key = rec.get("key")
            res = results.get(key) or {}
            rows.append(
                {
                    "key": key,
                    "kind": rec.get("kind"),
                    "target": rec.get("target"),
                    "route": rec.get("route"),
                    "count": int(rec.get("count") or 0),
                    "nodes": int(rec.get("nodes") or 1),
                    "sent_at": float(rec.get("sent_at") or 0),
                    "expires_at": _num(rec.get("expires_at")),
                    "send_status": rec.get("send_status"),
                    "result_status": res.get("status"),
                    "result_at": _num(res.get("at")),
                    "jobs": int(res.get("jobs") or 0),
                    "detail": res.get("detail") or "",
                    "job_ids": json.dumps(rec["job_ids"]) if rec.get("job_ids") else "",
                }
            )
        frame = pd.DataFrame(rows, columns=ACTION_LOG_COLUMNS)
        for col in ("count", "nodes", "jobs"):
            frame[col] = frame[col].astype("int64")
        for col in ("sent_at", "expires_at", "result_at"):
            frame[col] = frame[col].astype("float64")
        for col in ("key", "kind", "target", "route", "send_status", "result_status", "detail", "job_ids"):
            frame[col] = frame[col].astype(object)
        return {"bridge_actions": frame}


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out
