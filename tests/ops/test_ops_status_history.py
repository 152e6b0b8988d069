"""de status / de history / de channel / de explain over a deployment in the embedded cloud."""

from __future__ import annotations

import json

from hepde.ops import control
from hepde.ops.history import history
from hepde.ops.status import status
from hepde_tools.cli import support as clisupport
from hepde_tools.cli.main import main


def test_ops_status_reports_schedule_last_cycle_next_run_and_sources(deployment):
    s = status(deployment.ctx)
    (ch,) = s["channels"]
    assert ch["channel"] == "example"
    assert ch["schedule"] == {"rule": "hepde-cycle-example", "enabled": True, "expression": "rate(5 minutes)"}
    assert ch["last_cycle"]["status"] == "SUCCEEDED" and ch["last_cycle"]["cycle"] >= 2
    assert ch["next_run"]["approximate"] and ch["next_run"]["at"] > s["now"]
    assert ch["stale_holds"]["held"] == 0 and not ch["running"]
    sources = {x["source"]: x for x in s["sources"]}
    assert set(sources) == {"jobs_manifests", "startd_manifests"}
    assert sources["jobs_manifests"]["fresh"] and sources["jobs_manifests"]["last_attempt"]["ok"]
    assert sources["startd_manifests"]["schedule"]["expression"] == "rate(2 minutes)"


def test_ops_status_cli_text_and_json(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        assert main(["status"]) == 0
        text = capsys.readouterr().out
        assert "example" in text and "enabled" in text and "SUCCEEDED" in text
        assert "jobs_manifests" in text and "fresh" in text
        assert main(["status", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["channels"][0]["channel"] == "example"


def test_ops_history_lists_cycles_newest_first(deployment, capsys):
    h = history(deployment.ctx.store, "example")
    cycles = [c["cycle"] for c in h["cycles"]]
    assert cycles == sorted(cycles, reverse=True) and len(cycles) >= 2
    assert h["cycles"][-1]["trigger"] == "schedule" and h["cycles"][-1]["status"] == "SUCCEEDED"
    assert "pilot_requests_export" in h["cycles"][0]["selected_publishers"]
    with clisupport.use_context(deployment.ctx):
        assert main(["history", "--channel", "example", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out and "pilot_requests_export" in out


def test_ops_channel_stop_start_and_run_now(deployment, capsys):
    events = deployment.cloud.client("events")
    with clisupport.use_context(deployment.ctx):
        assert main(["channel", "stop", "example"]) == 0
        assert events.describe_rule(Name="hepde-cycle-example")["State"] == "DISABLED"
        assert "disabled" in capsys.readouterr().out
        s = status(deployment.ctx)
        assert s["channels"][0]["next_run"]["note"] == "schedule disabled"
        assert main(["channel", "start", "example"]) == 0
        assert events.describe_rule(Name="hepde-cycle-example")["State"] == "ENABLED"
        capsys.readouterr()
        assert main(["channel", "run-now", "example", "--wait", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
    assert doc["result"]["status"] == "SUCCEEDED"
    assert history(deployment.ctx.store, "example", 1)["cycles"][0]["trigger"] == "run-now"


def test_ops_unknown_channel_is_a_clear_error(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        for argv in (
            ["status", "--channel", "nope"],
            ["channel", "run-now", "nope"],
            ["channel", "stop", "nope"],
            ["history", "--channel", "nope"],
            ["explain", "--channel", "nope"],
            ["logs", "--channel", "nope"],
        ):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert err.startswith("error: ") and "nope" in err and "Traceback" not in err
    try:
        control.run_now(deployment.ctx, "nope")
    except Exception as exc:  # noqa: BLE001
        assert "deployed channels: example" in str(exc)


def test_ops_explain_shows_requests_per_entry_with_limits(deployment, capsys):
    with clisupport.use_context(deployment.ctx):
        assert main(["explain", "--channel", "example", "--cycle", "1", "--json"]) == 0
    e = json.loads(capsys.readouterr().out)
    rows = e["requests"]["pilot_requests_export"]  # typed RequestRows, from the columns the config names
    assert [r["entry"] for r in rows] == ["1", "4", "8"]
    assert set(rows[0]) == {
        "entry",
        "entry_type",
        "group",
        "idle_requested",
        "max_requested",
        "limits_hit",
        "why",
        "detail",
        "remove_excess",
        "policies",
    }
    # the sample queue asks 14, 4 and 4 pilots; no class reaches max_pilots_per_class
    assert [(r["idle_requested"], r["limits_hit"], r["max_requested"]) for r in rows] == [
        (14, [], None),
        (4, [], None),
        (4, [], None),
    ]
    assert rows[0]["detail"]["idle_jobs"] == 15
    with clisupport.use_context(deployment.ctx):
        assert main(["explain", "--channel", "example"]) == 0
    text = capsys.readouterr().out
    assert "entry  idle requested  limits hit" in text


def test_ops_missing_credentials_is_a_clear_error(monkeypatch, capsys, tmp_path):
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "no AWS credentials found" in err and "Traceback" not in err


def test_ops_run_now_while_a_cycle_runs_and_one_waits_is_coalesced_and_reported(deployment, capsys):
    from hepde.runtime.stages import cycle_lease, queue_lease

    store = deployment.ctx.store
    assert store.acquire_lease(cycle_lease("example"), "arn:other-execution", 60) is None
    assert store.acquire_lease(queue_lease("example"), "arn:waiting-execution", 60) is None
    try:
        assert status(deployment.ctx)["channels"][0]["running_execution"] == "arn:other-execution"
        with clisupport.use_context(deployment.ctx):
            assert main(["channel", "stop", "example", "--json"]) == 0
            assert json.loads(capsys.readouterr().out)["running"][0]["execution_arn"] == "arn:other-execution"
            assert main(["channel", "start", "example"]) == 0
            # coalesced into the running cycle: not a failure
            assert main(["channel", "run-now", "example", "--wait"]) == 0
        out = capsys.readouterr().out
        assert "COALESCED" in out and "no cycle of its own" in out
    finally:
        store.release_lease(cycle_lease("example"), "arn:other-execution")
        store.release_lease(queue_lease("example"), "arn:waiting-execution")


def test_ops_unlock_asks_for_confirmation_and_breaks_a_stale_lease(deployment, capsys, monkeypatch):
    from hepde.runtime.stages import cycle_lease

    store = deployment.ctx.store
    assert store.acquire_lease(cycle_lease("example"), "arn:aborted-execution", 600) is None
    with clisupport.use_context(deployment.ctx):
        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        assert main(["channel", "unlock", "example"]) == 1
        err = capsys.readouterr().err
        assert "arn:aborted-execution" in err and "--yes" in err
        assert store.get_lease(cycle_lease("example"))["owner"] == "arn:aborted-execution"
        assert main(["channel", "unlock", "example", "--yes"]) == 0
        assert "cycle lease broken" in capsys.readouterr().out
        assert store.get_lease(cycle_lease("example")) is None
        assert main(["channel", "unlock", "example", "--yes"]) == 0
        assert "nothing to unlock" in capsys.readouterr().out
        assert main(["channel", "unlock", "no-such-channel", "--yes"]) == 2
        assert "Traceback" not in capsys.readouterr().err


def test_ops_status_from_a_known_inventory_lists_nothing(deployment):
    """The API Lambda knows its channels and sources (template environment): no List* calls needed."""
    from hepde.ops.context import OpsContext

    cloud = deployment.cloud

    class NoListing:
        def __init__(self, client):
            self.client = client

        def __getattr__(self, name):
            if name.startswith("list_") or name == "get_paginator":
                raise AssertionError(f"{name} called")
            return getattr(self.client, name)

    ctx = OpsContext.from_clients(
        cloud.store(),
        events=NoListing(cloud.client("events")),
        sfn=NoListing(cloud.client("stepfunctions")),
        logs=cloud.client("logs"),
        machines={"example": deployment.arns["example"]},
        sources=["jobs_manifests", "startd_manifests"],
    )
    s = status(ctx)
    assert [c["channel"] for c in s["channels"]] == ["example"] and s["channels"][0]["schedule"]["enabled"]
    assert {x["source"] for x in s["sources"]} == {"jobs_manifests", "startd_manifests"}
    assert control.run_now(ctx, "example")["execution_arn"].startswith("arn:aws:states:")
