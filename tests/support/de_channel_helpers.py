"""Helpers of the functional tests: write a small channel, deploy it, read what it published.

Kept out of ``conftest.py`` so tests import them by a unique module name (several test folders have a
``conftest``; importing ``from conftest`` depends on which one pytest loaded first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hepde.runtime.channel import PreparedChannel, prepare
from hepde_tools.local.embedded import EmbeddedAWS

MODS = "de_test_modules"


def counter_channel(
    tmp_path: Path,
    counter_file: Path,
    *,
    name: str = "counting",
    transforms: dict | None = None,
    rules: dict | None = None,
    facts: dict | None = None,
    publisher: dict | None = None,
    source: dict | None = None,
    logicengine: bool = True,
) -> Path:
    """Write a small channel: counter source -> Doubler -> logic engine -> RecordingPublisher."""
    config: dict[str, Any] = {
        "sources": {
            "counter_source": source
            or {
                "module": f"{MODS}",
                "name": "CounterFileSource",
                "parameters": {"path": str(counter_file)},
                "schedule": 60,
            }
        },
        "transforms": transforms
        if transforms is not None
        else {"doubler": {"module": MODS, "name": "Doubler", "parameters": {}}},
        "publishers": {
            "recorder": publisher
            or {
                "module": MODS,
                "name": "RecordingPublisher",
                "parameters": {"path": str(tmp_path / "published.jsonl")},
            }
        },
    }
    if logicengine:
        config["logicengines"] = {
            "le": {
                "module": "decisionengine.framework.logicengine.LogicEngine",
                "parameters": {
                    "facts": facts if facts is not None else {"big": "doubled.value.sum() > 10"},
                    "rules": rules
                    if rules is not None
                    else {"publish_big": {"expression": "big", "actions": ["recorder"]}},
                },
            }
        }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


def deploy(cloud: EmbeddedAWS, path: Path) -> tuple[PreparedChannel, str]:
    (ch,) = prepare([path])
    return ch, cloud.deploy_channel(ch.name, ch.definition)


def published(tmp_path: Path) -> list[dict]:
    path = tmp_path / "published.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
