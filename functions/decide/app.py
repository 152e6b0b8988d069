"""Decide Lambda: evaluate the logic engine, store facts, actions and the decision record."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages
from hepde.runtime.lambda_support import log_stage, logger, metrics, store, tracer


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = stages.decide(store(), stages.DecideRequest.model_validate(event))
    log_stage("decide", event, result)
    return result
