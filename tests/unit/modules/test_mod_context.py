"""The module context: what a module may use, bound by the runtime or, in tests, a FakeContext."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hepde.actions import SENT_RECORD, parse_action
from hepde.bridge_queue import actions_queue_address
from hepde.modules.base import ModuleContextError, Publisher
from hepde.modules.context import FakeContext, ModuleContext
from hepde.modules.direct.publishers import BridgeSubmitPublisher
from hepde.modules.direct.sources import BridgeActionLog
from hepde.modules.generic.table_export import TableExport


def test_a_module_without_a_bound_context_says_how_to_get_one():
    with pytest.raises(ModuleContextError, match="FakeContext"):
        _ = TableExport({"product": "t"}).context
    assert not Publisher().has_context


def test_the_context_fills_locations_and_gives_earlier_products():
    ctx = FakeContext(channel="c", generation=12, bucket="bkt", previous={"x": ({"v": 1}, 5.0)})
    assert isinstance(ctx, ModuleContext)
    assert ctx.location("s3://{bucket}/{channel}/{generation:04d}/{p}.csv", p="t") == "s3://bkt/c/0012/t.csv"
    assert ctx.previous_product("x") == ({"v": 1}, 5.0) and ctx.previous_product("y") is None


def test_table_export_writes_where_the_context_says(tmp_path):
    ctx = FakeContext(channel="c", generation=3)
    pub = TableExport({"product": "t", "location": str(tmp_path / "{channel}-{generation}.csv")}).bind(ctx)
    result = pub.publish({"t": pd.DataFrame({"a": [1, 2]})})
    assert (tmp_path / "c-3.csv").read_text().splitlines()[0] == "a" and "2 row(s)" in result.summary


def test_one_queue_resolution():
    assert actions_queue_address() == "hepde-bridge-default-actions"
    assert actions_queue_address("fnal", stack="prod") == "prod-bridge-fnal-actions"
    assert actions_queue_address(deployed_url="https://q/u") == "https://q/u"
    assert actions_queue_address("fnal", deployed_url="https://q/u") == "hepde-bridge-fnal-actions"
    assert actions_queue_address("fnal", deployed_url="https://q/u", override="mine") == "mine"


def test_direct_publisher_and_action_log_through_the_context():
    frame = pd.DataFrame(
        [
            {
                "route": "r",
                "target": "t",
                "schedd": "pilots",
                "pilots": 2,
                "nodes": 1,
                "idle_jobs": 5,
                "pending_pilots": 0,
                "limited_by": "",
                "submit": json.dumps({"executable": "/bin/true"}),
            }
        ]
    )
    ctx = FakeContext(channel="direct", generation=4, now=1000.0)
    result = BridgeSubmitPublisher({}, channel_name="direct").bind(ctx).publish({"pilot_submissions": frame})
    (body,) = ctx.queue().bodies
    action = parse_action(body)
    assert (action.generation, action.count, action.created_at) == (4, 2, 1000.0)
    ((ident, rec),) = ctx.channel_records().query(SENT_RECORD)
    assert rec["send_status"] == "sent" and rec["key"] == action.key and "sent 1 submit" in result.summary
    log = BridgeActionLog({}, channel_name="direct").bind(FakeContext(channel="direct", now=1100.0))
    log.context.records.put(SENT_RECORD, ident, rec)
    out = log.acquire()["bridge_actions"]
    assert list(out["key"]) == [action.key] and list(out["send_status"]) == ["sent"]
