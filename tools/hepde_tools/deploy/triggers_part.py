"""Event-driven cycles (docs/adr/0014): snapshot uploads and source products start the channels that
read them, through EventBridge → one SQS queue → the trigger function → ``StartExecution``.

* the products bucket sends its events to EventBridge; a rule keeps ``Object Created`` under
  ``snapshots/`` (the condor bridge's uploads; the function keeps only ``LATEST.json``, written last);
* a rule keeps ``hepde`` / ``Source products written``, which the source function sends after an
  acquisition by the source's own schedule (``DE_EVENT_BUS``);
* both go to the trigger queue, whose batching window gathers a burst into one invocation; the function
  (``functions/trigger``) debounces per channel and never doubles a running cycle
  (:mod:`hepde.runtime.triggers`).  The channels' timers stay as the floor.
"""

from __future__ import annotations

from hepde import naming
from hepde.naming import SNAPSHOT_PREFIX
from hepde.runtime.triggers import (
    ARN_PREFIX_ENV,
    EVENT_BUS_ENV,
    EVENT_SOURCE,
    ROUTES_ENV,
    SOURCE_PRODUCTS_WRITTEN,
    Routes,
)
from hepde_tools.deploy.core_part import getatt, ref, stack_name, sub
from hepde_tools.deploy.observability_part import _alarm, _dims
from hepde_tools.deploy.template import DeployContext, Template

#: the queue's batching window: events of one burst reach the function together
BATCH_WINDOW_SECONDS = 1
TRIGGER_MEMORY_MB = 256


def contribute(ctx: DeployContext, t: Template) -> None:
    if not ctx.channels:
        return
    res = t.resources
    res["ProductsBucket"]["Properties"]["NotificationConfiguration"] = {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    source_fn = res["SourceFunction"]["Properties"]
    source_fn.setdefault("Environment", {"Variables": {}})["Variables"][EVENT_BUS_ENV] = "default"
    source_fn["Policies"][0]["Statement"].append(
        {
            "Sid": "AnnounceProducts",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [
                sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default")
            ],
        }
    )

    t.resource(
        "TriggerDeadLetterQueue",
        "AWS::SQS::Queue",
        {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
    )
    t.resource(
        "TriggerQueue",
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": 60,
            "MessageRetentionPeriod": 3600,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": getatt("TriggerDeadLetterQueue", "Arn"),
                "maxReceiveCount": 3,
            },
        },
    )
    rules = {
        "SnapshotUploadedRule": (
            "a snapshot uploaded by the condor bridge starts the channels that read snapshots",
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [ref("ProductsBucket")]},
                    "object": {"key": [{"prefix": f"{SNAPSHOT_PREFIX}/"}]},
                },
            },
        ),
        "SourceProductsRule": (
            "new products of a source's own schedule start the channels that read the source",
            {"source": [EVENT_SOURCE], "detail-type": [SOURCE_PRODUCTS_WRITTEN]},
        ),
    }
    for rid, (what, pattern) in rules.items():
        t.resource(
            rid,
            "AWS::Events::Rule",
            {
                "Description": what,
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{"Id": "trigger-queue", "Arn": getatt("TriggerQueue", "Arn")}],
            },
        )
    t.resource(
        "TriggerQueuePolicy",
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [ref("TriggerQueue")],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EventBridgeRules",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": getatt("TriggerQueue", "Arn"),
                        "Condition": {"ArnEquals": {"aws:SourceArn": [getatt(r, "Arn") for r in rules]}},
                    }
                ],
            },
        },
    )
    t.resource(
        "TriggerFunctionLogGroup",
        "AWS::Logs::LogGroup",
        {"LogGroupName": stack_name(naming.log_group, "trigger"), "RetentionInDays": ref("LogRetentionDays")},
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
    )
    machines = [
        sub(
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
            + naming.state_machine_name(ch.name, stack="${AWS::StackName}")
        )
        for ch in ctx.channels
    ]
    t.resource(
        "TriggerFunction",
        "AWS::Serverless::Function",
        {
            "FunctionName": stack_name(naming.function_name, "trigger"),
            "Description": "Decision Engine trigger: new snapshots and source products start the channels reading them",
            "CodeUri": "functions/trigger/",
            "MemorySize": TRIGGER_MEMORY_MB,
            "Timeout": 60,
            "LoggingConfig": {
                "LogFormat": "JSON",
                "ApplicationLogLevel": ref("LogLevel"),
                "SystemLogLevel": "INFO",
                "LogGroup": ref("TriggerFunctionLogGroup"),
            },
            "Environment": {
                "Variables": {
                    ROUTES_ENV: Routes.from_channels(ctx.channels).to_env(),
                    ARN_PREFIX_ENV: sub(
                        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
                    ),
                }
            },
            "Events": {
                "Inputs": {
                    "Type": "SQS",
                    "Properties": {
                        "Queue": getatt("TriggerQueue", "Arn"),
                        "BatchSize": 10,
                        "MaximumBatchingWindowInSeconds": BATCH_WINDOW_SECONDS,
                    },
                }
            },
            "Policies": [
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "StartCycles",
                            "Effect": "Allow",
                            "Action": ["states:StartExecution"],
                            "Resource": machines,
                        },
                        {
                            "Sid": "DebounceLeases",
                            "Effect": "Allow",
                            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                            "Resource": [getatt("DataBlockTable", "Arn")],
                        },
                    ],
                }
            ],
        },
    )
    _alarm(
        t,
        "TriggerDeadLetterAlarm",
        naming.alarm_name("triggers", "events dead-lettered", stack="${AWS::StackName}"),
        "Events that start cycles could not be handled three times (the trigger function failed); cycles "
        "still start on their schedules. See docs/operations.md#dead-letter-queue-not-empty.",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=_dims({"QueueName": {"Fn::GetAtt": "TriggerDeadLetterQueue.QueueName"}}),
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    t.output("TriggerFunctionArn", getatt("TriggerFunction", "Arn"), "ARN of the trigger function")
    t.output("TriggerQueueUrl", ref("TriggerQueue"), "SQS queue of the events that start cycles")
