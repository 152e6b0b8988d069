"""Core of the deploy: parameters, the layers, the DataBlock table and bucket, the bridge queues, the
five stage functions with least-privilege IAM (no ``*`` in any action), their log groups, the alarm topic.
"""

from __future__ import annotations

from typing import Any

from hepde.datablock.dynamo import TABLE_KEY_SCHEMA
from hepde.naming import BUCKET_OUTPUT, SNAPSHOT_PREFIX
from hepde.runtime.asl import CYCLE_TIMEOUT, TASK_TIMEOUT
from hepde.runtime.stages import EXPRESS_MAX_SECONDS
from hepde_tools.deploy.template import DeployContext, Template

STAGES = ("cycle", "source", "transform", "decide", "publish")
RUNTIME = "python3.12"
ARCHITECTURE = "arm64"  # Graviton: 20 % cheaper per GB-second than x86_64 (the cost model uses this)
#: memory (MB) per stage; the cost model reads it from here
MEMORY_MB = {"cycle": 256, "source": 512, "transform": 1024, "decide": 512, "publish": 512}
STAGE_DOC = {
    "cycle": "begin (lease + generation), snapshot (pin inputs, hold if stale), finish",
    "source": "acquire a (possibly shared) source if due, or on its own schedule",
    "transform": "run one transform over the cycle's pinned DataBlock",
    "decide": "evaluate the logic engine; store facts, actions and the decision record",
    "publish": "run one publisher the logic engine selected",
}
#: the bridge's queues (each with a dead-letter queue)
BRIDGE_QUEUES = ("Actions", "Results")
LOG_RETENTIONS = [
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
]

#: DynamoDB actions of the DataBlock store, by what a stage does (see hepde/datablock/dynamo.py)
DDB_READ = ["dynamodb:GetItem", "dynamodb:Query"]
DDB_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def getatt(resource: str, attribute: str) -> dict[str, str]:
    return {"Fn::GetAtt": f"{resource}.{attribute}"}


def function_id(stage: str) -> str:
    return stage.capitalize() + "Function"


def stack_name(fn: Any, *args: str) -> dict[str, str]:
    """A resource name derived by :mod:`hepde.naming` with the stack name as prefix."""
    return sub(fn(*args, stack="${AWS::StackName}"))


def s3_locations(value: Any) -> list[str]:
    """Every ``s3://bucket/key-prefix`` string in a module's parameters (templates cut at the first ``{``)."""
    found: list[str] = []
    if isinstance(value, str) and value.startswith("s3://"):
        found.append(value.split("{", 1)[0])
    elif isinstance(value, dict):
        for v in value.values():
            found += s3_locations(v)
    elif isinstance(value, list):
        for v in value:
            found += s3_locations(v)
    return found


def secret_refs(value: Any) -> list[str]:
    """Every ``{secrets_manager: "name or ARN"}`` reference in a module's parameters (hepde.modules.cloud.secrets)."""
    found: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("secrets_manager"), str):
            found.append(value["secrets_manager"])
        for v in value.values():
            found += secret_refs(v)
    elif isinstance(value, list):
        for v in value:
            found += secret_refs(v)
    return found


def _secret_arns(refs: list[str]) -> list[str]:
    """Secret ARNs (a name matches its ARN's random 6-character suffix)."""
    return sorted(
        {
            r
            if r.startswith("arn:")
            else f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{r}-??????"
            for r in refs
        }
    )


def _s3_arns(locations: list[str]) -> list[str]:
    """Object ARNs for external locations (the products bucket is granted separately)."""
    arns = set()
    for loc in locations:
        bucket, _, key = loc[len("s3://") :].partition("/")
        if not bucket:
            continue
        arns.add(f"arn:${{AWS::Partition}}:s3:::{bucket}/{key}*")
    return sorted(arns)


def stage_statements(stage: str, ctx: DeployContext) -> list[dict[str, Any]]:
    """The IAM statements of one stage function: only what its code does, on only its resources."""
    table = [getatt("DataBlockTable", "Arn")]
    products = sub("${ProductsBucket.Arn}/*")
    statements: list[dict[str, Any]] = []
    reads, writes = list(DDB_READ), list(DDB_WRITE)
    if stage == "cycle":  # records, leases, generation counters; never product values
        writes = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    statements.append(
        {"Sid": "DataBlockTable", "Effect": "Allow", "Action": reads + writes, "Resource": table}
    )
    if stage != "cycle":
        statements.append(
            {
                "Sid": "LargeProducts",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [products],
            }
        )
    if stage == "source":
        external = _s3_arns(
            [loc for cfg in ctx.configs() for e in cfg.sources.values() for loc in s3_locations(e.parameters)]
        )
        statements.append(
            {
                "Sid": "BridgeSnapshots",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [getatt("ProductsBucket", "Arn")],
                "Condition": {"StringLike": {"s3:prefix": [f"{SNAPSHOT_PREFIX}/*"]}},
            }
        )
        if external:
            statements.append(
                {
                    "Sid": "SourceLocations",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [sub(a) for a in external],
                }
            )
    kind = {"source": "sources", "transform": "transforms", "publish": "publishers"}.get(stage)
    entries = [e for cfg in ctx.configs() for e in (getattr(cfg, kind).values() if kind else [])]
    if stage == "decide":
        entries = [cfg.logicengine for cfg in ctx.configs() if cfg.logicengine is not None]
    secrets = _secret_arns([r for e in entries for r in secret_refs(e.parameters)])
    if secrets:
        statements.append(
            {
                "Sid": "ModuleSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [r if r.startswith("arn:aws") else sub(r) for r in secrets],
            }
        )
    if stage == "publish":
        external = _s3_arns(
            [
                loc
                for cfg in ctx.configs()
                for e in cfg.publishers.values()
                for loc in s3_locations(e.parameters)
            ]
        )
        if external:
            statements.append(
                {
                    "Sid": "PublisherLocations",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": [sub(a) for a in external],
                }
            )
        statements.append(
            {
                "Sid": "BridgeActions",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                "Resource": [getatt("BridgeActionsQueue", "Arn")],
            }
        )
    return statements


def contribute(ctx: DeployContext, t: Template) -> None:
    from hepde import naming

    # -- parameters & conditions ---------------------------------------------------------------
    t.parameter(
        "Stage",
        Type="String",
        Default="dev",
        AllowedValues=["dev", "test", "prod"],
        Description="deployment stage: prod turns on deletion protection of the DataBlock table",
    )
    t.parameter(
        "RetentionDays",
        Type="Number",
        Default=14,
        MinValue=1,
        MaxValue=3650,
        Description="days of DataBlock history kept (DynamoDB TTL and the bucket's lifecycle rule)",
    )
    t.parameter(
        "LogRetentionDays",
        Type="Number",
        Default=14,
        AllowedValues=LOG_RETENTIONS,
        Description="days CloudWatch Logs keep the functions' and state machines' logs",
    )
    t.parameter(
        "LogLevel",
        Type="String",
        Default="INFO",
        AllowedValues=["DEBUG", "INFO", "WARN", "ERROR"],
        Description="application log level of the stage functions",
    )
    t.parameter(
        "TracingMode",
        Type="String",
        Default="PassThrough",
        AllowedValues=["Active", "PassThrough"],
        Description="X-Ray tracing of the stage functions (Active costs $5 per million traces)",
    )
    t.parameter(
        "SchedulesEnabled",
        Type="String",
        Default="true",
        AllowedValues=["true", "false"],
        Description="whether the channel and source schedules start enabled",
    )
    t.parameter(
        "AlarmEmail",
        Type="String",
        Default="",
        Description="e-mail address subscribed to the alarm topic (empty: no subscription)",
    )
    t.condition("IsProd", {"Fn::Equals": [ref("Stage"), "prod"]})
    t.condition("SchedulesOn", {"Fn::Equals": [ref("SchedulesEnabled"), "true"]})
    t.condition("TracingOn", {"Fn::Equals": [ref("TracingMode"), "Active"]})
    t.condition("HasAlarmEmail", {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]})

    t.doc["Globals"]["Function"] = {
        "Runtime": RUNTIME,
        "Architectures": [ARCHITECTURE],
        "Handler": "app.lambda_handler",
        "Timeout": TASK_TIMEOUT,
        "Tracing": ref("TracingMode"),
        "Layers": [ref("DepsLayer"), ref("LibLayer")],
        "Environment": {
            "Variables": {
                "DE_TABLE_NAME": ref("DataBlockTable"),
                "DE_BUCKET_NAME": ref("ProductsBucket"),
                "DE_RETENTION_DAYS": ref("RetentionDays"),
                # the cycle lease lasts as long as the channel's execution can run (docs/adr/0014)
                "DE_CYCLE_LOCK_SECONDS": str(int(EXPRESS_MAX_SECONDS)),
                "DE_STANDARD_LOCK_SECONDS": str(CYCLE_TIMEOUT),
                "DE_STANDARD_CHANNELS": ",".join(
                    sorted(ch.name for ch in ctx.channels if ctx.workflow_of(ch.name) == "STANDARD")
                ),
                "DE_STAGE": ref("Stage"),
                "DE_STACK": ref("AWS::StackName"),
                "DE_BRIDGE_ACTIONS_QUEUE_URL": ref("BridgeActionsQueue"),
                "DE_BRIDGE_RESULTS_QUEUE_URL": ref("BridgeResultsQueue"),
                "POWERTOOLS_SERVICE_NAME": "decision-engine",
                "POWERTOOLS_METRICS_NAMESPACE": naming.METRICS_NAMESPACE,
                # without Active tracing the X-Ray SDK would only log "subsegment discarded" lines
                "POWERTOOLS_TRACE_DISABLED": {"Fn::If": ["TracingOn", "false", "true"]},
            }
        },
    }

    # -- layers: third-party packages and the hepde library (built by layers/hepde/Makefile) --------
    for lid, kind, what in (
        ("DepsLayer", "deps", "third-party packages of the hepde library"),
        ("LibLayer", "lib", "the hepde library (layers/hepde/python/hepde)"),
    ):
        t.resource(
            lid,
            "AWS::Serverless::LayerVersion",
            {
                "LayerName": stack_name(naming.layer_name, kind),
                "Description": what,
                "ContentUri": "layers/hepde/",
                "CompatibleRuntimes": [RUNTIME],
                "CompatibleArchitectures": [ARCHITECTURE],
                "RetentionPolicy": "Delete",
            },
            Metadata={"BuildMethod": "makefile", "BuildArchitecture": ARCHITECTURE},
        )

    # -- the DataBlock: one DynamoDB table + a bucket for large products ----------------------------
    t.resource(
        "DataBlockTable",
        "AWS::DynamoDB::Table",
        {
            "TableName": stack_name(naming.table_name),
            **TABLE_KEY_SCHEMA,
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": {"Fn::If": ["IsProd", True, False]},
            "Tags": [{"Key": "hepde:stage", "Value": ref("Stage")}],
        },
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Retain",
    )
    t.resource(
        "ProductsBucket",
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "expire-history",
                        "Status": "Enabled",
                        "ExpirationInDays": ref("RetentionDays"),
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    },
                ]
            },
            "Tags": [{"Key": "hepde:stage", "Value": ref("Stage")}],
        },
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Retain",
    )
    t.resource(
        "ProductsBucketPolicy",
        "AWS::S3::BucketPolicy",
        {
            "Bucket": ref("ProductsBucket"),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TLSOnly",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:*",
                        "Resource": [getatt("ProductsBucket", "Arn"), sub("${ProductsBucket.Arn}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    )

    # -- the bridge's queues, each with a dead-letter queue --------------------------------------------
    names = {
        "Actions": (naming.bridge_actions_queue, naming.bridge_dead_letter_queue),
        "Results": (naming.bridge_results_queue, naming.bridge_results_dead_letter_queue),
    }
    for kind in BRIDGE_QUEUES:
        qname, dlqname = names[kind]
        t.resource(
            f"Bridge{kind}DeadLetterQueue",
            "AWS::SQS::Queue",
            {
                "QueueName": sub(dlqname("default", stack="${AWS::StackName}")),
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
            },
        )
        t.resource(
            f"Bridge{kind}Queue",
            "AWS::SQS::Queue",
            {
                "QueueName": sub(qname("default", stack="${AWS::StackName}")),
                "VisibilityTimeout": 300,
                "MessageRetentionPeriod": 345600,
                "ReceiveMessageWaitTimeSeconds": 20,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": getatt(f"Bridge{kind}DeadLetterQueue", "Arn"),
                    "maxReceiveCount": 5,
                },
            },
        )

    # -- the stage functions, each with its own log group and least-privilege role ---------------------
    for stage in STAGES:
        fid = function_id(stage)
        t.resource(
            f"{fid}LogGroup",
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": stack_name(naming.log_group, stage),
                "RetentionInDays": ref("LogRetentionDays"),
            },
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
        )
        t.resource(
            fid,
            "AWS::Serverless::Function",
            {
                "FunctionName": stack_name(naming.function_name, stage),
                "Description": f"Decision Engine {stage} stage: {STAGE_DOC[stage]}",
                "CodeUri": f"functions/{stage}/",
                "MemorySize": MEMORY_MB[stage],
                "LoggingConfig": {
                    "LogFormat": "JSON",
                    "ApplicationLogLevel": ref("LogLevel"),
                    "SystemLogLevel": "INFO",
                    "LogGroup": ref(f"{fid}LogGroup"),
                },
                "Policies": [{"Version": "2012-10-17", "Statement": stage_statements(stage, ctx)}],
            },
        )
        t.output(f"{fid}Arn", getatt(fid, "Arn"), f"ARN of the {stage} stage function")

    # -- alarms notify one topic -------------------------------------------------------------------
    t.resource(
        "AlarmTopic",
        "AWS::SNS::Topic",
        {
            "TopicName": stack_name(naming.alarm_topic),
            "KmsMasterKeyId": "alias/aws/sns",
        },
    )
    t.resource(
        "AlarmEmailSubscription",
        "AWS::SNS::Subscription",
        {
            "TopicArn": ref("AlarmTopic"),
            "Protocol": "email",
            "Endpoint": ref("AlarmEmail"),
        },
        Condition="HasAlarmEmail",
    )

    t.output("DataBlockTableName", ref("DataBlockTable"), "the DataBlock table (DE_TABLE_NAME)", export=True)
    t.output(BUCKET_OUTPUT, ref("ProductsBucket"), "the large-products bucket (DE_BUCKET_NAME)", export=True)
    t.output("BridgeActionsQueueUrl", ref("BridgeActionsQueue"), "queue the bridge long-polls for actions")
    t.output("BridgeResultsQueueUrl", ref("BridgeResultsQueue"), "queue the bridge reports results to")
    t.output("AlarmTopicArn", ref("AlarmTopic"), "SNS topic every alarm notifies")
