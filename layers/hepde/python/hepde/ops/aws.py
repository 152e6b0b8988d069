"""Adapters over the AWS services operations use; each takes its boto3 client in its constructor.

Names of deployed resources come from :mod:`hepde.naming` (``stack`` is the deployment prefix), so the
CLI, the API and the SAM template agree without configuration.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hepde import naming
from hepde.errors import ChannelNotFoundError, DEError


class AWSAccessError(DEError):
    """An AWS call failed for a reason the operator must fix (credentials, permissions, endpoint)."""


def aws_error(exc: BaseException, action: str) -> DEError:
    """Translate a botocore exception into a one-line :class:`DEError`; other exceptions pass through."""
    if isinstance(exc, DEError):
        return exc
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError"):
        return AWSAccessError(
            f"{action}: no usable AWS credentials/region ({exc}); configure the standard AWS credential chain "
            "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ...) and AWS_REGION, or set AWS_ENDPOINT_URL "
            "for a local cloud"
        )
    if name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    ):
        return AWSAccessError(f"{action}: cannot reach AWS ({exc})")
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        code = err.get("Code", name)
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredTokenException",
            "AccessDeniedException",
            "AccessDenied",
            "InvalidSignatureException",
        ):
            return AWSAccessError(f"{action}: AWS refused the request ({code}: {err.get('Message', '')})")
        return AWSAccessError(f"{action}: {code}: {err.get('Message', '')}")
    if name == "ParamValidationError":
        return AWSAccessError(f"{action}: {exc}")
    return exc  # type: ignore[return-value]


class _Guard:
    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, DEError) or not isinstance(exc, Exception):
            return
        translated = aws_error(exc, self.action)
        if translated is exc:
            return
        raise translated from exc


def guard(action: str) -> _Guard:
    """``with guard("reading the schedule"):`` — botocore errors become :class:`AWSAccessError`."""
    return _Guard(action)


# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """A channel's (or shared source's) EventBridge schedule rule."""

    rule: str
    enabled: bool
    expression: str | None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "enabled": self.enabled, "expression": self.expression}


class Schedules:
    """EventBridge schedule rules of channels (``<stack>-cycle-<channel>``) and sources (``<stack>-source-<key>``).

    ``channels``/``sources``: the deployment's known names (the API Lambda gets them from its template);
    rules are then described one by one (``events:DescribeRule`` on their ARNs) instead of listed
    (``events:ListRules`` takes no resource, so a least-privilege role cannot have it).
    """

    def __init__(
        self,
        events_client: Any,
        stack: str = "hepde",
        *,
        channels: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> None:
        self.events = events_client
        self.stack = stack
        self.known_channels = channels
        self.known_sources = sources

    def _describe(self, rule: str) -> Schedule | None:
        with guard(f"reading EventBridge rule {rule}"):
            try:
                r = self.events.describe_rule(Name=rule)
            except self.events.exceptions.ResourceNotFoundException:
                return None
        return Schedule(rule, r.get("State") == "ENABLED", r.get("ScheduleExpression"))

    def channel(self, channel: str) -> Schedule | None:
        return self._describe(naming.channel_schedule_rule(channel, self.stack))

    def source(self, source_key: str) -> Schedule | None:
        return self._describe(naming.source_schedule_rule(source_key, self.stack))

    def _rules(self, prefix: str) -> Iterator[dict[str, Any]]:
        with guard("listing EventBridge rules"):
            token = None
            while True:
                kw: dict[str, Any] = {"NamePrefix": prefix}
                if token:
                    kw["NextToken"] = token
                page = self.events.list_rules(**kw)
                yield from page.get("Rules", [])
                token = page.get("NextToken")
                if not token:
                    return

    def source_rules(self) -> dict[str, Schedule]:
        """Shared-source schedules by (safe) source key."""
        if self.known_sources is not None:
            return {naming.safe(k): s for k in self.known_sources if (s := self.source(k)) is not None}
        prefix = f"{self.stack}-source-"
        return {
            r["Name"][len(prefix) :]: Schedule(
                r["Name"], r.get("State") == "ENABLED", r.get("ScheduleExpression")
            )
            for r in self._rules(prefix)
        }

    def channel_rules(self) -> dict[str, Schedule]:
        if self.known_channels is not None:
            return {naming.safe(c): s for c in self.known_channels if (s := self.channel(c)) is not None}
        prefix = f"{self.stack}-cycle-"
        return {
            r["Name"][len(prefix) :]: Schedule(
                r["Name"], r.get("State") == "ENABLED", r.get("ScheduleExpression")
            )
            for r in self._rules(prefix)
        }

    def set_enabled(self, channel: str, enabled: bool) -> Schedule:
        rule = naming.channel_schedule_rule(channel, self.stack)
        if self._describe(rule) is None:
            raise ChannelNotFoundError(
                f"channel '{channel}' has no schedule rule '{rule}' (stack '{self.stack}'): is it deployed?"
            )
        with guard(f"{'enabling' if enabled else 'disabling'} EventBridge rule {rule}"):
            (self.events.enable_rule if enabled else self.events.disable_rule)(Name=rule)
        result = self._describe(rule)
        assert result is not None
        return result


# ------------------------------------------------------------------------------------------------
class Executions:
    """The channels' Step Functions state machines (``<stack>-de-<channel>``) and their executions.

    ``machines``: channel -> state machine ARN, when known (the API Lambda's template passes them), so
    ``states:ListStateMachines`` (no resource-level permission) is not needed.
    """

    def __init__(
        self, sfn_client: Any, stack: str = "hepde", *, machines: dict[str, str] | None = None
    ) -> None:
        self.sfn = sfn_client
        self.stack = stack
        self.known = machines
        self._machines: dict[str, str] | None = None
        self._types: dict[str, str] = {}
        #: results of Express executions run synchronously, until :meth:`wait` hands them out
        self._sync: dict[str, dict[str, Any]] = {}

    def machines(self) -> dict[str, str]:
        """Deployed channels: channel name -> state machine ARN."""
        if self.known is not None:
            return {naming.safe(c): arn for c, arn in self.known.items()}
        if self._machines is None:
            prefix = f"{self.stack}-de-"
            found: dict[str, str] = {}
            with guard("listing Step Functions state machines"):
                for page in self.sfn.get_paginator("list_state_machines").paginate():
                    for sm in page["stateMachines"]:
                        if sm["name"].startswith(prefix):
                            found[sm["name"][len(prefix) :]] = sm["stateMachineArn"]
            self._machines = found
        return self._machines

    def channels(self) -> list[str]:
        return sorted(self.machines())

    def arn(self, channel: str) -> str:
        arn = self.machines().get(naming.safe(channel))
        if arn is None:
            known = ", ".join(self.channels()) or "none"
            raise ChannelNotFoundError(
                f"unknown channel '{channel}': no state machine '{naming.state_machine_name(channel, self.stack)}' "
                f"in stack '{self.stack}' (deployed channels: {known})"
            )
        return arn

    def start(self, channel: str, trigger: str = "de channel run-now") -> dict[str, Any]:
        arn = self.arn(channel)
        name = f"run-now-{uuid.uuid4().hex[:12]}"
        with guard(f"starting a cycle of channel {channel}"):
            out = self.sfn.start_execution(
                stateMachineArn=arn, name=name, input=json.dumps({"trigger": trigger})
            )
        return {
            "channel": channel,
            "execution_arn": out["executionArn"],
            "name": name,
            "started_at": _epoch(out.get("startDate")),
        }

    def machine_type(self, arn: str) -> str:
        """``STANDARD`` or ``EXPRESS`` (cached per state machine)."""
        if arn not in self._types:
            with guard(f"describing state machine {arn}"):
                self._types[arn] = self.sfn.describe_state_machine(stateMachineArn=arn).get(
                    "type", "STANDARD"
                )
        return self._types[arn]

    def run(self, arn: str, input_: dict[str, Any] | None = None, name: str | None = None) -> str:
        """Start an execution of state machine ``arn``; return its ARN for :meth:`wait`.

        Express state machines (the default deploy, ADR 8) have no DescribeExecution in AWS: they are run
        with StartSyncExecution and their result kept for :meth:`wait`."""
        name = name or f"cycle-{uuid.uuid4().hex[:12]}"
        body = json.dumps(input_ or {})
        express = self.machine_type(arn) == "EXPRESS"
        with guard(f"starting an execution of {arn}"):
            if express:
                result = self.sfn.start_sync_execution(stateMachineArn=arn, name=name, input=body)
                self._sync[result["executionArn"]] = result
            else:
                result = self.sfn.start_execution(stateMachineArn=arn, name=name, input=body)
        return str(result["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 900.0, poll: float = 1.0) -> dict[str, Any]:
        """The finished execution, as :meth:`describe` gives it; still running after ``timeout`` → TimeoutError."""
        if execution_arn in self._sync:
            d = self._sync.pop(execution_arn)
            return {
                "execution_arn": execution_arn,
                "status": d["status"],
                "started_at": _epoch(d.get("startDate")),
                "stopped_at": _epoch(d.get("stopDate")),
                "error": d.get("error"),
                "cause": d.get("cause"),
            }
        deadline = time.time() + timeout
        while True:
            desc = self.describe(execution_arn)
            if desc["status"] != "RUNNING":
                return desc
            if time.time() > deadline:
                raise TimeoutError(f"execution {execution_arn} still RUNNING after {timeout} s")
            time.sleep(poll)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        with guard(f"describing execution {execution_arn}"):
            d = self.sfn.describe_execution(executionArn=execution_arn)
        return {
            "execution_arn": execution_arn,
            "status": d["status"],
            "started_at": _epoch(d.get("startDate")),
            "stopped_at": _epoch(d.get("stopDate")),
            "error": d.get("error"),
            "cause": d.get("cause"),
        }


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)


# ------------------------------------------------------------------------------------------------
STAGES = ("cycle", "source", "transform", "decide", "publish")


class LogReader:
    """CloudWatch Logs of the stage Lambdas and the state machines."""

    def __init__(self, logs_client: Any, stack: str = "hepde") -> None:
        self.logs = logs_client
        self.stack = stack

    def groups(self, channel: str) -> list[str]:
        return [naming.log_group(s, self.stack) for s in STAGES] + [
            naming.state_machine_log_group(channel, self.stack)
        ]

    def events(
        self,
        groups: list[str],
        pattern: str,
        start_ms: int,
        end_ms: int,
        limit: int = 10000,
        streams: list[str] | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(group, event)`` for every event matching ``pattern`` (``""``: all) in each existing group."""
        for group in groups:
            token = None
            seen = 0
            while True:
                kw: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
                if pattern:
                    kw["filterPattern"] = pattern
                if streams:
                    kw["logStreamNames"] = streams
                if token:
                    kw["nextToken"] = token
                with guard(f"reading CloudWatch Logs group {group}"):
                    try:
                        page = self.logs.filter_log_events(**kw)
                    except self.logs.exceptions.ResourceNotFoundException:
                        break
                for ev in page.get("events", []):
                    seen += 1
                    yield group, ev
                token = page.get("nextToken")
                if not token or seen >= limit:
                    break
