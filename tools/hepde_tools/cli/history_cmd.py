"""``de history --channel C``: recent cycles with their result, duration and why."""

from __future__ import annotations

import argparse
from typing import Any

from hepde.ops.timeutil import fmt_time
from hepde_tools.cli import support as clisupport
from hepde_tools.cli.render import table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="recent cycles of a channel: result, duration, why")
    p.add_argument("--channel", required=True)
    p.add_argument("--limit", type=int, default=20, help="how many cycles, newest first (default 20)")
    clisupport.add_stack(p)
    clisupport.add_json(p)
    p.set_defaults(func=run)


def history_text(h: dict[str, Any]) -> str:
    rows = [
        [
            c["cycle"],
            fmt_time(c["started_at"]),
            c["status"],
            "-" if c["duration"] is None else f"{float(c['duration']):.2f} s",
            c["trigger"] or "-",
            ", ".join(c.get("selected_publishers") or []) or "-",
            c["detail"][:120],
        ]
        for c in h["cycles"]
    ]
    return (
        f"Channel {h['channel']}: last {len(rows)} cycle(s), newest first\n"
        + table(rows, ["cycle", "started (UTC)", "result", "duration", "trigger", "published", "detail"])
        + "\n"
    )


def run(args: argparse.Namespace) -> int:
    from hepde.ops.history import history

    ctx = clisupport.context(args)
    h = history(ctx.store, args.channel, max(1, args.limit))
    if args.json:
        clisupport.print_json(h)
    else:
        print(history_text(h), end="")
    return 0
