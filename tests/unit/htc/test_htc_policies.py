"""The decision policies of the glidein-request transform (request_policies.py): each acts, with its numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hepde.modules.glideinwms.request_policies import (
    RequestPolicies,
    SiteMatching,
    apply_policies,
    factory_counts,
    held_products,
    inconsistent_inputs,
    job_walltime_seconds,
    site_admission,
    slot_remaining_seconds,
)

A, B, C = "A@g@f", "B@g@f", "C@g@f"


def table(rows):
    base = {"IdleJobs": 10, "SlotsTotal": 0, "SlotsIdle": 0, "SlotsRunning": 0, "Limits": "", "Group": "main"}
    return pd.DataFrame([{**base, **r} for r in rows])


def ads_for(t):
    return [
        {"Name": f"cred_{n}@fe.main", "ReqName": n, "GroupName": g, "ReqIdleGlideins": 0, "ReqMaxGlideins": 0}
        for n, g in dict.fromkeys(zip(t["Name"], t["Group"], strict=True))
    ]


def run(t, factory=None, state=None, now=0.0, **settings):
    ads = ads_for(t)
    out, new_state = apply_policies(
        t, ads, RequestPolicies(**settings), {"main": 100}, factory or {}, state, now
    )
    return {a["ReqName"]: a for a in ads}, out, new_state


def test_buckets_of_one_entry_are_summed_not_the_last_one_kept():
    t = table(
        [
            {"Name": A, "MinIdle": 7, "MaxRun": 20},
            {"Name": A, "MinIdle": 0, "MaxRun": 0, "IdleJobs": 0},  # the original: this one wins
        ]
    )
    ads, out, _ = run(t)
    assert (ads[A]["ReqIdleGlideins"], ads[A]["ReqMaxGlideins"]) == (7, 20)
    assert "BucketsMerged" in out["Limits"][0] and "2 buckets" in out["Policies"][0]


def test_circuit_breaker_opens_probes_after_cool_down_and_closes_when_a_probe_registers():
    rows = [
        {"Name": A, "MinIdle": 10, "MaxRun": 30},
        {"Name": B, "MinIdle": 10, "MaxRun": 30, "SlotsTotal": 5},
    ]
    held = {
        (A, "main"): {"held": 40, "idle": 0, "running": 0},
        (B, "main"): {"held": 0, "idle": 0, "running": 5},
    }
    ads, out, state = run(table(rows), held, now=0.0)
    assert ads[A]["ReqIdleGlideins"] == 0  # open: cut ...
    assert ads[B]["ReqIdleGlideins"] == 20  # ... and its share moved to the healthy entry
    assert state["breakers"][f"{A}|main"]["state"] == "open"
    assert "CircuitOpen: held=40, unregistered=0 of 40 pilots" in out["Policies"][0]
    assert "BreakerShare: +10" in out["Policies"][1]
    # still open before the cool-down
    ads, _, state = run(table(rows), held, state, now=600.0)
    assert ads[A]["ReqIdleGlideins"] == 0 and state["breakers"][f"{A}|main"]["state"] == "open"
    # half-open after it: a probe of 2
    ads, out, state = run(table(rows), held, state, now=1800.0)
    assert ads[A]["ReqIdleGlideins"] == 2 and "CircuitHalfOpen" in out["Limits"][0]
    # the probe registered a slot, nothing new held: closed, the full request again
    rows[0]["SlotsTotal"] = 1
    held[(A, "main")] = {"held": 40, "idle": 0, "running": 1}
    ads, _, state = run(table(rows), held, state, now=2400.0)
    assert ads[A]["ReqIdleGlideins"] == 10 and state["breakers"][f"{A}|main"]["state"] == "closed"


def test_a_failed_probe_reopens_and_unregistered_pilots_count_as_failures():
    rows = [{"Name": A, "MinIdle": 10, "MaxRun": 30}]
    lost = {(A, "main"): {"held": 0, "idle": 0, "running": 12}}  # running at the site, no slot registered
    _, out, state = run(table(rows), lost)
    assert "unregistered=12 of 12" in out["Policies"][0]
    state = {
        "breakers": {f"{A}|main": {"state": "half_open", "since": 0.0, "base_held": 0, "base_registered": 0}}
    }
    _, _, state = run(table(rows), {(A, "main"): {"held": 2, "idle": 0, "running": 0}}, state, now=60.0)
    assert state["breakers"][f"{A}|main"]["state"] == "open"


def test_scale_down_after_hysteresis_within_the_budget_never_busy_pilots_never_all():
    rows = [{"Name": A, "MinIdle": 0, "MaxRun": 40, "IdleJobs": 0, "SlotsTotal": 100, "SlotsRunning": 40}]
    state = None
    for cycle in range(2):  # hysteresis: 3 cycles
        ads, out, state = run(table(rows), state=state)
        assert "ReqRemoveExcess" not in ads[A] and f"{cycle + 1}/3" in out["Policies"][0]
    ads, out, state = run(table(rows), state=state)
    assert ads[A]["ReqRemoveExcess"] == "IDLE" and ads[A]["ReqRemoveExcessMargin"] == 0
    assert ads[A]["ReqMaxGlideins"] == 90  # 10 % of 100 pilots released, 40 busy kept
    assert (
        "release 10 of 60 excess pilot(s) (0 queued)" in out["Policies"][0]
        and "ScaleDown" in out["Limits"][0]
    )
    # pilots still queued go first, within the budget (the margin keeps the others)
    f = {(A, "main"): {"held": 0, "idle": 30, "running": 100}}
    ads, _, _ = run(table(rows), f, state={"excess_streak": {f"{A}|main": 5}})
    assert (ads[A]["ReqRemoveExcessMargin"], ads[A]["ReqMaxGlideins"]) == (17, 130)  # 13 of 30 queued removed
    # a busy-heavy entry: never below the pilots that run jobs
    rows[0].update(SlotsRunning=95)
    ads, _, _ = run(table(rows), state={"excess_streak": {f"{A}|main": 5}})
    assert ads[A]["ReqMaxGlideins"] == 95
    # the budget rounds down: an entry with 9 pilots keeps them
    small = [{"Name": A, "MinIdle": 0, "MaxRun": 0, "IdleJobs": 0, "SlotsTotal": 9, "SlotsRunning": 0}]
    ads, out, _ = run(table(small), state={"excess_streak": {f"{A}|main": 5}})
    assert "ReqRemoveExcess" not in ads[A] and "budget 0" in out["Policies"][0]
    # demand comes back: no release, the streak restarts
    rows[0].update(MinIdle=3)
    ads, _, state = run(table(rows), state=state)
    assert "ReqRemoveExcess" not in ads[A] and state["excess_streak"] == {}


def test_policies_off_leave_the_computed_requests():
    rows = [{"Name": A, "MinIdle": 0, "MaxRun": 40, "IdleJobs": 0, "SlotsTotal": 100, "SlotsRunning": 40}]
    ads, _, _ = run(table(rows), state={"excess_streak": {f"{A}|main": 5}}, scale_down={"enabled": False})
    assert "ReqRemoveExcess" not in ads[A]


def test_site_admission_vectorised_over_distinct_values():
    jobs = pd.DataFrame({"DESIRED_Sites": ["S1", "S1,S2", None, "", "S3"]})
    entries = pd.DataFrame({"GLIDEIN_CMSSite": ["S1", "S2", "S3"]})
    codes, admit = site_admission(jobs, entries, SiteMatching())
    assert [admit[c].tolist() for c in codes] == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
        [True, True, True],
        [False, False, True],
    ]
    assert site_admission(pd.DataFrame({"DESIRED_Sites": [None, ""]}), entries, SiteMatching()) is None


def test_lifetime_inputs_walltime_and_remaining_pilot_lifetime():
    jobs = pd.DataFrame({"MaxWallTimeMins": [60, None], "JOB_EXPECTED_MAX_LIFETIME": [None, 7200]})
    assert job_walltime_seconds(jobs).tolist() == [3600.0, 7200.0]
    slots = pd.DataFrame({"GLIDEIN_ToRetire": [1000 + 1800, None]})
    assert slot_remaining_seconds(slots, 1000).tolist() == [1800.0, np.inf]


def test_inconsistent_inputs_are_named():
    slots = pd.DataFrame(
        {"GLIDECLIENT_NAME": ["fe.main", "fe.main", "x.y"], "State": ["Claimed", "Unclaimed", "Claimed"]}
    )
    assert (
        inconsistent_inputs(pd.DataFrame(), slots, "fe")
        == "the job queue is empty while 1 slot(s) of fe run jobs"
    )
    jobs = pd.DataFrame({"JobStatus": [2, 1]})
    assert inconsistent_inputs(jobs, pd.DataFrame(), "fe") == "the pool lists no slot while 1 job(s) run"
    assert inconsistent_inputs(jobs, slots, "fe") is None


def test_held_products_repeat_the_last_requests_and_say_why():
    prev = {
        "glideclient_manifests": pd.DataFrame([{"ReqIdleGlideins": 5, "UpdateSequenceNumber": 1}]),
        "glideclientglobal_manifests": pd.DataFrame([{"UpdateSequenceNumber": 1}]),
        "glidein_request_table": pd.DataFrame([{"Name": A, "Limits": ""}]),
        "glidein_request_summary": {"jobs": 300},
    }
    out = held_products(prev, "why", 99.0)
    assert out["glideclient_manifests"]["ReqIdleGlideins"].tolist() == [5]
    assert out["glideclient_manifests"]["UpdateSequenceNumber"].tolist() == [99]
    assert (
        out["glidein_request_summary"]["jobs"] == 300
        and out["glidein_request_summary"]["held_steady"] == "why"
    )
    assert out["glidein_request_table"]["Limits"].tolist() == ["HoldSteady"]


def test_factory_counts_per_entry_and_group_of_this_frontend():
    fc = pd.DataFrame(
        [
            {
                "ReqClientName": "fe.main",
                "ReqGlidein": A,
                "GlideinMonitorStatusHeld": 3,
                "GlideinMonitorStatusRunning": 4,
            },
            {"ReqClientName": "other.main", "ReqGlidein": A, "GlideinMonitorStatusHeld": 9},
        ]
    )
    assert factory_counts(fc, "fe") == {(A, "main"): {"held": 3, "idle": 0, "running": 4}}
