"""``de explain --channel C [--cycle N] [--json]``: why a cycle decided what it decided — facts, rules
fired, publishers selected, and the requests per entry with the limits hit and why."""

from __future__ import annotations

import argparse

from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="the decision record of a channel's last (or N-th) cycle")
    p.add_argument("--channel", required=True)
    p.add_argument("--cycle", type=int, help="cycle (generation) number; default: the last")
    clisupport.add_json(p)
    clisupport.add_stack(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, store=None) -> int:  # noqa: ANN001
    from hepde.runtime.explain import explanation
    from hepde_tools.cli.explain_view import explain_text

    if store is None:
        store = clisupport.context(args).store
    e = explanation(store, args.channel, args.cycle)
    if args.json:
        clisupport.print_json(e)
    else:
        print(explain_text(e), end="")
    return 0
