"""The bridge service on its happy paths: each action kind, reports, snapshots, health, shutdown."""

from __future__ import annotations

import json
import urllib.request

from bridge_harness import PILOT, act_action, advertise_action, invalidate_action, submit_action

from hepde.actions import KEY_ATTR, ROUTE_ATTR, TARGET_ATTR
from hepde.condor.adapter import HELD, IDLE, RUNNING
from hepde.snapshots import read_latest
from hepde_bridge.health import HealthServer


def test_submit_action_creates_one_cluster_stamped_with_its_key_and_reports_done(world):
    # Given a submit action of 3 pilots on the queue
    action = submit_action(1, count=3)
    world.send(action)
    # When the bridge runs once
    bridge = world.bridge()
    bridge.run_once()
    # Then the schedd holds one cluster of 3 grid jobs carrying the key, target and route
    jobs = world.schedd.query(
        f'{KEY_ATTR} == "{action.key}"',
        ["ClusterId", TARGET_ATTR, ROUTE_ATTR, "GridResource", "JobUniverse", "Cmd", "JobStatus"],
    )
    assert len(jobs) == 3 and {j["ClusterId"] for j in jobs} == {1}
    assert jobs[0] | {} == {
        "ClusterId": 1,
        TARGET_ATTR: "fermigrid",
        ROUTE_ATTR: "single_core",
        "GridResource": "condor ce.fnal.gov ce.fnal.gov:9619",
        "JobUniverse": 9,
        "Cmd": PILOT,
        "JobStatus": IDLE,
    }
    # and the result was reported and the message deleted
    (result,) = world.results.results
    assert (result.key, result.status, result.jobs, result.clusters) == (action.key, "done", 3, [1])
    assert world.queue.depth() == 0
    assert world.accounting() == {"lost": 0, "duplicated": 0}


def test_a_submit_pushes_a_fresh_job_queue_snapshot_with_the_new_pilots(world):
    bridge = world.bridge()
    bridge.run_once()  # the first snapshots (empty queue)
    world.send(submit_action(1, count=2))
    bridge.run_once()  # acts
    bridge.run_once()  # the snapshot of the changed schedd is due at once
    snap = read_latest(str(world.tmp / "snapshots"), "job_queue", "schedd@bridge.example")
    assert snap.manifest.rows == 2
    assert set(snap.frame[KEY_ATTR]) == {submit_action(1).key}
    assert set(snap.frame["ScheddName"]) == {"schedd@bridge.example"}


def test_remove_hold_release_touch_only_bridge_jobs_and_refuse_mass_changes(world):
    user = world.schedd.add_jobs([{"Owner": "alice", "ClusterId": 500}])
    world.send(submit_action(1, count=4))
    bridge = world.bridge()
    bridge.run_once()
    world.schedd.set_status(f"{KEY_ATTR} =!= undefined && ProcId < 2", RUNNING)
    world.send(
        act_action(2, "hold", "ProcId >= 0")
    )  # would match the user's job too: only bridge jobs change
    bridge.run_once()
    assert world.schedd.count(f"JobStatus == {HELD}") == 4
    assert world.schedd.count("ClusterId == 500 && JobStatus == 1") == 1 and user
    world.send(act_action(3, "release", "ProcId == 3"))
    bridge.run_once()
    assert world.schedd.count(f"JobStatus == {HELD}") == 3
    world.send(act_action(4, "remove", "true", max_jobs=2))
    bridge.run_once()
    by_key = world.results.by_key()
    refused = by_key[act_action(4, "remove", "true", max_jobs=2).key]
    assert refused.status == "dead_lettered" and "more than the action's max_jobs=2" in refused.detail
    assert world.schedd.count(f"{KEY_ATTR} =!= undefined") == 4  # nothing removed
    world.send(act_action(5, "remove", "true", max_jobs=10))
    bridge.run_once()
    assert world.schedd.count(f"{KEY_ATTR} =!= undefined") == 0
    assert world.schedd.count("ClusterId == 500") == 1
    assert by_key[act_action(2, "hold", "ProcId >= 0").key].jobs == 4


def test_advertise_then_invalidate_glideclient_ads(world):
    world.send(advertise_action(1, ["e1@g@f@fe.main", "e2@g@f@fe.main"]))
    bridge = world.bridge()
    bridge.run_once()
    assert world.collector.names("glideclient") == ["e1@g@f@fe.main", "e2@g@f@fe.main"]
    world.send(invalidate_action(2, 'ClientName == "fe.main" && Name == "e1@g@f@fe.main"'))
    bridge.run_once()
    assert world.collector.names("glideclient") == ["e2@g@f@fe.main"]
    assert [r.status for r in world.results.results] == ["done", "done"]


def test_impossible_actions_are_dead_lettered_with_the_reason(world):
    bad_exe = submit_action(1, executable="/bin/sh")
    bad_universe = submit_action(2, universe="local")
    world.send(bad_exe, bad_universe)
    world.bridge().run_once()
    reasons = {d["key"]: d["reason"] for d in world.dead_letters()}
    assert "executable '/bin/sh' is not allowed" in reasons[bad_exe.key]
    assert "universe 'local' is not allowed" in reasons[bad_universe.key]
    assert world.schedd.submit_calls == 0
    assert {r.status for r in world.results.results} == {"dead_lettered"}


def test_expired_actions_are_not_carried_out(world):
    world.send(submit_action(1, expires_at=1.0))
    world.bridge().run_once()
    (result,) = world.results.results
    assert result.status == "expired" and world.schedd.submit_calls == 0


def test_health_document_and_metrics_endpoint(world):
    world.send(submit_action(1))
    bridge = world.bridge()
    bridge.run_once()
    server = HealthServer(bridge.health, "127.0.0.1", 0).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as resp:
            doc = json.loads(resp.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
    finally:
        server.stop()
    assert doc["healthy"] is True and doc["counters"]["actions_done"] == 1
    assert "de_bridge_up 1" in metrics and "de_bridge_jobs_submitted_total 2" in metrics
    assert "de_bridge_snapshots_pushed_total 2" in metrics


def test_stop_finishes_the_message_in_hand_and_returns_the_others_at_once(world):
    world.send(*[submit_action(n) for n in range(1, 4)])
    bridge = world.bridge()
    original = bridge.handle

    def handle_then_stop(message):
        outcome = original(message)
        bridge.stop()  # SIGTERM arrives while the first message is handled
        return outcome

    bridge.handle = handle_then_stop
    bridge.run()  # returns after the first message
    assert len(world.results.results) == 1
    # the two others are visible again immediately (not after the 30 s visibility timeout)
    assert world.queue.depth() == 2
    restarted = world.bridge()
    world.drain(restarted)
    assert world.accounting() == {"lost": 0, "duplicated": 0}
    assert restarted.health.document()["healthy"] is True


def test_cloudwatch_metrics_for_the_dashboard(world):
    import boto3

    from hepde_bridge.cloudwatch import CloudWatchMetrics

    cw = boto3.client("cloudwatch", region_name="us-east-1")
    world.send(submit_action(1), submit_action(2, executable="/bin/sh"))
    bridge = world.bridge()
    bridge.cloudwatch = CloudWatchMetrics(cw, "test")
    bridge.run_once()
    assert bridge.cloudwatch.flush() is True
    metrics = {m["MetricName"]: m["Dimensions"] for m in cw.list_metrics(Namespace="HEPCloudDE")["Metrics"]}
    assert set(metrics) == {"BridgeActionLatency", "BridgeActionFailures"}
    assert {d["Name"]: d["Value"] for d in metrics["BridgeActionFailures"]} == {
        "bridge": "test",
        "service": "decision-engine",
    }
