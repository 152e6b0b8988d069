"""Operations API Lambda (API Gateway REST, AWS_IAM auth): routes in :mod:`hepde.ops.rest`."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from hepde.ops.rest import api_handler
from hepde.runtime.lambda_support import logger


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return api_handler(event, context)
