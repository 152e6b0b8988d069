"""Writing a synthetic workload as the condor bridge would upload it (``hepde.snapshots``)."""

from __future__ import annotations

import json
from pathlib import Path

from hepde.snapshots import SnapshotStore, write_snapshot
from hepde_tools.synth.workload import FACTORY, Workload

POOL = "pool.example.org"


def write_snapshots(workload: Workload, location: str, taken_at: float | None = None) -> list[str]:
    """One job-queue snapshot per schedd, the pool's slots, the factory's entries and globals."""
    store = SnapshotStore(location)
    written = []
    jobs = workload.jobs.drop(columns=["ScheddName", "CollectorHost"])
    for schedd, part in jobs.groupby(workload.jobs["ScheddName"], sort=True):
        m = write_snapshot(
            store,
            "job_queue",
            str(schedd),
            part,
            taken_at=taken_at,
            producer="de synth",
            query={"constraint": "True"},
        )
        written.append(f"job_queue/{m.origin}: {m.rows} ads")
    slots = workload.slots.drop(columns=["CollectorHost", "CollectorHosts"])
    m = write_snapshot(store, "slots", POOL, slots, taken_at=taken_at, producer="de synth")
    written.append(f"slots/{m.origin}: {m.rows} ads")
    entries = workload.entries.drop(columns=["CollectorHost", "CollectorHosts"])
    m = write_snapshot(
        store,
        "factory_entries",
        FACTORY,
        entries,
        taken_at=taken_at,
        producer="de synth",
        query={"constraint": '(True)&&(glideinmytype=="glidefactory")'},
    )
    written.append(f"factory_entries/{m.origin}: {m.rows} ads")
    fg = workload.factory_global.drop(columns=["CollectorHost", "CollectorHosts"])
    m = write_snapshot(store, "factory_global", FACTORY, fg, taken_at=taken_at, producer="de synth")
    written.append(f"factory_global/{m.origin}: {m.rows} ads")
    if not location.startswith("s3://"):
        base = Path(location)
        (base / "frontend.json").write_text(json.dumps(workload.frontend, indent=1))
        (base / "match_expressions.json").write_text(json.dumps(workload.match_expressions, indent=1))
        written.append("frontend.json, match_expressions.json")
    return written
