"""Stage functions on their own (no Step Functions): what each Lambda does with the DataBlock."""

from __future__ import annotations

import json
import time

import pytest
from moto import mock_aws

from hepde.config.model import ModuleEntry
from hepde.datablock.api import channel_namespace, source_namespace
from hepde.datablock.dynamo import DynamoDataBlockStore
from hepde.errors import SourceFailedError
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


def test_begin_allocates_generations_and_queues_then_coalesces_concurrent_starts(store):
    first = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e1"), now=1000.0)
    assert first["outcome"] == "started"
    queued = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e2"), now=1001.0)
    assert (queued["outcome"], queued["running"]) == ("queued", "e1")
    # a third start while e2 waits adds nothing: it coalesces (and never takes e2's slot)
    third = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e3"), now=1002.0)
    assert third["outcome"] == "coalesced"
    assert (
        stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e2"), now=1003.0)["outcome"]
        == "queued"
    )
    stages.finish_cycle(
        store, stages.FinishRequest(channel="c", execution_id="e1", generation=1, status="SUCCEEDED")
    )
    second = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e2"), now=1004.0)
    assert (first["generation"], second["outcome"], second["generation"]) == (1, "started", 2)
    assert store.get_lease(stages.queue_lease("c")) is None  # the waiter gave its slot back


def test_the_cycle_lease_ends_when_the_execution_is_certainly_over(store):
    """An Express execution lasts at most 300 s from its start: so does its lease, even if it was aborted."""
    start = "2026-12-02T20:00:00.000Z"
    t0 = stages.execution_start(start)
    assert t0 == 1796241600.0
    begun = stages.begin_cycle(
        store,
        stages.BeginRequest(channel="c", execution_id="aborted", execution_started_at=start),
        now=t0 + 20,
    )
    assert begun["outcome"] == "started"
    assert store.get_lease(stages.cycle_lease("c"))["expires_at"] == t0 + stages.EXPRESS_MAX_SECONDS
    # the aborted execution never finishes; a start just after its cap runs a cycle
    later = stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="next"), now=t0 + 301)
    assert (later["outcome"], later["generation"]) == ("started", 2)
    # a Standard channel's lease is its state machine's timeout
    std = stages.begin_cycle(
        store, stages.BeginRequest(channel="s", execution_id="x", lock_seconds=900), now=t0
    )
    assert std["outcome"] == "started" and store.get_lease(stages.cycle_lease("s"))["expires_at"] == t0 + 900


def test_a_queued_start_gives_up_after_half_its_cap(store):
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="long"), now=0.0)
    late = stages.begin_cycle(
        store, stages.BeginRequest(channel="c", execution_id="w", execution_started_at=10.0), now=170.0
    )
    assert late["outcome"] == "coalesced" and "waited 160 s" in late["reason"]
    # an execution past its cap never takes the lease
    gone = stages.begin_cycle(
        store, stages.BeginRequest(channel="d", execution_id="w", execution_started_at=0.0), now=400.0
    )
    assert gone["outcome"] == "coalesced" and store.get_lease(stages.cycle_lease("d")) is None


def test_execution_start_reads_what_step_functions_passes():
    assert stages.execution_start("2026-12-02T20:00:00Z") == 1796241600.0
    assert stages.execution_start("2026-12-02T20:00:00.500000+00:00") == 1796241600.5
    assert stages.execution_start(12.5) == 12.5
    for bad in (None, "", "yesterday", True, {"a": 1}):
        assert stages.execution_start(bad) is None


def test_break_lease_frees_a_stale_lease_but_only_the_holder_read(store):
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="stale"), now=time.time())
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="waiter"), now=time.time())
    broken = stages.break_lease(store, "c")
    assert broken is not None and broken["owner"] == "stale"
    assert (
        store.get_lease(stages.cycle_lease("c")) is None and store.get_lease(stages.queue_lease("c")) is None
    )
    assert stages.break_lease(store, "c") is None
    assert (
        stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="n"))["outcome"] == "started"
    )


def test_finish_by_a_non_holder_does_not_release_the_lease(store):
    stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e1"))
    stages.finish_cycle(
        store, stages.FinishRequest(channel="c", execution_id="intruder", generation=1, status="FAILED")
    )
    assert (
        stages.begin_cycle(store, stages.BeginRequest(channel="c", execution_id="e3"))["outcome"] == "queued"
    )


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
