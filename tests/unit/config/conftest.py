"""Fixtures shared by the channel-configuration tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def write_channel(tmp_path: Path) -> Callable[..., Path]:
    """Write a channel document (dict → JSON, str → Jsonnet text) into ``tmp_path``; return its path."""

    def write(name: str, document: dict[str, Any] | str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(document, str):
            path.write_text(document, encoding="utf-8")
        else:
            path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return path

    return write
