"""Regenerate the direct-submission channel's bundled sample snapshots (hepde/data/direct/snapshots).

    python tests/bridge/regenerate_direct_sample.py

The ads are written here, in the snapshot format the bridge uploads (hepde.snapshots), with a fixed
``taken_at`` so the files are reproducible.  Not a test module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hepde.snapshots import write_snapshot

OUT = Path(__file__).resolve().parents[2] / "layers/hepde/python/hepde/data/direct/snapshots"
TAKEN_AT = 1_795_000_000.0
USERS = "schedd@users.example"
PILOTS = "schedd@bridge.example"


def user_jobs() -> list[dict]:
    jobs, cluster = [], 100

    def add(n: int, status: int, **attrs) -> None:
        nonlocal cluster
        cluster += 1
        for proc in range(n):
            jobs.append(
                {
                    "ClusterId": cluster,
                    "ProcId": proc,
                    "JobStatus": status,
                    "RequestMemory": 2000,
                    "QDate": int(TAKEN_AT) - 3600,
                    **attrs,
                }
            )

    add(40, 1, Owner="cms", RequestCpus=1)  # single-core production
    add(10, 1, Owner="dune", RequestCpus=8, RequestMemory=16000)  # multi-core
    add(5, 2, Owner="cms", RequestCpus=1)  # already running
    add(
        1,
        1,
        Owner="lqcd",
        RequestCpus=64,
        WantMPI=True,
        RequestNodes=4,
        Cmd="/home/lqcd/bin/su3_rhmd",
        Args="-i params.in",
        TransferInput="params.in",
        Iwd="/home/lqcd/run",
    )
    add(
        1,
        1,
        Owner="lqcd",
        RequestCpus=64,
        WantMPI=True,
        RequestNodes=2,
        Cmd="/home/lqcd/bin/su3_rhmd",
        Args="-i params.in",
        TransferInput="params.in",
        Iwd="/home/lqcd/run",
    )
    add(
        1,
        1,
        Owner="lqcd",
        RequestCpus=64,
        WantMPI=True,
        RequestNodes=16,
        Cmd="/home/lqcd/bin/su3_rhmd",
        Args="-i params.in",
        TransferInput="params.in",
        Iwd="/home/lqcd/run",
    )
    add(2, 1, Owner="test", RequestCpus=1)  # no route takes these
    return jobs


def pilots() -> list[dict]:
    common = {
        "JobUniverse": 9,
        "HepdeChannel": "direct_submission",
        "GridResource": "condor fermigridce01.fnal.gov fermigridce01.fnal.gov:9619",
        "HepdeTarget": "fermigrid",
        "HepdeRoute": "single_core",
        "HepdeNodes": 1,
        "HepdeActionKey": "de-sample-0001",
    }
    return [{**common, "ClusterId": 7, "ProcId": p, "JobStatus": s} for p, s in enumerate([2, 2, 1])]


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    for origin, ads in ((USERS, user_jobs()), (PILOTS, pilots())):
        manifest = write_snapshot(
            str(OUT), "job_queue", origin, ads, taken_at=TAKEN_AT, producer="sample-data"
        )
        # a fixed name, so regenerating gives the same files
        base = OUT / "job_queue" / origin
        for ext in ("parquet", "json"):
            (base / manifest.data.replace(".parquet", f".{ext}")).rename(base / f"sample.{ext}")
        text = (base / "sample.json").read_text().replace(manifest.data, "sample.parquet")
        (base / "sample.json").write_text(text)
        (base / "LATEST.json").write_text(text)
        print(f"wrote {base} ({manifest.rows} ads)")


if __name__ == "__main__":
    main()
