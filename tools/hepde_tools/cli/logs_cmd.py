"""``de logs --channel C [--cycle N]``: one cycle's logs from CloudWatch Logs, by its execution id."""

from __future__ import annotations

import argparse

from hepde.ops.timeutil import fmt_time
from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="the logs of a channel's last (or N-th) cycle, from CloudWatch Logs")
    p.add_argument("--channel", required=True)
    p.add_argument("--cycle", type=int, help="cycle (generation) number; default: the last")
    p.add_argument("--level", help="only this level (INFO, WARNING, ERROR ...)")
    p.add_argument("--limit", type=int, default=5000)
    clisupport.add_stack(p)
    clisupport.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde.ops.logs import cycle_logs

    ctx = clisupport.context(args)
    r = cycle_logs(ctx, args.channel, args.cycle, level=args.level, limit=args.limit)
    if args.json:
        clisupport.print_json(r)
        return 0
    print(
        f"Channel {r['channel']}, cycle {r['cycle']} ({r['status']}), execution {r['execution_id']}: "
        f"{len(r['events'])} log line(s)"
    )
    for e in r["events"]:
        fn = e["fields"].get("function_name") or e["group"].rsplit("/", 1)[-1]
        print(f"{fmt_time(e['time'])}  {str(e['level'] or '-'):<7} {fn:<18} {e['message']}")
    return 0
