"""``de channel start|stop|run-now|unlock NAME``: enable or disable a channel's schedule, start a cycle now,
or break a stale cycle lease (``unlock``, confirmed with ``--yes`` or at a terminal prompt)."""

from __future__ import annotations

import argparse
import sys

from hepde.ops.timeutil import fmt_time
from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "channel", help="start/stop a channel's schedule, run a cycle now, or unlock a stale cycle lease"
    )
    p.add_argument("action", choices=["start", "stop", "run-now", "unlock"])
    p.add_argument("name", metavar="NAME", help="channel name")
    p.add_argument(
        "--wait", action="store_true", help="run-now: wait for the cycle to finish and print its result"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait with --wait (default 900)")
    p.add_argument(
        "--yes",
        action="store_true",
        help="unlock: break the lease without asking (it may be a running cycle's)",
    )
    clisupport.add_stack(p)
    clisupport.add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde.ops import control

    ctx = clisupport.context(args)
    if args.action == "unlock":
        return _unlock(ctx, args)
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
            if d["status"] == control.COALESCED:
                text += ": another cycle was running and a start already waited for it (no cycle of its own)"
            if args.json:
                clisupport.print_json(r)
            else:
                print(text)
            return 0 if d["status"] in ("SUCCEEDED", control.COALESCED) else 1
    if args.json:
        clisupport.print_json(r)
    else:
        print(text)
    return 0


def _unlock(ctx, args: argparse.Namespace) -> int:
    from hepde.ops import control

    info = control.lease(ctx, args.name)
    held = info["lease"]
    if not held:
        text = f"channel {args.name}: no cycle lease is held; nothing to unlock"
        if args.json:
            clisupport.print_json({**info, "broken": None})
        else:
            print(text)
        return 0
    state = (
        f"held by {held.get('owner')} until {fmt_time(float(held['expires_at']))} UTC"
        if info["active"]
        else f"expired at {fmt_time(float(held['expires_at']))} UTC (left by {held.get('owner')})"
    )
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"channel {args.name}: cycle lease {state}; breaking it lets a second cycle overlap a running "
                "one: re-run with --yes to break it",
                file=sys.stderr,
            )
            return 1
        answer = input(f"channel {args.name}: cycle lease {state}. Break it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not unlocked")
            return 1
    r = control.unlock(ctx, args.name)
    if args.json:
        clisupport.print_json(r)
    elif r["broken"] is None:
        print(f"channel {args.name}: the lease changed hands before it could be broken; nothing unlocked")
    else:
        print(f"channel {args.name}: cycle lease broken ({state}); the next start runs a cycle")
    return 0
