"""Stage functions on their own (no Step Functions): what each Lambda does with the DataBlock."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from hepde.config.model import ModuleEntry
from hepde.datablock.api import channel_namespace, source_namespace
from hepde.datablock.dynamo import DynamoDataBlockStore
from hepde.errors import CycleInProgressError, SourceFailedError
from hepde.runtime import stages


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


def _source(tmp_path, *, schedule=60, lifetime=None) -> dict:
    path = tmp_path / "c.json"
    if not path.exists():
        path.write_text(json.dumps({"value": 3}))
    return ModuleEntry(
        key="counter_source",
        kind="source",
        module="de_test_modules",
        name="CounterFileSource",
        parameters={"path": str(path)},
        schedule=schedule,
        lifetime=lifetime,
    ).to_json()


def test_begin_allocates_generations_and_refuses_a_second_concurrent_cycle(store):
    first = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e1"))
    with pytest.raises(CycleInProgressError, match="execution e1"):
        stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e2"))
    stages.finish_cycle(
        store, stages.FinishRequest(channel="c", execution_id="e1", generation=1, status="SUCCEEDED")
    )
    second = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e2"))
    assert (first["generation"], second["generation"]) == (1, 2)


def test_finish_by_a_non_holder_does_not_release_the_lease(store):
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e1"))
    stages.finish_cycle(
        store, stages.FinishRequest(channel="c", execution_id="intruder", generation=1, status="FAILED")
    )
    with pytest.raises(CycleInProgressError):
        stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e3"))


def test_source_is_not_acquired_again_before_its_schedule(store, tmp_path):
    entry = _source(tmp_path, schedule=60)
    a = stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry), now=1000.0)
    b = stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry), now=1030.0)
    c = stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry), now=1061.0)
    assert (a["acquired"], b["acquired"], c["acquired"]) == (True, False, True)
    assert b["reason"] == "not due" and c["generation"] == 2


def test_a_changed_source_config_is_acquired_again_at_once(store, tmp_path):
    entry = _source(tmp_path, schedule=60)
    stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry), now=1000.0)
    changed = dict(entry, lifetime=5000)
    again = stages.acquire_source(store, stages.SourceRequest(channel="c", entry=changed), now=1001.0)
    assert again["acquired"] is True


def test_scheduled_source_run_raises_a_named_error_and_a_cycle_run_records_it(store, tmp_path):
    entry = _source(tmp_path)
    (tmp_path / "c.json").unlink()
    with pytest.raises(SourceFailedError, match="counter_source"):
        stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry, mode="force"))
    result = stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry))
    assert result["acquired"] is False and "FileNotFoundError" in result["error"]
    status = store.get_record(source_namespace("counter_source"), stages.SOURCE_STATUS, "last")
    assert status["ok"] is False and status["error_type"] in ("FileNotFoundError", "SourceFailedError")


def test_snapshot_pins_fresh_products_and_holds_on_expired_ones(store, tmp_path):
    entry = _source(tmp_path, schedule=10, lifetime=100)
    stages.acquire_source(store, stages.SourceRequest(channel="c", entry=entry), now=1000.0)
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e1"), now=1050.0)
    fresh = stages.snapshot(
        store, stages.SnapshotRequest(channel="c", generation=1, sources=[entry]), now=1050.0
    )
    assert fresh == {"hold": False, "stale": []}
    record = store.get_record(channel_namespace("c"), stages.CYCLE, stages.gen_id(1))
    assert record["snapshot"] == {"counter": ["source:counter_source", 1, "counter"]}
    held = stages.snapshot(
        store, stages.SnapshotRequest(channel="c", generation=1, sources=[entry]), now=1101.0
    )
    assert held["hold"] is True and held["stale"][0]["product"] == "counter"


def test_snapshot_holds_when_a_source_never_delivered(store, tmp_path):
    entry = _source(tmp_path)
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e1"))
    held = stages.snapshot(store, stages.SnapshotRequest(channel="c", generation=1, sources=[entry]))
    assert held["hold"] is True and held["stale"][0]["reason"] == "never acquired"
