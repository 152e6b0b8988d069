"""Source Lambda: acquire a (possibly shared) source's products if due, or on its own schedule (``force``)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.runtime import stages
from hepde.runtime.lambda_support import log_stage, logger, metrics, record_source_result, store, tracer


@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = stages.acquire_source(store(), stages.SourceRequest.model_validate(event))
    record_source_result(result)
    log_stage("source", event, result)
    return result
