"""The two batch-job scripts the HPC modes ship (bridge/hepde_bridge/scripts), run with stand-in launchers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "bridge/hepde_bridge/scripts"


def run(script: str, *args: str, cwd: Path, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{path}:{os.environ['PATH']}" if path else os.environ["PATH"]}
    return subprocess.run(
        ["sh", str(SCRIPTS / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("launcher", "line"),
    [
        ("srun", "srun --nodes=4 --ntasks=256 --ntasks-per-node=64 ./sim -i a b"),
        ("mpiexec", "mpiexec -n 256 -ppn 64 ./sim -i a b"),
        ("aprun", "aprun -n 256 -N 64 ./sim -i a b"),
    ],
)
def test_the_mpi_wrapper_runs_the_launcher_line(tmp_path, launcher, line):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / launcher
    stub.write_text(f'#!/bin/sh\necho "{launcher} $*" > "$PWD/launched"\n')
    stub.chmod(0o755)
    (tmp_path / "sim").write_text("#!/bin/sh\n")
    out = run("hepde-mpi-launch", launcher, "4", "64", "sim", "-i", "a b", cwd=tmp_path, path=bin_dir)
    assert out.returncode == 0, out.stderr
    # the argument "a b" stays one word (the stub prints it space-joined)
    assert (tmp_path / "launched").read_text().strip() == line


def test_the_mpi_wrapper_refuses_bad_geometry_and_a_missing_executable(tmp_path):
    assert run("hepde-mpi-launch", "srun", "x", "64", "sim", cwd=tmp_path).returncode == 64
    assert run("hepde-mpi-launch", "srun", "2", "64", "sim", cwd=tmp_path).returncode == 66
    assert run("hepde-mpi-launch", "qsub", "2", "64", "sim", cwd=tmp_path).returncode in (64, 66)


def test_the_lumberjack_pool_checks_its_arguments_and_the_exported_queue(tmp_path):
    assert (
        run("hepde-lumberjack-pool", "srun", "2", "64", "relative", "de-key", cwd=tmp_path).returncode == 64
    )
    assert run("hepde-lumberjack-pool", "srun", "2", "64", "/spool", "de-key", cwd=tmp_path).returncode == 66
