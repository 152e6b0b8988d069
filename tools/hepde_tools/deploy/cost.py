"""Modelled monthly AWS cost of a channel, from what one cycle measurably does.

:func:`measure` runs the channel's real state machine in the embedded local AWS and records, per cycle:
each Lambda invocation's stage and seconds (``EmbeddedAWS.runner.invocations``), the log bytes it
printed, every DynamoDB and S3 request with its payload size (a botocore hook in front of moto), and
the state transitions of the execution history.  It measures steady-state cycles (sources not due:
the cycle's source tasks are freshness checks) and, separately, one forced acquisition per source
(what the source's own schedule runs).  :func:`model` turns that into a month at a cycle rate with
the list prices in :data:`PRICES` — every assumption is printed by ``de cost``.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hepde.errors import DEError
from hepde_tools.deploy import core_part, observability_part

HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

#: us-east-1 list prices (USD), no free tier.  Sources: the AWS pricing pages of each service.
PRICES: dict[str, tuple[float, str]] = {
    "lambda_gb_s_arm64": (0.0000133334, "Lambda arm64, per GB-second"),
    "lambda_gb_s_x86_64": (0.0000166667, "Lambda x86_64, per GB-second"),
    "lambda_request": (0.20 / 1e6, "Lambda, per request"),
    "sfn_standard_transition": (0.025 / 1000, "Step Functions Standard, per state transition"),
    "sfn_express_request": (1.00 / 1e6, "Step Functions Express, per execution"),
    "sfn_express_gb_s": (0.00001667, "Step Functions Express, per GB-second (64 MB steps, 100 ms steps)"),
    "ddb_wru": (0.625 / 1e6, "DynamoDB on-demand, per write request unit (1 KB)"),
    "ddb_rru": (0.125 / 1e6, "DynamoDB on-demand, per read request unit (4 KB strongly consistent)"),
    "ddb_storage_gb": (0.25, "DynamoDB storage, per GB-month"),
    "ddb_pitr_gb": (0.20, "DynamoDB point-in-time recovery, per GB-month"),
    "s3_put": (0.005 / 1000, "S3 Standard PUT/LIST, per request"),
    "s3_get": (0.0004 / 1000, "S3 Standard GET, per request"),
    "s3_storage_gb": (0.023, "S3 Standard storage, per GB-month"),
    "logs_ingest_gb": (0.50, "CloudWatch Logs ingestion, per GB"),
    "logs_storage_gb": (0.03, "CloudWatch Logs storage, per GB-month"),
    "cw_metric": (0.30, "CloudWatch custom metric, per metric-month (first 10,000)"),
    "cw_alarm": (0.10, "CloudWatch standard-resolution alarm, per alarm-month"),
    "cw_dashboard": (3.00, "CloudWatch dashboard, per month (the first 3 per account are free)"),
}
#: fixed assumptions of the model, printed with every estimate
ASSUMPTIONS = [
    "30.4-day month (730 h); us-east-1 list prices; no free tier",
    "Lambda billed duration = measured in-process seconds x CPU factor (Lambda gives a full vCPU at 1769 MB: "
    "below that, CPU-bound time stretches by 1769/memory), rounded up to 1 ms; the measurement includes the "
    "emulated DynamoDB/S3 work, which makes it an upper bound for I/O",
    "platform log lines (START/END/REPORT) add 260 bytes per invocation; Step Functions logs at level ERROR "
    "(nothing for successful cycles)",
    "DynamoDB units from the measured items' sizes (attribute names + values, DynamoDB's rule; an UpdateItem "
    "counts its key and new values); strongly consistent reads; history kept RetentionDays (default 14) by TTL",
    "Express executions: 64 MB, duration = the cycle's wall time in AWS, estimated as the sum of its Lambda "
    "durations + 50 ms per task of orchestration",
    "each source acquires once per its schedule (its own EventBridge rule); a source read by k channels is split k ways",
    "deployment-wide resources (dashboard, dead-letter alarms) are split over the deployed channels",
    "X-Ray off (TracingMode PassThrough); EventBridge scheduled rules are free; SQS for the bridge not included",
]
PLATFORM_LOG_BYTES = 260
ORCHESTRATION_S_PER_TASK = 0.05
FULL_VCPU_MB = 1769


# -- measurement ---------------------------------------------------------------------------------
@dataclass
class Usage:
    """What a unit of work (one cycle, one acquisition) did."""

    invocations: list[tuple[str, float]] = field(default_factory=list)  # (stage, seconds)
    log_bytes: int = 0
    ddb_wru: float = 0.0
    ddb_rru: float = 0.0
    ddb_requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ddb_bytes_written: int = 0
    s3_put: int = 0
    s3_get: int = 0
    s3_bytes_written: int = 0
    transitions: int = 0
    wall_seconds: float = 0.0

    def add(self, other: Usage) -> None:
        self.invocations += other.invocations
        self.log_bytes += other.log_bytes
        self.ddb_wru += other.ddb_wru
        self.ddb_rru += other.ddb_rru
        for k, v in other.ddb_requests.items():
            self.ddb_requests[k] += v
        self.ddb_bytes_written += other.ddb_bytes_written
        self.s3_put += other.s3_put
        self.s3_get += other.s3_get
        self.s3_bytes_written += other.s3_bytes_written
        self.transitions += other.transitions
        self.wall_seconds += other.wall_seconds

    def scaled(self, factor: float) -> Usage:
        u = Usage(invocations=list(self.invocations), log_bytes=int(self.log_bytes * factor))
        u.ddb_wru, u.ddb_rru = self.ddb_wru * factor, self.ddb_rru * factor
        u.ddb_requests = defaultdict(int, {k: round(v * factor) for k, v in self.ddb_requests.items()})
        u.ddb_bytes_written = int(self.ddb_bytes_written * factor)
        u.s3_put, u.s3_get = round(self.s3_put * factor), round(self.s3_get * factor)
        u.s3_bytes_written = int(self.s3_bytes_written * factor)
        u.transitions = round(self.transitions * factor)
        u.wall_seconds = self.wall_seconds * factor
        return u


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value as DynamoDB bills it (wire JSON: binary is base64)."""
    import base64

    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return len(v.lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(base64.b64decode(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: x}) for x in v)
    if kind == "L":
        return 3 + sum(1 + attribute_size(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_size(x) for k, x in v.items())
    return len(json.dumps(v))


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item as DynamoDB bills it: attribute names plus values."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


class _Recorder:
    """Counts DynamoDB and S3 requests and sizes (a botocore handler in front of moto's)."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.lock = threading.Lock()

    def before_send(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        body = request.body or b""
        size = len(body) if isinstance(body, bytes | str) else 0
        with self.lock:
            if target.startswith("DynamoDB_"):
                op = target.split(".", 1)[1]
                self.usage.ddb_requests[op] += 1
                doc = json.loads(body or b"{}")
                written: list[int] = []
                if op == "PutItem":
                    written = [item_size(doc["Item"])]
                elif (
                    op == "UpdateItem"
                ):  # billed on the item's size: key + the values it sets (small items here)
                    written = [
                        item_size(doc["Key"])
                        + sum(attribute_size(v) for v in doc.get("ExpressionAttributeValues", {}).values())
                    ]
                elif op == "DeleteItem":
                    written = [item_size(doc["Key"])]
                elif op == "BatchWriteItem":
                    for reqs in doc.get("RequestItems", {}).values():
                        for r in reqs:
                            if "PutRequest" in r:
                                written.append(item_size(r["PutRequest"]["Item"]))
                            else:
                                written.append(item_size(r["DeleteRequest"]["Key"]))
                for n in written:
                    self.usage.ddb_wru += max(1, math.ceil(n / 1024))
                    if op != "DeleteItem":
                        self.usage.ddb_bytes_written += n + 100  # + per-item storage overhead
            elif (
                ".s3." in request.url
                or request.url.startswith("https://s3")
                or "s3.amazonaws.com" in request.url
            ):
                if request.method in ("PUT", "POST"):
                    self.usage.s3_put += 1
                    self.usage.s3_bytes_written += size
                elif request.method == "GET":
                    self.usage.s3_get += 1

    def after_call(self, http_response: Any, model: Any, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb" or model.name not in (
            "GetItem",
            "Query",
            "Scan",
            "BatchGetItem",
        ):
            return
        doc = json.loads(http_response.content or b"{}")
        items = doc.get("Items") or ([doc["Item"]] if doc.get("Item") else [])
        with self.lock:
            self.usage.ddb_rru += max(1, math.ceil(sum(item_size(i) for i in items) / 4096))

    def take(self) -> Usage:
        with self.lock:
            u, self.usage = self.usage, Usage()
        return u


#: the recorder that the installed botocore handlers report to (None: not measuring)
_ACTIVE: list[_Recorder] = []


def _before_send(**kwargs: Any) -> None:
    if _ACTIVE:
        _ACTIVE[-1].before_send(**kwargs)


def _after_call(**kwargs: Any) -> None:
    if _ACTIVE:
        _ACTIVE[-1].after_call(**kwargs)


@contextmanager
def _recording():
    """Record DynamoDB/S3 traffic of every botocore client created from now on.

    The handlers go first in botocore's built-in list (ahead of moto's stubber, which answers the
    request); clients created earlier would not have them, so the DataBlock's cached pynamodb
    connection is dropped first.
    """
    import botocore.handlers

    from hepde.datablock import dynamo

    for h in (("after-call", _after_call), ("before-send", _before_send)):
        if h not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.insert(0, h)
    dynamo._model_classes.cache_clear()
    rec = _Recorder()
    _ACTIVE.append(rec)
    try:
        yield rec
    finally:
        _ACTIVE.remove(rec)
        dynamo._model_classes.cache_clear()


@dataclass
class Measurement:
    channel: str
    stage_of: dict[str, str]
    cycle: Usage  # one steady-state cycle (median of the measured ones for durations, mean for counts)
    acquisitions: dict[str, Usage]  # source key -> one forced acquisition
    schedules: dict[str, float]  # source key -> seconds between its acquisitions
    cycles_measured: int


def measure(config_path: str, cycles: int = 5) -> Measurement:
    """Run the channel in the embedded local AWS and measure a steady cycle and each source's acquisition."""
    from hepde.naming import function_name
    from hepde.runtime.channel import prepare
    from hepde_tools.local.embedded import EmbeddedAWS

    (ch,) = prepare([config_path])
    with _recording() as rec, EmbeddedAWS() as cloud:
        stage_of = {function_name(s): s for s in core_part.STAGES}
        arn = cloud.deploy_channel(ch.name, ch.definition)
        cloud.wait(cloud.start(arn))  # warm-up: imports, first acquisitions
        rec.take()
        runs: list[Usage] = []
        for _ in range(cycles):
            before_inv, before_log = len(cloud.runner.invocations), len(cloud.sink.lines)
            t0 = time.perf_counter()
            execution = cloud.start(arn)
            desc = cloud.wait(execution)
            if desc["status"] != "SUCCEEDED":
                raise DEError(f"cycle of {ch.name} ended {desc['status']}: {desc.get('cause')}")
            u = rec.take()
            u.wall_seconds = time.perf_counter() - t0
            u.invocations = [(stage_of.get(fn, fn), s) for fn, s in cloud.runner.invocations[before_inv:]]
            u.log_bytes = sum(len(line) + 1 for _, line in cloud.sink.lines[before_log:])
            u.transitions = sum(1 for e in cloud.history(execution) if e["type"].endswith("StateEntered"))
            runs.append(u)
        acquisitions: dict[str, Usage] = {}
        lam = cloud.client("lambda")
        for key, entry in ch.config.sources.items():
            before_inv, before_log = len(cloud.runner.invocations), len(cloud.sink.lines)
            event = {
                "channel": ch.name,
                "execution_id": "schedule",
                "entry": entry.to_json(),
                "mode": "force",
            }
            lam.invoke(FunctionName=function_name("source"), Payload=json.dumps(event).encode())
            u = rec.take()
            u.invocations = [(stage_of.get(fn, fn), s) for fn, s in cloud.runner.invocations[before_inv:]]
            u.log_bytes = sum(len(line) + 1 for _, line in cloud.sink.lines[before_log:])
            acquisitions[key] = u
    schedules = {k: e.effective_schedule for k, e in ch.config.sources.items()}
    return Measurement(ch.name, stage_of, _typical(runs), acquisitions, schedules, cycles)


def _typical(runs: list[Usage]) -> Usage:
    """Counts averaged over the runs; each invocation's seconds the median of that position."""
    n = len(runs)
    total = Usage()
    for r in runs:
        total.add(r)
    typical = total.scaled(1.0 / n)
    width = min(len(r.invocations) for r in runs)
    typical.invocations = [
        (runs[0].invocations[i][0], statistics.median(r.invocations[i][1] for r in runs))
        for i in range(width)
    ]
    typical.wall_seconds = statistics.median(r.wall_seconds for r in runs)
    return typical


# -- the model -----------------------------------------------------------------------------------
#: lines that exist once per deployment, whatever the number of channels (shown as a per-channel share)
DEPLOYMENT_LINES = ("CloudWatch dashboard (share)",)
#: lines that are observability rather than running cycles
OBSERVABILITY_LINES = ("CloudWatch custom metrics", "CloudWatch alarms", "CloudWatch dashboard (share)")


@dataclass
class Estimate:
    channel: str
    cycles_per_month: float
    workflow: str
    lines: dict[str, float]  # component -> USD per month
    details: dict[str, Any]

    @property
    def total(self) -> float:
        """Per channel-month, including its share of deployment-wide resources."""
        return sum(self.lines.values())

    @property
    def marginal(self) -> float:
        """What one more channel adds (deployment-wide resources excluded)."""
        return sum(v for k, v in self.lines.items() if k not in DEPLOYMENT_LINES)

    @property
    def running(self) -> float:
        """Running the cycles: compute, orchestration, storage, logs (observability excluded)."""
        return sum(v for k, v in self.lines.items() if k not in OBSERVABILITY_LINES)


def _lambda_cost(invocations: list[tuple[str, float]], arch: str) -> tuple[float, float, float]:
    """(GB-seconds, requests, USD) of a list of (stage, measured seconds)."""
    gb_s = 0.0
    for stage, seconds in invocations:
        mem = core_part.MEMORY_MB.get(stage, 512)
        factor = max(1.0, FULL_VCPU_MB / mem)
        billed = math.ceil(seconds * factor * 1000) / 1000
        gb_s += billed * mem / 1024
    price = PRICES[f"lambda_gb_s_{arch}"][0]
    return gb_s, len(invocations), gb_s * price + len(invocations) * PRICES["lambda_request"][0]


def model(
    m: Measurement,
    *,
    cycles_per_minute: float,
    workflow: str = "EXPRESS",
    channels_deployed: int = 1,
    source_users: dict[str, int] | None = None,
    retention_days: float = 14.0,
    arch: str = core_part.ARCHITECTURE,
) -> Estimate:
    p = {k: v[0] for k, v in PRICES.items()}
    cycles = cycles_per_minute * 60 * HOURS_PER_MONTH
    users = source_users or {}
    month = Usage()
    month.add(m.cycle.scaled(cycles))
    acq_per_month: dict[str, float] = {}
    acq_invocations: list[
        tuple[str, float, float]
    ] = []  # stage, seconds, count per month (this channel's share)
    for key, u in m.acquisitions.items():
        count = SECONDS_PER_MONTH / m.schedules[key]
        share = count / max(1, users.get(key, 1))
        acq_per_month[key] = share
        month.add(u.scaled(share))
        acq_invocations += [(s, sec, share) for s, sec in u.invocations]

    arch_key = "arm64" if arch == "arm64" else "x86_64"
    gb_s_cycle, req_cycle, _ = _lambda_cost(m.cycle.invocations, arch_key)
    lam_gb_s = gb_s_cycle * cycles
    lam_req = req_cycle * cycles
    for stage, seconds, count in acq_invocations:
        g, r, _ = _lambda_cost([(stage, seconds)], arch_key)
        lam_gb_s += g * count
        lam_req += r * count
    lines: dict[str, float] = {}
    lines["Lambda compute (GB-s)"] = lam_gb_s * p[f"lambda_gb_s_{arch_key}"]
    lines["Lambda requests"] = lam_req * p["lambda_request"]

    tasks = len(m.cycle.invocations)
    in_aws_seconds = sum(s for _, s in m.cycle.invocations) + ORCHESTRATION_S_PER_TASK * tasks
    if workflow == "EXPRESS":
        billed = math.ceil(in_aws_seconds * 10) / 10
        lines["Step Functions (Express)"] = cycles * (
            p["sfn_express_request"] + billed * 0.0625 * p["sfn_express_gb_s"]
        )
    else:
        lines["Step Functions (Standard)"] = cycles * m.cycle.transitions * p["sfn_standard_transition"]

    lines["DynamoDB requests"] = month.ddb_wru * p["ddb_wru"] + month.ddb_rru * p["ddb_rru"]
    retained_fraction = min(1.0, retention_days * 86400 / SECONDS_PER_MONTH)
    stored_gb = month.ddb_bytes_written * retained_fraction / 1e9
    lines["DynamoDB storage + PITR"] = stored_gb * (p["ddb_storage_gb"] + p["ddb_pitr_gb"])
    lines["S3 requests + storage"] = (
        month.s3_put * p["s3_put"]
        + month.s3_get * p["s3_get"]
        + month.s3_bytes_written * retained_fraction / 1e9 * p["s3_storage_gb"]
    )
    log_gb = (month.log_bytes + PLATFORM_LOG_BYTES * lam_req) / 1e9
    lines["CloudWatch Logs"] = (
        log_gb * p["logs_ingest_gb"] + log_gb * retained_fraction * p["logs_storage_gb"]
    )
    n_sources = len(m.acquisitions)
    metric_count = len(observability_part.EMITTED_METRICS["channel"]) + sum(
        len(observability_part.EMITTED_METRICS["source"]) / max(1, users.get(k, 1)) for k in m.acquisitions
    )
    lines["CloudWatch custom metrics"] = metric_count * p["cw_metric"]
    alarms = (
        observability_part.CHANNEL_ALARMS
        + sum(observability_part.SOURCE_ALARMS / max(1, users.get(k, 1)) for k in m.acquisitions)
        + observability_part.DEPLOYMENT_ALARMS / max(1, channels_deployed)
    )
    lines["CloudWatch alarms"] = alarms * p["cw_alarm"]
    lines["CloudWatch dashboard (share)"] = p["cw_dashboard"] / max(1, channels_deployed)

    details = {
        "cycles_per_month": cycles,
        "lambda_invocations_per_cycle": tasks,
        "lambda_seconds_per_cycle_measured": round(sum(s for _, s in m.cycle.invocations), 4),
        "lambda_gb_s_per_month": round(lam_gb_s, 1),
        "lambda_requests_per_month": round(lam_req),
        "state_transitions_per_cycle": m.cycle.transitions,
        "cycle_seconds_in_aws_estimate": round(in_aws_seconds, 3),
        "ddb_wru_per_cycle": round(m.cycle.ddb_wru, 1),
        "ddb_rru_per_cycle": round(m.cycle.ddb_rru, 1),
        "ddb_requests_per_cycle": dict(sorted(m.cycle.ddb_requests.items())),
        "s3_put_per_cycle": m.cycle.s3_put,
        "s3_get_per_cycle": m.cycle.s3_get,
        "log_bytes_per_cycle": m.cycle.log_bytes + PLATFORM_LOG_BYTES * tasks,
        "acquisitions_per_month": {k: round(v) for k, v in acq_per_month.items()},
        "custom_metrics": round(metric_count, 2),
        "alarms": round(alarms, 2),
        "stage_seconds": _stage_seconds(m.cycle.invocations),
        "sources": n_sources,
    }
    return Estimate(m.channel, cycles, workflow, lines, details)


def _stage_seconds(invocations: list[tuple[str, float]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for s, sec in invocations:
        out[s] += sec
    return {k: round(v, 4) for k, v in sorted(out.items())}
