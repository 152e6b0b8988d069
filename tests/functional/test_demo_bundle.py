"""`de demo` and the files a wheel carries (hepde_tools.bundle): handlers, channel files, state machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hepde_tools import bundle
from hepde_tools.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundle_holds_every_handler_channel_and_state_machine_of_the_project():
    assert {p.parent.name for p in bundle.functions().glob("*/app.py")} == {
        p.parent.name for p in (ROOT / "functions").glob("*/app.py")
    }
    assert {p.name for p in bundle.channels().glob("*sonnet")} == {
        p.name for p in (ROOT / "channels").glob("*sonnet")
    }
    assert {p.name for p in bundle.statemachines().glob("*.asl.json")} == {
        p.name for p in (ROOT / "statemachines").glob("*.asl.json")
    }
    text = (ROOT / "pyproject.toml").read_text()
    for pattern in (
        "bundle/functions/*/app.py",
        "bundle/channels/*.jsonnet",
        "bundle/statemachines/*.asl.json",
    ):
        assert pattern in text, f"{pattern} is not package data: a wheel would lack it"


@pytest.mark.slow
def test_demo_runs_the_htc_pilot_channel_from_an_empty_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DE_FUNCTIONS_DIR", raising=False)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Channel htc_pilot, cycle 1: SUCCEEDED" in out
    assert "glideclient_manifests:" in out and "idle requested" in out and "entry" in out
    assert list(tmp_path.iterdir()) == []  # wrote nothing where it was run
