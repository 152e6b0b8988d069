"""``de bench datablock|cycle``: benchmarks that print the figures the issues ask for."""

from __future__ import annotations

import argparse
import statistics
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (print figures, assert nothing)")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT")
    d = bsub.add_parser("datablock", help="put+get seconds and stored bytes of a 150k-row job table")
    d.add_argument("--rows", type=int, default=150_000)
    d.add_argument("--cols", type=int, default=30)
    d.set_defaults(func=run_datablock)
    c = bsub.add_parser("cycle", help="local orchestration overhead of one cycle of a channel")
    c.add_argument("config", nargs="?", default="channels/example.jsonnet")
    c.add_argument("--cycles", type=int, default=10)
    c.set_defaults(func=run_cycle)
    lat = bsub.add_parser(
        "latency",
        help="demand -> request: a job-queue snapshot upload until the request is decided and on the bridge queue",
    )
    lat.add_argument("--rounds", type=int, default=3)
    lat.add_argument(
        "--jobs", type=int, default=200, help="idle jobs added to one schedd's snapshot per round"
    )
    lat.add_argument("--root", default=".", help="the project folder holding channels/ (default .)")
    lat.set_defaults(func=run_latency)


def run_datablock(args: argparse.Namespace) -> int:
    from hepde_tools.bench import datablock

    return datablock.main([str(args.rows), str(args.cols)])


def run_cycle(args: argparse.Namespace) -> int:
    """Wall time of whole executions minus time inside the module code = orchestration overhead."""
    from hepde.runtime.channel import prepare
    from hepde_tools.local.embedded import EmbeddedAWS

    (ch,) = prepare([args.config])
    walls, handler_times, overheads = [], [], []
    with EmbeddedAWS() as cloud:
        arn = cloud.deploy_channel(ch.name, ch.definition)
        cloud.wait(cloud.start(arn))  # warm-up: imports, first table writes
        for _ in range(args.cycles):
            before = len(cloud.runner.invocations)
            t0 = time.perf_counter()
            desc = cloud.wait(cloud.start(arn))
            wall = time.perf_counter() - t0
            inside = sum(s for _, s in cloud.runner.invocations[before:])
            walls.append(wall)
            handler_times.append(inside)
            overheads.append(wall - inside)
            if desc["status"] != "SUCCEEDED":
                print(f"cycle ended {desc['status']}: {desc.get('error')} {desc.get('cause')}")
                return 1
        n_invocations = len(cloud.runner.invocations[before:])
    print(f"channel {ch.name}: {args.cycles} cycles, {n_invocations} Lambda invocations per cycle")
    print(f"  cycle wall time (median)               {statistics.median(walls):.3f} s")
    print(f"  inside handlers, DataBlock I/O included {statistics.median(handler_times):.3f} s")
    print(
        f"  orchestration overhead (median)         {statistics.median(overheads):.3f} s   goal <= 1 s: "
        f"{'PASS' if statistics.median(walls) <= 1.0 else 'MISS'} (whole cycle {statistics.median(walls):.3f} s)"
    )
    return 0


def run_latency(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepde.errors import DEError
    from hepde_tools.bench import latency

    if args.rounds < 1 or args.jobs < 1:
        raise DEError("--rounds and --jobs must be at least 1")
    report = latency.run(Path(args.root), rounds=args.rounds, extra_jobs=args.jobs)
    for n, (sec, gen, req, trig) in enumerate(
        zip(report.rounds, report.cycles, report.requested, report.triggers, strict=True), 1
    ):
        print(
            f"  round {n}: cycle {gen} ({trig}) decided on {req} idle job(s), request on the bridge queue in {sec:.2f} s"
        )
    print(
        f"demand -> request {report.median:.2f} s (median of {len(report.rounds)}; goal <= 30 s here: "
        f"{'PASS' if report.median <= 30 else 'MISS'})"
    )
    return 0
