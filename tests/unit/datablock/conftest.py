"""Fixtures of the DataBlock tests: moto-backed DynamoDB table + S3 bucket and a store on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hepde.datablock.dynamo import DynamoDataBlockStore

REGION = "us-east-1"
TABLE = "hepde-test-datablock"
BUCKET = "hepde-test-datablock"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; nothing can reach a real AWS account."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    """A fresh moto for the duration of the test.

    botocore clients are expensive to create (~0.1 s each); they are created inside the first
    test's mock and reused: moto intercepts every client created after it was imported, and each
    ``mock_aws`` starts with empty backends, so tests stay isolated.
    """
    with mock_aws():
        yield


_clients: dict[str, object] = {}


def client(service: str):
    if service not in _clients:
        _clients[service] = boto3.client(service, region_name=REGION)
    return _clients[service]


@pytest.fixture
def s3(aws: None):
    s3_client = client("s3")
    s3_client.create_bucket(Bucket=BUCKET)
    return s3_client


@pytest.fixture
def ddb(aws: None):
    return client("dynamodb")


@pytest.fixture
def store_factory(s3) -> Callable[..., DynamoDataBlockStore]:
    """``store_factory(**kwargs)``: a store on the test table (created on first call) and bucket."""

    def make(**kwargs: Any) -> DynamoDataBlockStore:
        store = DynamoDataBlockStore(TABLE, BUCKET, region=REGION, s3_client=s3, **kwargs)
        store.create_table(wait=True)
        return store

    return make


@pytest.fixture
def store(store_factory: Callable[..., DynamoDataBlockStore]) -> DynamoDataBlockStore:
    return store_factory()
