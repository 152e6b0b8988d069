"""Functional tests: the generated state machines run in the embedded local AWS (moto + real ASL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepde_tools.local.embedded import EmbeddedAWS


@pytest.fixture
def cloud():
    with EmbeddedAWS() as c:
        yield c


@pytest.fixture
def counter_file(tmp_path: Path) -> Path:
    path = tmp_path / "counter.json"
    path.write_text(json.dumps({"value": 21}))
    return path
