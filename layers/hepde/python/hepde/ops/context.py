"""What operations run against: the DataBlock store and the AWS adapters, built once per command/request."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hepde.datablock.api import DataBlockStore
from hepde.ops.aws import AWSAccessError, Executions, LogReader, Schedules, guard


@dataclass
class OpsContext:
    store: DataBlockStore
    schedules: Schedules
    executions: Executions
    logs: LogReader
    stack: str = "hepde"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_clients(
        cls,
        store: DataBlockStore,
        *,
        events: Any,
        sfn: Any,
        logs: Any,
        stack: str = "hepde",
        machines: dict[str, str] | None = None,
        sources: list[str] | None = None,
    ) -> OpsContext:
        """``machines`` (channel -> state machine ARN) and ``sources`` (scheduled source keys): the
        deployment's inventory when known, so nothing has to be listed (see :class:`Schedules`)."""
        channels = sorted(machines) if machines is not None else None
        return cls(
            store,
            Schedules(events, stack, channels=channels, sources=sources),
            Executions(sfn, stack, machines=machines),
            LogReader(logs, stack),
            stack,
        )

    @classmethod
    def for_embedded(cls, cloud: Any, stack: str = "hepde") -> OpsContext:
        """The context of an :class:`~hepde_tools.local.embedded.EmbeddedAWS` (tests, ``de replay``)."""
        return cls.from_clients(
            cloud.store(),
            events=cloud.client("events"),
            sfn=cloud.client("stepfunctions"),
            logs=cloud.client("logs"),
            stack=stack,
        )

    @classmethod
    def from_environment(cls, stack: str = "hepde") -> OpsContext:
        """The deployed stack, through the standard AWS credential chain (and ``AWS_ENDPOINT_URL``).

        Table and bucket: ``DE_TABLE_NAME``/``DE_BUCKET_NAME`` if set; else the table named after the stack
        and the bucket from the stack's ``ProductsBucketName`` output (CloudFormation), falling back to
        ``<stack>-products``.  ``DE_CHANNELS`` (JSON: channel -> state machine ARN) and ``DE_SOURCES``
        (comma-separated scheduled source keys), set in the API function by the template, replace listing.
        """
        import json

        import boto3

        from hepde.datablock.dynamo import DynamoDataBlockStore
        from hepde.naming import BUCKET_OUTPUT, table_name

        session = boto3.Session()
        region = session.region_name or os.environ.get("AWS_REGION")
        if not region:
            raise AWSAccessError(
                "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"
            )
        if session.get_credentials() is None:
            raise AWSAccessError(
                "no AWS credentials found: configure the standard AWS credential chain (AWS_PROFILE, "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance role ...); for a local cloud set "
                "AWS_ENDPOINT_URL and any dummy key pair"
            )
        bucket = os.environ.get("DE_BUCKET_NAME")
        if not bucket:
            bucket = f"{stack}-products"
            try:
                with guard(f"reading stack {stack} outputs"):
                    stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
                for out in stacks[0].get("Outputs", []) if stacks else []:
                    if out.get("OutputKey") == BUCKET_OUTPUT:
                        bucket = out["OutputValue"]
            except AWSAccessError:
                pass  # no stack outputs readable: the conventional name
        host = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
        store = DynamoDataBlockStore(
            os.environ.get("DE_TABLE_NAME") or table_name(stack), bucket, region=region, host=host
        )
        machines = json.loads(os.environ["DE_CHANNELS"]) if os.environ.get("DE_CHANNELS") else None
        sources = (
            [k for k in os.environ.get("DE_SOURCES", "").split(",") if k]
            if "DE_SOURCES" in os.environ
            else None
        )
        return cls.from_clients(
            store,
            events=session.client("events"),
            sfn=session.client("stepfunctions"),
            logs=session.client("logs"),
            stack=stack,
            machines=machines,
            sources=sources,
        )
