"""The operations REST API (:mod:`hepde.ops.rest`, ADR 0007): an API Gateway REST API with AWS_IAM
authorization on every route, one Lambda (``functions/api``) and its least-privilege role.

Routes come from the OpenAPI document the resolver generates (``docs/openapi.json``), so the template,
the document and the code cannot disagree.  The function knows the deployment's channels (state machine
ARNs) and scheduled sources from its environment (``DE_CHANNELS``, ``DE_SOURCES``): it never needs the
list actions that take no resource (``states:ListStateMachines``, ``events:ListRules``).

Callers need ``execute-api:Invoke`` on the API (an IAM policy of theirs; see docs/api.md).
"""

from __future__ import annotations

import json
from typing import Any

from hepde import naming
from hepde_tools.deploy.channels_part import channel_id
from hepde_tools.deploy.core_part import getatt, ref, stack_name, sub
from hepde_tools.deploy.template import DeployContext, Template, logical_id

MEMORY_MB = 1024  # pandas + products; reads only
TIMEOUT = 29  # API Gateway's integration timeout


def routes() -> list[tuple[str, str, str]]:
    """``(operationId, method, path)`` of every API route, from the generated OpenAPI document."""
    from hepde.ops.rest import openapi_document

    doc = openapi_document()
    return sorted(
        (op["operationId"], method.upper(), path)
        for path, methods in doc["paths"].items()
        for method, op in methods.items()
    )


def api_statements(ctx: DeployContext) -> list[dict[str, Any]]:
    """What the API function does: read the DataBlock, read/enable/disable schedule rules, start and
    describe executions of the channels' state machines, read the functions' and machines' logs."""
    rule = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
    machines = [ref(f"{channel_id(c.name)}StateMachine") for c in ctx.channels]
    executions = [
        sub(
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
            + naming.state_machine_name(c.name, stack="${AWS::StackName}")
            + ":*"
        )
        for c in ctx.channels
    ]
    express = [
        sub(
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:express:"
            + naming.state_machine_name(c.name, stack="${AWS::StackName}")
            + ":*"
        )
        for c in ctx.channels
    ]
    groups = [
        sub(
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
            + naming.log_group(stage, stack="${AWS::StackName}")
            + ":*"
        )
        for stage in ("cycle", "source", "transform", "decide", "publish")
    ]
    groups += [
        sub(
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
            + naming.state_machine_log_group(c.name, stack="${AWS::StackName}")
            + ":*"
        )
        for c in ctx.channels
    ]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DataBlockRead",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": [getatt("DataBlockTable", "Arn")],
        },
        {
            "Sid": "LargeProductsRead",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [sub("${ProductsBucket.Arn}/*")],
        },
        {
            "Sid": "ChannelSchedules",
            "Effect": "Allow",
            "Action": ["events:DescribeRule", "events:EnableRule", "events:DisableRule"],
            "Resource": [sub(rule + naming.channel_schedule_rule("", stack="${AWS::StackName}") + "*")],
        },
        {
            "Sid": "SourceSchedules",
            "Effect": "Allow",
            "Action": ["events:DescribeRule"],
            "Resource": [sub(rule + naming.source_schedule_rule("", stack="${AWS::StackName}") + "*")],
        },
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:FilterLogEvents"], "Resource": groups},
    ]
    if machines:
        statements.append(
            {"Sid": "RunNow", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": machines}
        )
        statements.append(
            {
                "Sid": "Executions",
                "Effect": "Allow",
                "Action": ["states:DescribeExecution"],
                "Resource": executions + express,
            }
        )
    return statements


def contribute(ctx: DeployContext, t: Template) -> None:
    machines = {c.name: f"${{{channel_id(c.name)}StateMachine}}" for c in ctx.channels}
    t.resource(
        "OperationsApi",
        "AWS::Serverless::Api",
        {
            "Name": stack_name(naming.rest_api_name),
            "Description": "HEPCloud Decision Engine operations API (docs/api.md, docs/openapi.json)",
            "StageName": ref("Stage"),
            "EndpointConfiguration": {"Type": "REGIONAL"},
            "Auth": {"DefaultAuthorizer": "AWS_IAM", "InvokeRole": "NONE"},
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingBurstLimit": 20,
                    "ThrottlingRateLimit": 10,
                }
            ],
        },
    )
    t.resource(
        "ApiFunctionLogGroup",
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": stack_name(naming.log_group, "api"),
            "RetentionInDays": ref("LogRetentionDays"),
        },
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
    )
    events = {
        logical_id(op_id): {
            "Type": "Api",
            "Properties": {"RestApiId": ref("OperationsApi"), "Path": path, "Method": method},
        }
        for op_id, method, path in routes()
    }
    t.resource(
        "ApiFunction",
        "AWS::Serverless::Function",
        {
            "FunctionName": stack_name(naming.function_name, "api"),
            "Description": "Decision Engine operations API: status, products, history, explain, logs, start/stop/run-now",
            "CodeUri": "functions/api/",
            "MemorySize": MEMORY_MB,
            "Timeout": TIMEOUT,
            "Environment": {
                "Variables": {
                    "DE_CHANNELS": sub(json.dumps(machines, sort_keys=True, separators=(",", ":"))),
                    "DE_SOURCES": ",".join(s.key for s in ctx.scheduled_sources()),
                }
            },
            "LoggingConfig": {
                "LogFormat": "JSON",
                "ApplicationLogLevel": ref("LogLevel"),
                "SystemLogLevel": "INFO",
                "LogGroup": ref("ApiFunctionLogGroup"),
            },
            "Policies": [{"Version": "2012-10-17", "Statement": api_statements(ctx)}],
            "Events": events,
        },
    )
    t.output(
        "OperationsApiUrl",
        sub("https://${OperationsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"),
        "base URL of the operations API (SigV4-signed requests; docs/api.md)",
    )
    t.output("ApiFunctionArn", getatt("ApiFunction", "Arn"), "ARN of the operations API function")
