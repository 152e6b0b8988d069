"""Event-driven cycles in the embedded cloud: the template's trigger path (S3 → EventBridge → SQS → the real
trigger handler → StartExecution) starts the HTC pilot channel when the bridge uploads a snapshot."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hepde.records import cycle_records
from hepde.runtime import triggers
from hepde.runtime.channel import prepare
from hepde.snapshots import read_latest, write_snapshot
from hepde_tools.bench.latency import _config, _copy_samples

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_a_burst_of_snapshot_uploads_starts_one_cycle_that_reads_them(cloud, tmp_path):
    cfg = tmp_path / "htc_pilot.json"
    cfg.write_text(json.dumps(_config(ROOT, cloud.bucket_name)))
    cloud.client("sqs").create_queue(QueueName="hepde-bridge-default-actions")
    origins = _copy_samples(cloud.bucket_name)  # before the triggers: starts nothing
    (ch,) = prepare([cfg])
    arn = cloud.deploy_channel(ch.name, ch.definition)
    assert cloud.wait(cloud.start(arn), timeout=120)["status"] == "SUCCEEDED"
    cloud.enable_triggers([ch])
    store = cloud.store()

    # When the bridge uploads three schedds' snapshots in one burst (the first one with no jobs at all)
    schedds = [o for k, o in origins if k == "job_queue"][:3]
    root = f"s3://{cloud.bucket_name}/snapshots"
    for schedd in schedds:
        frame = read_latest(root, "job_queue", schedd).frame
        write_snapshot(root, "job_queue", schedd, frame.head(len(frame) // 2))
    # And a foreign object lands in the bucket (not a snapshot): ignored
    cloud.client("s3").put_object(Bucket=cloud.bucket_name, Key="snapshots/README.txt", Body=b"x")

    # Then exactly one cycle ran, started by the upload, on the new snapshots (every source re-read)
    record = _wait_for(
        lambda: next(
            (r for r in cycle_records(store, ch.name, 5) if r.generation == 2 and r.finished_at), None
        )
    )
    assert record.status == "SUCCEEDED" and str(record.trigger).startswith("event: snapshot job_queue/")
    time.sleep(1.0)
    assert [r.generation for r in cycle_records(store, ch.name, 5)] == [2, 1]
    from hepde.runtime.records import cycle_report

    jobs = [
        store.get_product(cycle_report(store, ch.name, g).products["glidein_request_summary"])["jobs"]
        for g in (1, 2)
    ]
    assert jobs[1] < jobs[0]

    # And a source's own schedule announcing new products starts the channel after the debounce window
    time.sleep(triggers.DEBOUNCE_SECONDS)
    cloud.client("events").put_events(
        Entries=[
            {
                "Source": triggers.EVENT_SOURCE,
                "DetailType": triggers.SOURCE_PRODUCTS_WRITTEN,
                "Detail": json.dumps({"source": "htc_jobs_manifests", "generation": 9}),
            }
        ]
    )
    third = _wait_for(
        lambda: next(
            (r for r in cycle_records(store, ch.name, 5) if r.generation == 3 and r.finished_at), None
        )
    )
    assert third.status == "SUCCEEDED" and "source htc_jobs_manifests" in str(third.trigger)
