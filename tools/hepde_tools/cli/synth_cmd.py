"""``de synth``: a deterministic CMS-pool-sized HTCondor/GlideinWMS workload."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a deterministic synthetic HTCondor/GlideinWMS workload")
    p.add_argument("--out", required=True, help="directory (or s3://bucket/prefix for snapshots) to write")
    p.add_argument("--jobs", type=int, default=150_000)
    p.add_argument("--slots", type=int, default=100_000)
    p.add_argument("--entries", type=int, default=500)
    p.add_argument("--seed", type=int, default=20250501)
    p.add_argument(
        "--format",
        choices=("snapshots", "tables"),
        default="snapshots",
        help="snapshots: as the condor bridge uploads them (the sources read these); "
        "tables: Parquet tables + config.json (the input of de bench htc)",
    )
    p.add_argument("--taken-at", type=float, default=None, help="snapshot time (Unix seconds; default now)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde.errors import DEError
    from hepde_tools.synth.workload import generate

    for name in ("jobs", "slots", "entries"):
        if getattr(args, name) < 1:
            raise DEError(f"--{name} must be at least 1")
    workload = generate(args.jobs, args.slots, args.entries, args.seed)
    print(workload.describe())
    if args.format == "tables":
        from pathlib import Path

        from hepde_tools.bench.htc import write_input

        write_input(workload, Path(args.out))
        print(f"wrote Parquet tables and config.json to {args.out}")
        return 0
    from hepde_tools.synth.snapshots_out import write_snapshots

    for line in write_snapshots(workload, args.out, args.taken_at):
        print(f"  {line}")
    return 0
