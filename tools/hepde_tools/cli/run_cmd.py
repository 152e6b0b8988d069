"""``de run CHANNEL_CONFIG [--cycles N]``: run a channel's real state machine and summarise each cycle.

By default everything runs in the embedded local AWS (moto in process: real ASL execution, the real
Lambda handlers, DynamoDB and S3 semantics) — no account, no Docker, no server.  With ``--deployed``
the same command starts the channel's deployed state machine (``<stack>-de-<channel>``) in whatever AWS the
standard credential chain and ``AWS_ENDPOINT_URL`` point at, and reads the same records back.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from typing import Any

from hepde.errors import DEError
from hepde.records import cycle_records
from hepde.runtime.channel import PreparedChannel, prepare
from hepde.runtime.explain import explanation
from hepde.runtime.records import CycleReport, cycle_report
from hepde_tools.cli.explain_view import explain_text
from hepde_tools.cli.render import describe_value, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a channel's decision cycles (embedded local AWS by default)")
    p.add_argument(
        "configs", nargs="+", metavar="CHANNEL_CONFIG", help="channel file(s); cycles run for each"
    )
    p.add_argument("--cycles", type=int, default=1, help="cycles to run per channel (default 1)")
    p.add_argument("--interval", type=float, default=0.0, help="seconds to wait between cycles")
    p.add_argument(
        "--deployed",
        action="store_true",
        help="start the deployed state machine instead (real AWS or AWS_ENDPOINT_URL)",
    )
    p.add_argument(
        "--stack", default="hepde", help="deployed stack name prefix (with --deployed; default hepde)"
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON document per cycle instead of the summary"
    )
    p.add_argument("--logs", action="store_true", help="also print the Lambda logs of each cycle")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.cycles < 1:
        raise DEError("--cycles must be at least 1")
    channels = prepare(args.configs)
    if args.deployed:
        from hepde.ops.context import OpsContext

        ops = OpsContext.from_environment(args.stack)
        ctx: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(None)
    else:
        from hepde_tools.local.embedded import EmbeddedAWS

        ctx = EmbeddedAWS()
    worst = 0
    with ctx as cloud:
        if args.deployed:  # the one Step Functions adapter of the operator commands
            store = ops.store
            arns = {ch.name: ops.executions.arn(ch.name) for ch in channels}

            def cycle(arn: str) -> dict[str, Any]:
                return ops.executions.wait(ops.executions.run(arn, {"trigger": "de run"}))
        else:
            store = cloud.store()
            arns = {ch.name: cloud.deploy_channel(ch.name, ch.definition) for ch in channels}

            def cycle(arn: str) -> dict[str, Any]:
                d = cloud.wait(cloud.start(arn, {"trigger": "de run"}))
                return {
                    "execution_arn": d["executionArn"],
                    **{k: d.get(k) for k in ("status", "error", "cause")},
                }

        for n in range(args.cycles):
            if n and args.interval:
                time.sleep(args.interval)
            for ch in channels:
                before = len(cloud.sink.lines) if not args.deployed else 0
                started = time.perf_counter()
                desc = cycle(arns[ch.name])
                elapsed = time.perf_counter() - started
                report = _report_for(store, ch, desc["execution_arn"])
                if args.json:
                    print(json.dumps(_as_json(report, desc, elapsed), default=str))
                else:
                    print(summary(report, desc, elapsed, store))
                if args.logs and not args.deployed:
                    for fn, line in cloud.sink.lines[before:]:
                        print(f"  [{fn}] {line}")
                worst = max(worst, 0 if desc["status"] == "SUCCEEDED" else 1)
    return worst


def _report_for(store: Any, ch: PreparedChannel, execution_arn: str) -> CycleReport | None:
    for record in cycle_records(store, ch.name, 20):
        if record.execution_id == execution_arn:
            return cycle_report(store, ch.name, record.generation)
    return None


def _as_json(report: CycleReport | None, desc: dict[str, Any], elapsed: float) -> dict[str, Any]:
    return {
        "execution": desc["execution_arn"],
        "status": desc["status"],
        "error": desc.get("error"),
        "cause": desc.get("cause"),
        "seconds": round(elapsed, 4),
        "cycle": report.cycle.to_json() if report else None,
        "decision": report.decision.to_json() if report and report.decision else None,
        "products": {k: v.to_json() for k, v in report.products.items()} if report else {},
    }


def summary(report: CycleReport | None, desc: dict[str, Any], elapsed: float, store: Any) -> str:
    """What ``de run`` prints per cycle: a header, the cycle's explanation (the renderer of ``de explain``)
    and the products the cycle saw."""
    name = desc["execution_arn"].rsplit(":", 1)[-1]
    if report is None:
        return (
            f"execution {name}: {desc['status']} {desc.get('error') or ''} {desc.get('cause') or ''}\n"
            "  (no cycle was opened: see the error above)"
        )
    head = (
        f"Channel {report.channel} — cycle {report.generation} ({name}): {report.status} in {elapsed:.3f} s"
    )
    out = [head, "=" * len(head)]
    if desc["status"] == "FAILED":
        cause = report.cycle.error.cause if report.cycle.error else None
        out.append(f"execution FAILED with {desc.get('error')}: {cause or desc.get('cause')}")
        out.append("nothing after the failing stage ran; nothing was published by later stages")
    out.append(explain_text(explanation(store, report.channel, report.generation)).rstrip("\n"))
    if report.products:
        rows = []
        for pname, ref in sorted(report.products.items()):
            try:
                desc_v = describe_value(store.get_product(ref))
            except DEError as exc:
                desc_v = f"unreadable: {exc}"
            rows.append([pname, f"{ref.namespace}@{ref.generation}", desc_v])
        out += ["", "Products", table(rows, ["product", "from", "value"])]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
