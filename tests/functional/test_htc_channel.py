"""The HTC pilot channel (original module paths) in the embedded cloud, on the bundled sample snapshots."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from hepde.config.loader import evaluate_file
from hepde.datablock.api import channel_namespace
from hepde.runtime.channel import prepare
from hepde.runtime.records import cycle_report
from hepde.runtime.stages import CYCLE, DECISION, gen_id
from hepde.snapshots import write_snapshot

CHANNEL = Path(__file__).resolve().parents[2] / "channels" / "htc_pilot.jsonnet"
SCHEDDS = [f"schedd{i}@submit.example.org" for i in range(8)]


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    """htc_pilot with its snapshots copied to a directory the test can change, sources due every cycle."""
    snaps = tmp_path / "snapshots"
    shutil.copytree(str(resources.files("hepde").joinpath("data/htc/snapshots")), snaps)
    config = evaluate_file(CHANNEL)
    for source in config["sources"].values():
        if "snapshot_location" in source["parameters"]:
            source["parameters"]["snapshot_location"] = str(snaps)
            source["schedule"] = 0.1
            source["lifetime"] = 600
    config["transforms"]["glideinwms_requests"]["parameters"]["implausible_min_previous_jobs"] = 1000
    path = tmp_path / "htc_pilot.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.slow
def test_htc_pilot_requests_glideins_holds_on_an_empty_queue_and_rides_out_an_outage(
    cloud, channel, tmp_path
):
    (ch,) = prepare([channel])
    arn = cloud.deploy_channel(ch.name, ch.definition)
    store, ns = cloud.store(), channel_namespace("htc_pilot")

    # Given the sample pool: one cycle decides and the publisher reports the per-entry request table
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    first = cycle_report(store, "htc_pilot", 1)
    rows = first.decision.publishers["glideclient_manifests"].requested
    assert rows and {"entry", "FOM", "idle_jobs_matched", "min_idle", "max_run", "limits_hit"} <= set(rows[0])
    assert sum(r["ReqMaxGlideins"] for r in rows) > 0
    assert store.get_product(first.products["glidein_request_summary"])["jobs"] == 3000

    # When one schedd's snapshot cannot be read: the job source fails, the cycle decides on the last good queue
    (tmp_path / "snapshots" / "job_queue" / SCHEDDS[0] / "LATEST.json").write_text("{broken")
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    second = store.get_record(ns, CYCLE, gen_id(2))
    assert "htc_jobs_manifests" in second["source_errors"]
    rows2 = store.get_record(ns, DECISION, gen_id(2))["publishers"]["glideclient_manifests"]["requested"]

    # the same requests (the policies' notes carry their own clocks: "since 2 s", "2/3 cycles")
    def asked(rs):
        return [(r["entry"], r["ReqIdleGlideins"], r["ReqMaxGlideins"]) for r in rs]

    assert asked(rows2) == asked(rows)

    # When the queue comes back empty where the last cycle saw 3000 jobs: the cycle is held, nothing published
    for schedd in SCHEDDS:
        write_snapshot(str(tmp_path / "snapshots"), "job_queue", schedd, [])
    desc = cloud.wait(cloud.start(arn))
    assert desc["status"] == "SUCCEEDED"
    third = store.get_record(ns, CYCLE, gen_id(3))
    assert third["status"] == "HELD"
    assert "implausible job queue: 0 job(s) where the last decided cycle saw 3000" in str(third["error"])
    assert third["hold"]["transform"] == "glideinwms_requests"
    assert store.get_record(ns, DECISION, gen_id(3)) is None
    # and the operator reads why, not a failure
    from hepde.runtime.explain import explanation
    from hepde_tools.cli.explain_view import explain_text

    text = explain_text(explanation(store, "htc_pilot", 3))
    assert "held by transform glideinwms_requests: " in text and "implausible job queue" in text
    assert "failed:" not in text
