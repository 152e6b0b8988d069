"""A channel's generated state machine, executed for real in the embedded local AWS."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from de_channel_helpers import counter_channel, deploy, published

from hepde.datablock.api import channel_namespace, source_namespace
from hepde.runtime.records import cycle_report
from hepde.runtime.stages import CYCLE, DECISION, cycle_lease, gen_id, queue_lease

EXAMPLE = Path(__file__).resolve().parents[2] / "channels" / "example.jsonnet"


def test_example_channel_runs_end_to_end_and_publishes_what_the_rules_select(cloud):
    # Given the example channel deployed as its generated state machine
    ch, arn = deploy(cloud, EXAMPLE)
    # When one cycle runs
    desc = cloud.wait(cloud.start(arn))
    # Then the execution succeeded, every stage ran, and both selected publishers wrote their tables
    assert desc["status"] == "SUCCEEDED", desc.get("cause")
    report = cycle_report(cloud.store(), "example", 1)
    assert report.status == "SUCCEEDED"
    assert {
        "job_manifests",
        "startd_manifests",
        "job_demand",
        "slot_capacity",
        "pilot_requests",
        "de_logicengine_facts",
        "actions",
    } <= set(report.products)
    assert report.decision.rules == {"report_demand": True, "request_pilots": True}
    assert report.decision.selected_publishers == ["demand_export", "pilot_requests_export"]
    keys = [
        o["Key"]
        for o in cloud.client("s3").list_objects_v2(Bucket=cloud.bucket_name, Prefix="exports/")["Contents"]
    ]
    assert sorted(keys) == [
        "exports/example/job_demand/000000000001.csv",
        "exports/example/pilot_requests/000000000001.csv",
    ]
    requests = cloud.store().get_product(report.products["pilot_requests"])
    assert requests["requested_pilots"].sum() > 0
    # and the two independent transforms ran as one Parallel state, before the one that needs both
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in cloud.history(desc["executionArn"])
        if "stateEnteredEventDetails" in e
    ]
    assert (
        entered.index("Transforms level 1")
        < entered.index("Transform pilot_estimate")
        < entered.index("LogicEngine logicengine1")
    )


def test_second_cycle_reuses_sources_that_are_not_due_and_gets_a_new_generation(
    cloud, tmp_path, counter_file
):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    store = cloud.store()
    first, second = cycle_report(store, "counting", 1), cycle_report(store, "counting", 2)
    # the source (schedule 60 s) was acquired once; both cycles read that version
    assert store.latest_generation(source_namespace("counter_source")) == 1
    assert first.products["counter"] == second.products["counter"]
    assert second.products["doubled"].generation == 2
    assert published(tmp_path) == [{"channel": "counting", "values": [42]}] * 2


def test_failing_transform_fails_the_cycle_with_a_named_error_and_publishes_nothing(
    cloud, tmp_path, counter_file
):
    transforms = {
        "doubler": {"module": "de_test_modules", "name": "Doubler", "parameters": {}},
        "broken": {"module": "de_test_modules", "name": "FailingTransform", "parameters": {}},
    }
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file, transforms=transforms))
    desc = cloud.wait(cloud.start(arn))
    assert desc["status"] == "FAILED"
    assert desc["error"] == "TransformFailedError"
    assert "this transform always fails" in desc["cause"]
    store = cloud.store()
    record = store.get_record(channel_namespace("counting"), CYCLE, gen_id(1))
    assert record["status"] == "FAILED" and record["error"]["error"] == "TransformFailedError"
    assert store.get_record(channel_namespace("counting"), DECISION, gen_id(1)) is None
    assert published(tmp_path) == []
    # the lease was released: the next cycle runs (and fails the same way, visibly) instead of being refused
    assert (
        store.get_lease(cycle_lease("counting")) in (None, {})
        or store.get_lease(cycle_lease("counting")).get("owner") is None
    )
    assert cloud.wait(cloud.start(arn))["error"] == "TransformFailedError"


def test_failing_publisher_fails_the_cycle_with_publisher_failed_error(cloud, tmp_path, counter_file):
    pub = {
        "module": "de_test_modules",
        "name": "RecordingPublisher",
        "parameters": {"path": str(tmp_path / "published.jsonl"), "fail": True},
    }
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file, publisher=pub))
    desc = cloud.wait(cloud.start(arn))
    assert (desc["status"], desc["error"]) == ("FAILED", "PublisherFailedError")
    assert "refused the advertisement" in desc["cause"]


def test_expired_source_product_holds_the_cycle_and_records_which_product(cloud, tmp_path, counter_file):
    # Given a source whose products stay fresh 1 s and which is due every cycle
    source = {
        "module": "de_test_modules",
        "name": "CounterFileSource",
        "parameters": {"path": str(counter_file)},
        "schedule": 0.1,
        "lifetime": 1,
    }
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file, source=source))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    # When the collector goes away and the last products expire
    counter_file.unlink()
    time.sleep(1.1)
    desc = cloud.wait(cloud.start(arn))
    # Then the cycle holds: succeeded execution, HELD record naming the stale product, nothing decided or published
    assert desc["status"] == "SUCCEEDED"
    record = cloud.store().get_record(channel_namespace("counting"), CYCLE, gen_id(2))
    assert record["status"] == "HELD"
    assert [(s["source"], s["product"]) for s in record["stale"]] == [("counter_source", "counter")]
    assert "No such file" in record["stale"][0]["error"] or "counter.json" in record["stale"][0]["error"]
    assert cloud.store().get_record(channel_namespace("counting"), DECISION, gen_id(2)) is None
    assert len(published(tmp_path)) == 1


def test_failed_acquire_with_fresh_products_decides_on_the_last_good_products(cloud, tmp_path, counter_file):
    source = {
        "module": "de_test_modules",
        "name": "CounterFileSource",
        "parameters": {"path": str(counter_file)},
        "schedule": 0.1,
        "lifetime": 600,
    }
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file, source=source))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    counter_file.unlink()
    time.sleep(0.15)
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    record = cloud.store().get_record(channel_namespace("counting"), CYCLE, gen_id(2))
    assert record["status"] == "SUCCEEDED" and "counter_source" in record["source_errors"]
    assert published(tmp_path) == [{"channel": "counting", "values": [42]}] * 2


def test_a_start_while_another_cycle_holds_the_lease_waits_and_then_runs(cloud, tmp_path, counter_file):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    store = cloud.store()
    assert store.acquire_lease(cycle_lease("counting"), "another-execution", 3) is None
    desc = cloud.wait(cloud.start(arn))
    # queued (never a failure): it waited for the other cycle's lease to end, then ran its own cycle
    assert desc["status"] == "SUCCEEDED"
    (record,) = [r for _, r in store.query_records(channel_namespace("counting"), CYCLE)]
    assert record["status"] == "SUCCEEDED" and record["started_at"] >= time.time() - 60
    assert published(tmp_path) == [{"channel": "counting", "values": [42]}]


def test_a_start_while_a_cycle_runs_and_one_waits_is_coalesced(cloud, tmp_path, counter_file):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    store = cloud.store()
    assert store.acquire_lease(cycle_lease("counting"), "another-execution", 600) is None
    assert store.acquire_lease(queue_lease("counting"), "a-waiting-execution", 600) is None
    desc = cloud.wait(cloud.start(arn))
    assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"])["cycle"]["outcome"] == "coalesced"
    # it neither opened a cycle nor touched the other executions' leases
    assert store.query_records(channel_namespace("counting"), CYCLE) == []
    assert store.get_lease(cycle_lease("counting"))["owner"] == "another-execution"
    assert store.get_lease(queue_lease("counting"))["owner"] == "a-waiting-execution"
    assert published(tmp_path) == []


def test_cycles_started_together_never_interleave(cloud, tmp_path, counter_file):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    arns: list[str] = []
    threads = [threading.Thread(target=lambda: arns.append(cloud.start(arn))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [cloud.wait(a) for a in arns]
    # no start fails: each ran a cycle, waited for one and ran after it, or coalesced
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 4
    outcomes = [json.loads(r["output"])["cycle"]["outcome"] for r in results]
    coalesced = outcomes.count("coalesced")
    records = sorted(
        (r for _, r in cloud.store().query_records(channel_namespace("counting"), CYCLE)),
        key=lambda r: r["started_at"],
    )
    assert len(records) == 4 - coalesced >= 1
    for earlier, later in zip(records, records[1:], strict=False):
        assert earlier["finished_at"] <= later["started_at"]


def test_no_rule_fires_so_no_publisher_runs(cloud, tmp_path, counter_file):
    ch, arn = deploy(
        cloud, counter_channel(tmp_path, counter_file, facts={"big": "doubled.value.sum() > 1000"})
    )
    desc = cloud.wait(cloud.start(arn))
    assert desc["status"] == "SUCCEEDED"
    decision = cloud.store().get_record(channel_namespace("counting"), DECISION, gen_id(1))
    assert decision["rules"] == {"publish_big": False} and decision["selected_publishers"] == []
    assert published(tmp_path) == []
    skipped = [
        e
        for e in cloud.history(desc["executionArn"])
        if e.get("stateEnteredEventDetails", {}).get("name") == "Publish recorder"
    ]
    assert skipped == []


def test_without_a_logic_engine_every_publisher_runs(cloud, tmp_path, counter_file):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file, logicengine=False))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    assert published(tmp_path) == [{"channel": "counting", "values": [42]}]


def test_a_shared_source_is_acquired_once_and_read_by_both_channels(cloud, tmp_path, counter_file):
    a = counter_channel(tmp_path, counter_file, name="alpha")
    b = counter_channel(tmp_path, counter_file, name="beta")
    _, arn_a = deploy(cloud, a)
    _, arn_b = deploy(cloud, b)
    assert cloud.wait(cloud.start(arn_a))["status"] == "SUCCEEDED"
    assert cloud.wait(cloud.start(arn_b))["status"] == "SUCCEEDED"
    store = cloud.store()
    assert store.latest_generation(source_namespace("counter_source")) == 1
    assert (
        cycle_report(store, "alpha", 1).products["counter"]
        == cycle_report(store, "beta", 1).products["counter"]
    )
    assert sorted(p["channel"] for p in published(tmp_path)) == ["alpha", "beta"]
    assert json.loads((tmp_path / "published.jsonl").read_text().splitlines()[0])["values"] == [42]


def test_every_stage_logs_a_line_correlated_by_the_execution_id(cloud, tmp_path, counter_file):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    execution = cloud.start(arn)
    assert cloud.wait(execution)["status"] == "SUCCEEDED"
    lines = [json.loads(line) for _, line in cloud.sink.lines if line.startswith("{") and '"level"' in line]
    ours = [rec for rec in lines if rec.get("correlation_id") == execution]
    assert {rec["message"] for rec in ours} >= {
        "cycle begin done",
        "source done",
        "cycle snapshot done",
        "transform done",
        "decide done",
        "publish done",
        "cycle finish done",
    }
