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

from hepde.errors import ChannelNotFoundError, DEError
from hepde.runtime.channel import PreparedChannel, prepare
from hepde.runtime.records import CycleReport, cycle_report
from hepde_tools.cli.render import describe_value, frame_text, table


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


class DeployedAWS:
    """The deployed stack, reached through the standard credential chain (and AWS_ENDPOINT_URL)."""

    def __init__(self, stack: str = "hepde") -> None:
        import boto3

        self.stack = stack
        self.sfn = boto3.client("stepfunctions")
        self._types: dict[str, str] = {}
        self._sync: dict[str, dict[str, Any]] = {}
        self._store: Any = None

    def state_machine(self, channel: str) -> str:
        from hepde.naming import state_machine_name

        wanted = state_machine_name(channel, self.stack)
        paginator = self.sfn.get_paginator("list_state_machines")
        for page in paginator.paginate():
            for sm in page["stateMachines"]:
                if sm["name"] == wanted:
                    return sm["stateMachineArn"]
        raise ChannelNotFoundError(
            f"no deployed state machine '{wanted}' for channel '{channel}' (stack '{self.stack}')"
        )

    def start(self, arn: str, input_: dict[str, Any] | None = None, name: str | None = None) -> str:
        """Start a cycle.  Express state machines (the default deploy, ADR 8) have no DescribeExecution
        in AWS, so they are run with StartSyncExecution and their result kept for :meth:`wait`."""
        import uuid

        name = name or f"cycle-{uuid.uuid4().hex[:12]}"
        if self._type(arn) == "EXPRESS":
            result = self.sfn.start_sync_execution(
                stateMachineArn=arn, name=name, input=json.dumps(input_ or {})
            )
            self._sync[result["executionArn"]] = result
            return result["executionArn"]
        return self.sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(input_ or {}))[
            "executionArn"
        ]

    def _type(self, arn: str) -> str:
        if arn not in self._types:
            self._types[arn] = self.sfn.describe_state_machine(stateMachineArn=arn).get("type", "STANDARD")
        return self._types[arn]

    def wait(self, arn: str, timeout: float = 900.0) -> dict[str, Any]:
        if arn in self._sync:
            return self._sync.pop(arn)
        deadline = time.time() + timeout
        while True:
            desc = self.sfn.describe_execution(executionArn=arn)
            if desc["status"] != "RUNNING":
                return desc
            if time.time() > deadline:
                raise TimeoutError(f"execution {arn} still RUNNING after {timeout} s")
            time.sleep(1.0)

    def store(self) -> Any:
        """The deployed DataBlock, found the way every operator command finds it (stack outputs/naming)."""
        if self._store is None:
            from hepde.ops.context import OpsContext

            self._store = OpsContext.from_environment(self.stack).store
        return self._store


def run(args: argparse.Namespace) -> int:
    if args.cycles < 1:
        raise DEError("--cycles must be at least 1")
    channels = prepare(args.configs)
    if args.deployed:
        cloud: Any = DeployedAWS(args.stack)
        ctx: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(cloud)
    else:
        from hepde_tools.local.embedded import EmbeddedAWS

        ctx = EmbeddedAWS()
    worst = 0
    with ctx as cloud:
        arns = {
            ch.name: (
                cloud.state_machine(ch.name)
                if args.deployed
                else cloud.deploy_channel(ch.name, ch.definition)
            )
            for ch in channels
        }
        for n in range(args.cycles):
            if n and args.interval:
                time.sleep(args.interval)
            for ch in channels:
                before = len(cloud.sink.lines) if not args.deployed else 0
                started = time.perf_counter()
                execution = cloud.start(arns[ch.name], {"trigger": "de run"})
                desc = cloud.wait(execution)
                elapsed = time.perf_counter() - started
                report = _report_for(cloud.store(), ch, execution)
                if args.json:
                    print(json.dumps(_as_json(report, desc, elapsed), default=str))
                else:
                    print(summary(report, desc, elapsed, cloud.store()))
                if args.logs and not args.deployed:
                    for fn, line in cloud.sink.lines[before:]:
                        print(f"  [{fn}] {line}")
                worst = max(worst, 0 if desc["status"] == "SUCCEEDED" else 1)
    return worst


def _report_for(store: Any, ch: PreparedChannel, execution_arn: str) -> CycleReport | None:
    from hepde.datablock.api import channel_namespace
    from hepde.runtime.stages import CYCLE

    for _, record in store.query_records(channel_namespace(ch.name), CYCLE, newest_first=True, limit=20):
        if record.get("execution_id") == execution_arn:
            return cycle_report(store, ch.name, int(record["generation"]))
    return None


def _as_json(report: CycleReport | None, desc: dict[str, Any], elapsed: float) -> dict[str, Any]:
    return {
        "execution": desc["executionArn"],
        "status": desc["status"],
        "error": desc.get("error"),
        "cause": desc.get("cause"),
        "seconds": round(elapsed, 4),
        "cycle": report.cycle if report else None,
        "decision": report.decision if report else None,
        "products": {k: v.to_json() for k, v in report.products.items()} if report else {},
    }


def summary(report: CycleReport | None, desc: dict[str, Any], elapsed: float, store: Any) -> str:
    name = desc["executionArn"].rsplit(":", 1)[-1]
    if report is None:
        return (
            f"execution {name}: {desc['status']} {desc.get('error') or ''} {desc.get('cause') or ''}\n"
            "  (no cycle was opened: see the error above)"
        )
    c = report.cycle
    head = (
        f"Channel {report.channel} — cycle {report.generation} ({name}): {c.get('status')} in {elapsed:.3f} s"
    )
    out = [head, "=" * len(head)]
    if desc["status"] == "FAILED":
        out.append(
            f"execution FAILED with {desc.get('error')}: {(c.get('error') or {}).get('cause') or desc.get('cause')}"
        )
        out.append("nothing after the failing stage ran; nothing was published by later stages")
    if c.get("hold"):
        h = c["hold"]
        out.append(
            f"HELD by transform {h.get('transform')}: {h.get('reason')} — nothing decided or published; "
            "the last published decision stays in force"
        )
    if c.get("stale"):
        out.append("HELD — inputs stale or missing; nothing decided or published this cycle:")
        for s in c["stale"]:
            why = s["reason"] + (f" (last acquire failed: {s['error']})" if s.get("error") else "")
            out.append(f"  {s['source']}/{s.get('product') or '*'}: {why}")
    if c.get("acquisitions"):
        rows = [
            [
                a.get("source"),
                "acquired" if a.get("acquired") else "reused",
                a.get("generation"),
                a.get("error") or a.get("reason") or ", ".join(a.get("products", [])),
            ]
            for a in c["acquisitions"]
        ]
        out += ["Sources", table(rows, ["source", "this cycle", "generation", "detail"]), ""]
    if report.products:
        rows = []
        for pname, ref in sorted(report.products.items()):
            try:
                desc_v = describe_value(store.get_product(ref))
            except DEError as exc:
                desc_v = f"unreadable: {exc}"
            rows.append([pname, f"{ref.namespace}@{ref.generation}", desc_v])
        out += ["", "Products", table(rows, ["product", "from", "value"])]
    d = report.decision
    if d:
        out += ["", "Facts", table([[k, v] for k, v in d.get("facts", {}).items()], ["fact", "value"])]
        rows = [
            [
                r,
                v,
                ", ".join(d.get("actions", {}).get(r, [])) or "-",
                ", ".join(f"{f}={x}" for f, x in d.get("new_facts", {}).get(r, {}).items()),
            ]
            for r, v in d.get("rules", {}).items()
        ]
        out += ["", "Rules (evaluation order)", table(rows, ["rule", "result", "actions", "new facts"])]
        pubs = d.get("publishers", {})
        out += ["", "Publishers"]
        if not d.get("selected_publishers"):
            out.append("  none selected: nothing published")
        for p in d.get("selected_publishers", []):
            outcome = pubs.get(p)
            out.append(
                f"  {p}: {outcome['summary'] if outcome else 'did not run (the cycle failed before it)'}"
            )
            if outcome and outcome.get("requested"):
                import pandas as pd

                out.append("    " + frame_text(pd.DataFrame(outcome["requested"])).replace("\n", "\n    "))
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
