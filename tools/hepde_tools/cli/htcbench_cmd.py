"""``de bench htc``: the HTC pilot channel's decision work at CMS-pool size (``hepde_tools.bench.htc``).

Registered as a sub-command of ``de bench`` (defined in ``bench_cmd``, registered before this module);
if there is no ``bench`` command, as ``de bench-htc``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.choices.get("bench")
    nested = next(
        (a for a in getattr(bench, "_actions", []) if isinstance(a, argparse._SubParsersAction)), None
    )
    parent, name = (nested, "htc") if nested is not None else (sub, "bench-htc")
    p = parent.add_parser(
        name,
        help="wall time and peak memory of the HTC channel's transforms, logic engine and publish "
        "preparation on a CMS-pool-sized input, and of the original 2.0.6 on the same input",
    )
    p.add_argument("--jobs", type=int, default=150_000)
    p.add_argument("--slots", type=int, default=100_000)
    p.add_argument("--entries", type=int, default=500)
    p.add_argument("--seed", type=int, default=20250501)
    p.add_argument(
        "--original",
        metavar="PYTHON",
        default=None,
        help="python of a throw-away virtualenv with hepcloud-de-modules==2.0.6 (default: /tmp/orig-venv "
        "if it exists)",
    )
    p.add_argument("--no-original", action="store_true", help="do not run the original")
    p.add_argument(
        "--original-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="stop the original after this long and report a lower bound of the speed-up",
    )
    p.add_argument(
        "--keep", metavar="DIR", default=None, help="write the input (and outputs) here and keep them"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde_tools.bench import htc

    original = "" if args.no_original else args.original
    return htc.main(
        args.jobs, args.slots, args.entries, args.seed, original, args.keep, args.original_timeout
    )
