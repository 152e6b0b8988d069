"""de replay: recorded inputs of past cycles through a changed config; the decision diff, plot and report."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from hepde.runtime.channel import prepare
from hepde_tools.cli.main import main
from hepde_tools.cli.replay_report import html_report, plot_png
from hepde_tools.local.embedded import EmbeddedAWS
from hepde_tools.replay import ReplayError, decision_diff, load_recording, replay

ROOT = Path(__file__).resolve().parents[2]
TRANSFORMS = "hepde.modules.example.transforms"


def channel(path: Path, jobs: str, slots: str, max_pilots: int) -> Path:
    """The example channel's shape, reading job and slot tables from files, sources due every cycle."""
    path.write_text(
        json.dumps(
            {
                "sources": {
                    "jobs": {
                        "module": "hepde.modules.generic.table_file",
                        "parameters": {"location": jobs, "product": "job_manifests"},
                        "schedule": 0.01,
                    },
                    "slots": {
                        "module": "hepde.modules.generic.table_file",
                        "parameters": {"location": slots, "product": "startd_manifests"},
                        "schedule": 0.01,
                    },
                },
                "transforms": {
                    "job_demand": {"module": TRANSFORMS, "name": "IdleJobDemand", "parameters": {}},
                    "slot_capacity": {"module": TRANSFORMS, "name": "IdleSlotCapacity", "parameters": {}},
                    "pilot_estimate": {
                        "module": TRANSFORMS,
                        "name": "PilotEstimate",
                        "parameters": {"max_pilots_per_class": max_pilots},
                    },
                },
                "logicengines": {
                    "le": {
                        "module": "decisionengine.framework.logicengine.LogicEngine",
                        "parameters": {
                            "facts": {"pilots_wanted": "pilot_requests.requested_pilots.sum() > 0"},
                            "rules": {"request": {"expression": "pilots_wanted", "actions": ["export"]}},
                        },
                    }
                },
                "publishers": {
                    "export": {
                        "module": "hepde.modules.generic.table_export",
                        "parameters": {
                            "product": "pilot_requests",
                            "requests": {
                                "entry": "cores",
                                "idle": "requested_pilots",
                                "limits": "limited_by",
                            },
                        },
                    }
                },
            }
        )
    )
    return path


def jobs_csv(path: Path, idle_1core: int, idle_8core: int) -> None:
    rows = ["ClusterId,ProcId,JobStatus,RequestCpus"]
    rows += [f"1,{i},1,1" for i in range(idle_1core)] + [f"2,{i},1,8" for i in range(idle_8core)]
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    jobs, slots = tmp / "jobs.csv", tmp / "slots.csv"
    slots.write_text("Name,State,Cpus\ns1,Unclaimed,1\ns2,Claimed,8\n")
    recorded = channel(tmp / "recorded.json", str(jobs), str(slots), max_pilots=20)
    (ch,) = prepare([recorded])
    with EmbeddedAWS() as cloud:
        arn = cloud.deploy_channel(ch.name, ch.definition)
        for idle_1, idle_8 in ((30, 2), (4, 0), (50, 12)):  # the queue over three cycles
            jobs_csv(jobs, idle_1, idle_8)
            assert cloud.wait(cloud.start(arn, name=str(uuid.uuid4())))["status"] == "SUCCEEDED"
        rec = load_recording(cloud.store(), "recorded", 0, float("inf"))
    return tmp, rec


def test_ops_replay_diff_of_a_lower_cap(recording):
    tmp, rec = recording
    assert [c.generation for c in rec.cycles] == [1, 2, 3]
    # the new config's sources point nowhere: replay must never run a source module
    new = channel(tmp / "capped.json", str(tmp / "missing.csv"), str(tmp / "missing.csv"), max_pilots=10)
    replayed = replay(rec, new)
    assert [r["status"] for r in replayed] == ["SUCCEEDED"] * 3
    diff = decision_diff(rec, replayed)
    by = {(r["cycle"], r["entry"]): r for r in diff["requests"]}
    # cycle 1: 30 idle 1-core jobs, 1 idle 1-core slot: 20 (capped) before, 10 after
    assert (by[(1, "1")]["before"], by[(1, "1")]["after"]) == (20, 10)
    assert by[(1, "1")]["limits_after"] == ["max_pilots_per_class"] and by[(1, "1")]["changed"]
    assert (by[(2, "1")]["before"], by[(2, "1")]["after"], by[(2, "1")]["changed"]) == (3, 3, False)
    assert (by[(3, "8")]["before"], by[(3, "8")]["after"]) == (12, 10)
    assert diff["cycles_changed"] == 2 and [c["changed"] for c in diff["cycles"]] == [True, False, True]
    total = {(s["entry"], s["column"]): s for s in diff["summary"]}
    assert (
        total[("1", "idle_requested")]["total_before"],
        total[("1", "idle_requested")]["total_after"],
    ) == (20 + 3 + 20, 10 + 3 + 10)
    png = plot_png(diff)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    page = html_report(diff, png, "capped.json")
    assert (
        page.startswith("<!DOCTYPE html>")
        and "data:image/png;base64," in page
        and "max_pilots_per_class" in page
    )


def test_ops_replay_refuses_a_config_needing_inputs_never_recorded(recording):
    tmp, rec = recording
    config = json.loads(channel(tmp / "more.json", "a.csv", "b.csv", 10).read_text())
    config["sources"]["extra"] = {
        "module": "hepde.modules.generic.table_file",
        "parameters": {"location": "c.csv", "product": "factory_entries"},
    }
    (tmp / "more.json").write_text(json.dumps(config))
    with pytest.raises(ReplayError, match="factory_entries"):
        replay(rec, tmp / "more.json")


def test_ops_replay_cli_records_replays_and_writes_the_report(tmp_path, capsys):
    new = tmp_path / "example_capped.jsonnet"
    new.write_text(
        (ROOT / "channels" / "example.jsonnet")
        .read_text()
        .replace("max_pilots_per_class: 20", "max_pilots_per_class: 5")
    )
    rc = main(
        [
            "replay",
            "--record",
            str(ROOT / "channels" / "example.jsonnet"),
            "--cycles",
            "2",
            "--config",
            str(new),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "2 decided differently" in out and "max_pilots_per_class" in out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "replay-example.html",
        "replay-example.png",
        "replay-example.json",
    }
    assert main(["replay", "--channel", "x", "--config", str(tmp_path / "nope.jsonnet")]) == 2
    assert "no such channel config" in capsys.readouterr().err
