"""Decision policies on top of the glidein request computation (issue 14), each configurable, each recorded.

The 2.0.6 computation (:mod:`hepde.modules.glideinwms.pilot_requests`) says how many pilots each bucket
wants at each entry.  These policies turn that into the requests that are advertised, cycle after cycle,
with the state they need carried in ``glidein_request_summary["policy_state"]`` (the runtime offers the
previous cycle's summary to the transform):

* **merge buckets** — buckets of one group asking one entry make ads of one Name and the collector keeps
  the last one (the original's behaviour: a bucket with no idle jobs zeroes another's request); the
  requests of one (entry, group) are summed instead, the idle request within the group's per-entry
  ``max_idle``;
* **hold steady** — inputs that contradict each other (an empty job queue while this frontend's slots run
  jobs; no slots while jobs run: a collector or schedd that answered with nothing) re-advertise the last
  decided requests instead of scaling down, for at most ``max_seconds``;
* **circuit breaker** — per (entry, group), from the factory's glidefactoryclient ads (held and running
  pilots for this frontend) and the pool (slots the pilots registered): an entry whose pilots are held or
  never register is cut (``open``: no new idle pilots; running ones finish), probed with
  ``probe_pilots`` after ``cooldown_seconds`` (``half_open``) and restored when a probe pilot registers
  (``closed``); its idle request goes to healthy entries of the group that have demand;
* **scale down** — an entry with nothing to request and more than ``keep_idle`` unclaimed slots for
  ``hysteresis_cycles`` cycles gets ``ReqRemoveExcess`` (``WAIT`` or ``IDLE``, never ``ALL``) with
  ``ReqMaxGlideins`` lowered by at most ``max_fraction_per_cycle`` of its pilots and never below the
  pilots that run jobs (the factory removes idle pilots only);

and, inside the computation, site-aware matching (:func:`site_admission`) and lifetime-aware idle capacity.

Every action is a limit name in the request table's ``Limits`` (``BucketsMerged``, ``HoldSteady``,
``CircuitOpen``, ``CircuitHalfOpen``, ``BreakerShare``, ``ScaleDown``) with its numbers in ``Policies``.
``compat_original`` switches all of them off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from hepde.modules.glideinwms.entries import records


class _Knobs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HoldSteady(_Knobs):
    enabled: bool = True
    #: the last decided requests are re-advertised at most this long (then the new inputs are believed)
    max_seconds: float = Field(default=7200.0, ge=0)


class CircuitBreaker(_Knobs):
    enabled: bool = True
    #: an entry opens when at least this many of its pilots failed (held, or running and not registered) ...
    min_failed: int = Field(default=5, ge=1)
    #: ... and they are at least this fraction of its pilots (held + running at the factory)
    failure_fraction: float = Field(default=0.5, gt=0, le=1)
    #: seconds an open entry waits before it is probed
    cooldown_seconds: float = Field(default=1800.0, ge=0)
    #: idle pilots requested from a half-open entry
    probe_pilots: int = Field(default=2, ge=1)
    #: a probe that neither registers nor fails in this time re-opens the entry
    probe_timeout_seconds: float = Field(default=3600.0, gt=0)
    #: give an open entry's idle request to the group's healthy entries with demand
    move_share: bool = True


class ScaleDown(_Knobs):
    enabled: bool = True
    #: ``ReqRemoveExcess`` sent: WAIT (queued pilots) or IDLE (also unclaimed running ones); never ALL
    mode: Literal["WAIT", "IDLE"] = "IDLE"
    #: consecutive cycles an entry must have excess idle pilots before any is released
    hysteresis_cycles: int = Field(default=3, ge=1)
    #: disruption budget: at most this fraction of an entry's pilots released per cycle (rounded down)
    max_fraction_per_cycle: float = Field(default=0.1, gt=0, le=1)
    #: unclaimed slots an entry keeps
    keep_idle: int = Field(default=0, ge=0)


class SiteMatching(_Knobs):
    enabled: bool = True
    #: the job attribute listing the sites a job may run at (comma-separated); empty/absent = anywhere
    job_attribute: str = "DESIRED_Sites"
    #: the entry attribute naming its site (falls back to GLIDEIN_Site)
    entry_attribute: str = "GLIDEIN_CMSSite"


class RequestPolicies(_Knobs):
    """``policies:`` of the glidein-request transform (ignored with ``compat_original``)."""

    enabled: bool = True
    merge_buckets: bool = True
    hold_steady: HoldSteady = HoldSteady()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    scale_down: ScaleDown = ScaleDown()
    site_matching: SiteMatching = SiteMatching()
    #: an idle slot counts as capacity only if its remaining lifetime covers a fitting job's walltime
    lifetime_aware: bool = True
    #: consume ``factoryclient_manifests`` (the factory_client source) as the breaker's held/running counts
    factory_client: bool = False


# -- site-aware matching -----------------------------------------------------------------------------
def site_admission(
    jobs: pd.DataFrame, entries: pd.DataFrame, settings: SiteMatching
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(code per job, admit[code, entry row])``: the sites each job's ``DESIRED_Sites`` admits.

    Code 0 = no constraint (every entry).  One pass over the distinct attribute values (a CMS pool has
    a few hundred), one ``np.isin`` per value; ``None`` when no job names a site."""
    if not settings.enabled or jobs.empty or settings.job_attribute not in jobs.columns:
        return None
    raw = jobs[settings.job_attribute]
    text = raw.where(raw.notna(), "").astype(str).str.strip()
    codes, uniques = pd.factorize(text.to_numpy(dtype=object))
    if not any(u for u in uniques):
        return None
    attr = settings.entry_attribute if settings.entry_attribute in entries.columns else "GLIDEIN_Site"
    sites = (
        entries[attr].astype(str).to_numpy(dtype=object)
        if attr in entries.columns
        else np.full(len(entries), "", dtype=object)
    )
    # one row per distinct value: (value, site) pairs exploded once, then entries of each site set at once
    admit = np.zeros((len(uniques) + 1, len(entries)), dtype=bool)
    admit[0] = True
    pairs = pd.Series(list(uniques), dtype=object).str.split(",").explode().str.strip()
    empty = pd.Series(list(uniques), dtype=object).str.strip() == ""
    admit[np.flatnonzero(empty.to_numpy(dtype=bool)) + 1] = True
    pairs = pairs[pairs.notna() & (pairs != "")]
    entry_rows = pd.Series(np.arange(len(entries)), index=pd.Index(sites, dtype=object))
    joined = pd.DataFrame({"code": pairs.index.to_numpy() + 1, "site": pairs.to_numpy()}).merge(
        entry_rows.rename("row").rename_axis("site").reset_index(), on="site"
    )
    admit[joined["code"].to_numpy(dtype=int), joined["row"].to_numpy(dtype=int)] = True
    return (codes + 1).astype(int), admit


# -- lifetime-aware capacity --------------------------------------------------------------------------
def job_walltime_seconds(jobs: pd.DataFrame) -> np.ndarray:
    """Each job's expected walltime: ``MaxWallTimeMins`` × 60, else ``JOB_EXPECTED_MAX_LIFETIME`` (s), else 0."""
    n = len(jobs)
    out = np.zeros(n)
    if "MaxWallTimeMins" in jobs.columns:
        out = pd.to_numeric(jobs["MaxWallTimeMins"], errors="coerce").to_numpy(dtype=float) * 60.0
    if "JOB_EXPECTED_MAX_LIFETIME" in jobs.columns:
        alt = pd.to_numeric(jobs["JOB_EXPECTED_MAX_LIFETIME"], errors="coerce").to_numpy(dtype=float)
        out = np.where(np.isnan(out), alt, out)
    return np.nan_to_num(out, nan=0.0)


def slot_remaining_seconds(slots: pd.DataFrame, now: float) -> np.ndarray:
    """Each slot's remaining pilot lifetime (``GLIDEIN_ToRetire`` − now; inf when unknown)."""
    for name in ("GLIDEIN_ToRetire", "GLIDEIN_ToDie"):
        if name in slots.columns:
            t = pd.to_numeric(slots[name], errors="coerce").to_numpy(dtype=float)
            return np.where(np.isnan(t), np.inf, t - now)
    return np.full(len(slots), np.inf)


# -- hold steady ----------------------------------------------------------------------------------------
def inconsistent_inputs(jobs: pd.DataFrame, slots: pd.DataFrame, frontend_name: str) -> str | None:
    """Why the job queue and the slots contradict each other, or None."""
    if slots is not None and not slots.empty and (jobs is None or jobs.empty):
        client = slots.get("GLIDECLIENT_NAME")
        state = slots.get("State")
        if client is not None and state is not None:
            mine = client.astype(str).str.startswith(frontend_name + ".").to_numpy(dtype=bool)
            busy = int((mine & (state == "Claimed").to_numpy(dtype=bool)).sum())
            if busy:
                return f"the job queue is empty while {busy} slot(s) of {frontend_name} run jobs"
    if (slots is None or slots.empty) and jobs is not None and not jobs.empty and "JobStatus" in jobs.columns:
        running = int((pd.to_numeric(jobs["JobStatus"], errors="coerce") == 2).sum())
        if running:
            return f"the pool lists no slot while {running} job(s) run"
    return None


def held_products(previous: dict[str, Any], reason: str, now: float) -> dict[str, Any]:
    """The previous cycle's requests again (re-stamped), the table and summary saying why."""
    ads = previous["glideclient_manifests"].copy()
    if "UpdateSequenceNumber" in ads.columns:
        ads["UpdateSequenceNumber"] = int(now)
    gads = previous["glideclientglobal_manifests"].copy()
    if "UpdateSequenceNumber" in gads.columns:
        gads["UpdateSequenceNumber"] = int(now)
    table = previous["glidein_request_table"].copy()
    if not table.empty:
        table["Limits"] = [_add(lim, "HoldSteady") for lim in table["Limits"].fillna("")]
        table["Policies"] = f"HoldSteady: {reason}"
    summary = dict(previous["glidein_request_summary"])
    state = dict(summary.get("policy_state") or {})
    summary.update(computed_at=now, held_steady=reason, policy_state=state)
    return {
        "glideclientglobal_manifests": gads,
        "glideclient_manifests": ads,
        "glidein_request_table": table,
        "glidein_request_summary": summary,
    }


# -- the per-(entry, group) policies -------------------------------------------------------------------
def _add(limits: str, name: str) -> str:
    parts = [p for p in str(limits or "").split(", ") if p]
    if name not in parts:
        parts.append(name)
    return ", ".join(parts)


def _fair(total: int, n: int) -> list[int]:
    base, extra = divmod(max(int(total), 0), n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def factory_counts(
    factory_client: pd.DataFrame | None, frontend_name: str
) -> dict[tuple[str, str], dict[str, int]]:
    """(request name, group) → held / idle / running pilots the factory reports for this frontend."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    if factory_client is None or factory_client.empty:
        return out
    prefix = frontend_name + "."
    for ad in records(factory_client):
        client = str(ad.get("ReqClientName") or "")
        glidein = ad.get("ReqGlidein")
        if not client.startswith(prefix) or not glidein:
            continue
        key = (str(glidein), client[len(prefix) :])
        c = out.setdefault(key, {"held": 0, "idle": 0, "running": 0})
        for name, attr in (
            ("held", "GlideinMonitorStatusHeld"),
            ("idle", "GlideinMonitorStatusIdle"),
            ("running", "GlideinMonitorStatusRunning"),
        ):
            v = pd.to_numeric(pd.Series([ad.get(attr)]), errors="coerce").iloc[0]
            c[name] += 0 if pd.isna(v) else int(v)
    return out


def apply_policies(
    table: pd.DataFrame,
    ads: list[dict[str, Any]],
    settings: RequestPolicies,
    max_idle: dict[str, int],
    factory: dict[tuple[str, str], dict[str, int]],
    previous_state: dict[str, Any] | None,
    now: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply merge / breaker / scale-down to ``ads`` (in place) and the request table; return (table, state).

    ``max_idle``: group → per-entry idle cap; ``factory``: :func:`factory_counts`; ``previous_state``: the
    previous cycle's ``policy_state``."""
    prev = dict(previous_state or {})
    breakers: dict[str, dict[str, Any]] = dict(prev.get("breakers") or {})
    streaks: dict[str, int] = dict(prev.get("excess_streak") or {})
    state: dict[str, Any] = {"breakers": {}, "excess_streak": {}, "last_good_at": now}
    if table.empty:
        state["breakers"] = breakers
        return table, state
    table = table.copy()
    table["Policies"] = ""
    # one decision per (entry, group): the buckets' requests summed
    keys = list(dict.fromkeys(zip(table["Name"], table["Group"], strict=True)))
    rows_of: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(table["Name"], table["Group"], strict=True)):
        rows_of.setdefault(key, []).append(i)
    col = {c: table[c].to_numpy() for c in ("MinIdle", "MaxRun", "IdleJobs", "SlotsTotal", "SlotsRunning")}
    dec: dict[tuple[str, str], dict[str, Any]] = {}
    for key in keys:
        pos = rows_of[key]
        if settings.merge_buckets or len(pos) == 1:
            idle = int(sum(col["MinIdle"][p] for p in pos))
            run = int(sum(col["MaxRun"][p] for p in pos))
        else:  # the collector keeps the last bucket's ad
            idle, run = int(col["MinIdle"][pos[-1]]), int(col["MaxRun"][pos[-1]])
        notes: list[str] = []
        limits: list[str] = []
        cap = max_idle.get(key[1])
        if settings.merge_buckets and len(pos) > 1:
            if cap is not None and idle > cap:
                notes.append(f"BucketsMerged: {len(pos)} buckets, idle {idle} capped at {cap}")
                idle = cap
            else:
                notes.append(f"BucketsMerged: {len(pos)} buckets")
            limits.append("BucketsMerged")
        dec[key] = {
            "idle": idle,
            "max": run,
            "jobs": int(sum(col["IdleJobs"][p] for p in pos)),
            "slots": int(col["SlotsTotal"][pos[0]]),
            # unclaimed slots (whether or not a queued job fits them: this is what a release may take)
            "slots_idle": max(int(col["SlotsTotal"][pos[0]]) - int(col["SlotsRunning"][pos[0]]), 0),
            "remove": None,
            "margin": None,
            "notes": notes,
            "limits": limits,
        }
    # circuit breaker
    cb = settings.circuit_breaker
    cut: dict[str, int] = {}
    if cb.enabled:
        for key, d in dec.items():
            ident = f"{key[0]}|{key[1]}"
            f = factory.get(key)
            st = dict(breakers.get(ident) or {"state": "closed"})
            if f is None and st["state"] == "closed":
                continue
            held = f["held"] if f else 0
            running = f["running"] if f else 0
            lost = max(running - d["slots"], 0)
            failing, seen = held + lost, held + running
            if st["state"] == "closed":
                if failing >= cb.min_failed and failing >= cb.failure_fraction * seen:
                    st = {
                        "state": "open",
                        "since": now,
                        "why": f"held={held}, unregistered={lost} of {seen} pilots",
                    }
            elif st["state"] == "open":
                if now - float(st.get("since", now)) >= cb.cooldown_seconds:
                    st = {
                        "state": "half_open",
                        "since": now,
                        "base_held": held,
                        "base_registered": d["slots"],
                        "why": f"probe after {cb.cooldown_seconds:.0f} s",
                    }
            else:  # half_open
                base_held = min(int(st.get("base_held", held)), held)
                if held > base_held:
                    st = {"state": "open", "since": now, "why": f"probe failed: held {base_held} -> {held}"}
                elif d["slots"] > int(st.get("base_registered", 0)):
                    st = {"state": "closed", "since": now, "why": f"probe registered: {d['slots']} slot(s)"}
                elif now - float(st.get("since", now)) > cb.probe_timeout_seconds:
                    st = {"state": "open", "since": now, "why": "probe timed out"}
                else:
                    st["base_held"] = base_held
            if st["state"] != "closed" or ident in breakers:
                state["breakers"][ident] = st
            if st["state"] == "open":
                cut[key[1]] = cut.get(key[1], 0) + d["idle"]
                d["notes"].append(
                    f"CircuitOpen: {st['why']} (since {now - float(st['since']):.0f} s); idle {d['idle']} -> 0"
                )
                d["limits"].append("CircuitOpen")
                d["idle"], d["max"] = 0, min(d["max"], d["slots"])
            elif st["state"] == "half_open":
                probe = min(cb.probe_pilots, max(d["idle"], cb.probe_pilots))
                d["notes"].append(f"CircuitHalfOpen: {st['why']}; idle {d['idle']} -> {probe}")
                d["limits"].append("CircuitHalfOpen")
                d["idle"], d["max"] = probe, min(d["max"], d["slots"] + probe)
        if cb.move_share:
            for group, amount in cut.items():
                healthy = [
                    k
                    for k, d in dec.items()
                    if k[1] == group
                    and d["jobs"] > 0
                    and state["breakers"].get(f"{k[0]}|{k[1]}", {}).get("state", "closed") == "closed"
                ]
                if not healthy or amount <= 0:
                    continue
                cap = max_idle.get(group)
                for k, extra in zip(healthy, _fair(amount, len(healthy)), strict=True):
                    d = dec[k]
                    new = d["idle"] + extra if cap is None else min(d["idle"] + extra, cap)
                    if new > d["idle"]:
                        d["notes"].append(f"BreakerShare: +{new - d['idle']} from open entries")
                        d["limits"].append("BreakerShare")
                        d["max"] += new - d["idle"]
                        d["idle"] = new
    # safe scale-down
    sd = settings.scale_down
    if sd.enabled:
        for key, d in dec.items():
            ident = f"{key[0]}|{key[1]}"
            f = factory.get(key)
            excess = d["slots_idle"] - sd.keep_idle
            if d["idle"] > 0 or (excess <= 0 and not (f and f["idle"])):
                continue
            excess = max(excess, 0)
            streak = int(streaks.get(ident, 0)) + 1
            state["excess_streak"][ident] = streak
            if streak < sd.hysteresis_cycles:
                d["notes"].append(
                    f"ScaleDown: {excess} idle pilot(s) in excess for {streak}/{sd.hysteresis_cycles} cycle(s)"
                )
                continue
            f = factory.get(key)
            queued = f["idle"] if f else 0
            started = max(d["slots"], f["running"] if f else 0)
            pilots = queued + started
            budget = math.floor(sd.max_fraction_per_cycle * pilots)
            busy = d["slots"] - d["slots_idle"]
            if budget < 1:  # the budget never rounds up: an entry this small keeps its pilots
                d["notes"].append(f"ScaleDown: budget 0 ({sd.max_fraction_per_cycle:g} x {pilots} pilots)")
                continue
            d["remove"] = sd.mode
            if queued:  # pilots still queued at the site go first; the margin keeps the rest of them
                release = min(queued, budget)
                d["margin"], d["max"] = queued - release, pilots
            else:
                release = min(excess, budget)
                d["margin"], d["max"] = 0, max(started - release, busy)
            d["notes"].append(
                f"ScaleDown: release {release} of {excess + queued} excess pilot(s) ({queued} queued) "
                f"(budget {budget} = {sd.max_fraction_per_cycle:g} x {pilots} pilots; {busy} busy kept); "
                f"ReqRemoveExcess {sd.mode}, margin {d['margin']}, ReqMaxGlideins {d['max']}"
            )
            d["limits"].append("ScaleDown")
    # write back: the ads of each (entry, group) and the table rows
    ads_of: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ad in ads:
        ads_of.setdefault((ad["ReqName"], ad["GroupName"]), []).append(ad)
    limits_col = table["Limits"].fillna("").astype(str).tolist()
    policies_col = [""] * len(table)
    for key, d in dec.items():
        # one ad per credential (distinct Names, the request split fairly); buckets repeat a Name
        names = list(dict.fromkeys(ad["Name"] for ad in ads_of.get(key, [])))
        split = dict(
            zip(
                names,
                zip(_fair(d["idle"], len(names) or 1), _fair(d["max"], len(names) or 1), strict=True),
                strict=False,
            )
        )
        for ad in ads_of.get(key, []):
            idle, run = split[ad["Name"]]
            ad["ReqIdleGlideins"], ad["ReqMaxGlideins"] = int(idle), int(run)
            if d["remove"]:
                ad["ReqRemoveExcess"], ad["ReqRemoveExcessMargin"] = d["remove"], int(d["margin"] or 0)
        text = "; ".join(d["notes"])
        for p in rows_of[key]:
            for lim in d["limits"]:
                limits_col[p] = _add(limits_col[p], lim)
            policies_col[p] = text
    table["Limits"] = limits_col
    table["Policies"] = policies_col
    table["ReqIdleGlideins"] = [dec[k]["idle"] for k in zip(table["Name"], table["Group"], strict=True)]
    table["ReqMaxGlideins"] = [dec[k]["max"] for k in zip(table["Name"], table["Group"], strict=True)]
    table["ReqRemoveExcess"] = [
        dec[k]["remove"] or "NO" for k in zip(table["Name"], table["Group"], strict=True)
    ]
    state["released"] = sum(1 for d in dec.values() if d["remove"])
    # breakers keep their state while not closed; a closed one is forgotten after it was reported once
    for ident, st in list(state["breakers"].items()):
        if st.get("state") == "closed" and ident in breakers and breakers[ident].get("state") == "closed":
            del state["breakers"][ident]
    return table, state


def policy_names(table: pd.DataFrame) -> Sequence[str]:
    if table.empty or "Limits" not in table.columns:
        return []
    names = ("BucketsMerged", "HoldSteady", "CircuitOpen", "CircuitHalfOpen", "BreakerShare", "ScaleDown")
    return [n for n in names if table["Limits"].astype(str).str.contains(n).any()]
