"""The ``de`` command line, run in process: exit codes and what a user reads."""

from __future__ import annotations

import json
from pathlib import Path

from hepde_tools.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_de_run_prints_a_summary_of_each_cycle(capsys):
    assert main(["run", str(ROOT / "channels" / "example.jsonnet"), "--cycles", "2"]) == 0
    out = capsys.readouterr().out
    assert "Channel example — cycle 1" in out and "Channel example — cycle 2" in out
    assert "reused      1           not due" in out  # the second cycle reused the sources
    assert "request_pilots  True   pilot_requests_export" in out
    assert "entry  idle requested  limits hit  why" in out  # the typed requests, as de explain shows them
    assert "wrote 3 row(s) of pilot_requests" in out


def test_de_run_json_prints_one_document_per_cycle(capsys):
    assert main(["run", str(ROOT / "channels" / "example.jsonnet"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "SUCCEEDED" and doc["decision"]["selected_publishers"]
    assert doc["cycle"]["trigger"] == "de run"  # the execution input reaches the cycle record


def test_de_run_of_a_bad_config_lists_every_problem_and_runs_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "sources": {
                    "s": {"module": "hepde.modules.generic.table_file", "parameters": {"location": "x.csv"}}
                },
                "transforms": {
                    "t": {
                        "module": "hepde.modules.example.transforms",
                        "name": "PilotEstimate",
                        "parameters": {"max_pilots": 3},
                    }
                },
                "publishers": {},
                "colour": "blue",
            }
        )
    )
    assert main(["run", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.json: colour" in err  # unknown top-level key
    assert "sources.s.parameters.product" in err  # schema: a required parameter missing
    assert "transforms.t.parameters.max_pilots" in err  # schema: an unknown parameter
    assert "nothing was run" in err and "Traceback" not in err


def test_de_run_of_a_missing_file_is_a_clear_error(capsys):
    assert main(["run", "no/such/channel.jsonnet"]) != 0
    err = capsys.readouterr().err
    assert "no/such/channel.jsonnet" in err and "Traceback" not in err


def test_de_module_run_runs_a_transform_on_files(tmp_path):
    jobs = tmp_path / "jobs.json"
    jobs.write_text(
        json.dumps(
            [
                {"RequestCpus": 1, "JobStatus": 1},
                {"RequestCpus": 8, "JobStatus": 2},
                {"RequestCpus": 1, "JobStatus": 1},
            ]
        )
    )
    out = tmp_path / "out"
    rc = main(
        [
            "module",
            "run",
            "hepde.modules.example.transforms",
            "--name",
            "IdleJobDemand",
            "--product",
            f"job_manifests={jobs}",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert json.loads((out / "job_demand.json").read_text()) == [
        {"cores": 1, "idle_jobs": 2, "running_jobs": 0},
        {"cores": 8, "idle_jobs": 0, "running_jobs": 1},
    ]


def test_de_module_run_of_the_original_logic_engine_writes_actions_and_facts(tmp_path):
    params = tmp_path / "le.json"
    params.write_text(
        json.dumps(
            {
                "facts": {"enough": "vals.one.sum() > 10"},
                "rules": {
                    "r1": {"expression": "enough", "actions": ["pub"], "facts": ["allow_grid_requests"]}
                },
            }
        )
    )
    vals = tmp_path / "vals.csv"
    vals.write_text("one,two\n5,1\n7,2\n")
    out = tmp_path / "out"
    rc = main(
        [
            "module",
            "run",
            "decisionengine.framework.logicengine.LogicEngine",
            "--params",
            str(params),
            "--product",
            f"vals={vals}",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert json.loads((out / "actions.json").read_text()) == {"r1": ["pub"]}
    assert json.loads((out / "de_logicengine_facts.json").read_text()) == [
        {"rule_name": "r1", "fact_name": "allow_grid_requests", "fact_value": True}
    ]


def test_de_module_run_reports_bad_parameters_and_missing_inputs(tmp_path, capsys):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"cores_column": 3, "colour": "x"}))
    rc = main(
        [
            "module",
            "run",
            "hepde.modules.example.transforms",
            "--name",
            "IdleJobDemand",
            "--params",
            str(params),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "cores_column" in err and "colour" in err and "Traceback" not in err
    rc = main(
        [
            "module",
            "run",
            "hepde.modules.example.transforms",
            "--name",
            "IdleJobDemand",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2 and "job_manifests" in capsys.readouterr().err
