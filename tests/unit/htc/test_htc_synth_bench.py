"""The synthetic workload generator, the benchmark and their CLI commands (small sizes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hepde.snapshots import read_latest
from hepde_tools.bench.htc import run_ours, write_input
from hepde_tools.cli.main import main
from hepde_tools.synth.workload import generate


def test_the_generator_is_deterministic_and_has_the_requested_shape():
    a, b = generate(3000, 2000, 60, seed=3), generate(3000, 2000, 60, seed=3)
    assert a.jobs.equals(b.jobs) and a.slots.equals(b.slots) and a.entries.equals(b.entries)
    assert not generate(3000, 2000, 60, seed=4).jobs.equals(a.jobs)
    assert (len(a.jobs), len(a.slots), len(a.entries)) == (3000, 2000, 60)
    assert len(a.match_expressions) >= 50
    assert set(a.entries["GLIDEIN_GridType"]) == {"condor", "ec2", "gce", "batch slurm"}
    assert a.jobs["RequestCpus"].nunique() >= 3 and (a.jobs["RequestGPUs"] > 0).any()
    assert a.jobs["RequestMemory"].nunique() > 3
    running = a.jobs.loc[a.jobs["JobStatus"] == 2, "RemoteHost"].dropna()
    assert running.isin(a.slots["Name"]).all()


def test_the_benchmark_runs_every_stage_on_a_small_input(tmp_path):
    directory = write_input(generate(3000, 2000, 60, seed=3), tmp_path)
    result = run_ours(directory)
    assert set(result["times"]) == {
        "JobClustering",
        "GridFigureOfMerit",
        "GlideinRequestManifests",
        "LogicEngine",
        "Publish preparation",
    }
    assert result["ads"] > 0 and result["summary"]["jobs"] == 3000
    assert pd.read_csv(directory / "ours_requests.csv")["ReqMaxGlideins"].sum() > 0


def test_de_synth_writes_snapshots_the_sources_read(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--jobs", "500", "--slots", "300", "--entries", "20"]) == 0
    assert "500 jobs" in capsys.readouterr().out
    snap = read_latest(str(tmp_path), "factory_entries", "factory.example.org")
    assert snap.manifest.rows == 20 and snap.manifest.producer == "de synth"
    assert (Path(tmp_path) / "frontend.json").is_file()


def test_de_synth_rejects_nonsense_sizes(capsys):
    assert main(["synth", "--out", "/nonexistent", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_de_bench_htc_prints_stage_times_and_memory(capsys):
    assert (
        main(["bench", "htc", "--jobs", "3000", "--slots", "2000", "--entries", "60", "--no-original"]) == 0
    )
    out = capsys.readouterr().out
    assert "GlideinRequestManifests" in out and "peak RSS" in out and "original 2.0.6: not measured" in out
