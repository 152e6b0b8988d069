"""Source Lambda: acquire a (possibly shared) source's products if due, or on its own schedule (``force``).

After an acquisition by the source's own schedule, new products are announced on the event bus named by
``DE_EVENT_BUS`` (if set), so the channels reading them can start a cycle (:mod:`hepde.runtime.triggers`).
"""

import os
from functools import lru_cache

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages, triggers
from hepde.runtime.lambda_support import log_stage, logger, metrics, record_source_result, store, tracer


@lru_cache(maxsize=1)
def _events():
    return boto3.client("events")


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = stages.SourceRequest.model_validate(event)
    result = stages.acquire_source(store(), request)
    record_source_result(result)
    bus = os.environ.get(triggers.EVENT_BUS_ENV)
    if request.mode == "force" and bus:
        try:
            triggers.announce_source(_events(), bus, result, request.channel)
        except Exception as exc:  # noqa: BLE001 - the timers still start the cycle: never fail the acquisition
            logger.warning("source products not announced", extra={"error": f"{type(exc).__name__}: {exc}"})
    log_stage("source", event, result)
    return result
