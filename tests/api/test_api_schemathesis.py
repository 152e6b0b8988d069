"""Property-based tests of the operations API against its published OpenAPI document (schemathesis):
requests generated from ``docs/openapi.json`` to every operation, sent through the API's WSGI adapter
(the same resolver the Lambda runs); no response may be a server error or disagree with the document.

Authentication is API Gateway's (AWS_IAM authorizer, SigV4): the function never sees an unsigned request
and the local adapter has no authorizer, so schemathesis' "ignored auth" check is left out here.  So is
"positive data acceptance": ``query`` and ``since`` are free-form strings in the document whose meaning
(a safe pandas query, a readable time) no JSON schema expresses; a string that is not one is a 400 by
design.  Every other check runs: no 5xx, status codes, content types and bodies as documented.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

ROOT = Path(__file__).resolve().parents[2]


def test_api_conforms_to_its_openapi_document(api):
    _, _, app = api
    schema = schemathesis.openapi.from_path(str(ROOT / "docs" / "openapi.json"))
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(excluded_checks=[ignored_auth, positive_data_acceptance])

        check()
