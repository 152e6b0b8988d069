"""The direct-submission channel end to end in the emulated cloud, with the condor bridge.

The channel decides in the embedded AWS (real ASL, real handlers) → its publisher puts submit
actions on the bridge's SQS queue (moto) → the bridge (in-memory schedds) submits, records its
results in the DataBlock and uploads a new queue snapshot to S3 → the next cycle sees the pilots and
does not submit them again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from de_channel_helpers import deploy

from hepde.actions import KEY_ATTR, RESULT_RECORD, SENT_RECORD, TARGET_ATTR
from hepde.condor.adapter import RUNNING
from hepde.condor.fakes import FakeSchedd
from hepde.datablock.api import channel_namespace
from hepde.naming import bridge_actions_queue, bridge_dead_letter_queue
from hepde.runtime.records import cycle_report
from hepde_bridge.config import parse_config
from hepde_bridge.main import build_bridge

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "channels" / "direct_submission.jsonnet"
PILOT = "/usr/local/libexec/glidein_startup.sh"
MPI_WRAPPER = "/usr/libexec/hepde/hepde-mpi-launch"
USERS, PILOTS = "schedd@users.example", "schedd@bridge.example"

pytestmark = pytest.mark.slow

TARGETS = [
    {
        "name": "fermigrid",
        "kind": "htcondor_ce",
        "ce": "fermigridce01.fnal.gov",
        "cores_per_pilot": 8,
        "max_idle_pilots": 20,
        "max_pilots": 100,
        "max_submit_per_cycle": 10,
        "executable": PILOT,
    },
    {
        "name": "theta",
        "kind": "batch",
        "batch_system": "cobalt",
        "login": "hepcloud@thetalogin.alcf.anl.gov",
        "queue": "default",
        "project": "HEPCloud_Theta",
        "cores_per_node": 64,
        "max_nodes_per_job": 16,
        "walltime_minutes": 360,
        "mpi_capable": True,
        "max_queued_jobs": 4,
        "max_jobs": 8,
        "executable": PILOT,
    },
]
ROUTES = [
    {"name": "mpi", "jobs": "WantMPI =?= true", "targets": ["theta"], "mpi": True},
    {"name": "single_core", "jobs": 'RequestCpus == 1 && Owner == "cms"', "targets": ["fermigrid"]},
]


def channel(tmp_path: Path) -> Path:
    """The deployable form of the channel: snapshots in the products bucket, read at every cycle."""

    def snapshot_source(origin: str, product: str) -> dict:
        return {
            "module": "hepde.modules.direct.sources",
            "name": "QueueSnapshot",
            "schedule": 0.001,
            "parameters": {
                "origins": [origin],
                "product": product,
                "location": "s3://{bucket}/snapshots",
                "max_age": 600,
            },
        }

    config = {
        "schedule": 60,
        "sources": {
            "user_jobs": snapshot_source(USERS, "job_manifests"),
            "pilot_jobs": snapshot_source(PILOTS, "pilot_manifests"),
            "direct_actions": {
                "module": "hepde.modules.direct.sources",
                "name": "BridgeActionLog",
                "parameters": {},
                "schedule": 0.001,
            },
            "hpc_allocations": {
                "module": "hepde.modules.generic.table_file",
                "schedule": 3600,
                "parameters": {
                    "location": "package://hepde/data/direct/allocations.csv",
                    "product": "hpc_allocations",
                },
            },
        },
        "transforms": {
            "planner": {
                "module": "hepde.modules.direct.planner",
                "name": "DirectSubmissionPlanner",
                "parameters": {"targets": TARGETS, "routes": ROUTES},
            }
        },
        "logicengines": {
            "le": {
                "module": "decisionengine.framework.logicengine.LogicEngine",
                "parameters": {
                    "facts": {"pilots_wanted": "pilot_submissions.pilots.sum() > 0"},
                    "rules": {"submit": {"expression": "pilots_wanted", "actions": ["bridge_submit"]}},
                },
            }
        },
        "publishers": {
            "bridge_submit": {
                "module": "hepde.modules.direct.publishers",
                "name": "BridgeSubmitPublisher",
                "parameters": {},
            }
        },
    }
    path = tmp_path / "direct.json"
    path.write_text(json.dumps(config))
    return path


class Site:
    """The on-prem side: a user schedd with jobs, the bridge's pilot schedd, and the bridge."""

    def __init__(self, cloud, tmp_path: Path) -> None:
        sqs = cloud.client("sqs")
        sqs.create_queue(QueueName=bridge_dead_letter_queue())
        self.queue_url = sqs.create_queue(QueueName=bridge_actions_queue())["QueueUrl"]
        self.users = FakeSchedd(USERS, first_cluster=100)
        self.pilots = FakeSchedd(PILOTS)
        self.users.add_jobs(
            [{"Owner": "cms", "RequestCpus": 1, "ClusterId": 100, "ProcId": p} for p in range(16)]
        )
        self.users.add_jobs(
            [
                {
                    "Owner": "lqcd",
                    "RequestCpus": 64,
                    "WantMPI": True,
                    "RequestNodes": n,
                    "ClusterId": 200 + n,
                    "ProcId": 0,
                    "Cmd": "/home/lqcd/bin/su3_rhmd",
                    "Args": f"-n {n}",
                }
                for n in (4, 2)
            ]
        )
        config = parse_config(
            {
                "bridge": "default",
                "bucket": cloud.bucket_name,
                "table": cloud.table_name,
                "ledger": str(tmp_path / "ledger.sqlite"),
                "results": ["datablock"],
                "schedds": {
                    "pilots": {"name": PILOTS, "executables": [PILOT, MPI_WRAPPER]},
                    "users": {"name": USERS},
                },
                "snapshots": [
                    {"kind": "job_queue", "schedd": "users", "every": 3600},
                    {"kind": "job_queue", "schedd": "pilots", "every": 3600},
                ],
                "poll": {"wait_seconds": 0},
            }
        )
        self.cloud, self.config, self.sqs, self.receipts = cloud, config, sqs, []
        self.restart()

    def restart(self) -> None:
        """A (new) bridge process on the same ledger file and daemons."""
        self.bridge = build_bridge(
            self.config,
            sqs_client=self.sqs,
            s3_client=self.cloud.client("s3"),
            store=self.cloud.store(),
            schedds={"pilots": self.pilots, "users": self.users},
            collectors={},
        )
        receive = self.bridge.queue.receive

        def recording(*args, **kwargs):
            msgs = receive(*args, **kwargs)
            self.receipts += [m.receipt for m in msgs]
            return msgs

        self.bridge.queue.receive = recording

    def make_visible(self) -> None:
        """What the visibility timeout does to messages received and never deleted."""
        for receipt in self.receipts:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
                )
            except Exception:  # noqa: BLE001 - deleted meanwhile
                pass
        self.receipts.clear()

    def waiting(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    def run(self) -> None:
        """The bridge works the queue, then uploads the snapshots its actions made due."""
        self.bridge.run_once()
        self.bridge.run_once()


def test_channel_decides_bridge_submits_and_the_next_cycle_does_not_resubmit(cloud, tmp_path):
    site = Site(cloud, tmp_path)
    site.run()  # the first snapshots go up
    ch, arn = deploy(cloud, channel(tmp_path))
    store = cloud.store()

    # Cycle 1: the channel sees 16 idle single-core jobs and 2 MPI jobs (4 and 2 nodes), no pilots
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    plan = cycle_report(store, ch.name, 1)
    submissions = store.get_product(plan.products["pilot_submissions"])
    wanted = {(r.route, r.target, r.nodes): r.pilots for r in submissions.itertuples() if r.pilots}
    assert wanted == {("single_core", "fermigrid", 1): 2, ("mpi", "theta", 4): 1, ("mpi", "theta", 2): 1}
    assert site.waiting() == 3  # three submit actions on the bridge's queue
    sent = store.query_records(channel_namespace(ch.name), SENT_RECORD)
    assert {r["send_status"] for _, r in sent} == {"sent"}

    # The bridge carries them out and reports: 2 CE pilots, two batch jobs of 4 and 2 nodes
    site.run()
    assert site.waiting() == 0
    ce = site.pilots.query(f'{TARGET_ATTR} == "fermigrid"', ["GridResource", "RequestCpus", KEY_ATTR])
    assert (
        len(ce) == 2 and ce[0]["GridResource"] == "condor fermigridce01.fnal.gov fermigridce01.fnal.gov:9619"
    )
    batch = site.pilots.query(
        f'{TARGET_ATTR} == "theta"',
        ["GridResource", "HostNumber", "BatchProject", "BatchQueue", "BatchRuntime"],
    )
    assert sorted(b["HostNumber"] for b in batch) == [2, 4]
    # each batch job runs its MPI job itself, and the bridge took the user jobs over
    mpi_jobs = site.pilots.query(f'{TARGET_ATTR} == "theta"', ["Cmd", "Args", "HepdeUserJob"])
    assert sorted(j["HepdeUserJob"] for j in mpi_jobs) == [f"users#{200 + n}.0" for n in (2, 4)]
    assert {j["Cmd"] for j in mpi_jobs} == {MPI_WRAPPER}
    assert sorted(j["Args"] for j in mpi_jobs) == ["srun 2 64 su3_rhmd -n 2", "srun 4 64 su3_rhmd -n 4"]
    assert len(site.users.query('WantMPI && Managed == "External" && ManagedManager == "hepde"')) == 2
    assert batch[0]["GridResource"] == "batch cobalt hepcloud@thetalogin.alcf.anl.gov"
    assert (batch[0]["BatchProject"], batch[0]["BatchQueue"], batch[0]["BatchRuntime"]) == (
        "HEPCloud_Theta",
        "default",
        21600,
    )
    results = store.query_records(channel_namespace(ch.name), RESULT_RECORD)
    assert sorted(r["status"] for _, r in results) == ["done"] * 3

    # The pilots start; the CE pilots pick up half of the single-core jobs
    site.pilots.set_status("true", RUNNING)
    site.users.set_status('Owner == "cms" && ProcId < 8', RUNNING)
    site.bridge.snapshots.request("pilots")
    site.bridge.snapshots.request("users")
    site.run()

    # Cycle 2: it sees the running pilots and submits nothing again
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    second = cycle_report(store, ch.name, 2)
    again = store.get_product(second.products["pilot_submissions"])
    assert int(again["pilots"].sum()) == 0, again.to_string()
    assert second.decision.selected_publishers == []
    assert site.waiting() == 0 and site.pilots.count() == 4
    assert site.pilots.submit_calls == 3


def test_a_cycle_before_the_bridge_ran_counts_the_actions_in_flight(cloud, tmp_path):
    site = Site(cloud, tmp_path)
    site.run()
    ch, arn = deploy(cloud, channel(tmp_path))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    # the bridge has not run yet: the second cycle sees the same queue and no pilots, but the actions in flight
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    again = cloud.store().get_product(cycle_report(cloud.store(), ch.name, 2).products["pilot_submissions"])
    assert int(again["pilots"].sum()) == 0
    assert site.waiting() == 3
    # and when the bridge runs, each action is carried out once
    site.run()
    assert site.pilots.count() == 4 and site.pilots.submit_calls == 3


def test_the_example_channel_runs_on_the_bundled_sample_data(cloud):
    ch, arn = deploy(cloud, EXAMPLE)
    desc = cloud.wait(cloud.start(arn))
    assert desc["status"] == "SUCCEEDED", desc.get("cause")
    report = cycle_report(cloud.store(), ch.name, 1)
    plan = cloud.store().get_product(report.products["pilot_submissions"])
    demand = cloud.store().get_product(report.products["routed_demand"])
    assert set(demand["route"]) == {"mpi", "multicore", "single_core", "(unrouted)"}
    # the 16-node MPI job takes what the Theta allocation allows; the others wait, saying why
    mpi = plan[plan["route"] == "mpi"].set_index("nodes")
    assert (
        mpi.loc[16, "pilots"] == 1 and mpi.loc[4, "pilots"] == 0 and "allocation" in mpi.loc[4, "limited_by"]
    )
    assert report.decision.publishers["bridge_submit"].summary.startswith("sent 2 submit action(s)")


def _accounting(site: Site, store, channel_name: str) -> dict[str, int]:
    """Lost and duplicated pilots over every submit action the channel sent (see tests/bridge)."""
    lost = duplicated = 0
    results = {r["key"]: r for _, r in store.query_records(channel_namespace(channel_name), RESULT_RECORD)}
    for _, sent in store.query_records(channel_namespace(channel_name), SENT_RECORD):
        if sent["send_status"] != "sent":
            continue
        c = f'{KEY_ATTR} == "{sent["key"]}"'
        jobs = site.pilots.query(c, ["ClusterId"]) + site.pilots.history(c, ["ClusterId"])
        duplicated += max(0, len(jobs) - sent["count"]) + max(0, len({j["ClusterId"] for j in jobs}) - 1)
        no_effect = results.get(sent["key"], {}).get("status") in ("failed", "expired", "dead_lettered")
        if len(jobs) < sent["count"] and not (no_effect and not jobs):
            lost += sent["count"] - len(jobs)
    return {"lost": lost, "duplicated": duplicated}


class Killed(BaseException):
    pass


def test_bridge_killed_between_submit_and_acknowledge_end_to_end(cloud, tmp_path):
    site = Site(cloud, tmp_path)
    site.run()
    ch, arn = deploy(cloud, channel(tmp_path))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    # the bridge dies right after the schedd committed the first submit
    original = site.pilots.submit

    def submit_then_die(*args, **kwargs):
        original(*args, **kwargs)
        site.pilots.submit = original
        raise Killed()

    site.pilots.submit = submit_then_die
    with pytest.raises(Killed):
        site.bridge.run_once()
    site.bridge.ledger.close()
    # a new bridge process; the unacknowledged messages come back after their visibility timeout
    site.restart()
    site.make_visible()
    site.run()
    assert site.waiting() == 0
    # the next cycle submits nothing again; nothing lost, nothing doubled
    site.pilots.set_status("true", RUNNING)
    site.bridge.snapshots.request("pilots")
    site.run()
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    counts = _accounting(site, cloud.store(), ch.name)
    print(
        f"FAULT end-to-end bridge killed after submit: lost={counts['lost']} duplicated={counts['duplicated']}"
    )
    assert counts == {"lost": 0, "duplicated": 0}
    assert site.pilots.count() == 4 and site.waiting() == 0


def test_sqs_unavailable_when_the_channel_publishes_end_to_end(cloud, tmp_path, monkeypatch):
    import botocore.exceptions

    from hepde.runtime import context as runtime_context

    site = Site(cloud, tmp_path)
    site.run()
    ch, arn = deploy(cloud, channel(tmp_path))

    class Down:
        def __getattr__(self, name):
            if name == "get_queue_url":
                return lambda **kw: {"QueueUrl": site.queue_url}

            def fail(**kw):
                raise botocore.exceptions.EndpointConnectionError(
                    endpoint_url="https://sqs.us-east-1.amazonaws.com"
                )

            return fail

    monkeypatch.setattr(runtime_context, "sqs_client", lambda: Down())
    desc = cloud.wait(cloud.start(arn))
    assert (desc["status"], desc["error"]) == ("FAILED", "PublisherFailedError")
    monkeypatch.undo()
    # the next cycle knows nothing was sent (send_failed) and asks again; the bridge carries it out once
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    site.run()
    counts = _accounting(site, cloud.store(), ch.name)
    print(
        f"FAULT end-to-end SQS unavailable at publish: lost={counts['lost']} duplicated={counts['duplicated']}"
    )
    assert counts == {"lost": 0, "duplicated": 0}
    assert site.pilots.count() == 4
    statuses = sorted(
        r["send_status"] for _, r in cloud.store().query_records(channel_namespace(ch.name), SENT_RECORD)
    )
    assert statuses == ["send_failed"] * 3 + ["sent"] * 3
