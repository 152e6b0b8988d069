"""Transform Lambda: run one transform of a cycle over the cycle's pinned DataBlock."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages
from hepde.runtime.lambda_support import log_stage, logger, metrics, store, tracer


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = stages.run_transform(store(), stages.StageRequest.model_validate(event))
    log_stage("transform", event, result)
    return result
