"""CloudWatch: one dashboard for the deployment (a row per channel, the bridge, the sources, the
functions) and the alarms (failed cycles, held cycles, channels not cycling, stale sources, dead-letter
queues not empty), all notifying the stack's alarm topic.  ``docs/operations.md`` says what to do
when each fires.

Metrics come from three places: the stage functions (:mod:`hepde.runtime.lambda_support`, namespace
``HEPCloudDE``, dimensions ``service`` + ``channel`` or ``source``), AWS itself (``AWS/States``,
``AWS/Lambda``, ``AWS/SQS``: free), and components that publish later (the bridge, the pilot
channel): their widgets use ``SEARCH`` expressions over :data:`EXPECTED_METRICS`, so they fill in
when those metrics appear, without a template change.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hepde import naming
from hepde_tools.deploy.channels_part import channel_id, source_id
from hepde_tools.deploy.core_part import STAGES, ref, stack_name, sub
from hepde_tools.deploy.template import DeployContext, Template

NS = naming.METRICS_NAMESPACE
SERVICE = "decision-engine"  # Powertools' service dimension (hepde.runtime.lambda_support.SERVICE)
#: metrics the stage functions emit today (hepde.runtime.lambda_support)
EMITTED_METRICS = {
    # only what Step Functions does not already give for free (ExecutionsSucceeded, ExecutionTime, ...):
    # each custom metric costs $0.30 a month per dimension set
    "channel": ("CyclesFailed", "CyclesHeld", "Publications"),
    "source": ("SourceAcquisitions",),
}
#: metrics other components are expected to emit (dimensions in braces); shown through SEARCH
EXPECTED_METRICS = {
    "PilotsRequested": "{channel,entry,provider,service}",
    "BurnRate": "{channel,provider,service}",
    "BridgeActionLatency": "{bridge,service}",
    "BridgeActionFailures": "{bridge,service}",
}
WIDTH = 24
#: alarms per channel and per source (the cost model counts them)
CHANNEL_ALARMS = 3
SOURCE_ALARMS = 1
DEPLOYMENT_ALARMS = 2


def _metric(namespace: str, name: str, dims: dict[str, str], **opts: Any) -> list[Any]:
    row: list[Any] = [namespace, name]
    for k, v in dims.items():
        row += [k, v]
    return row + ([opts] if opts else [])


def _widget(
    title: str,
    metrics: list[list[Any]],
    x: int,
    y: int,
    w: int = 8,
    h: int = 6,
    stat: str = "Sum",
    period: int = 300,
    view: str = "timeSeries",
    **props: Any,
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": view,
            "stat": stat,
            "period": period,
            "metrics": metrics,
            **props,
        },
    }


def _log_widget(title: str, query: str, x: int, y: int, w: int = 8, h: int = 6) -> dict[str, Any]:
    """A Logs Insights widget (no custom metric needed)."""
    return {
        "type": "log",
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "properties": {"title": title, "region": "${AWS::Region}", "query": query, "view": "table"},
    }


def _search(expr_id: str, query: str, stat: str) -> list[Any]:
    """A metrics row holding a SEARCH expression (the widget shows every metric it finds)."""
    return [{"expression": f"SEARCH('{query}', '{stat}', 300)", "id": expr_id}]


def dashboard(ctx: DeployContext) -> str:
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": WIDTH,
            "height": 2,
            "properties": {
                "markdown": "# HEPCloud Decision Engine — ${AWS::StackName}\n"
                "A row per channel, then the bridge, the sources and the stage functions. "
                "What to do when an alarm fires: docs/operations.md."
            },
        }
    ]
    y = 2
    for ch in ctx.channels:
        c = {"channel": ch.name, "service": SERVICE}
        sm = {"StateMachineArn": "${" + channel_id(ch.name) + "StateMachine}"}
        widgets += [
            _widget(
                f"{ch.name}: cycles",
                [
                    _metric(
                        "AWS/States",
                        "ExecutionsSucceeded",
                        sm,
                        color="#2ca02c",
                        label="executions succeeded (incl. held)",
                    ),
                    _metric(NS, "CyclesFailed", c, color="#d62728"),
                    _metric(NS, "CyclesHeld", c, color="#ff7f0e", label="CyclesHeld (stale inputs)"),
                    _metric("AWS/States", "ExecutionsFailed", sm, label="executions failed (incl. refused)"),
                    _metric("AWS/States", "ExecutionsTimedOut", sm),
                ],
                0,
                y,
            ),
            _widget(
                f"{ch.name}: cycle duration (ms)",
                [
                    _metric("AWS/States", "ExecutionTime", sm, stat="p50", label="p50"),
                    _metric("AWS/States", "ExecutionTime", sm, stat="p90", label="p90"),
                    _metric("AWS/States", "ExecutionTime", sm, stat="Maximum", label="max"),
                ],
                8,
                y,
                stat="Average",
            ),
            _widget(
                f"{ch.name}: publications",
                [
                    _metric(NS, "Publications", c),
                ],
                16,
                y,
            ),
            _widget(
                f"{ch.name}: requests by entry and provider",
                [
                    _search(
                        "r",
                        f'{{{NS},channel,entry,provider,service}} MetricName="PilotsRequested" '
                        f'channel="{ch.name}"',
                        "Sum",
                    )
                ],
                0,
                y + 6,
                w=12,
            ),
            _widget(
                f"{ch.name}: burn rate ($/h) by provider",
                [
                    _search(
                        "b",
                        f'{{{NS},channel,provider,service}} MetricName="BurnRate" channel="{ch.name}"',
                        "Average",
                    )
                ],
                12,
                y + 6,
                w=12,
                stat="Average",
            ),
        ]
        y += 12
    actions, dlq = "${BridgeActionsQueue.QueueName}", "${BridgeActionsDeadLetterQueue.QueueName}"
    results_dlq = "${BridgeResultsDeadLetterQueue.QueueName}"
    widgets += [
        _widget(
            "bridge: queue depth",
            [
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": actions},
                    label="actions waiting",
                ),
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    {"QueueName": actions},
                    label="actions in flight",
                ),
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": dlq},
                    label="actions dead-lettered",
                ),
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": results_dlq},
                    label="results dead-lettered",
                ),
            ],
            0,
            y,
            stat="Maximum",
        ),
        _widget(
            "bridge: action latency (s)",
            [
                _metric(
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    {"QueueName": actions},
                    label="oldest action waiting",
                ),
            ]
            + [_search("l", f'{{{NS},bridge,service}} MetricName="BridgeActionLatency"', "p90")],
            8,
            y,
            stat="Maximum",
        ),
        _widget(
            "bridge: failures",
            [_search("f", f'{{{NS},bridge,service}} MetricName="BridgeActionFailures"', "Sum")],
            16,
            y,
        ),
    ]
    y += 6
    sources = ctx.sources()
    widgets += [
        _widget(
            "sources: acquisitions (0 for a whole lifetime = stale)",
            [
                _metric(NS, "SourceAcquisitions", {"source": s.key, "service": SERVICE}, label=s.key)
                for s in sources
            ]
            or [_search("s", f'{{{NS},service,source}} MetricName="SourceAcquisitions"', "Sum")],
            0,
            y,
            w=12,
        ),
        _log_widget(
            "sources: recent acquire failures (from the source function's logs)",
            "SOURCE '${SourceFunctionLogGroup}' | fields @timestamp, source, error "
            '| filter message = "source acquire failed" | sort @timestamp desc | limit 20',
            12,
            y,
            w=12,
        ),
    ]
    y += 6
    fn = {s: "${" + s.capitalize() + "Function}" for s in STAGES}
    widgets += [
        _widget(
            "functions: errors",
            [_metric("AWS/Lambda", "Errors", {"FunctionName": fn[s]}, label=s) for s in STAGES],
            0,
            y,
        ),
        _widget(
            "functions: duration p90 (ms)",
            [_metric("AWS/Lambda", "Duration", {"FunctionName": fn[s]}, label=s, stat="p90") for s in STAGES],
            8,
            y,
            stat="p90",
        ),
        _widget(
            "functions: throttles",
            [_metric("AWS/Lambda", "Throttles", {"FunctionName": fn[s]}, label=s) for s in STAGES],
            16,
            y,
        ),
    ]
    return '{"widgets": [\n' + ",\n".join(json.dumps(w, ensure_ascii=False) for w in widgets) + "\n]}"


def _period(seconds: float) -> int:
    """A CloudWatch alarm period: a multiple of 60 s, at most one day."""
    return int(min(86400, max(60, math.ceil(seconds / 60) * 60)))


def _alarm(t: Template, lid: str, name: str, description: str, **props: Any) -> None:
    t.resource(
        lid,
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": sub(name),
            "AlarmDescription": description,
            "ActionsEnabled": {"Fn::If": ["SchedulesOn", True, False]},
            "AlarmActions": [ref("AlarmTopic")],
            "OKActions": [ref("AlarmTopic")],
            **props,
        },
    )


def _dims(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Name": k, "Value": v} for k, v in values.items()]


def contribute(ctx: DeployContext, t: Template) -> None:
    stack = "${AWS::StackName}"
    t.resource(
        "Dashboard",
        "AWS::CloudWatch::Dashboard",
        {
            "DashboardName": stack_name(naming.dashboard_name),
            "DashboardBody": sub(dashboard(ctx)),
        },
    )
    t.output("DashboardName", ref("Dashboard"), "the CloudWatch dashboard of this deployment")

    for ch in ctx.channels:
        cid = channel_id(ch.name)
        c = _dims({"channel": ch.name, "service": SERVICE})
        subject = f"channel {ch.name}"
        _alarm(
            t,
            f"{cid}CyclesFailedAlarm",
            naming.alarm_name(subject, "cycles failed", stack),
            f"A cycle of channel {ch.name} failed (a module raised): nothing was published for it. "
            "See docs/operations.md#cycles-failed.",
            Namespace=NS,
            MetricName="CyclesFailed",
            Dimensions=c,
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )
        _alarm(
            t,
            f"{cid}CyclesHeldAlarm",
            naming.alarm_name(subject, "cycles held on stale inputs", stack),
            f"Every cycle of channel {ch.name} for 15 minutes held: a source product expired, so nothing is "
            "decided or published. See docs/operations.md#cycles-held.",
            Namespace=NS,
            MetricName="CyclesHeld",
            Dimensions=c,
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )
        window = _period(max(900, 3 * ch.config.cycle_schedule))
        _alarm(
            t,
            f"{cid}NotCyclingAlarm",
            naming.alarm_name(subject, "no cycle completed", stack),
            f"No execution of channel {ch.name} succeeded for {window} s (schedule every "
            f"{ch.config.cycle_schedule:g} s): refused, failing or not started. "
            "See docs/operations.md#no-cycle-completed.",
            Namespace="AWS/States",
            MetricName="ExecutionsSucceeded",
            Dimensions=_dims({"StateMachineArn": ref(f"{cid}StateMachine")}),
            Statistic="Sum",
            Period=window,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        )

    for src in ctx.sources():
        lifetime = _period(src.entry.effective_lifetime)
        _alarm(
            t,
            f"{source_id(src.key)}StaleAlarm",
            naming.alarm_name(f"source {src.key}", "stale", stack),
            f"Source {src.key} has not been acquired for a whole product lifetime ({lifetime} s): its products "
            f"are expired and the cycles of {', '.join(src.channels)} hold. See docs/operations.md#source-stale.",
            Namespace=NS,
            MetricName="SourceAcquisitions",
            Dimensions=_dims({"service": SERVICE, "source": src.key}),
            Statistic="Sum",
            Period=lifetime,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        )

    for kind in ("Actions", "Results"):
        _alarm(
            t,
            f"Bridge{kind}DeadLetterAlarm",
            naming.alarm_name("bridge", f"{kind.lower()} dead-letter queue not empty", stack),
            f"Bridge {kind.lower()} were dead-lettered (malformed, impossible, or failed 5 times). "
            "See docs/operations.md#dead-letter-queue-not-empty.",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=_dims({"QueueName": {"Fn::GetAtt": f"Bridge{kind}DeadLetterQueue.QueueName"}}),
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )
