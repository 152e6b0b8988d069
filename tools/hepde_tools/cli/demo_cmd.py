"""``de demo``: the HTC pilot channel on the bundled sample snapshots, through its real state machine in the
embedded local AWS, printing the per-entry request table.  Runs from an installed wheel: the channel file,
the handlers and the samples are package data (:mod:`hepde_tools.bundle`); no checkout is needed."""

from __future__ import annotations

import argparse

from hepde.errors import DEError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the HTC pilot channel on the bundled sample (embedded local AWS)")
    p.add_argument("--cycles", type=int, default=1, help="cycles to run (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde_tools import bundle
    from hepde_tools.cli import run_cmd

    channel = bundle.channels() / "htc_pilot.jsonnet"
    if not channel.is_file():
        raise DEError(f"{channel}: the bundled HTC pilot channel is missing (a broken install?)")
    ns = argparse.Namespace(
        configs=[str(channel)],
        cycles=args.cycles,
        interval=0.0,
        deployed=False,
        stack="hepde",
        json=False,
        logs=False,
    )
    return int(run_cmd.run(ns))
