"""Per channel: its state machine (``statemachines/<channel>.asl.json`` with ``DefinitionSubstitutions``),
log group and EventBridge schedule; per scheduled source: a rule that invokes the source function with
``mode: force``.  Everything here is generated from the channel configs.
"""

from __future__ import annotations

import json

from hepde import naming
from hepde.runtime.asl import PLACEHOLDERS
from hepde_tools.deploy.core_part import STAGES, function_id, getatt, ref, stack_name
from hepde_tools.deploy.template import DeployContext, Template, logical_id, rate_expression

#: placeholder in the ASL → the stage function it stands for
PLACEHOLDER_STAGE = {p: p.removesuffix("FunctionArn").lower() for p in PLACEHOLDERS}
#: CloudWatch Logs delivery for Step Functions logging: these actions take no resource ARN
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]


def channel_id(channel: str) -> str:
    return "Channel" + logical_id(channel)


def source_id(key: str) -> str:
    return "Source" + logical_id(key)


def source_schedule_input(channel: str, entry_json: dict) -> str:
    """The source function's event for a scheduled acquisition (the same shape the state machine sends)."""
    return json.dumps(
        {"channel": channel, "execution_id": "schedule", "entry": entry_json, "mode": "force"},
        sort_keys=True,
        separators=(",", ":"),
    )


def contribute(ctx: DeployContext, t: Template) -> None:
    t.parameter(
        "StateMachineLogLevel",
        Type="String",
        Default="ERROR",
        AllowedValues=["ALL", "ERROR", "FATAL", "OFF"],
        Description="Step Functions logging of the channels' executions (ALL logs every state: costly)",
    )
    assert set(PLACEHOLDER_STAGE.values()) == set(STAGES)
    machines = []
    for ch in ctx.channels:
        cid = channel_id(ch.name)
        sm = f"{cid}StateMachine"
        machines.append(ref(sm))
        t.resource(
            f"{cid}LogGroup",
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": stack_name(naming.state_machine_log_group, ch.name),
                "RetentionInDays": ref("LogRetentionDays"),
            },
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
        )
        t.resource(
            sm,
            "AWS::Serverless::StateMachine",
            {
                "Name": stack_name(naming.state_machine_name, ch.name),
                "Type": ctx.workflow_of(ch.name),
                "DefinitionUri": ctx.definition_uri(ch.name),
                "DefinitionSubstitutions": {
                    p: getatt(function_id(s), "Arn") for p, s in sorted(PLACEHOLDER_STAGE.items())
                },
                "Logging": {
                    "Level": ref("StateMachineLogLevel"),
                    "IncludeExecutionData": True,
                    "Destinations": [
                        {"CloudWatchLogsLogGroup": {"LogGroupArn": getatt(f"{cid}LogGroup", "Arn")}}
                    ],
                },
                "Policies": [{"LambdaInvokePolicy": {"FunctionName": ref(function_id(s))}} for s in STAGES]
                + [
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "LogDelivery",
                                "Effect": "Allow",
                                "Action": LOG_DELIVERY_ACTIONS,
                                "Resource": "*",
                            }
                        ],
                    },
                ],
                "Tags": {"hepde:channel": ch.name},
            },
        )
        t.resource(
            f"{cid}Schedule",
            "AWS::Events::Rule",
            {
                "Name": stack_name(naming.channel_schedule_rule, ch.name),
                "Description": f"a decision cycle of channel {ch.name} every {ch.config.cycle_schedule:g} s",
                "ScheduleExpression": rate_expression(ch.config.cycle_schedule),
                "State": {"Fn::If": ["SchedulesOn", "ENABLED", "DISABLED"]},
                "Targets": [
                    {"Id": "cycle", "Arn": ref(sm), "RoleArn": getatt("SchedulesRole", "Arn"), "Input": "{}"}
                ],
            },
        )
        t.output(f"{cid}StateMachineArn", ref(sm), f"state machine of channel {ch.name}")
        t.output(
            f"{cid}ScheduleRule",
            ref(f"{cid}Schedule"),
            f"EventBridge rule starting channel {ch.name}'s cycles",
        )

    if machines:
        t.resource(
            "SchedulesRole",
            "AWS::IAM::Role",
            {
                "Description": "EventBridge starts the channels' state machines",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "start-cycles",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": machines}
                            ],
                        },
                    }
                ],
            },
        )

    for src in ctx.scheduled_sources():
        sid = source_id(src.key)
        t.resource(
            f"{sid}Schedule",
            "AWS::Events::Rule",
            {
                "Name": stack_name(naming.source_schedule_rule, src.key),
                "Description": f"acquire source {src.key} every {src.entry.effective_schedule:g} s "
                f"(read by {', '.join(src.channels)})",
                "ScheduleExpression": rate_expression(src.entry.effective_schedule),
                "State": {"Fn::If": ["SchedulesOn", "ENABLED", "DISABLED"]},
                "Targets": [
                    {
                        "Id": "source",
                        "Arn": getatt("SourceFunction", "Arn"),
                        "Input": source_schedule_input(src.channels[0], src.entry.to_json()),
                    }
                ],
            },
        )
        t.resource(
            f"{sid}Permission",
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref("SourceFunction"),
                "Principal": "events.amazonaws.com",
                "SourceArn": getatt(f"{sid}Schedule", "Arn"),
            },
        )
