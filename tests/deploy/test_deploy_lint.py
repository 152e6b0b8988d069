"""CI checks of template.yaml: `cfn-lint` and `sam validate --lint` (offline; the `deploy` extra installs both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: `make test` installs it (pip install -e '.[dev,deploy]')")
    return found


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    return env


def test_deploy_template_passes_cfn_lint():
    proc = subprocess.run(
        [_tool("cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, env=_env(), check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_deploy_template_passes_sam_validate_lint():
    proc = subprocess.run(
        [_tool("sam"), "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "us-east-1"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a valid SAM Template" in proc.stdout + proc.stderr
