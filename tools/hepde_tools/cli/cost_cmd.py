"""``de cost [CHANNEL_CONFIG...] [--per-minute R] [--workflow express|standard|both]``: modelled monthly
AWS cost per channel, from stage durations, requests and log bytes measured by running the channel's
real state machine in the embedded local AWS (see :mod:`hepde_tools.deploy.cost` for the model)."""

from __future__ import annotations

import argparse
import json

GOAL_USD = 3.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cost", help="modelled monthly AWS cost per channel at a cycle rate")
    p.add_argument(
        "configs",
        nargs="*",
        default=["channels/example.jsonnet"],
        metavar="CHANNEL_CONFIG",
        help="channels to price (default channels/example.jsonnet); they are priced as deployed together",
    )
    p.add_argument("--per-minute", type=float, default=1.0, help="cycles per minute (default 1)")
    p.add_argument("--cycles", type=int, default=5, help="steady-state cycles to measure (default 5)")
    p.add_argument("--workflow", choices=["express", "standard", "both"], default="both")
    p.add_argument("--retention-days", type=float, default=14.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde.runtime.channel import prepare
    from hepde_tools.deploy.cost import ASSUMPTIONS, PRICES, measure, model

    channels = prepare(args.configs)  # validated together: shared sources are recognised
    users: dict[str, int] = {}
    for ch in channels:
        for key in ch.config.sources:
            users[key] = users.get(key, 0) + 1
    workflows = ["EXPRESS", "STANDARD"] if args.workflow == "both" else [args.workflow.upper()]
    estimates = []
    for path in args.configs:
        m = measure(path, cycles=args.cycles)
        for wf in workflows:
            estimates.append(
                model(
                    m,
                    cycles_per_minute=args.per_minute,
                    workflow=wf,
                    channels_deployed=len(channels),
                    source_users=users,
                    retention_days=args.retention_days,
                )
            )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "channel": e.channel,
                        "workflow": e.workflow,
                        "total_usd": round(e.total, 4),
                        "marginal_usd": round(e.marginal, 4),
                        "running_usd": round(e.running, 4),
                        "lines": {k: round(v, 4) for k, v in e.lines.items()},
                        "details": e.details,
                    }
                    for e in estimates
                ],
                indent=2,
            )
        )
        return 0
    for e in estimates:
        head = f"Channel {e.channel} — {e.workflow} — {args.per_minute:g} cycle(s)/min ({e.cycles_per_month:,.0f} cycles/month)"
        print(head)
        print("=" * len(head))
        for k, v in e.lines.items():
            print(f"  {k:<34} ${v:8.3f}")
        for label, value in (
            ("running cycles (no observability)", e.running),
            ("a channel more (marginal)", e.marginal),
            ("per channel incl. shared share", e.total),
        ):
            verdict = "within" if value <= GOAL_USD else "OVER"
            print(f"  {label:<34} ${value:8.3f}   ({verdict} the ${GOAL_USD:g} goal)")
        d = e.details
        print(
            f"  measured per cycle: {d['lambda_invocations_per_cycle']} Lambda invocations, "
            f"{d['lambda_seconds_per_cycle_measured']} s inside handlers {d['stage_seconds']}, "
            f"{d['state_transitions_per_cycle']} state transitions, {d['ddb_wru_per_cycle']} WRU / "
            f"{d['ddb_rru_per_cycle']} RRU, {d['s3_put_per_cycle']} S3 PUT / {d['s3_get_per_cycle']} GET, "
            f"{d['log_bytes_per_cycle']} log bytes"
        )
        print(f"  source acquisitions per month (this channel's share): {d['acquisitions_per_month']}")
        print()
    print("Prices (us-east-1, list):")
    for _key, (price, what) in PRICES.items():
        print(f"  {what:<75} ${price:.10g}")
    print("Assumptions:")
    for a in ASSUMPTIONS:
        print(f"  - {a}")
    return 0
