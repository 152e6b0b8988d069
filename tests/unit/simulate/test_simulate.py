"""``de simulate``: scenarios, the simulated pool and factory, the channel's real decisions, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepde_tools.cli.main import main
from hepde_tools.simulate.decide import ChannelDecider, SimulationError
from hepde_tools.simulate.pool import BUSY, HELD, IDLE, QUEUED, Request, SimPool
from hepde_tools.simulate.run import METRICS, check_targets, run_policy
from hepde_tools.simulate.scenario import BUNDLED, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _project_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # scenarios name channels/htc_pilot.jsonnet relative to the project root


def test_every_bundled_scenario_loads_and_names_itself():
    for name in BUNDLED:
        sc = load_scenario(name)
        assert sc.name == name and sc.description and sc.entries and sc.jobs


def test_a_bad_scenario_file_is_one_line_naming_the_key(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('description = "x"\n[[entries]]\nname = "e"\nsite = "T2_US_X"\ncpus = 0\n[[jobs]]\n')
    with pytest.raises(
        ScenarioError, match=r"mine.toml: entries.0.cpus: Input should be greater than or equal to 1"
    ):
        load_scenario(str(bad))
    (tmp_path / "broken.toml").write_text("description = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(str(tmp_path / "broken.toml"))
    with pytest.raises(ScenarioError, match="not a bundled scenario"):
        load_scenario("no_such_scenario")


def _pool(name: str = "black_hole") -> SimPool:
    return SimPool(load_scenario(name), "hepcloud-de", "cred")


def test_pilot_life_submitted_registered_running_and_held_at_a_black_hole():
    pool = _pool()
    pool.publish(
        {
            ("CMSHTPC_T2_US_Purdue_ce1", "cms_main"): Request(5, 10, "NO", 0, 0),
            ("CMSHTPC_T2_US_Wisconsin_ce1", "cms_main"): Request(5, 10, "NO", 0, 0),
        }
    )
    counts = pool.factory_cycle()
    assert counts.submitted == 10
    assert pool.counts()[QUEUED] == 10
    pool.advance()
    c = pool.counts()
    assert c[HELD] == 5  # every Purdue pilot failed, the factory sees them held
    assert c[BUSY] == 5 and c[IDLE] == 0  # the Wisconsin ones registered and took queued jobs
    assert pool.failed_total == 5
    slots = pool.slot_ads()
    assert len(slots) == 5 and set(slots["GLIDEIN_Entry_Name"]) == {"CMSHTPC_T2_US_Wisconsin_ce1"}
    fc = pool.factory_client_ads().set_index("ReqEntryName")
    assert fc.loc["CMSHTPC_T2_US_Purdue_ce1", "GlideinMonitorStatusHeld"] == 5


def test_remove_excess_idle_removes_unclaimed_pilots_never_busy_ones():
    pool = _pool("demand_drop")
    key = ("CMSHTPC_T2_US_Nebraska_ce1", "cms_main")
    pool.publish({key: Request(300, 300, "NO", 0, 0)})
    pool.factory_cycle()
    pool.advance()  # 100 pilots (max_submit_per_cycle) registered; 200 initial jobs + arrivals take them
    for job in pool.jobs:
        if job.status == 1:
            job.status = 4  # the queue empties
    busy_before = pool.counts()[BUSY]
    for j in pool.jobs[:10]:  # free ten pilots
        if j.status == 2:
            p = pool.pilots[j.pilot]
            p.state, p.job, j.status = IDLE, -1, 4
    busy = pool.counts()[BUSY]
    assert busy == busy_before - 10 and pool.counts()[IDLE] == 10
    pool.publish({key: Request(0, busy, "IDLE", 5, 1)})
    counts = pool.factory_cycle()
    assert counts.removed == 5  # ten idle above ReqMaxGlideins, margin 5 kept
    assert pool.counts()[BUSY] == busy_before - 10


def test_the_channels_real_decision_runs_on_the_pools_ads():
    sc = load_scenario("steady")
    decider = ChannelDecider(sc.channel, "default")
    pool = SimPool(sc, "hepcloud-de", "cred")
    decision = decider.decide(pool.products(set()), pool.now)
    assert decision.published and not decision.held
    assert decision.summary["idle_jobs"] == 150
    reqs = {r["ReqName"].split("@")[0]: r["ReqIdleGlideins"] for r in decision.requests}
    assert set(reqs) == {e.name for e in sc.entries} and all(v > 0 for v in reqs.values())


def test_unknown_policy_and_missing_channel_are_clear_errors(tmp_path):
    with pytest.raises(SimulationError, match="unknown policy 'best'"):
        ChannelDecider("channels/htc_pilot.jsonnet", "best")
    with pytest.raises(SimulationError, match="channel file 'nope.jsonnet' not found"):
        ChannelDecider("nope.jsonnet", "default")


def test_run_policy_reports_every_metric():
    result = run_policy(load_scenario("steady"), "original", cycles=4)
    assert set(METRICS) <= set(result.metrics)
    assert len(result.series.pilots) == 4
    assert result.metrics["demand_unserved_job_hours"] > 0


def test_targets_compare_ours_with_the_original():
    got = check_targets("black_hole", {"original": {"pilots_wasted": 100}, "default": {"pilots_wasted": 15}})
    assert got == [
        {
            "metric": "pilots_wasted",
            "ours": 15,
            "original": 100,
            "target": "<= 20% of original (20)",
            "met": True,
        }
    ]


def test_cli_json_and_plot(tmp_path, capsys):
    png = tmp_path / "steady.png"
    assert main(["simulate", "steady", "--cycles", "3", "--json", "--plot", str(png)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"original", "default"}
    assert set(METRICS) <= set(figures["default"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_arguments_are_one_line(capsys):
    assert main(["simulate", "steady", "--policies", "best"]) == 2
    assert "unknown ['best']" in capsys.readouterr().err
    assert main(["simulate", "steady", "--plot", "out.txt"]) == 2
    assert "expected a .png" in capsys.readouterr().err


def test_lifetime_aware_capacity_ignores_idle_pilots_about_to_end(tmp_path):
    """Idle pilots with 30 minutes left cannot run 4-hour jobs: the original counts them as capacity and asks
    for fewer pilots; the default policy (lifetime_aware) does not count them."""
    from hepde_tools.simulate.pool import Pilot

    scenario = tmp_path / "ending.toml"
    scenario.write_text(
        'description = "idle pilots near their end"\n'
        '[[entries]]\nname = "CMSHTPC_T2_US_Nebraska_ce1"\nsite = "T2_US_Nebraska"\n'
        '[[jobs]]\njob_type = "Merge"\nwalltime_hours = 4\ninitial = 40\n'
    )
    sc = load_scenario(str(scenario))
    asked = {}
    for policy in ("original", "default"):
        pool = SimPool(sc, "hepcloud-de", "cred")
        for i in range(20):
            pool.pilots.append(
                Pilot(
                    pid=i,
                    entry="CMSHTPC_T2_US_Nebraska_ce1",
                    group="cms_main",
                    submitted=0,
                    state=IDLE,
                    end_time=pool.now + 1800.0,
                    idle_since=pool.now,
                )
            )
        pool.negotiate()
        assert pool.counts()[IDLE] == 20  # no job fits the remaining lifetime
        decision = ChannelDecider(sc.channel, policy).decide(pool.products(set()), pool.now)
        t = decision.table
        row = t[t["IdleJobs"] > 0].iloc[0]
        asked[policy] = (int(row["SlotsIdle"]), int(row["MinIdle"]))
    assert asked["original"][0] == 20 and asked["default"][0] == 0
    assert asked["default"][1] > asked["original"][1]


def test_an_expired_request_removes_nothing():
    pool = _pool("demand_drop")
    key = ("CMSHTPC_T2_US_Nebraska_ce1", "cms_main")
    pool.publish({key: Request(20, 20, "NO", 0, 0)})
    pool.factory_cycle()
    pool.advance()
    for job in pool.jobs:
        job.status = 4
    for p in pool.pilots:
        p.state, p.job = IDLE, -1
    pool.publish({key: Request(0, 15, "IDLE", 0, 1)})
    pool.cycle = 10  # long after: the ad expired
    assert pool.factory_cycle().removed == 0
