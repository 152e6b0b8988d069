"""Typed records: request rows built from named columns (never guessed), records read back as models,
records of the previous layout still readable."""

from __future__ import annotations

import pytest

from hepde.modules.glideinwms.pilot_requests import request_row
from hepde.records import (
    CycleRecord,
    DecisionRecord,
    RequestColumns,
    RequestRow,
    split_limits,
)


def test_ops_glideclient_record_rows_become_request_rows():
    rec = {  # the shape of the HTC pilot channel's glideclient publisher rows
        "entry": "CMS_T2_US_UCSD",
        "type": "Grid",
        "group": "main",
        "FOM": "INF",
        "idle_jobs_matched": 900,
        "min_idle": 100,
        "max_run": 400,
        "ReqIdleGlideins": 100,
        "ReqMaxGlideins": 400,
        "limits_hit": "entry max_idle, group curb",
        "why": "",
    }
    row = request_row(rec)
    assert row == RequestRow(
        entry="CMS_T2_US_UCSD",
        entry_type="Grid",
        group="main",
        idle_requested=100,
        max_requested=400,
        limits_hit=["entry max_idle", "group curb"],
        detail={"FOM": "INF", "idle_jobs_matched": 900, "min_idle": 100, "max_run": 400},
    )


def test_ops_request_columns_are_named_not_guessed():
    cols = RequestColumns(entry="cores", idle="requested_pilots", limits="limited_by", detail=["idle_jobs"])
    rows = cols.rows(
        [
            {"cores": 1, "idle_jobs": 30, "requested_pilots": 20, "limited_by": "max_pilots_per_class"},
            {"cores": 8, "idle_jobs": 0, "requested_pilots": 0, "limited_by": float("nan")},
        ]
    )
    assert [(r.entry, r.idle_requested, r.limits_hit, r.max_requested) for r in rows] == [
        ("1", 20, ["max_pilots_per_class"], None),
        ("8", 0, [], None),
    ]
    assert rows[0].detail == {"idle_jobs": 30}
    with pytest.raises(ValueError, match=r"request columns \['pilots'\] are not columns of the table"):
        RequestColumns(entry="cores", idle="pilots").rows([{"cores": 1}])
    assert split_limits("a; b, c") == ["a", "b", "c"] and split_limits(None) == []


def test_ops_records_of_the_previous_layout_read_as_models():
    old_cycle = {  # written by 0.x: plain dicts, fewer keys
        "generation": 3,
        "status": "HELD",
        "execution_id": "arn:x",
        "started_at": 10.0,
        "stale": [{"source": "s", "product": None, "reason": "never acquired", "error": None}],
        "acquisitions": [{"source": "s", "acquired": False, "generation": None, "error": "boom"}],
        "hold": {"transform": "t", "reason": "implausible"},
        "someday_key": 1,
    }
    c = CycleRecord.model_validate(old_cycle)
    assert c.hold and c.hold.transform == "t" and c.stale[0].reason == "never acquired"
    assert c.acquisitions[0].to_json() == {"source": "s", "acquired": False, "error": "boom"}
    old_decision = {
        "generation": 3,
        "facts": {"f": True},
        "rules": {"r": True},
        "publishers": {"p": {"ok": True, "seconds": 0.1, "summary": "s", "requested": [{"x": 1}]}},
    }
    d = DecisionRecord.model_validate(old_decision)
    assert d.publishers["p"].requested == [{"x": 1}] and d.publishers["p"].requests == []
    assert DecisionRecord.model_validate(d.to_json()) == d
