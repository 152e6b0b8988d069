"""Against a deployed stack (real AWS, or any AWS_ENDPOINT_URL): one cycle of the example channel.

Runs only when ``DE_INTEGRATION_STACK`` names a deployed stack (with ``DE_TABLE_NAME`` and
``DE_BUCKET_NAME`` of that stack) and AWS credentials resolve; skipped otherwise, saying why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hepde_tools.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
STACK = os.environ.get("DE_INTEGRATION_STACK")

pytestmark = pytest.mark.integration


def _credentials_resolve() -> bool:
    try:
        import boto3

        return boto3.Session().get_credentials() is not None
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(
    not STACK,
    reason="DE_INTEGRATION_STACK is not set: no deployed stack to run against "
    "(no AWS account or local cloud is reachable from CI here)",
)
@pytest.mark.skipif(
    not _credentials_resolve(), reason="no AWS credentials resolve through the standard chain"
)
def test_deployed_example_channel_completes_a_cycle(capsys):
    for var in ("DE_TABLE_NAME", "DE_BUCKET_NAME"):
        assert os.environ.get(var), f"{var} must name the deployed stack's DataBlock"
    rc = main(["run", "--deployed", "--stack", STACK, str(ROOT / "channels" / "example.jsonnet"), "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '"status": "SUCCEEDED"' in out
