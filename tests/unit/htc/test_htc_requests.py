"""Glidein requests: the original's formulas and numbers, and each fix, named."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from htc_helpers import CLUSTERS, FACTORY, entry, fixture_block, frontend, jobs

from hepde.errors import HoldCycleError
from hepde.modules.glideinwms.entries import by_type
from hepde.modules.glideinwms.frontend import Frontend
from hepde.modules.glideinwms.pilot_requests import (
    GroupTotals,
    compute_glidein_max_running,
    compute_glidein_min_idle,
)
from hepde.modules.glideinwms.transforms import GlideinRequestManifests, GridFigureOfMerit, JobClustering


def run(block: dict, clusters: dict = CLUSTERS, **params) -> dict:
    block = dict(block)
    block.update(JobClustering(clusters).transform(block))
    block.update(GridFigureOfMerit({"price_performance": 0.9}).transform(block))
    params.setdefault("frontend", frontend())
    out = GlideinRequestManifests(params).transform(block)
    block.update(out)
    return block


#: what hepcloud-de-modules 2.0.6 produced on these fixtures (GlideinWMS libraries stubbed, see
#: tools/hepde_tools/bench/original_2_0_6; recorded with `python runner.py` on tests/fixtures/htc)
ORIGINAL_ON_FIXTURES = {
    "TEST_SITE_1@v1_0@GlideinFactory-master": {"ReqIdleGlideins": 1, "ReqMaxGlideins": 2},
    "TEST_SITE_2@v1_0@GlideinFactory-master": {"ReqIdleGlideins": 1, "ReqMaxGlideins": 3},
}
ORIGINAL_MONITORS = {
    "GlideinMonitorIdleAll": 4,
    "GlideinMonitorIdle": 4,
    "GlideinMonitorOldIdle": 4,
    "GlideinMonitorIdle_3600": 4,
    "GlideinMonitorVomsIdle": 4,
    "GlideinMonitorProxyIdle": 4,
    "GlideinMonitorRunning": 0,
    "GlideinMonitorRunningHere": 0,
    "GlideinMonitorGlideinsTotal": 0,
}


def test_requests_on_the_original_fixtures_equal_the_original_2_0_6():
    block = run(fixture_block(), compat_original=True)
    assert block["Grid_Figure_Of_Merit"]["Grid_Figure_Of_Merit"].tolist() == [0.00027, 9e-05]
    ads = block["glideclient_manifests"]
    got = {
        r.ReqName: {"ReqIdleGlideins": r.ReqIdleGlideins, "ReqMaxGlideins": r.ReqMaxGlideins}
        for r in ads.itertuples()
    }
    assert got == ORIGINAL_ON_FIXTURES
    for _, ad in ads.iterrows():
        assert {k: ad[k] for k in ORIGINAL_MONITORS} == ORIGINAL_MONITORS
    # and the same requests with this project's fixes on (the fixtures do not exercise them)
    fixed = run(fixture_block(), policies={"enabled": False})["glideclient_manifests"]
    assert fixed[["ReqName", "ReqIdleGlideins", "ReqMaxGlideins"]].equals(
        ads[["ReqName", "ReqIdleGlideins", "ReqMaxGlideins"]]
    )
    # with the decision policies (the default): the four idle jobs name Test_Site_1 in DESIRED_Sites, so
    # site-aware matching asks TEST_SITE_1 only, for all of them
    policed = run(fixture_block())["glideclient_manifests"]
    assert dict(zip(policed["ReqName"], policed["ReqIdleGlideins"], strict=True)) == {
        "TEST_SITE_1@v1_0@GlideinFactory-master": 2
    }


@pytest.mark.parametrize(
    ("prop", "real", "idle", "expected"),
    [(412, 971, 0, 1591), (100, 100, 0, 230), (100, 0, 0, 115), (0, 0, 0, 0), (0, 100, 100, 100)],
)
def test_max_running_equals_the_original_unit_test(prop, real, idle, expected):
    assert compute_glidein_max_running(prop, real, idle, 1.15) == expected


def _group(**config):
    return Frontend.from_value(frontend(**config)).group("main")


def test_min_idle_asks_a_third_plus_reserve_and_halves_per_curb():
    g = _group()
    totals = GroupTotals(total=10, idle=0, fe_total=10, fe_idle=0, global_total=10, global_idle=0)
    assert compute_glidein_min_idle(g, 0, 0, totals, 90, 0) == (30, {})
    assert compute_glidein_min_idle(g, 0, 0, totals, 90, 30) == (35, {})  # + min(30/3, reserve 5)
    n, limits = compute_glidein_min_idle(g, 0, 7, totals, 90, 0)  # idle >= curb_vms_idle (5)
    assert n == 15 and "CurbIdleGlideinsPerEntry" in limits
    n, limits = compute_glidein_min_idle(g, 10000, 0, totals, 90, 0)  # entry at max_running
    assert n == 0 and "TotalGlideinsPerEntry" in limits and "ZeroLimitHit" in limits
    assert compute_glidein_min_idle(g, 0, 0, totals, 0, 0) == (0, {"NoEffectiveIdle": "no glidein is needed"})
    assert compute_glidein_min_idle(g, 0, 0, totals, 1, 0)[0] == 1  # never below 1 when something is needed


def test_ramp_up_attenuation_is_configuration():
    g = _group(decision_engine={"ramp_up_attenuation": 1})
    totals = GroupTotals(total=0, idle=0, fe_total=0, fe_idle=0, global_total=0, global_idle=0)
    assert compute_glidein_min_idle(g, 0, 0, totals, 90, 0)[0] == 90


def _block(entries: list[dict], job_frame: pd.DataFrame, slots: pd.DataFrame | None = None) -> dict:
    fg = fixture_block()["factoryglobal_manifests"]
    return {
        "job_manifests": job_frame,
        "startd_manifests": slots if slots is not None else pd.DataFrame(),
        "Factory_Entries": by_type(pd.DataFrame(entries)),
        "factoryglobal_manifests": fg,
        "GCE_Figure_Of_Merit": pd.DataFrame(),
        "Nersc_Figure_Of_Merit": pd.DataFrame(),
    }


ALL = {
    "match_expressions": [
        {
            "job_bucket_criteria_expr": "ClusterId > 0",
            "site_bucket_criteria_expr": ["True"],
            "frontend_group": "main",
        }
    ],
    "job_q_expr": "JobStatus==1",
}


def _table(block: dict, **params) -> pd.DataFrame:
    return run(block, ALL, **params)["glidein_request_table"].set_index("EntryName")


def test_jobs_are_split_over_entries_in_proportion_to_one_over_fom():
    # FOM 0.9*(r+1)/max: e1 running 0 → 0.0009, e2 running 2 → 0.0027: shares 3:1 of 400 jobs
    block = _block(
        [entry("e1", GlideinMonitorTotalStatusRunning=0), entry("e2", GlideinMonitorTotalStatusRunning=2)],
        jobs(400),
    )
    t = _table(block, frontend=frontend(decision_engine={"ramp_up_attenuation": 1}))
    inv = [1 / (0.9 * 1 / 1000), 1 / (0.9 * 3 / 1000)]
    # ceil of the floating-point share, exactly as the original (here 300.000...01 → 301)
    assert t.loc["e1", "PropIdle"] == math.ceil(inv[0] * 400 / sum(inv)) == 301
    assert t.loc["e2", "PropIdle"] == math.ceil(inv[1] * 400 / sum(inv)) == 100
    assert t.loc["e1", "IdleCoresNeeded"] == math.ceil(300 / 8)


def test_fix_fom_zero_division():
    # Given two eligible entries, one with FOM 0 (price_performance 0 makes every Grid FOM 0)
    block = _block([entry("e1"), entry("e2", GlideinMonitorTotalStatusRunning=5)], jobs(10))
    block.update(JobClustering(ALL).transform(block))
    block.update(GridFigureOfMerit({"price_performance": 0}).transform(block))
    # When the requests are computed (the original: ZeroDivisionError / NaN → the channel went offline)
    out = GlideinRequestManifests({"frontend": frontend()}).transform(block)
    # Then the zero-FOM entries, the best possible, share the jobs
    t = out["glidein_request_table"].set_index("EntryName")
    assert t.loc["e1", "PropIdle"] == 5 and t.loc["e2", "PropIdle"] == 5


def test_fix_fom_zero_only_one_entry_takes_all():
    block = _block([entry("e1"), entry("e2")], jobs(10))
    block.update(JobClustering(ALL).transform(block))
    block["Grid_Figure_Of_Merit"] = pd.DataFrame(
        {"EntryName": ["e1", "e2"], "Grid_Figure_Of_Merit": [0.0, 0.5]}
    )
    t = (
        GlideinRequestManifests({"frontend": frontend()})
        .transform(block)["glidein_request_table"]
        .set_index("EntryName")
    )
    assert (t.loc["e1", "PropIdle"], t.loc["e2", "PropIdle"]) == (10, 0)


def _slot(
    name: str,
    entry_name: str,
    memory: float,
    cpus: int = 4,
    slot_type: str = "Partitionable",
    total_slots: int = 1,
    state: str = "Unclaimed",
    activity: str = "Idle",
) -> dict:
    return {
        "Name": name,
        "State": state,
        "Activity": activity,
        "SlotType": slot_type,
        "Cpus": cpus,
        "Memory": memory,
        "TotalSlots": total_slots,
        "TotalSlotCpus": cpus,
        "GLIDECLIENT_NAME": "Frontend-master-v1_0.main",
        "GLIDEIN_Entry_Name": entry_name,
        "GLIDEIN_Name": "v1_0",
        "GLIDEIN_FACTORY": "GlideinFactory-master",
    }


def test_fix_hard_coded_memory_2500_idle_slot_rule():
    # Given an entry with an idle, already partitioned slot of 2000 MB and idle jobs needing 1500 MB
    slots = pd.DataFrame([_slot("s1@g@h", "e1", 2000, total_slots=2)])
    block = _block([entry("e1")], jobs(30, memory=1500), slots)
    # Then the slot is usable capacity (the original's `Memory > 2500` ignored it)
    assert _table(block).loc["e1", "SlotsIdle"] == 1
    assert _table(block, compat_original=True).loc["e1", "SlotsIdle"] == 0
    # and a 3000 MB slot does not count when every idle job needs 4000 MB (the original counted it)
    slots = pd.DataFrame([_slot("s1@g@h", "e1", 3000, total_slots=2)])
    block = _block([entry("e1")], jobs(30, memory=4000), slots)
    assert _table(block).loc["e1", "SlotsIdle"] == 0
    assert _table(block, compat_original=True).loc["e1", "SlotsIdle"] == 1
    # GPU jobs need GPU slots
    block = _block(
        [entry("e1", GLIDEIN_GPUs=1)], jobs(30, gpus=1), pd.DataFrame([_slot("s1@g@h", "e1", 9000)])
    )
    assert _table(block).loc["e1", "SlotsIdle"] == 0


def test_usable_slot_threshold_is_configuration():
    slots = pd.DataFrame([_slot("s1@g@h", "e1", 2000)])
    block = _block([entry("e1")], jobs(30, memory=1500), slots)
    fe = frontend(decision_engine={"usable_slot_min_memory_mb": 2048})
    assert _table(block, frontend=fe).loc["e1", "SlotsIdle"] == 0


def test_fix_downtime_given_as_the_string_true_is_honoured():
    block = _block([entry("e1"), entry("e2", GLIDEIN_In_Downtime="True")], jobs(40))
    t = _table(block)
    assert t.loc["e2", "PropIdle"] == 0 and t.loc["e2", "InDowntime"]
    assert t.loc["e1", "PropIdle"] == 40
    assert _table(block, compat_original=True).loc["e2", "PropIdle"] > 0  # the original ignored the string


def test_fix_classad_attribute_names_are_case_insensitive():
    # the fixture's slots advertise GLIDECLIENT_Name / GLIDEIN_Factory; the original looked for GLIDECLIENT_NAME
    slots = pd.DataFrame(
        [
            {
                **_slot("s@g@h", "e1", 9000, slot_type="Static", state="Claimed", activity="Busy"),
                "GLIDECLIENT_Name": "Frontend-master-v1_0.main",
                "GLIDEIN_Factory": "GlideinFactory-master",
            }
        ]
    ).drop(columns=["GLIDECLIENT_NAME", "GLIDEIN_FACTORY"])
    block = _block([entry("e1")], jobs(5), slots)
    assert _table(block).loc["e1", "SlotsTotal"] == 1
    assert _table(block, compat_original=True).loc["e1", "SlotsTotal"] == 0


def test_per_cycle_caps_per_entry_and_per_group():
    block = _block([entry("e1"), entry("e2", GlideinMonitorTotalStatusRunning=1)], jobs(3000))
    fe = frontend(decision_engine={"ramp_up_attenuation": 1, "max_new_idle_per_entry": 40})
    t = _table(block, frontend=fe)
    assert t["MinIdle"].max() == 40 and "EntryCycleCap" in t.loc["e1", "Limits"]
    fe = frontend(decision_engine={"ramp_up_attenuation": 1, "max_new_idle_per_group": 50})
    out = run(block, ALL, frontend=fe)
    t = out["glidein_request_table"].set_index("EntryName")
    assert t["MinIdle"].sum() == 50 and "GroupCycleCap" in t.loc["e2", "Limits"]
    assert out["glideclient_manifests"]["ReqIdleGlideins"].sum() == 50


def test_running_jobs_are_counted_on_the_entry_of_their_slot():
    slot = {
        **_slot("slot1@glidein_1@wn1", "e1", 2000, slot_type="Static", state="Claimed", activity="Busy"),
        "GLIDEIN_ENTRY_NAME": "e1",
        "GLIDEIN_Factory": "GlideinFactory-master",
        "GLIDEIN_Schedd": f"schedd@{FACTORY}:9618",
    }
    running = jobs(3, status=2).assign(RemoteHost="slot1@glidein_1@wn1")
    block = _block([entry("e1")], pd.concat([jobs(6), running], ignore_index=True), pd.DataFrame([slot]))
    t = _table(block)
    assert t.loc["e1", "RunningHere"] == 3
    assert t.loc["e1", "SlotsRunning"] == 1


def _with_previous(jobs_seen: int, age: float):
    """A module context whose earlier cycle saw ``jobs_seen`` jobs ``age`` seconds ago."""
    import time

    from hepde.modules.context import FakeContext

    return FakeContext(previous={"glidein_request_summary": ({"jobs": jobs_seen}, time.time() - age)})


def test_an_empty_queue_after_tens_of_thousands_of_jobs_holds_the_cycle():
    block = _block([entry("e1")], pd.DataFrame())
    block.update(JobClustering(ALL).transform(block))
    block.update(GridFigureOfMerit({}).transform(block))
    t = GlideinRequestManifests({"frontend": frontend()})
    t.bind(_with_previous(30000, age=60))
    with pytest.raises(HoldCycleError, match="0 job.* where the last decided cycle saw 30000"):
        t.transform(block)
    # a long outage of plausible input ends the hold; a small previous queue never holds
    t.bind(_with_previous(30000, age=7200))
    assert t.transform(block)["glidein_request_summary"]["jobs"] == 0
    t.bind(_with_previous(500, age=60))
    assert t.transform(block)["glidein_request_summary"]["jobs"] == 0


def test_requests_are_zero_without_entries_and_the_summary_says_why():
    block = _block([], jobs(10))
    block["Factory_Entries"] = pd.DataFrame()
    block.update(JobClustering(ALL).transform(block))
    out = GlideinRequestManifests({"frontend": frontend()}).transform(block)
    assert out["glideclient_manifests"].empty and out["glidein_request_summary"]["entries"] == 0


def test_auto_cpus_use_the_estimated_cpus():
    block = _block([entry("e1", cpus="auto", GLIDEIN_ESTIMATED_CPUS=4)], jobs(40, cpus=4))
    t = _table(block, frontend=frontend(decision_engine={"ramp_up_attenuation": 1}))
    assert t.loc["e1", "IdleCoresNeeded"] == 40  # ceil(40 * 4 / 4)
    assert np.isfinite(t.loc["e1", "FOM"])
