"""The in-memory schedd/collector behave as the daemons do; the ledger survives a restart."""

from __future__ import annotations

import pytest

from hepde.actions import ActionResult
from hepde.condor.adapter import (
    COMPLETED,
    HELD,
    IDLE,
    REMOVED,
    RUNNING,
    CondorRefusedError,
    CondorUnavailableError,
)
from hepde.condor.fakes import FakeCollector, FakeSchedd
from hepde_bridge.ledger import Ledger

GRID = {"universe": "grid", "grid_resource": "condor ce.example ce.example:9619", "executable": "/p"}


def test_submit_is_one_cluster_all_or_nothing_with_submit_file_semantics():
    s = FakeSchedd("s")
    out = s.submit({**GRID, "+Tag": '"a"', "request_cpus": "2*4", "output": "o.$(Cluster).$(Process)"}, 3)
    assert (out.cluster, out.procs) == (1, 3)
    jobs = s.query("true", ["ProcId", "Tag", "RequestCpus", "Out", "JobStatus", "JobUniverse"])
    assert jobs[2] == {
        "ProcId": 2,
        "Tag": "a",
        "RequestCpus": 8,
        "Out": "o.1.2",
        "JobStatus": IDLE,
        "JobUniverse": 9,
    }
    for bad, message in (
        ({**GRID, "grid_resource": ""}, "No resource identifier"),
        ({**GRID, "grid_resource": "gt5 x"}, "Invalid value for grid type"),
        ({"universe": "grid", "grid_resource": "batch slurm u@h"}, "No 'executable'"),
        ({**GRID, "universe": "nope"}, "universe"),
    ):
        with pytest.raises(CondorRefusedError, match=message):
            s.submit(bad, 2)
    assert s.count() == 3  # nothing of the refused submits was committed


def test_constraints_use_classad_semantics():
    s = FakeSchedd("s")
    s.add_jobs([{"Owner": "a", "RequestCpus": 1}, {"Owner": "b"}, {"Owner": "c", "RequestCpus": 8}])
    assert s.count("RequestCpus < 4") == 1  # undefined < 4 is undefined: no match
    assert s.count("RequestCpus =?= undefined") == 1
    assert s.count('stringListMember(Owner, "a,c")') == 2
    assert s.count("1/0 == 1") == 0  # error: no match


def test_job_states_and_history():
    tick = [0.0]
    s = FakeSchedd("s", monotonic=lambda: tick[0])
    s.submit(GRID, 4)
    assert s.act("hold", "ProcId == 0", "why") == 1 and s.count(f"JobStatus == {HELD}") == 1
    assert s.act("release", "true") == 1
    s.set_status("ProcId < 2", RUNNING)
    s.set_status("ProcId == 1", COMPLETED)
    assert s.act("remove", "true") == 3
    # the removed running job stays as JobStatus 3 until its shadow exits (remove_linger), the others go
    assert s.count() == 1 and s.count(f"JobStatus == {REMOVED}") == 1
    tick[0] = 1.0
    assert s.count() == 0 and len(s.history("true", ["ProcId"])) == 4
    s.down = True
    with pytest.raises(CondorUnavailableError):
        s.query()


def test_collector_update_replaces_by_type_and_name_and_invalidates_by_constraint():
    c = FakeCollector()
    c.advertise([{"MyType": "glideclient", "Name": "a", "ReqIdleGlideins": 1}])
    c.advertise(
        [
            {"MyType": "glideclient", "Name": "a", "ReqIdleGlideins": 5},
            {"MyType": "glideclientglobal", "Name": "a"},
        ]
    )
    assert c.query("any", 'MyType == "glideclient"', ["ReqIdleGlideins"]) == [{"ReqIdleGlideins": 5}]
    c.advertise(
        [{"MyType": "Query", "TargetType": "glideclient", "Requirements": {"expr": 'Name == "a"'}}],
        "INVALIDATE_ADS_GENERIC",
    )
    assert c.names("glideclient") == [] and c.names("glideclientglobal") == ["a"]
    c.advertise([{"MyType": "glideclient"}])  # no Name: dropped, silently, as the collector does
    assert c.names("glideclient") == []


def test_ledger_keeps_states_across_a_restart_and_prunes_old_reported_entries(tmp_path):
    now = [1000.0]
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path, clock=lambda: now[0])
    ledger.begin("k1", "submit", "d1")
    ledger.mark_tried("k1")
    ledger.begin("k2", "submit", "d2")
    ledger.finish("k2", "submit", "d2", ActionResult(key="k2", status="done", jobs=1))
    ledger.close()
    again = Ledger(path, clock=lambda: now[0])
    k1, k2 = again.get("k1"), again.get("k2")
    assert (k1.state, k1.tried, k1.attempts) == ("acting", True, 1)
    assert (k2.state, k2.reported, k2.result.jobs) == ("done", False, 1)
    assert [e.key for e in again.unreported()] == ["k2"]
    again.mark_reported("k2")
    assert again.begin("k2", "submit", "d2").attempts == 1  # a finished entry is not re-opened
    now[0] += 20 * 86400
    assert again.prune(15 * 86400) == 1 and again.get("k2") is None and again.get("k1") is not None
