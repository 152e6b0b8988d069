"""Fixtures of the bridge tests: a moto account (SQS, S3, DynamoDB) and a World (one site)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bridge_harness import REGION, World, sqs_client
from moto import mock_aws


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SQS",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_REGION", REGION),
    ):
        monkeypatch.setenv(key, value)


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def world(aws: None, tmp_path) -> World:
    return World(tmp_path, sqs_client())
