"""Files the installed package carries beside the code, so a wheel runs a channel with no checkout:
the Lambda handlers (``functions/<stage>/app.py``), the channel files (``channels/``) and the generated
state machines (``statemachines/``).  In a checkout these folders are links to the project's own; in a
wheel they are package data (``pyproject.toml``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def functions() -> Path:
    return ROOT / "functions"


def channels() -> Path:
    return ROOT / "channels"


def statemachines() -> Path:
    return ROOT / "statemachines"
