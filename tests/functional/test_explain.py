"""The decision record of a cycle, read back and explained (``de explain``)."""

from __future__ import annotations

import argparse
import json

import pytest
from de_channel_helpers import counter_channel, deploy

from hepde.errors import ChannelNotFoundError, DEError
from hepde.runtime.explain import explanation
from hepde_tools.cli import explain_cmd


def test_explain_shows_facts_rules_actions_and_what_the_publisher_requested(
    cloud, tmp_path, counter_file, capsys
):
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    assert cloud.wait(cloud.start(arn))["status"] == "SUCCEEDED"
    args = argparse.Namespace(channel="counting", cycle=None, json=False, stack="hepde")
    assert explain_cmd.run(args, store=cloud.store()) == 0
    text = capsys.readouterr().out
    assert "Channel counting, cycle 1: SUCCEEDED" in text
    assert "publish_big" in text and "recorder: recorded 1 row(s)" in text and "value=42" in text
    args.json = True
    explain_cmd.run(args, store=cloud.store())
    record = json.loads(capsys.readouterr().out)
    assert record["facts"] == {"big": True}
    assert record["rules"] == [
        {"rule": "publish_big", "result": True, "actions": ["recorder"], "new_facts": {}}
    ]
    assert record["publishers"]["recorder"]["requested"] == [{"value": 42}]


def test_explain_of_a_held_cycle_names_the_stale_inputs(cloud, tmp_path, counter_file):
    import time

    source = {
        "module": "de_test_modules",
        "name": "CounterFileSource",
        "parameters": {"path": str(counter_file)},
        "schedule": 0.1,
        "lifetime": 0.5,
    }
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file, source=source))
    cloud.wait(cloud.start(arn))
    counter_file.unlink()
    time.sleep(0.6)
    cloud.wait(cloud.start(arn))
    e = explanation(cloud.store(), "counting")
    assert e["cycle"] == 2 and e["status"] == "HELD"
    assert e["stale"][0]["product"] == "counter" and e["rules"] == []


def test_explain_of_an_unknown_channel_or_cycle_is_a_clear_error(cloud, tmp_path, counter_file):
    with pytest.raises(ChannelNotFoundError, match="no recorded cycle"):
        explanation(cloud.store(), "nope")
    ch, arn = deploy(cloud, counter_channel(tmp_path, counter_file))
    cloud.wait(cloud.start(arn))
    with pytest.raises(DEError, match="no cycle 7"):
        explanation(cloud.store(), "counting", 7)
