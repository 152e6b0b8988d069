"""``de bench cloud``: spot prices for 20 regions x 400 instance types through the FOM transform."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.choices.get("bench")  # made by hepde_tools.cli.bench_cmd, registered before this module
    if bench is None:
        bench = sub.add_parser("bench", help="benchmarks (print figures, assert nothing)")
    actions = [a for a in bench._actions if isinstance(a, argparse._SubParsersAction)]
    bsub = actions[0] if actions else bench.add_subparsers(dest="bench", metavar="WHAT")
    p = bsub.add_parser(
        "cloud", help="seconds to take 20 regions x 400 instance types of spot prices through the FOM"
    )
    p.add_argument("--regions", type=int, default=20)
    p.add_argument("--types", type=int, default=400)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde_tools.bench import cloud

    cloud.main(args.regions, args.types, args.repeats)
    return 0
