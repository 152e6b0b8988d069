"""Cycle control Lambda: ``begin`` (lease + generation), ``snapshot`` (pin inputs, hold if stale), ``finish``."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages
from hepde.runtime.lambda_support import logger, metrics, record_cycle_result, store, tracer


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    action = event.pop("action", None)
    if action == "begin":
        return stages.begin_cycle(store(), stages.BeginRequest.model_validate(event))
    if action == "snapshot":
        return stages.snapshot(store(), stages.SnapshotRequest.model_validate(event))
    if action == "finish":
        result = stages.finish_cycle(store(), stages.FinishRequest.model_validate(event))
        record_cycle_result(event["channel"], result)
        return result
    raise ValueError(f"unknown cycle action {action!r}: expected begin, snapshot or finish")
