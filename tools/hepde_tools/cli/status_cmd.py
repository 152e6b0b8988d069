"""``de status``: every channel (schedule on/off, last cycle, next run, stale holds) and every shared source."""

from __future__ import annotations

import argparse
from typing import Any

from hepde.ops.timeutil import fmt_age, fmt_time
from hepde_tools.cli import support as clisupport
from hepde_tools.cli.render import table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="channels and shared sources of the deployed Decision Engine")
    p.add_argument("--channel", action="append", help="only this channel (repeatable)")
    clisupport.add_stack(p)
    clisupport.add_json(p)
    p.set_defaults(func=run)


def status_text(s: dict[str, Any]) -> str:
    now = s["now"]
    out = [f"Decision Engine '{s['stack']}' at {fmt_time(now)} UTC", ""]
    rows = []
    for c in s["channels"]:
        sched = c["schedule"]
        last = c["last_completed"] or c["last_cycle"]
        nxt = c["next_run"]
        holds = c["stale_holds"]
        rows.append(
            [
                c["channel"],
                "-" if sched is None else ("enabled" if sched["enabled"] else "DISABLED"),
                (sched or {}).get("expression") or "-",
                "running" if c["running"] else "",
                f"{last['cycle']} {last['status']}" if last else "never ran",
                f"{fmt_time(last['started_at'])} ({fmt_age(now - last['started_at'])} ago)"
                if last and last.get("started_at")
                else "-",
                (("~" if nxt["approximate"] else "") + fmt_time(nxt["at"])) if nxt["at"] else nxt["note"],
                f"{holds['held']}/{holds['recent_cycles']}" + (" HOLDING" if holds["holding_now"] else ""),
            ]
        )
    out.append("Channels")
    out.append(
        table(
            rows,
            [
                "channel",
                "schedule",
                "every",
                "now",
                "last cycle",
                "last cycle at",
                "next run (UTC)",
                "held (recent)",
            ],
        )
        if rows
        else "  no channels deployed"
    )
    for c in s["channels"]:
        h = c["stale_holds"]
        if h["holding_now"] and h["stale"]:
            out.append(
                f"  {c['channel']} is holding: "
                + "; ".join(
                    f"{x.get('source')}/{x.get('product') or '*'} {x.get('reason')}" for x in h["stale"]
                )
            )
        last = c["last_completed"]
        if last and last["status"] == "FAILED":
            out.append(f"  {c['channel']} cycle {last['cycle']} failed: {last['detail']}")
    rows = []
    for src in s["sources"]:
        att = src["last_attempt"] or {}
        rows.append(
            [
                src["source"],
                fmt_time(src["last_acquired_at"]),
                fmt_age(src["age"]),
                src["freshness"],
                "-" if not att else ("ok" if att.get("ok") else f"FAILED: {att.get('error')}"),
                "-"
                if not src["schedule"]
                else (
                    ("enabled " if src["schedule"]["enabled"] else "DISABLED ")
                    + (src["schedule"]["expression"] or "")
                ),
            ]
        )
    out += ["", "Shared sources"]
    out.append(
        table(rows, ["source", "last acquire (UTC)", "age", "freshness", "last attempt", "schedule"])
        if rows
        else "  no sources seen"
    )
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    from hepde.ops.status import status

    ctx = clisupport.context(args)
    s = status(ctx, args.channel)
    if args.json:
        clisupport.print_json(s)
    else:
        print(status_text(s), end="")
    return 0
