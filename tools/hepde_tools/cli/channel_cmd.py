"""``de channel start|stop|run-now NAME``: enable or disable a channel's schedule, or start a cycle now."""

from __future__ import annotations

import argparse

from hepde.ops.timeutil import fmt_time
from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("channel", help="start/stop a channel's schedule, or run a cycle now")
    p.add_argument("action", choices=["start", "stop", "run-now"])
    p.add_argument("name", metavar="NAME", help="channel name")
    p.add_argument(
        "--wait", action="store_true", help="run-now: wait for the cycle to finish and print its result"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait with --wait (default 900)")
    clisupport.add_stack(p)
    clisupport.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde.ops import control

    ctx = clisupport.context(args)
    if args.action == "start":
        r = control.start(ctx, args.name)
        text = (
            f"channel {args.name}: schedule {r['schedule']['rule']} enabled ({r['schedule']['expression']})"
        )
    elif args.action == "stop":
        r = control.stop(ctx, args.name)
        text = f"channel {args.name}: schedule {r['schedule']['rule']} disabled; no cycle starts on schedule"
        if r["running"]:
            text += f"\n  a cycle is still running and will finish: {r['running'][0]['execution_arn']}"
    else:
        r = control.run_now(ctx, args.name)
        text = f"channel {args.name}: cycle started at {fmt_time(r['started_at'])} UTC: {r['execution_arn']}"
        if args.wait:
            progress = clisupport.Progress(f"cycle of {args.name}")
            try:
                d = control.wait(
                    ctx,
                    args.name,
                    r["execution_arn"],
                    args.timeout,
                    progress=lambda e: progress.tick(e, "running"),
                )
            finally:
                progress.close()
            r["result"] = d
            text += (f"\n  cycle {d['cycle']}: {d['status']}" if d.get("cycle") else f"\n  {d['status']}") + (
                f" ({d['error']}: {d['cause']})" if d.get("error") else ""
            )
            if args.json:
                clisupport.print_json(r)
            else:
                print(text)
            return 0 if d["status"] == "SUCCEEDED" else 1
    if args.json:
        clisupport.print_json(r)
    else:
        print(text)
    return 0
