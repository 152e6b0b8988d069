"""The real template deployed into a local cloud (MiniStack: pip, no Docker) with `sam build` + `sam deploy`,
and the example channel run there by its EventBridge schedule.  Starts and stops MiniStack itself; skips
only when MiniStack cannot be installed here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hepde_tools.deploy.local import MiniStackUnavailableError, deploy_and_run, ensure_ministack

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("DE_MINISTACK_VENV", ROOT / ".venv-ministack"))

pytestmark = pytest.mark.slow


def test_deploy_into_ministack_runs_the_channel_on_its_schedule(tmp_path, capsys):
    # Given MiniStack in its own virtualenv (installed on first use)
    try:
        ensure_ministack(VENV)
    except MiniStackUnavailableError as exc:
        pytest.skip(f"MiniStack cannot be installed here, so no local cloud to deploy into: {exc}")
    # When the real template is built and deployed into it, and we wait for the schedule
    report = deploy_and_run(
        template=ROOT / "template.yaml",
        channel_config=ROOT / "channels" / "example.jsonnet",
        venv=VENV,
        timeout=300,
        workdir=tmp_path,
        cycles=1,
    )
    with capsys.disabled():
        print("\n" + report.render())
    # Then a cycle started by EventBridge succeeded, and the sources' own schedules invoked the source function
    assert report.succeeded, report.render()
    assert report.first_scheduled_start_seconds is not None and report.first_scheduled_start_seconds < 200
    assert report.source_schedule_invocations > 0, report.render()
    assert report.ok, report.render()


def test_deploy_aws_layers_fit_the_lambda_size_limit(tmp_path):
    # Given the layers built for AWS (python3.12, arm64 wheels, trimmed), as `sam build` does for a real deploy
    layer_dir = ROOT / "layers" / "hepde"
    for target in ("build-DepsLayer", "build-LibLayer"):
        proc = subprocess.run(
            ["make", "-s", target, f"ARTIFACTS_DIR={tmp_path / target}"],
            cwd=layer_dir,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if proc.returncode != 0 and "No matching distribution" in proc.stderr:
            pytest.skip(f"the package registry has no wheel for Lambda's platform: {proc.stderr[-300:]}")
        assert proc.returncode == 0, proc.stderr[-2000:]
    # Then function code + layers stay under Lambda's 250 MB unzipped limit, with room for the handlers
    total = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
    assert total < 240 * 1024 * 1024, f"layers are {total / 2**20:.0f} MB unzipped"
    assert (tmp_path / "build-LibLayer" / "python" / "hepde" / "runtime" / "stages.py").is_file()
    assert not (tmp_path / "build-LibLayer" / "python" / "hepde" / "local").exists()
    assert (tmp_path / "build-DepsLayer" / "python" / "pandas").is_dir()
    assert not (tmp_path / "build-DepsLayer" / "python" / "botocore").exists()
