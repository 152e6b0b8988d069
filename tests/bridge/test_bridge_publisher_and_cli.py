"""The publisher that sends submit actions, and the de-bridge command line."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pandas as pd
import pytest
from bridge_harness import PILOT, REGION

from hepde.actions import parse_action
from hepde.modules.direct.publishers import BridgeSubmitPublisher
from hepde.modules.direct.targets import CETarget
from hepde.runtime.context import module_context
from hepde.settings import Settings
from hepde_bridge.main import main as bridge_main


class Records:
    def __init__(self) -> None:
        self.records: dict[str, dict] = {}

    def put_record(self, ns, kind, ident, body):
        self.records[ident] = dict(body)


def plan_frame(pilots: int = 3) -> pd.DataFrame:
    ce = CETarget(name="fermigrid", kind="htcondor_ce", ce="ce.example", executable=PILOT)
    return pd.DataFrame(
        [
            {
                "route": "single",
                "target": "fermigrid",
                "kind": "htcondor_ce",
                "schedd": "pilots",
                "pilots": pilots,
                "nodes": 1,
                "cores_per_pilot": 8,
                "walltime_minutes": 60,
                "node_hours": 3.0,
                "idle_jobs": 20,
                "pending_pilots": 0,
                "limited_by": "",
                "submit": json.dumps(ce.description()),
            },
            {
                "route": "single",
                "target": "other",
                "kind": "htcondor_ce",
                "schedd": "pilots",
                "pilots": 0,
                "nodes": 1,
                "cores_per_pilot": 8,
                "walltime_minutes": 60,
                "node_hours": 0.0,
                "idle_jobs": 20,
                "pending_pilots": 0,
                "limited_by": "max_pilots",
                "submit": "{}",
            },
        ]
    )


def publisher(
    records: Records, client, generation: int = 7, queue_url: str = "", **params
) -> BridgeSubmitPublisher:
    """The publisher bound to a runtime context over ``records`` and the SQS ``client``."""
    settings = Settings("t", "b", REGION, None, 900.0, stack="hepde", bridge_actions_queue_url=queue_url)
    ctx = module_context(records, "direct", generation, sqs=lambda: client, settings_of=lambda: settings)
    return BridgeSubmitPublisher(params, channel_name="direct").bind(ctx)


def test_publisher_sends_one_action_per_row_and_records_it(aws):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="hepde-bridge-default-actions")["QueueUrl"]
    records = Records()
    result = publisher(records, sqs).publish({"pilot_submissions": plan_frame()})
    assert result.summary == "sent 1 submit action(s) for 3 pilot(s) to hepde-bridge-default-actions"
    (msg,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    action = parse_action(msg["Body"])
    assert (action.count, action.target, action.schedd, action.generation) == (3, "fermigrid", "pilots", 7)
    assert action.description["grid_resource"] == "condor ce.example ce.example:9619"
    assert action.expires_at == pytest.approx(action.created_at + 900)
    (rec,) = records.records.values()
    assert rec["send_status"] == "sent" and rec["key"] == action.key and rec["count"] == 3
    # a retried publish of the same cycle sends the same key: the bridge absorbs the copy
    publisher(Records(), sqs).publish({"pilot_submissions": plan_frame()})
    (again,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"][:1]
    assert parse_action(again["Body"]).key == action.key


def test_publisher_marks_actions_send_failed_when_sqs_refuses(aws):
    class Down:
        def __getattr__(self, name):
            if name == "get_queue_url":
                return lambda **kw: {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123/q"}

            def fail(**kw):
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://sqs")

            return fail

    records = Records()
    with pytest.raises(Exception, match="Could not connect"):
        publisher(records, Down()).publish({"pilot_submissions": plan_frame()})
    (rec,) = records.records.values()
    assert rec["send_status"] == "send_failed" and "Could not connect" in rec["error"]


def test_publisher_uses_the_deployed_queue_url_and_needs_a_queue(aws, monkeypatch):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    assert publisher(Records(), sqs, queue_url=url).queue().name == "elsewhere"
    assert publisher(
        Records(), sqs, queue_url=url, bridge="site2", create_queue_if_missing=True
    ).queue().name == ("hepde-bridge-site2-actions")  # the deployed URL is the default bridge's
    with pytest.raises(Exception, match="the queue does not exist"):
        publisher(Records(), sqs, bridge="site3").queue()
    assert (
        publisher(Records(), sqs, bridge="site2", create_queue_if_missing=True).queue().name
        == "hepde-bridge-site2-actions"
    )
    assert (
        publisher(Records(), sqs)
        .publish({"pilot_submissions": plan_frame(0)})
        .summary.startswith("no pilots")
    )


def test_de_bridge_run_once_check_and_ledger(aws, tmp_path, capsys):
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.create_queue(QueueName="hepde-bridge-site-dlq")
    url = sqs.create_queue(QueueName="hepde-bridge-site-actions")["QueueUrl"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="products")
    config = tmp_path / "bridge.toml"
    config.write_text(f'''
bridge = "site"
bucket = "products"
results = ["queue"]
results_queue_url = "{sqs.create_queue(QueueName="hepde-bridge-site-results")["QueueUrl"]}"
ledger = "{tmp_path / "ledger.sqlite"}"
health_file = "{tmp_path / "health.json"}"
[schedds.pilots]
executables = ["{PILOT}"]
[poll]
wait_seconds = 0
[[snapshots]]
kind = "job_queue"
schedd = "pilots"
''')
    rows = plan_frame()
    pub = publisher(Records(), sqs)
    pub.params = pub.params.model_copy(update={"bridge": "site"})
    pub.publish({"pilot_submissions": rows})
    assert bridge_main(["run", "--config", str(config), "--once", "--fake-condor"]) == 0
    health = json.loads((tmp_path / "health.json").read_text())
    assert health["counters"]["jobs_submitted"] == 3 and health["counters"]["snapshots_pushed"] == 1
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        == 0
    )
    capsys.readouterr()
    assert bridge_main(["ledger", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[0])["done"] == 1 and json.loads(out[1])["result"]["status"] == "done"
    assert bridge_main(["check", "--config", str(config)]) == 1  # no real schedd here
    assert "schedd pilots: FAILED" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('password = "x"\n')
    assert bridge_main(["run", "--config", str(bad)]) == 1
    assert "credentials do not belong" in capsys.readouterr().err


def test_mpi_export_and_import_rows_become_their_actions_and_name_their_jobs(aws):
    from hepde.actions import ExportJobs, ImportResults, SubmitPilots

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="hepde-bridge-default-actions")["QueueUrl"]
    base = plan_frame().iloc[0].to_dict()
    rows = [
        {
            **base,
            "route": "mpi",
            "target": "theta",
            "pilots": 1,
            "nodes": 4,
            "action": "submit",
            "actions": 1,
            "user_schedd": "users",
            "jobs": json.dumps(["21.0"]),
            "key": "de-mpi-000000000001",
            "export_key": "",
            "spool_dir": "",
        },
        {
            **base,
            "route": "lj",
            "target": "theta",
            "pilots": 1,
            "nodes": 2,
            "action": "export",
            "actions": 1,
            "user_schedd": "users",
            "jobs": json.dumps(["30.0", "30.1"]),
            "key": "",
            "export_key": "",
            "spool_dir": "/projects/P/lj",
        },
        {
            **base,
            "route": "lj",
            "target": "theta",
            "pilots": 0,
            "nodes": 2,
            "action": "import",
            "actions": 1,
            "user_schedd": "users",
            "jobs": "",
            "key": "de-import-00000000001",
            "export_key": "de-export-0000000001",
            "spool_dir": "",
            "submit": "",
        },
    ]
    records = Records()
    result = publisher(records, sqs).publish({"pilot_submissions": pd.DataFrame(rows)})
    assert "1 export, 1 import, 1 submit" in result.summary
    got = {}
    for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
        action = parse_action(msg["Body"])
        got[action.kind] = action
    mpi, export, imp = got["submit"], got["export"], got["import"]
    assert isinstance(mpi, SubmitPilots) and mpi.user_job is not None and mpi.user_job.ident == "users#21.0"
    assert (mpi.key, mpi.count) == ("de-mpi-000000000001", 1)
    assert (
        isinstance(export, ExportJobs)
        and export.jobs == ["30.0", "30.1"]
        and export.spool_dir == "/projects/P/lj"
    )
    assert (export.schedd, export.pool_schedd, export.nodes) == ("users", "pilots", 2)
    assert isinstance(imp, ImportResults) and imp.export_key == "de-export-0000000001"
    by_kind = {r["kind"]: r for r in records.records.values()}
    assert by_kind["submit"]["job_ids"] == ["21.0"] and by_kind["export"]["job_ids"] == ["30.0", "30.1"]
    assert by_kind["import"]["export_key"] == "de-export-0000000001"


def test_de_bridge_logs_to_the_current_stderr_not_a_closed_one(monkeypatch):
    """main() once configured logging on the stderr of that moment; later records went to a closed stream."""
    import io
    import logging
    import sys

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    assert bridge_main(["--log-level", "INFO"]) == 2  # no command: help, but logging is set up
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("de-bridge").info("after the first stderr was closed")
    out = second.getvalue()
    assert "Logging error" not in out and "after the first stderr was closed" in out
