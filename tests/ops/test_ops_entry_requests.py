"""Requests per entry read from publishers' rows (de explain, de replay), by the documented convention."""

from __future__ import annotations

from hepde.runtime.explain import entry_requests


def test_ops_entry_requests_of_glideclient_rows():
    rows = [  # the shape of the HTC pilot channel's glideclient publisher rows
        {
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
        },
        {
            "entry": "AWS_us_east_1",
            "type": "AWS",
            "group": "main",
            "FOM": 0.12,
            "idle_jobs_matched": 10,
            "min_idle": 0,
            "max_run": 0,
            "ReqIdleGlideins": 0,
            "ReqMaxGlideins": 0,
            "limits_hit": "Gated",
            "why": "allow_aws_requests",
        },
    ]
    r = entry_requests(rows)
    assert r["entry_column"] == "entry" and r["request_columns"] == ["ReqIdleGlideins", "ReqMaxGlideins"]
    assert r["limit_columns"] == ["limits_hit"]
    first, second = r["entries"]
    assert first["limits"] == ["entry max_idle", "group curb"] and "idle_jobs_matched=900" in first["why"]
    assert second == {
        "entry": "AWS_us_east_1",
        "requests": {"ReqIdleGlideins": 0, "ReqMaxGlideins": 0},
        "limits": ["Gated"],
        "why": "allow_aws_requests",
    }


def test_ops_entry_requests_fallbacks():
    assert entry_requests([])["entries"] == []
    r = entry_requests(
        [{"site": "A", "pilots": 3, "capped": True}, {"site": "B", "pilots": 1, "capped": False}]
    )
    assert r["entry_column"] == "site" and r["request_columns"] == ["pilots"]
    assert [e["limits"] for e in r["entries"]] == [["capped"], []]
    r = entry_requests([{"value": 42}])  # not requests per entry: no request columns
    assert r["entry_column"] == "value" and r["request_columns"] == []
