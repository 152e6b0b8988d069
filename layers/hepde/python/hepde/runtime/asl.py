"""Generate a channel's Step Functions state machine (ASL JSON) from its configuration.

The definition holds no ARNs: Lambda functions are ``${CycleFunctionArn}``, ``${SourceFunctionArn}``,
``${TransformFunctionArn}``, ``${DecideFunctionArn}`` and ``${PublishFunctionArn}``, filled in by
``DefinitionSubstitutions`` (SAM) or :func:`substitute` (local runner).  Each task's payload carries
its module entry, so the definition is the complete, reviewable description of the channel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hepde.config.graph import ChannelGraph
from hepde.config.model import ChannelConfig, ModuleEntry

PLACEHOLDERS = (
    "CycleFunctionArn",
    "SourceFunctionArn",
    "TransformFunctionArn",
    "DecideFunctionArn",
    "PublishFunctionArn",
)

#: errors worth retrying: Lambda service hiccups and DataBlock throttling/timeouts
TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "DataBlockUnavailableError",
]
#: named failure states: error class raised by a stage -> Fail state
FAILURES = {
    "TransformFailedError": "TransformFailed",
    "LogicEngineFailedError": "LogicEngineFailed",
    "PublisherFailedError": "PublisherFailed",
    "SourceFailedError": "SourceFailed",
}
#: a transform raising HoldCycleError (implausible inputs) holds the cycle instead of failing it
HOLD_STATE = "HoldCycleByTransform"
HOLD_CATCH = {"ErrorEquals": ["HoldCycleError"], "ResultPath": "$.error", "Next": HOLD_STATE}
TASK_TIMEOUT = 300
CYCLE_TIMEOUT = 900
#: how often a queued start asks again whether the running cycle has finished
QUEUE_POLL_SECONDS = 2


def _task(
    function: str,
    payload: dict[str, Any],
    *,
    next_state: str | None,
    result_selector: dict | None = None,
    result_path: str | None = None,
    catch_to: str | None = "RecordFailure",
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${" + function + "}", "Payload": payload},
        "TimeoutSeconds": TASK_TIMEOUT,
        "Retry": [
            {"ErrorEquals": TRANSIENT_ERRORS, "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}
        ],
    }
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    state["ResultPath"] = result_path
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}]
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def _base_payload(channel: str) -> dict[str, Any]:
    return {"channel": channel, "execution_id.$": "$$.Execution.Id"}


def _state_name(prefix: str, key: str) -> str:
    name = f"{prefix} {key}"
    return name if len(name) <= 80 else name[:71] + "~" + format(abs(hash(key)) % 10**7, "07d")


def source_state_name(key: str) -> str:
    return _state_name("Source", key)


def transform_state_name(key: str) -> str:
    return _state_name("Transform", key)


def publisher_state_name(key: str) -> str:
    return _state_name("Publish", key)


def generate(config: ChannelConfig, graph: ChannelGraph) -> dict[str, Any]:
    """The ASL definition of one decision cycle of ``config``."""
    ch = config.name
    gen = {"generation.$": "$.cycle.generation"}
    states: dict[str, Any] = {}

    states["BeginCycle"] = _task(
        "CycleFunctionArn",
        {
            **_base_payload(ch),
            "action": "begin",
            "execution_started_at.$": "$$.Execution.StartTime",
            "execution_input.$": "$$.Execution.Input",
        },
        next_state="CycleStarted?",
        result_selector={"generation.$": "$.Payload.generation", "outcome.$": "$.Payload.outcome"},
        result_path="$.cycle",
        catch_to=None,
    )
    # a start while a cycle runs is not a failure: one waits (queued) and starts after it, others coalesce
    states["CycleStarted?"] = {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.cycle.outcome",
                "StringEquals": "started",
                "Next": "AcquireSources" if config.sources else "Snapshot",
            },
            {"Variable": "$.cycle.outcome", "StringEquals": "queued", "Next": "WaitForRunningCycle"},
        ],
        "Default": "CycleCoalesced",
    }
    states["WaitForRunningCycle"] = {"Type": "Wait", "Seconds": QUEUE_POLL_SECONDS, "Next": "BeginCycle"}
    states["CycleCoalesced"] = {
        "Type": "Succeed",
        "Comment": f"another cycle of channel '{ch}' was running and one start already waited for it",
    }

    if config.sources:
        branches = []
        for key, entry in config.sources.items():
            name = source_state_name(key)
            task = _task(
                "SourceFunctionArn",
                {
                    **_base_payload(ch),
                    **gen,
                    "entry": entry.to_json(),
                    "mode": "if_due",
                    "execution_input.$": "$$.Execution.Input",
                },
                next_state=None,
                catch_to=None,
            )
            task.pop("ResultPath")
            task["OutputPath"] = "$.Payload"
            # a crashed source Lambda is recorded like a failed acquire; freshness decides in Snapshot
            task["Catch"] = [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"{name} unavailable"}
            ]
            branches.append(
                {
                    "StartAt": name,
                    "States": {
                        name: task,
                        f"{name} unavailable": {
                            "Type": "Pass",
                            "Parameters": {"source": key, "acquired": False, "error.$": "$.error.Cause"},
                            "End": True,
                        },
                    },
                }
            )
        states["AcquireSources"] = {
            "Type": "Parallel",
            "Branches": branches,
            "ResultPath": "$.acquisitions",
            "Next": "Snapshot",
        }

    snapshot_payload = {
        **_base_payload(ch),
        **gen,
        "action": "snapshot",
        "sources": [e.to_json() for e in config.sources.values()],
    }
    if config.sources:
        snapshot_payload["acquisitions.$"] = "$.acquisitions"
    states["Snapshot"] = _task(
        "CycleFunctionArn",
        snapshot_payload,
        next_state="FreshInputs?",
        result_selector={"hold.$": "$.Payload.hold"},
        result_path="$.snapshot",
    )

    # the chain after the freshness check: transform levels, logic engine, publishers, finish
    chain: list[tuple[str, dict[str, Any]]] = []
    for i, level in enumerate(graph.transform_levels):
        tasks = {
            key: _task(
                "TransformFunctionArn",
                {**_base_payload(ch), **gen, "entry": config.transforms[key].to_json()},
                next_state=None,
                catch_to=None,
            )
            for key in level
        }
        if len(level) == 1:
            key = level[0]
            state = tasks[key]
            state["Catch"] = [
                HOLD_CATCH,
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"},
            ]
            chain.append((transform_state_name(key), state))
        else:
            branches = []
            for key in level:
                t = tasks[key]
                t.pop("ResultPath")
                branches.append(
                    {"StartAt": transform_state_name(key), "States": {transform_state_name(key): t}}
                )
            chain.append(
                (
                    f"Transforms level {i + 1}",
                    {
                        "Type": "Parallel",
                        "Branches": branches,
                        "ResultPath": None,
                        "Catch": [
                            HOLD_CATCH,
                            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"},
                        ],
                    },
                )
            )

    le_entry: ModuleEntry | None = config.logicengine
    le_name = _state_name("LogicEngine", le_entry.key if le_entry else "passthrough")
    chain.append(
        (
            le_name,
            _task(
                "DecideFunctionArn",
                {
                    **_base_payload(ch),
                    **gen,
                    "entry": le_entry.to_json() if le_entry else None,
                    "publishers": graph.publisher_order,
                },
                next_state=None,
                result_selector={"publish.$": "$.Payload.publish"},
                result_path="$.decision",
            ),
        )
    )

    for i, key in enumerate(graph.publisher_order):
        chain.append(
            (
                f"{publisher_state_name(key)}?",
                {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": f"$.decision.publish.p{i}",
                            "BooleanEquals": True,
                            "Next": publisher_state_name(key),
                        }
                    ],
                },
            )
        )
        chain.append(
            (
                publisher_state_name(key),
                _task(
                    "PublishFunctionArn",
                    {**_base_payload(ch), **gen, "entry": config.publishers[key].to_json()},
                    next_state=None,
                ),
            )
        )

    chain.append(
        (
            "FinishCycle",
            _task(
                "CycleFunctionArn",
                {**_base_payload(ch), **gen, "action": "finish", "status": "SUCCEEDED"},
                next_state="CycleSucceeded",
                result_path="$.result",
            ),
        )
    )
    # wire the chain: each state goes to the next; a Choice skips its publisher
    names = [n for n, _ in chain]
    for idx, (name, state) in enumerate(chain):
        if name == "FinishCycle":
            break
        if state["Type"] == "Choice":
            state["Default"] = names[idx + 2]
        else:
            state.pop("End", None)
            state["Next"] = names[idx + 1]
        states[name] = state
    states["FinishCycle"] = dict(chain[-1][1])
    states["CycleSucceeded"] = {"Type": "Succeed"}

    states["FreshInputs?"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.snapshot.hold", "BooleanEquals": True, "Next": "HoldCycle"}],
        "Default": names[0],
    }
    states["HoldCycle"] = _task(
        "CycleFunctionArn",
        {**_base_payload(ch), **gen, "action": "finish", "status": "HELD"},
        next_state="CycleHeld",
        result_path="$.result",
    )
    states["CycleHeld"] = {
        "Type": "Succeed",
        "Comment": "stale or missing inputs: nothing decided or published",
    }
    if graph.transform_levels:
        # a transform that finds its inputs implausible holds the cycle, with its reason in the record
        states[HOLD_STATE] = _task(
            "CycleFunctionArn",
            {**_base_payload(ch), **gen, "action": "finish", "status": "HELD", "error.$": "$.error"},
            next_state="CycleHeld",
            result_path="$.result",
            catch_to=None,
        )

    states["RecordFailure"] = _task(
        "CycleFunctionArn",
        {**_base_payload(ch), **gen, "action": "finish", "status": "FAILED", "error.$": "$.error"},
        next_state="WhichFailure?",
        result_path="$.result",
        catch_to=None,
    )
    states["WhichFailure?"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.error.Error", "StringEquals": err, "Next": fail} for err, fail in FAILURES.items()
        ],
        "Default": "CycleFailed",
    }
    for err, fail in FAILURES.items():
        states[fail] = {"Type": "Fail", "Error": err, "CausePath": "$.error.Cause"}
    states["CycleFailed"] = {"Type": "Fail", "Error": "CycleFailedError", "CausePath": "$.error.Cause"}

    return {
        "Comment": f"Decision cycle of channel '{ch}' (generated by `de asl` from {Path(config.path).name or 'its config'}; "
        "do not edit by hand)",
        "StartAt": "BeginCycle",
        "TimeoutSeconds": CYCLE_TIMEOUT,
        "States": states,
    }


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(definition: dict[str, Any] | str) -> set[str]:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return set(_PLACEHOLDER.findall(text))


def substitute(definition: dict[str, Any], values: dict[str, str]) -> str:
    """Apply ``DefinitionSubstitutions`` the way CloudFormation does; every placeholder must be given."""
    text = json.dumps(definition)
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no substitution for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def render(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2) + "\n"
