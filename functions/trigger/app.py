"""Trigger Lambda: snapshot uploads and source products (EventBridge, through SQS) start the channels
that read them, debounced (:mod:`hepde.runtime.triggers`).  Malformed or foreign events are logged and
ignored; the invocation never fails for them."""

import json
import os
import time
from functools import lru_cache

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import triggers
from hepde.runtime.lambda_support import logger, store, tracer


@lru_cache(maxsize=1)
def _settings() -> triggers.TriggerSettings:
    return triggers.TriggerSettings.from_env(dict(os.environ))


@lru_cache(maxsize=1)
def _sfn():
    return boto3.client("stepfunctions")


def _start(channel: str, execution_input: dict) -> str:
    s = _settings()
    return _sfn().start_execution(
        stateMachineArn=s.state_machine_arn(channel),
        name=triggers.execution_name(channel, time.time()),
        input=json.dumps(execution_input),
    )["executionArn"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    s = _settings()
    result = triggers.handle(
        event,
        s.routes,
        store(),
        _start,
        bucket=s.bucket,
        log=lambda msg, extra: logger.info(msg, extra=extra),
    ).to_json()
    logger.info("trigger done", extra={"result": result})
    return result
