"""The ``de simulate`` loop and its metrics.

Per cycle: the pool's ads → the channel's decision (:class:`~.decide.ChannelDecider`) → the factory acts
on the requests it holds (removals, submissions) → one cycle of time passes (pilots start, fail, run
jobs, end; new jobs arrive; the negotiator matches).  Metrics, per policy:

* ``pilots_wasted`` — pilots submitted that failed (held or never registered) at failing entries;
* ``idle_pilot_hours`` — Σ over cycles of registered unclaimed pilots × cycle length;
* ``demand_unserved_job_hours`` — Σ over cycles of idle jobs × cycle length;
* ``max_removed_per_cycle`` — most pilots the factory removed through ``ReqRemoveExcess`` in one cycle
  (``max_removed_fraction``: the largest fraction of one entry's pilots removed in one cycle);
* ``cycles_with_zero_requests`` — cycles where the factory acted on no request at all (every request
  zero or expired) while jobs were queued or running;
* ``pilots_unusable`` — pilots that registered and never ran a job (ended or still idle at the end);
* ``cycles_to_fill`` — cycles from ``fill_from_cycle`` until ≥ 90 % of the jobs present run (None: never);
* plus ``pilots_submitted``, ``held_cycles`` (cycles the channel held) and ``decide_seconds`` (mean wall
  time of one cycle's decision).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hepde.modules.glideinwms.transforms import credential_id
from hepde_tools.simulate.decide import ChannelDecider
from hepde_tools.simulate.pool import CREDENTIAL, Request, SimPool
from hepde_tools.simulate.scenario import Scenario

METRICS = (
    "pilots_wasted",
    "idle_pilot_hours",
    "demand_unserved_job_hours",
    "max_removed_per_cycle",
    "cycles_with_zero_requests",
    "pilots_unusable",
    "cycles_to_fill",
)


@dataclass
class Series:
    requested_idle: list[int] = field(default_factory=list)
    pilots: list[int] = field(default_factory=list)
    pilots_idle: list[int] = field(default_factory=list)
    jobs_idle: list[int] = field(default_factory=list)
    jobs_running: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


@dataclass
class PolicyResult:
    policy: str
    metrics: dict[str, Any]
    series: Series


def _request(ad: dict[str, Any], cycle: int) -> Request:
    mode = ad.get("ReqRemoveExcess")
    margin = ad.get("ReqRemoveExcessMargin")
    return Request(
        idle=int(ad.get("ReqIdleGlideins") or 0),
        max=int(ad.get("ReqMaxGlideins") or 0),
        remove_excess=str(mode) if isinstance(mode, str) and mode else "NO",
        margin=int(margin) if isinstance(margin, int | float) and margin == margin else 0,
        cycle=cycle,
    )


def run_policy(scenario: Scenario, policy: str, cycles: int | None = None) -> PolicyResult:
    n_cycles = cycles or scenario.cycles
    decider = ChannelDecider(scenario.channel, policy)
    frontend = _frontend_name(decider)
    pool = SimPool(scenario, frontend, credential_id(CREDENTIAL))
    pool.negotiate()
    series = Series()
    h = scenario.cycle_hours
    m: dict[str, Any] = {k: 0 for k in METRICS}
    m.update(max_removed_fraction=0.0, pilots_submitted=0, held_cycles=0, cycles_to_fill=None)
    decide_time = 0.0
    for cycle in range(n_cycles):
        outage: set[str] = {o.what for o in scenario.outages if o.from_cycle <= cycle <= o.to_cycle}
        t = time.perf_counter()
        decision = decider.decide(pool.products(outage), pool.now)
        decide_time += time.perf_counter() - t
        if decision.held:
            m["held_cycles"] += 1
        if decision.published:
            pool.publish(
                {
                    (str(ad["ReqName"]).split("@")[0], str(ad["GroupName"])): _request(ad, cycle)
                    for ad in decision.requests
                }
            )
        live = [
            r for r in pool.requests.values() if cycle - r.cycle <= scenario.pilots.request_lifetime_cycles
        ]
        counts = pool.factory_cycle()
        c = pool.counts()
        if not any(r.idle > 0 or r.max > 0 for r in live) and (c["jobs_idle"] + c["jobs_running"]) > 0:
            m["cycles_with_zero_requests"] += 1
        m["pilots_submitted"] += counts.submitted
        m["max_removed_per_cycle"] = max(m["max_removed_per_cycle"], counts.removed)
        m["max_removed_fraction"] = max(m["max_removed_fraction"], round(counts.removed_fraction, 3))
        series.requested_idle.append(sum(r.idle for r in live))
        series.removed.append(counts.removed)
        pool.advance()
        c = pool.counts()
        series.pilots.append(c["idle"] + c["busy"])
        series.pilots_idle.append(c["idle"])
        series.jobs_idle.append(c["jobs_idle"])
        series.jobs_running.append(c["jobs_running"])
        m["idle_pilot_hours"] += c["idle"] * h
        m["demand_unserved_job_hours"] += c["jobs_idle"] * h
        present = c["jobs_idle"] + c["jobs_running"]
        if (
            m["cycles_to_fill"] is None
            and cycle >= scenario.fill_from_cycle
            and present > 0
            and c["jobs_running"] >= 0.9 * present
        ):
            m["cycles_to_fill"] = cycle + 1 - scenario.fill_from_cycle
    m["pilots_wasted"] = pool.failed_total
    still_unused = sum(1 for p in pool.pilots if p.state == "idle" and p.ran_jobs == 0)
    m["pilots_unusable"] = pool.unused_ended + still_unused
    m["idle_pilot_hours"] = round(m["idle_pilot_hours"], 2)
    m["demand_unserved_job_hours"] = round(m["demand_unserved_job_hours"], 2)
    m["decide_seconds"] = round(decide_time / n_cycles, 4)
    return PolicyResult(policy=policy, metrics=m, series=series)


def _frontend_name(decider: ChannelDecider) -> str:
    from hepde.modules.glideinwms.transforms import GlideinRequestManifests

    for t in decider.transforms:
        if isinstance(t, GlideinRequestManifests):
            return t.frontend.name
    return "frontend"


def simulate(scenario: Scenario, policies: list[str], cycles: int | None = None) -> list[PolicyResult]:
    return [run_policy(scenario, p, cycles) for p in policies]


#: the issue's targets: (scenario, metric, how ours compares with the original's)
TARGETS: dict[str, list[tuple[str, str, float]]] = {
    "black_hole": [("pilots_wasted", "<= fraction of original", 0.2)],
    "demand_drop": [("idle_pilot_hours", "<= fraction of original", 0.5)],
    "collector_outage": [("cycles_with_zero_requests", "== value", 0)],
    "pinned_sites": [("pilots_unusable", "<= fraction of original", 0.2)],
    "steady": [("demand_unserved_job_hours", "<= fraction of original", 1.0)],
    "burst": [("demand_unserved_job_hours", "<= fraction of original", 1.0)],
    "bucket_order": [("demand_unserved_job_hours", "<= fraction of original", 1.0)],
}


def check_targets(scenario: str, results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of ``scenario`` with ours (``default``) and the original's figure and whether it is met."""
    out: list[dict[str, Any]] = []
    if "original" not in results or "default" not in results:
        return out
    for metric, how, value in TARGETS.get(scenario, []):
        ours, orig = results["default"][metric], results["original"][metric]
        if how == "== value":
            met = ours == value
            goal = f"== {value}"
        else:
            met = ours <= orig * value
            goal = f"<= {value:.0%} of original ({orig * value:g})"
        out.append({"metric": metric, "ours": ours, "original": orig, "target": goal, "met": bool(met)})
    return out
