"""Operations tests: a deployed-looking Decision Engine in the embedded local AWS (moto + real ASL).

``deployment`` (one per test module): the example channel deployed as its real state machine, its
EventBridge schedule rule (target: the state machine) and its two shared sources' rules, and cycles run
as the schedule would run them.  Lambda log lines of each cycle are written to CloudWatch Logs (moto) in
Powertools' format, since the in-process Lambdas print to a local sink, not to CloudWatch.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hepde import naming
from hepde.ops.context import OpsContext
from hepde.runtime.channel import prepare
from hepde_tools.local.embedded import EmbeddedAWS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "channels" / "example.jsonnet"


@dataclass
class Deployment:
    cloud: EmbeddedAWS
    ctx: OpsContext
    arns: dict[str, str] = field(default_factory=dict)
    executions: list[str] = field(default_factory=list)

    def deploy(self, path: Path, rate: str = "rate(5 minutes)") -> str:
        (ch,) = prepare([path])
        arn = self.cloud.deploy_channel(ch.name, ch.definition)
        self.arns[ch.name] = arn
        events = self.cloud.client("events")
        rule = naming.channel_schedule_rule(ch.name)
        events.put_rule(Name=rule, ScheduleExpression=rate, State="ENABLED")
        events.put_targets(
            Rule=rule,
            Targets=[
                {
                    "Id": "cycle",
                    "Arn": arn,
                    "RoleArn": self.cloud.role_arn,
                    "Input": json.dumps({"trigger": "schedule"}),
                }
            ],
        )
        for key, entry in ch.config.sources.items():
            events.put_rule(
                Name=naming.source_schedule_rule(key),
                State="ENABLED",
                ScheduleExpression=f"rate({max(1, int(entry.effective_schedule // 60))} minutes)",
            )
        self.ctx.executions._machines = None  # forget the cached listing
        return arn

    def cycle(self, channel: str) -> dict[str, Any]:
        """A cycle as EventBridge starts one: an execution with a generated name."""
        import uuid

        execution = self.cloud.start(self.arns[channel], {"trigger": "schedule"}, name=str(uuid.uuid4()))
        desc = self.cloud.wait(execution)
        self.executions.append(execution)
        write_logs(self.cloud, channel, execution)
        return desc


def write_logs(cloud: EmbeddedAWS, channel: str, execution: str) -> None:
    """What the stage Lambdas of one cycle would have logged to CloudWatch Logs: a Powertools line per
    stage with correlation_id = execution id, the runtime's START/END lines and a plain-text line."""
    from aws_lambda_powertools import Logger

    logs = cloud.client("logs")
    now = int(time.time() * 1000)
    for i, stage in enumerate(("cycle", "source", "decide", "publish")):
        group = naming.log_group(stage)
        stream = f"2026/11/25/[$LATEST]{stage}"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        request_id = f"req-{execution[-12:]}-{stage}"
        buf = io.StringIO()
        logger = Logger(service=f"fixture-{stage}-{execution[-12:]}", stream=buf)  # a new stream each time
        logger.append_keys(function_name=naming.function_name(stage), function_request_id=request_id)
        logger.set_correlation_id(execution)
        logger.info(f"{stage} stage of channel {channel}")
        if stage == "decide":
            logger.warning("fact allow_grid is constant")
        lines = [f"START RequestId: {request_id} Version: $LATEST"] + buf.getvalue().splitlines()
        lines += [
            f"[INFO]\t2026-11-25T00:00:00Z\t{request_id}\tEvaluated fact queue_seen -> True",
            f"END RequestId: {request_id}",
            "[INFO]\t2026-11-25T00:00:00Z\tother-request\tsomething of another cycle",
        ]
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now + i * 10 + j, "message": m} for j, m in enumerate(lines)],
        )


@pytest.fixture(scope="module")
def deployment():
    with EmbeddedAWS() as cloud:
        d = Deployment(cloud, OpsContext.for_embedded(cloud))
        d.deploy(EXAMPLE)
        d.cycle("example")
        d.cycle("example")
        yield d
