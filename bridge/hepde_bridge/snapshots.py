"""Scheduled snapshots: the bridge queries schedds and collectors and uploads the ads to S3.

The format is :mod:`hepde.snapshots` (Parquet + manifest + ``LATEST.json``), the one the channel's
sources read.  Each configured :class:`~hepde_bridge.config.SnapshotConfig` is pushed every
``every`` seconds; a failure is counted and retried at the next tick with backoff (never faster
than ``every``), and an older snapshot stays in place: the sources' ``max_age`` and the cycle's
freshness check turn a long outage into a held cycle, never into "zero jobs".

The bridge also asks for an immediate snapshot of a schedd after it changed that schedd's queue
(:meth:`SnapshotPusher.request`), so the next cycle sees the pilots it just submitted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hepde.condor.adapter import Collector, CondorError, Schedd
from hepde.snapshots import Manifest, SnapshotError, SnapshotStore, write_snapshot

log = logging.getLogger("de-bridge.snapshots")

#: snapshot kind → (collector ad type, extra constraint); ``job_queue`` queries a schedd
COLLECTOR_KINDS: dict[str, tuple[str, str]] = {
    "slots": ("startd", ""),
    "factory_entries": ("any", 'glideinmytype == "glidefactory"'),
    "factory_global": ("any", 'glideinmytype == "glidefactoryglobal"'),
    "factory_client": ("any", 'glideinmytype == "glidefactoryclient"'),
}


@dataclass
class _State:
    next_due: float = 0.0
    failures: int = 0
    last_ok: float | None = None
    last_error: str | None = None
    last_rows: int = 0


class SnapshotPusher:
    def __init__(
        self,
        jobs: list[Any],
        *,
        schedds: Mapping[str, Schedd],
        collectors: Mapping[str, Collector],
        store: SnapshotStore,
        producer: str = "de-bridge",
        clock: Callable[[], float] = time.time,
        max_backoff: float = 600.0,
    ) -> None:
        self.jobs = list(jobs)
        self.schedds = schedds
        self.collectors = collectors
        self.store = store
        self.producer = producer
        self.clock = clock
        self.max_backoff = max_backoff
        self.state = {self.job_id(j): _State() for j in self.jobs}

    @staticmethod
    def job_id(job: Any) -> str:
        return f"{job.kind}:{job.schedd or job.collector}:{job.origin_name}"

    def request(self, schedd: str) -> None:
        """Make every job-queue snapshot of logical schedd ``schedd`` due now."""
        for job in self.jobs:
            if job.kind == "job_queue" and job.schedd == schedd:
                self.state[self.job_id(job)].next_due = 0.0

    def _ads(self, job: Any) -> list[dict[str, Any]]:
        constraint = job.constraint or "true"
        if job.kind == "job_queue":
            return self.schedds[job.schedd].query(constraint, job.attributes)
        ad_type, extra = COLLECTOR_KINDS[job.kind]
        if extra:
            constraint = f"({constraint}) && ({extra})"
        return self.collectors[job.collector].query(ad_type, constraint, job.attributes)

    def push(self, job: Any) -> Manifest:
        """Query and upload one snapshot now (raises on failure)."""
        taken = self.clock()
        ads = self._ads(job)
        if job.add_origin_columns:
            for ad in ads:
                ad.setdefault("ScheddName" if job.kind == "job_queue" else "CollectorHost", job.origin_name)
        query = {
            "constraint": job.constraint or "true",
            "attributes": list(job.attributes),
            "from": f"{'schedd' if job.schedd else 'collector'}:{job.schedd or job.collector}",
        }
        return write_snapshot(
            self.store, job.kind, job.origin_name, ads, taken_at=taken, producer=self.producer, query=query
        )

    def run_due(self) -> list[dict[str, Any]]:
        """Push every due snapshot; return one outcome per attempt (never raises)."""
        now = self.clock()
        outcomes = []
        for job in self.jobs:
            st = self.state[self.job_id(job)]
            if now < st.next_due:
                continue
            try:
                manifest = self.push(job)
            except (CondorError, SnapshotError, OSError) as exc:
                st.failures += 1
                st.last_error = str(exc)
                st.next_due = now + min(self.max_backoff, job.every * (2 ** min(st.failures - 1, 6)))
                log.warning("snapshot %s failed (%d in a row): %s", self.job_id(job), st.failures, exc)
                outcomes.append({"snapshot": self.job_id(job), "ok": False, "error": str(exc)})
                continue
            st.failures, st.last_error, st.last_ok, st.last_rows = 0, None, now, manifest.rows
            st.next_due = now + job.every
            outcomes.append(
                {"snapshot": self.job_id(job), "ok": True, "rows": manifest.rows, "data": manifest.data}
            )
        return outcomes

    def status(self) -> dict[str, Any]:
        return {
            jid: {
                "last_ok": st.last_ok,
                "failures": st.failures,
                "last_error": st.last_error,
                "rows": st.last_rows,
                "next_due": st.next_due,
            }
            for jid, st in self.state.items()
        }
