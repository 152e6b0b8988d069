"""The trigger path on its own: which events start which channels, debounced, never doubled; bad events ignored."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from hepde.datablock.dynamo import DynamoDataBlockStore
from hepde.runtime import stages, triggers
from hepde.runtime.triggers import Routes, TriggerSettings, demand_of, handle
from hepde.settings import SettingsError

ROUTES = Routes(
    snapshots={"htc_pilot": ["htc_jobs", "htc_slots"]},
    sources={"htc_jobs": ["htc_pilot"], "prices": ["cloud_economics", "htc_pilot"]},
)


def s3_event(key: str, bucket: str = "products") -> dict:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


def source_event(key: str, generation: int = 4) -> dict:
    return {
        "source": triggers.EVENT_SOURCE,
        "detail-type": triggers.SOURCE_PRODUCTS_WRITTEN,
        "detail": {"source": key, "generation": generation},
    }


def sqs_batch(*events) -> dict:
    return {"Records": [{"body": e if isinstance(e, str) else json.dumps(e)} for e in events]}


@pytest.fixture
def store(monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket-b")
        st = DynamoDataBlockStore("table-t", "bucket-b", region="us-east-1", s3_client=s3)
        st.create_table()
        yield st


class Starter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, channel: str, execution_input: dict) -> str:
        self.calls.append((channel, execution_input))
        return f"arn:exec:{channel}:{len(self.calls)}"


def test_a_snapshot_upload_starts_the_channels_reading_snapshots_and_refreshes_their_sources():
    d = demand_of(s3_event("snapshots/job_queue/schedd0@host/LATEST.json"), ROUTES, "products")
    assert not isinstance(d, str)
    assert d.channels == ["htc_pilot"] and d.refresh == {"htc_pilot": ["htc_jobs", "htc_slots"]}
    assert "job_queue/schedd0@host" in d.what


@pytest.mark.parametrize(
    "event, reason",
    [
        (s3_event("snapshots/job_queue/schedd0/20260101-x.parquet"), "not a snapshot's LATEST.json"),
        (s3_event("datablock/source:x/1/jobs"), "not a snapshot's LATEST.json"),
        (s3_event("snapshots/job_queue/s/LATEST.json", bucket="elsewhere"), "another bucket"),
        (
            {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
            "foreign",
        ),
        ({"detail-type": "Object Created"}, "no detail"),
        ("not json at all", "not an EventBridge event"),
        (["a", "list"], "not an EventBridge event"),
        (source_event(""), "without a source key"),
        (source_event("unknown_source"), "no channel reads source"),
        (
            {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": 7}}},
            "without object.key",
        ),
    ],
)
def test_malformed_and_foreign_events_are_ignored_with_a_reason(store, event, reason):
    start, logged = Starter(), []
    result = handle(
        sqs_batch(event), ROUTES, store, start, bucket="products", log=lambda m, e: logged.append((m, e))
    )
    assert start.calls == [] and result.started == {}
    assert len(result.ignored) == 1 and reason in result.ignored[0]
    assert logged == [("trigger event ignored", {"reason": result.ignored[0]})]


def test_a_burst_starts_one_cycle_per_channel_and_the_window_debounces_the_next(store):
    burst = sqs_batch(
        *[s3_event(f"snapshots/job_queue/schedd{i}/LATEST.json") for i in range(8)], source_event("prices")
    )
    start = Starter()
    first = handle(burst, ROUTES, store, start, bucket="products", now=1000.0)
    assert sorted(first.started) == ["cloud_economics", "htc_pilot"]
    htc_input = dict(start.calls)["htc_pilot"]
    assert htc_input["refresh"] == ["htc_jobs", "htc_slots"] and "(+8 more)" in htc_input["trigger"]
    # within the debounce window: nothing more starts; after it, a new upload starts a new cycle
    again = handle(
        sqs_batch(s3_event("snapshots/job_queue/schedd0/LATEST.json")), ROUTES, store, start, now=1002.0
    )
    assert again.started == {} and again.debounced == ["htc_pilot"]
    later = handle(
        sqs_batch(s3_event("snapshots/job_queue/schedd0/LATEST.json")),
        ROUTES,
        store,
        start,
        now=1000.0 + triggers.DEBOUNCE_SECONDS + 1,
    )
    assert list(later.started) == ["htc_pilot"] and len(start.calls) == 3


def test_no_start_when_the_running_cycle_already_has_one_waiting(store):
    import time

    now = time.time()
    stages.begin_cycle(store, stages.BeginRequest(channel="htc_pilot", execution_id="running"), now=now)
    assert (
        stages.begin_cycle(store, stages.BeginRequest(channel="htc_pilot", execution_id="w"), now=now)[
            "outcome"
        ]
        == "queued"
    )
    start = Starter()
    result = handle(sqs_batch(source_event("htc_jobs")), ROUTES, store, start, now=now + 1)
    assert start.calls == [] and result.already_waiting == ["htc_pilot"]


def test_a_failed_start_is_reported_and_does_not_hold_the_debounce(store):
    def failing(channel, execution_input):
        raise RuntimeError("throttled")

    result = handle(sqs_batch(source_event("htc_jobs")), ROUTES, store, failing, now=50.0)
    assert result.errors == {"htc_pilot": "RuntimeError: throttled"}
    start = Starter()
    assert list(handle(sqs_batch(source_event("htc_jobs")), ROUTES, store, start, now=51.0).started) == [
        "htc_pilot"
    ]


def test_routes_come_from_the_channel_configs():
    from pathlib import Path

    from hepde.runtime.channel import prepare

    root = Path(__file__).resolve().parents[3] / "channels"
    routes = Routes.from_channels(prepare([root / "htc_pilot.jsonnet", root / "example.jsonnet"]))
    assert set(routes.snapshots) == {"htc_pilot"}
    assert "htc_jobs_manifests" in routes.snapshots["htc_pilot"]
    assert routes.sources["jobs_manifests"] == ["example"]
    assert Routes.model_validate_json(routes.to_env()) == routes


def test_trigger_settings_reject_a_bad_environment():
    with pytest.raises(SettingsError, match="DE_TRIGGER_ROUTES"):
        TriggerSettings.from_env({"DE_TRIGGER_ROUTES": "{not json", "DE_STATE_MACHINE_ARN_PREFIX": "arn:x"})
    with pytest.raises(SettingsError, match="ARN prefix"):
        TriggerSettings.from_env({"DE_TRIGGER_ROUTES": "{}"})
    s = TriggerSettings.from_env(
        {
            "DE_TRIGGER_ROUTES": ROUTES.to_env(),
            "DE_STATE_MACHINE_ARN_PREFIX": "arn:aws:states:r:1:stateMachine:",
        }
    )
    assert s.state_machine_arn("htc_pilot") == "arn:aws:states:r:1:stateMachine:hepde-de-htc_pilot"
    assert len(triggers.execution_name("x" * 100, 0.0)) <= 80
