"""Publish Lambda: run one publisher the logic engine selected."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages
from hepde.runtime.lambda_support import log_stage, logger, metrics, record_publish, store, tracer


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = stages.run_publisher(store(), stages.StageRequest.model_validate(event))
    record_publish(event["channel"], result)
    log_stage("publish", event, result)
    return result
