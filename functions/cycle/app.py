"""Cycle control Lambda: ``begin`` (lease + generation), ``snapshot`` (pin inputs, hold if stale), ``finish``."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages
from hepde.runtime.lambda_support import (
    log_stage,
    logger,
    metrics,
    record_begin_result,
    record_cycle_result,
    store,
    tracer,
)
from hepde.settings import settings

ACTIONS = {
    "begin": (stages.begin_cycle, stages.BeginRequest),
    "snapshot": (stages.snapshot, stages.SnapshotRequest),
    "finish": (stages.finish_cycle, stages.FinishRequest),
}


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    action = event.pop("action", None)
    if action not in ACTIONS:
        raise ValueError(f"unknown cycle action {action!r}: expected begin, snapshot or finish")
    run, request = ACTIONS[action]
    if action == "begin":
        # the lease lasts as long as this channel's execution can (Express 300 s, Standard its timeout)
        event["lock_seconds"] = settings().cycle_lease_seconds(str(event.get("channel")))
    result = run(store(), request.model_validate(event))
    if action == "begin":
        record_begin_result(event["channel"], result)
    if action == "finish":
        record_cycle_result(event["channel"], result)
    log_stage(f"cycle {action}", event, result)
    return result
