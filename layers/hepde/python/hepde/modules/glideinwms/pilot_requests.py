"""The glidein request computation (seed-system §4.3.6), vectorised once per cycle over columnar data.

The original ran, for each job bucket, row loops over jobs (``append_running_on``: a slot lookup
per running job, repeated for every bucket), per-entry DataFrame queries over all slots
(``count_glidein_slots``) and per-category × per-entry queries (``count_match_fom_bff``): ≈500 s
per cycle at CMS-pool size (Appendix C).  Here the jobs, slots and entries are turned into numpy
arrays **once per cycle** (entry codes by ``np.unique``, counts by ``np.bincount``, the running-job →
slot lookup by one dictionary pass), and each bucket only does array arithmetic over the entries
that match it.  The numbers are the original's (same formulas, same floating-point order), except
the fixes listed in ``docs/channels-htc.md`` — each is marked ``FIX`` below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hepde.modules.glideinwms.entries import is_true
from hepde.modules.glideinwms.expressions import query_mask
from hepde.modules.glideinwms.fom import INFINITY
from hepde.modules.glideinwms.frontend import DecisionEngineKnobs, GroupSettings
from hepde.records import RequestRow, split_limits

JOB_TYPES = ("IdleAll", "Idle", "OldIdle", "Idle_3600", "VomsIdle", "ProxyIdle", "Running")
SLOT_STATS = ("Total", "Idle", "Running", "Failed", "TotalCores", "IdleCores", "RunningCores")


# -- small helpers ----------------------------------------------------------------------------
#: classad attribute names are case-insensitive (``GLIDECLIENT_Name`` is ``GLIDECLIENT_NAME``); the
#: original looked DataFrame columns up by exact name and missed them (FIX); ``exact_attribute_case``
#: restores that for comparisons with the original
EXACT_CASE = {"value": False}


def _col(frame: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    """A column by classad semantics: exact name, else case-insensitive, else all ``default``."""
    if name in frame.columns:
        return frame[name]
    if EXACT_CASE["value"]:
        return pd.Series([default] * len(frame), index=frame.index, dtype=object)
    lower = name.lower()
    for c in frame.columns:
        if isinstance(c, str) and c.lower() == lower:
            return frame[c]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(_col(frame, name), errors="coerce").to_numpy(dtype=float)


def _eq(series: pd.Series, value: str) -> np.ndarray:
    return (series == value).to_numpy(dtype=bool)


def _ne(series: pd.Series, value: str) -> np.ndarray:
    return (series != value).to_numpy(dtype=bool)


def sanitize_entries(entries: pd.DataFrame) -> pd.DataFrame:
    """``GLIDEIN_CPUS`` "auto" → ``GLIDEIN_ESTIMATED_CPUS`` (NaN → 1), as an int; originals kept."""
    entries = entries.reset_index(drop=True).copy()
    entries["GLIDEIN_CPUS_DE_ORIGINAL"] = _col(entries, "GLIDEIN_CPUS")
    est = _col(entries, "GLIDEIN_ESTIMATED_CPUS")
    entries["GLIDEIN_ESTIMATED_CPUS_DE_ORIGINAL"] = est
    est_num = pd.to_numeric(est, errors="coerce").fillna(1)
    cpus = _col(entries, "GLIDEIN_CPUS", 1)
    auto = cpus.astype(str).str.lower() == "auto"
    values = pd.to_numeric(cpus.where(~auto, est_num), errors="coerce")
    if values.isna().any():
        bad = entries.loc[values.isna(), "Name"].tolist() if "Name" in entries else []
        raise ValueError(f"GLIDEIN_CPUS is neither a number nor 'auto' for entries {bad[:5]}")
    entries["GLIDEIN_CPUS"] = values.astype(float).astype(int)
    entries["GLIDEIN_ESTIMATED_CPUS"] = est_num
    return entries


# -- the exact per-entry formulas (scalar reference versions, used by tests and the vector code) --
def compute_glidein_max_running(prop_idle: float, real: float, idle_slots: float, fraction: float) -> int:
    if prop_idle + real > 0:
        if prop_idle > 0:
            return int((max(prop_idle - idle_slots, 0) + real) * fraction + 1)
        return int(real)
    return 0


@dataclass
class GroupTotals:
    total: int
    idle: int
    fe_total: int
    fe_idle: int
    global_total: int
    global_idle: int


def compute_glidein_min_idle(
    g: GroupSettings,
    entry_total: int,
    entry_idle: int,
    t: GroupTotals,
    effective_idle: float,
    effective_oldidle: float,
    attenuation: float | None = None,
) -> tuple[int, dict[str, str]]:
    """The original ``compute_glidein_min_idle`` (every limit and curb) → (min idle, limits triggered)."""
    limits: dict[str, str] = {}
    attenuation = g.knobs.ramp_up_attenuation if attenuation is None else attenuation
    checks = [
        (entry_total >= g.max_running, "TotalGlideinsPerEntry", entry_total, g.max_running),
        (entry_idle >= g.max_vms_idle, "IdleGlideinsPerEntry", entry_idle, g.max_vms_idle),
        (t.total >= g.total_max_glideins, "TotalGlideinsPerGroup", t.total, g.total_max_glideins),
        (t.idle >= g.total_max_vms_idle, "IdleGlideinsPerGroup", t.idle, g.total_max_vms_idle),
        (
            t.fe_total >= g.fe_total_max_glideins,
            "TotalGlideinsPerFrontend",
            t.fe_total,
            g.fe_total_max_glideins,
        ),
        (t.fe_idle >= g.fe_total_max_vms_idle, "IdleGlideinsPerFrontend", t.fe_idle, g.fe_total_max_vms_idle),
        (
            t.global_total >= g.global_total_max_glideins,
            "TotalGlideinsGlobal",
            t.global_total,
            g.global_total_max_glideins,
        ),
        (
            t.global_idle >= g.global_total_max_vms_idle,
            "IdleGlideinsGlobal",
            t.global_idle,
            g.global_total_max_vms_idle,
        ),
    ]
    if any(c[0] for c in checks):
        limits["ZeroLimitHit"] = "glidein_min_idle set to 0"
        for hit, name, count, limit in checks:
            if hit:
                limits[name] = f"count={count}, limit={limit}"
        return 0, limits
    if effective_idle > 0:
        m = min(
            effective_idle,
            g.max_running - entry_total,
            g.total_max_glideins - t.total,
            g.total_max_vms_idle - t.idle,
            g.fe_total_max_glideins - t.fe_total,
            g.fe_total_max_vms_idle - t.fe_idle,
            g.global_total_max_glideins - t.global_total,
            g.global_total_max_vms_idle - t.global_idle,
        )
        if m < effective_idle:
            limits["MaxLimitHit"] = f"was={effective_idle}, min={m}"
        m = m / attenuation
        m += min(effective_oldidle / attenuation, g.reserve_idle)
        m = min(m, g.max_idle)
        curbs = [
            (entry_idle >= g.curb_vms_idle, "CurbIdleGlideinsPerEntry", entry_idle, g.curb_vms_idle),
            (t.total >= g.total_curb_glideins, "CurbTotalGlideinsPerGroup", t.total, g.total_curb_glideins),
            (t.idle >= g.total_curb_vms_idle, "CurbIdleGlideinsPerGroup", t.idle, g.total_curb_vms_idle),
            (
                t.fe_total >= g.fe_total_curb_glideins,
                "CurbTotalGlideinsPerFrontend",
                t.fe_total,
                g.fe_total_curb_glideins,
            ),
            (
                t.fe_idle >= g.fe_total_curb_vms_idle,
                "CurbIdleGlideinsPerFrontend",
                t.fe_idle,
                g.fe_total_curb_vms_idle,
            ),
            (
                t.global_total >= g.global_total_curb_glideins,
                "CurbTotalGlideinsGlobal",
                t.global_total,
                g.global_total_curb_glideins,
            ),
            (
                t.global_idle >= g.global_total_curb_vms_idle,
                "CurbIdleGlideinsGlobal",
                t.global_idle,
                g.global_total_curb_vms_idle,
            ),
        ]
        for hit, name, count, curb in curbs:
            if hit:
                m /= 2
                limits[name] = f"count={count}, curb={curb}"
        if m < 1:
            m = 1
        return int(m), limits
    limits["NoEffectiveIdle"] = "no glidein is needed"
    return 0, limits


# -- per-cycle preparation ------------------------------------------------------------------------
@dataclass
class PreparedJobs:
    frame: pd.DataFrame
    type_masks: dict[str, np.ndarray]
    req_cpus: np.ndarray
    req_mem: np.ndarray
    req_gpus: np.ndarray
    #: per running job: index into PreparedSlots.running_names, -1 unknown slot, -2 ambiguous
    slot_of_running: np.ndarray
    glidein_id: np.ndarray  # object: "token[-2]@token[-1]" of RemoteHost, None if not parsable
    #: per job: code of the RunningOn of its slot (index into PreparedSlots.running_on_names), -1 none
    running_on_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: per job: code of glidein_id, -1 if None
    glidein_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: per job: code of its (cpus, memory, gpus) request in ``requirements``, -1 if cpus is missing
    req_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    requirements: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    #: masks of the job filters already evaluated this cycle (sub-expressions shared between buckets)
    query_memo: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class PreparedSlots:
    frame: pd.DataFrame
    client: np.ndarray  # GLIDECLIENT_NAME (object)
    entry_code: np.ndarray  # code of "entry@glidein@factory", -1 if incomplete
    entry_names: dict[str, int]
    cred: np.ndarray  # GLIDEIN_CredentialIdentifier as str
    idle_base: np.ndarray
    idle_original: np.ndarray
    running: np.ndarray
    running_p: np.ndarray
    failed: np.ndarray
    nondynamic_cores: np.ndarray
    cpus: np.ndarray
    memory: np.ndarray
    gpus: np.ndarray
    partitionable: np.ndarray
    #: running-job lookup: Name of each running slot → RunningOn string and the slot's client name
    running_on: np.ndarray
    running_client: np.ndarray
    #: per slot: code of its RunningOn string in ``running_on_names`` (-1: not running)
    running_on_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    running_on_names: dict[str, int] = field(default_factory=dict)
    _group_cache: dict[str, np.ndarray] = field(default_factory=dict)
    #: per-code slot counts already computed this cycle, by (where, idle) key
    _stats_cache: dict[Any, dict[str, np.ndarray]] = field(default_factory=dict)

    def group_mask(self, client_name: str) -> np.ndarray:
        if client_name not in self._group_cache:
            self._group_cache[client_name] = np.asarray(self.client == client_name, dtype=bool)
        return self._group_cache[client_name]

    def frontend_mask(self, frontend_name: str) -> np.ndarray:
        key = "fe:" + frontend_name
        if key not in self._group_cache:
            prefix = frontend_name + "."
            self._group_cache[key] = (
                pd.Series(self.client, dtype=object).str.startswith(prefix).fillna(False).to_numpy(dtype=bool)
            )
        return self._group_cache[key]


def prepare_slots(slots: pd.DataFrame, partitionable_min_memory_mb: float = 2500.0) -> PreparedSlots:
    slots = slots.reset_index(drop=True)
    n = len(slots)
    state, activity, slot_type = _col(slots, "State"), _col(slots, "Activity"), _col(slots, "SlotType")
    total_slots, cpus, memory = _num(slots, "TotalSlots"), _num(slots, "Cpus"), _num(slots, "Memory")
    gpus = np.nan_to_num(_num(slots, "GPUs"), nan=0.0)
    partitionable = _eq(slot_type, "Partitionable")
    idle_base = _eq(state, "Unclaimed") & _eq(activity, "Idle")
    with np.errstate(invalid="ignore"):
        idle_original = idle_base & (
            _ne(slot_type, "Partitionable")
            | (total_slots == 1)
            | ((cpus > 0) & (memory > partitionable_min_memory_mb))
        )
        running_p = partitionable & (total_slots > 1)
    running = (_eq(state, "Claimed") & (_eq(activity, "Busy") | _eq(activity, "Retiring"))) | running_p
    failed = _eq(state, "Drained") & _eq(activity, "Retiring")
    nondynamic = _ne(slot_type, "Dynamic")
    total_slot_cpus = _num(slots, "TotalSlotCpus")
    cores = np.where(partitionable, total_slot_cpus, cpus)
    nondynamic_cores = np.where(nondynamic, cores, 0.0)
    # entry key "entry@glidein@factory": the few distinct combinations are found by integer codes and
    # only those are joined as strings (not one string per slot)
    parts = [_col(slots, a) for a in ("GLIDEIN_Entry_Name", "GLIDEIN_Name", "GLIDEIN_FACTORY")]
    missing = np.zeros(n, dtype=bool)
    for part in parts:
        missing |= part.isna().to_numpy(dtype=bool)
    combo, uniq_parts = _combine_codes([p.to_numpy(dtype=object) for p in parts])
    key_of_combo = ["@".join(str(v) for v in vals) for vals in uniq_parts]
    keys = np.array(key_of_combo, dtype=object)[combo] if n else np.zeros(0, dtype=object)
    codes_arr, uniq = pd.factorize(np.where(missing, "", keys)) if n else (np.zeros(0, dtype=int), [])
    entry_names = {str(k): i for i, k in enumerate(uniq) if k}
    codes = np.where(missing, -1, codes_arr)
    # RunningOn of a job = entry@glidein@factory@factory_pool of the running slot it runs on
    run_idx = np.flatnonzero(running)
    schedd_code, schedd_uniq = pd.factorize(
        _col(slots, "GLIDEIN_Schedd").to_numpy(dtype=object)[run_idx], use_na_sentinel=False
    )
    schedd_host = np.array([str(v).split("@")[-1].split(":")[0] for v in schedd_uniq] + [""], dtype=object)
    ro_cols = [
        _col(slots, a).to_numpy(dtype=object)[run_idx]
        for a in ("GLIDEIN_ENTRY_NAME", "GLIDEIN_Name", "GLIDEIN_Factory")
    ]
    ro_cols.append(schedd_host[schedd_code])
    ro_combo, ro_uniq = _combine_codes(ro_cols)
    ro_strings = ["@".join(str(v) for v in vals) for vals in ro_uniq]
    running_on_names: dict[str, int] = {}
    ro_code_of_combo = np.array(
        [running_on_names.setdefault(k, len(running_on_names)) for k in ro_strings], dtype=np.int64
    )
    running_on_code = np.full(n, -1, dtype=np.int64)
    running_on = np.full(n, None, dtype=object)
    if len(run_idx):
        running_on_code[run_idx] = ro_code_of_combo[ro_combo]
        running_on[run_idx] = np.array(ro_strings, dtype=object)[ro_combo]
    return PreparedSlots(
        frame=slots,
        client=_col(slots, "GLIDECLIENT_NAME").to_numpy(dtype=object),
        entry_code=codes.astype(int),
        entry_names=entry_names,
        cred=_col(slots, "GLIDEIN_CredentialIdentifier").astype(str).to_numpy(dtype=object),
        idle_base=idle_base,
        idle_original=idle_original,
        running=running,
        running_p=running_p,
        failed=failed,
        nondynamic_cores=np.nan_to_num(nondynamic_cores),
        cpus=cpus,
        memory=memory,
        gpus=gpus,
        partitionable=partitionable,
        running_on=running_on,
        running_client=_col(slots, "GLIDECLIENT_NAME").to_numpy(dtype=object),
        running_on_code=running_on_code,
        running_on_names=running_on_names,
    )


def _combine_codes(columns: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Per row: the code of its combination of values in ``columns``; and the distinct combinations.

    Each column is factorised (missing values kept as their own code) and the codes are combined
    as one integer, so that the few distinct combinations can be formatted once each."""
    if not columns or not len(columns[0]):
        return np.zeros(0, dtype=np.int64), []
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    uniques = []
    for col in columns:
        c, u = pd.factorize(col, use_na_sentinel=False)
        # re-coded after every column: the combined code stays below rows x distinct values
        _, combined = np.unique(combined * (len(u) + 1) + c, return_inverse=True)
        uniques.append((c, u))
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    tuples = [tuple(u[c[i]] for c, u in uniques) for i in first]
    return inverse.reshape(-1), tuples


def prepare_jobs(jobs: pd.DataFrame, slots: PreparedSlots) -> PreparedJobs:
    jobs = jobs.reset_index(drop=True)
    status = _num(jobs, "JobStatus")
    idle = status == 1
    with np.errstate(invalid="ignore"):
        age = _num(jobs, "ServerTime") - _num(jobs, "EnteredCurrentStatus")
        masks = {
            "IdleAll": idle,
            "Idle": idle,
            "OldIdle": idle & (age > 600),
            "Idle_3600": idle & (age > 3600),
            # pandas semantics of `x != ""`: a missing value is "not empty"
            "VomsIdle": idle & _ne(_col(jobs, "x509UserProxyFirstFQAN"), ""),
            "ProxyIdle": idle & _ne(_col(jobs, "x509userproxy"), ""),
            "Running": status == 2,
        }
    # running job → the running slot it runs on, once per cycle (the original: a query per job per bucket)
    remote = _col(jobs, "RemoteHost").to_numpy(dtype=object)
    slot_pos: dict[str, int] = {}
    names = _col(slots.frame, "Name").to_numpy(dtype=object)
    for i in np.flatnonzero(slots.running):
        nm = names[i]
        slot_pos[nm] = -2 if nm in slot_pos else int(i)
    run_idx = np.flatnonzero(masks["Running"])
    slot_of = np.full(len(jobs), -1, dtype=int)
    gid = np.full(len(jobs), None, dtype=object)
    for i in run_idx:
        rh = remote[i]
        if isinstance(rh, str):
            slot_of[i] = slot_pos.get(rh, -1)
            tokens = rh.split("@")
            if len(tokens) >= 2:
                gid[i] = f"{tokens[-2]}@{tokens[-1]}"
    # integer codes once per cycle, so that each bucket only counts (np.bincount / np.unique of ints)
    running_on_code = np.full(len(jobs), -1, dtype=np.int64)
    known_slot = slot_of >= 0
    running_on_code[known_slot] = slots.running_on_code[slot_of[known_slot]]
    glidein_code = np.full(len(jobs), -1, dtype=np.int64)
    has_gid = np.array([v is not None for v in gid], dtype=bool) if len(jobs) else np.zeros(0, dtype=bool)
    if has_gid.any():
        glidein_code[has_gid] = pd.factorize(gid[has_gid])[0]
    req_cpus = _num(jobs, "RequestCpus")
    req_mem = np.nan_to_num(_num(jobs, "RequestMemory"), nan=0.0)
    req_gpus = np.nan_to_num(_num(jobs, "RequestGPUs"), nan=0.0)
    req_code = np.full(len(jobs), -1, dtype=np.int64)
    has_cpus = ~np.isnan(req_cpus)
    requirements = np.zeros((0, 3))
    if has_cpus.any():
        requirements, inverse = np.unique(
            np.column_stack([req_cpus[has_cpus], req_mem[has_cpus], req_gpus[has_cpus]]),
            axis=0,
            return_inverse=True,
        )
        req_code[has_cpus] = inverse.reshape(-1)
    return PreparedJobs(
        frame=jobs,
        type_masks=masks,
        req_cpus=req_cpus,
        req_mem=req_mem,
        req_gpus=req_gpus,
        slot_of_running=slot_of,
        glidein_id=gid,
        running_on_code=running_on_code,
        glidein_code=glidein_code,
        req_code=req_code,
        requirements=requirements,
    )


# -- per bucket -----------------------------------------------------------------------------------
@dataclass
class MatchCounts:
    direct: np.ndarray
    prop: np.ndarray
    hereonly: np.ndarray
    prop_cpu: np.ndarray
    present: np.ndarray
    none: dict[str, float]


def minimal_requirements(
    jobs: PreparedJobs, job_mask: np.ndarray, walltime: np.ndarray | None = None
) -> np.ndarray:
    """The Pareto-minimal (cpus, memory, gpus[, walltime]) requests of the idle jobs in ``job_mask``: a slot
    fits some idle job iff it fits one of these (``walltime``: seconds per job, lifetime-aware capacity)."""
    idle_jobs = job_mask & jobs.type_masks["Idle"] & ~np.isnan(jobs.req_cpus)
    width = 3 if walltime is None else 4
    if not idle_jobs.any():
        return np.zeros((0, width))
    if walltime is None and len(jobs.req_code) == len(idle_jobs):  # distinct requests found once per cycle
        present = np.bincount(jobs.req_code[idle_jobs], minlength=len(jobs.requirements)) > 0
        req = jobs.requirements[present]
    else:
        columns = [jobs.req_cpus[idle_jobs], jobs.req_mem[idle_jobs], jobs.req_gpus[idle_jobs]]
        if walltime is not None:
            columns.append(walltime[idle_jobs])
        req = np.unique(np.column_stack(columns), axis=0)
    if len(req) > 2000:
        return req
    le = (req[:, None, :] <= req[None, :, :]).all(axis=2)  # le[j, i]: requirement j is no bigger than i
    lt = (req[:, None, :] < req[None, :, :]).any(axis=2)
    return req[~(le & lt).any(axis=0)]


def _usable_idle(
    slots: PreparedSlots,
    where: np.ndarray,
    knobs: DecisionEngineKnobs,
    keep: np.ndarray,
    remaining: np.ndarray | None = None,
) -> np.ndarray:
    """Idle slots among ``where`` that count as available capacity (FIX: no hard-coded Memory > 2500)."""
    if knobs.usable_idle_slots == "original":
        if knobs.partitionable_min_memory_mb == 2500.0:
            return slots.idle_original & where
        with np.errstate(invalid="ignore"):
            rule = (
                ~slots.partitionable
                | (_num(slots.frame, "TotalSlots") == 1)
                | ((slots.cpus > 0) & (slots.memory > knobs.partitionable_min_memory_mb))
            )
        return slots.idle_base & where & rule
    cand = slots.idle_base & where
    idx = np.flatnonzero(cand)
    if not len(idx):
        return cand
    if not len(keep):
        return np.zeros_like(cand)
    c, m, g = slots.cpus[idx], slots.memory[idx], slots.gpus[idx]
    fits = np.zeros(len(idx), dtype=bool)
    left = remaining[idx] if remaining is not None and keep.shape[1] > 3 else None
    with np.errstate(invalid="ignore"):
        for req in keep:
            ok = (c >= req[0]) & (m >= req[1]) & (g >= req[2])
            if left is not None:  # lifetime-aware: the pilot must outlive the job's walltime
                ok &= left >= req[3]
            fits |= ok
        fits &= ~(m < knobs.usable_slot_min_memory_mb)
    out = np.zeros_like(cand)
    out[idx[fits]] = True
    return out


@dataclass
class BucketResult:
    group: GroupSettings
    rows: pd.DataFrame  # one row per advertised entry
    monitors: dict[str, dict[str, Any]]  # per advertised glideid index: GlideinMonitor values
    cred_slots: dict[int, dict[str, dict[str, int | float]]]  # glideid index → cred id → Glideins* counts


class Bucket:
    """One job bucket (= one row of ``job_clusters``) matched against its entries."""

    def __init__(
        self, group: GroupSettings, entries: pd.DataFrame, fom: pd.DataFrame, compat: bool = False
    ) -> None:
        self.g = group
        self.entries = entries.reset_index(drop=True)
        e = self.entries
        pool = _col(e, "CollectorHost").astype(str).to_numpy(dtype=object)
        name = _col(e, "Name").astype(str).to_numpy(dtype=object)
        keys = [(p, n) for p, n in zip(pool, name, strict=True)]
        self.glideids: list[tuple[str, str]] = list(dict.fromkeys(keys))
        gidx = {k: i for i, k in enumerate(self.glideids)}
        self.row_key = np.array([gidx[k] for k in keys], dtype=int)
        self.cpus = e["GLIDEIN_CPUS"].to_numpy(dtype=float) if len(e) else np.array([], dtype=float)
        # FIX: downtime given as the string "True" (as factories advertise it) counts as downtime
        downtime = _col(e, "GLIDEIN_In_Downtime")
        if compat:  # the original's `GLIDEIN_In_Downtime != True`: the string "True" never equals True
            self.down = np.array(
                [v is True or (isinstance(v, np.bool_) and bool(v)) for v in downtime], dtype=bool
            )
        else:
            self.down = np.array([is_true(v) for v in downtime], dtype=bool)
        entry_name = _col(e, "EntryName").to_numpy(dtype=object)
        # first CPU count per Name (the original's `entries.query(Name==...).GLIDEIN_CPUS.iloc[0]`)
        first_cpus: dict[str, float] = {}
        for n, c in zip(name, self.cpus, strict=True):
            first_cpus.setdefault(n, c)
        self.key_first_cpus = np.array([first_cpus[n] for _, n in self.glideids], dtype=float)
        # the FOM rows of each entry in the order of the (sorted) FOM table, as the original's merge
        fom_pos: dict[str, list[int]] = {}
        fom_names = fom["EntryName"].to_numpy(dtype=object) if len(fom) else np.array([], dtype=object)
        self.fom_values = fom["FOM"].to_numpy(dtype=float) if len(fom) else np.array([], dtype=float)
        for i, en in enumerate(fom_names):
            fom_pos.setdefault(en, []).append(i)
        rows_of_name: dict[Any, list[int]] = {}
        for r, en in enumerate(entry_name):
            rows_of_name.setdefault(en, []).append(r)
        # merged (fom row, entry row) pairs in merge order
        pairs = [(fi, r) for fi, en in enumerate(fom_names) for r in rows_of_name.get(en, [])]
        self.pair_fom = np.array([p[0] for p in pairs], dtype=int)
        self.pair_row = np.array([p[1] for p in pairs], dtype=int)
        self.entry_fom = np.array(
            [self.fom_values[fom_pos[en][0]] if en in fom_pos else np.nan for en in entry_name], dtype=float
        )
        self.entry_name = entry_name
        self.name = name
        self.pool = pool

    # count_match_fom_bff for one job type
    def count_match(
        self, req_cpus: np.ndarray, site_codes: np.ndarray | None = None, admit: np.ndarray | None = None
    ) -> MatchCounts:
        """Per entry: idle jobs matched, proportional share, cores.  With ``site_codes``/``admit`` (site-aware
        matching: a code per job, ``admit[code, entry row]``) a job counts only at entries its sites admit."""
        k = len(self.glideids)
        direct, prop, hereonly, prop_cpu = (np.zeros(k) for _ in range(4))
        present = np.zeros(k, dtype=bool)
        none = {"direct": 0.0, "prop": 0.0, "hereonly": 0.0, "prop_cpu": 0.0}
        valid = ~np.isnan(req_cpus)
        req_cpus = req_cpus[valid]
        if not len(req_cpus):
            return MatchCounts(direct, prop, hereonly, prop_cpu, present, none)
        if site_codes is None or admit is None:
            values, counts = np.unique(req_cpus, return_counts=True)
            groups = [(v, 0, c) for v, c in zip(values, counts, strict=True)]
        else:
            pairs, counts = np.unique(
                np.column_stack([req_cpus, site_codes[valid]]), axis=0, return_counts=True
            )
            groups = [(p[0], int(p[1]), c) for p, c in zip(pairs, counts, strict=True)]
        for req, code, n in groups:
            n = int(n)
            req = int(req) if float(req).is_integer() else float(req)
            sel = self.cpus >= req
            if code and admit is not None:
                sel = sel & admit[code]
            keys = np.unique(self.row_key[sel])
            if not len(keys):
                none["direct"] += n
                none["prop"] += n
                none["hereonly"] += n
                none["prop_cpu"] += n * req
                continue
            pair_ok = sel[self.pair_row] if len(self.pair_row) else np.zeros(0, dtype=bool)
            p_rows, p_fom = self.pair_row[pair_ok], self.fom_values[self.pair_fom[pair_ok]]
            if len(keys) == 1:
                key = keys[0]
                direct[key] += n
                prop[key] += n
                prop_cpu[key] = math.ceil((prop_cpu[key] + float(req * n)) / float(self.key_first_cpus[key]))
                present[key] = True
            else:
                up = ~self.down[p_rows] & (p_fom != INFINITY)
                u_rows, u_fom = p_rows[up], p_fom[up]
                if len(u_rows):
                    zero = u_fom == 0
                    if zero.any():
                        # FIX: FOM 0 is the best possible; the original divided by zero and crashed
                        shares = np.where(zero, math.ceil(n / int(zero.sum())), 0)
                    else:
                        inv = 1.0 / u_fom
                        total = inv.sum()
                        shares = np.ceil(inv * n / total).astype(int)
                    u_keys = self.row_key[u_rows]
                    if len(np.unique(u_keys)) == len(u_keys):
                        direct[u_keys] += n
                        prop[u_keys] += shares
                        prop_cpu[u_keys] = np.ceil((prop_cpu[u_keys] + shares * req) / self.cpus[u_rows])
                        present[u_keys] = True
                    else:
                        for key, share, cpus in zip(u_keys, shares, self.cpus[u_rows], strict=True):
                            direct[key] += n
                            prop[key] += share
                            prop_cpu[key] = math.ceil((prop_cpu[key] + share * req) / cpus)
                            present[key] = True
            # entries in downtime or with an infinite FOM still appear (with zero requests)
            present[self.row_key[sel & self.down]] = True
            present[self.row_key[p_rows[p_fom == INFINITY]]] = True
        return MatchCounts(direct, prop, hereonly, prop_cpu, present, none)


def slot_stats(
    slots: PreparedSlots,
    where: np.ndarray,
    idle: np.ndarray,
    codes: np.ndarray,
    cache_key: Any = None,
) -> dict[str, np.ndarray]:
    """Per-entry slot counts (``count_glidein_slots``) for the entry codes ``codes`` (-1: none).

    ``cache_key`` names (``where``, ``idle``): the per-code counts are then computed once per cycle
    for all buckets with the same key (the buckets of one group share their slots)."""
    per_code = slots._stats_cache.get(cache_key) if cache_key is not None else None
    if per_code is None:
        per_code = _slot_counts(slots, where, idle)
        if cache_key is not None:
            slots._stats_cache[cache_key] = per_code
    out = {}
    for stat, arr in per_code.items():
        vals = np.where(codes >= 0, arr[np.clip(codes, 0, None)], 0)
        out[stat] = vals.astype(float) if stat.endswith("Cores") else vals.astype(int)
    return out


def _slot_counts(slots: PreparedSlots, where: np.ndarray, idle: np.ndarray) -> dict[str, np.ndarray]:
    size = max(len(slots.entry_names), 1)
    pos = np.flatnonzero(where & (slots.entry_code >= 0))
    ec = slots.entry_code[pos]

    def count(mask: np.ndarray | None, weights: np.ndarray | None = None) -> np.ndarray:
        sel = np.ones(len(pos), dtype=bool) if mask is None else mask[pos]
        return np.bincount(ec[sel], weights=None if weights is None else weights[pos][sel], minlength=size)

    per_code = {
        "Total": count(None),
        "Idle": count(idle),
        "Running": count(slots.running) - count(slots.running_p),
        "Failed": count(slots.failed),
        "TotalCores": count(None, slots.nondynamic_cores),
        "IdleCores": count(idle, np.nan_to_num(slots.cpus)),
        "RunningCores": count(slots.running & ~slots.partitionable, np.nan_to_num(slots.cpus)),
    }
    return per_code


def compute_bucket(
    group: GroupSettings,
    job_filter: str,
    matched_entries: pd.DataFrame,
    fom: pd.DataFrame,
    jobs: PreparedJobs,
    slots: PreparedSlots,
    credential_ids: Sequence[str] = (),
    compat: bool = False,
    sites: tuple[np.ndarray, np.ndarray] | None = None,
    lifetime: tuple[np.ndarray, np.ndarray] | None = None,
) -> BucketResult:
    """Everything the original's ``generate_glidein_requests_one`` computed for one bucket, but the ads.

    ``sites``: (code per job, admit[code, row of the cycle's entries]) — site-aware matching;
    ``lifetime``: (walltime per job, remaining lifetime per slot), seconds — lifetime-aware idle capacity."""
    g, knobs = group, group.knobs
    bucket = Bucket(group, matched_entries, fom, compat)
    job_mask = (
        query_mask(jobs.frame, job_filter, jobs.query_memo) if len(jobs.frame) else np.zeros(0, dtype=bool)
    )

    group_where = slots.group_mask(g.client_name)
    fe_where = slots.frontend_mask(g.frontend_name)
    all_where = np.ones(len(slots.frame), dtype=bool)
    keep = (
        minimal_requirements(jobs, job_mask, None if lifetime is None else lifetime[0])
        if knobs.usable_idle_slots == "fits_queued_jobs"
        else np.zeros((0, 3))
    )
    idle_all = _usable_idle(slots, all_where, knobs, keep, None if lifetime is None else lifetime[1])
    idle_group = idle_all & group_where
    totals = GroupTotals(
        total=int(group_where.sum()),
        idle=int(idle_group.sum()),
        fe_total=int(fe_where.sum()),
        fe_idle=int((idle_all & fe_where).sum()),
        global_total=len(slots.frame),
        global_idle=int(idle_all.sum()),
    )
    codes = np.array([slots.entry_names.get(n, -1) for _, n in bucket.glideids], dtype=int)
    # the idle slots of a group are the same for every bucket with the same rule and queued requirements;
    # with lifetime-aware capacity they are not cached
    idle_key: tuple[Any, ...] | None = (
        (
            g.client_name,
            knobs.usable_idle_slots,
            knobs.partitionable_min_memory_mb,
            knobs.usable_slot_min_memory_mb,
            keep.shape,
            keep.tobytes() if knobs.usable_idle_slots == "fits_queued_jobs" else b"",
        )
        if lifetime is None
        else None
    )
    stats = slot_stats(slots, group_where, idle_group, codes, cache_key=idle_key)

    # jobs running here: RunningOn (entry@glidein@factory@pool of a running slot of this group)
    run = job_mask & jobs.type_masks["Running"]
    ridx = np.flatnonzero(run)
    real_jobs = np.zeros(len(bucket.glideids), dtype=int)
    real_glideins = np.zeros(len(bucket.glideids), dtype=int)
    if len(ridx) and len(jobs.running_on_code) == len(job_mask):
        s = jobs.slot_of_running[ridx]
        ok = s >= 0
        ok[ok] = group_where[s[ok]]
        if ok.any():
            # per RunningOn code: running jobs, distinct glideins (+ jobs of unknown glidein)
            n_ro = max(len(slots.running_on_names), 1)
            ro = jobs.running_on_code[ridx[ok]]
            gid = jobs.glidein_code[ridx[ok]]
            job_counts = np.bincount(ro, minlength=n_ro)
            known = gid >= 0
            pairs = np.unique(ro[known] * (int(gid.max()) + 1) + gid[known]) if known.any() else ro[:0]
            distinct = (
                np.bincount(pairs // (int(gid.max()) + 1), minlength=n_ro) if len(pairs) else 0 * job_counts
            )
            unknown = np.bincount(ro[~known], minlength=n_ro)
            for i, (pool, name) in enumerate(bucket.glideids):
                c = slots.running_on_names.get(f"{name}@{pool.split(':')[0]}", -1)
                if c >= 0:
                    real_jobs[i] = int(job_counts[c])
                    real_glideins[i] = int(distinct[c]) + int(unknown[c])

    if sites is None:
        counts = {t: bucket.count_match(jobs.req_cpus[job_mask & jobs.type_masks[t]]) for t in JOB_TYPES}
    else:
        admit = sites[1][:, matched_entries.index.to_numpy(dtype=int)]
        counts = {}
        for t in JOB_TYPES:
            sel = job_mask & jobs.type_masks[t]
            counts[t] = bucket.count_match(jobs.req_cpus[sel], sites[0][sel], admit)
    idle = counts["Idle"]
    advertise = idle.present | (stats["Total"] > 0)
    # first entry row of each glideid (row_key is dense 0..k-1 in order of first appearance)
    first_row = np.zeros(len(bucket.glideids), dtype=np.int64)
    if len(bucket.row_key):
        uniq_keys, first_idx = np.unique(bucket.row_key, return_index=True)
        first_row[uniq_keys] = first_idx
    rows = []
    monitors: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(advertise).tolist():
        pool, name = bucket.glideids[i]
        s_idle, s_total = int(stats["Idle"][i]), int(stats["Total"][i])
        prop_idle = idle.prop[i]
        effective_idle = max(prop_idle - s_idle, 0)
        prop_mc_idle = idle.prop_cpu[i]
        if prop_mc_idle < g.min_running:
            prop_mc_idle = g.min_running
        eff_idle_mc = max(prop_mc_idle - s_idle, 0)
        eff_old_mc = max(counts["OldIdle"].prop_cpu[i] - s_idle, 0)
        min_idle, limits = compute_glidein_min_idle(g, s_total, s_idle, totals, eff_idle_mc, eff_old_mc)
        if knobs.max_new_idle_per_entry is not None and min_idle > knobs.max_new_idle_per_entry:
            limits["EntryCycleCap"] = f"was={min_idle}, cap={knobs.max_new_idle_per_entry}"
            min_idle = knobs.max_new_idle_per_entry
        max_run = compute_glidein_max_running(prop_mc_idle, real_glideins[i], s_idle, g.fraction_running)
        row_pos = int(first_row[i])
        fom = bucket.entry_fom[row_pos]
        rows.append(
            {
                "Name": name,
                "CollectorHost": pool,
                "EntryName": bucket.entry_name[row_pos],
                "FOM": fom,
                "IdleJobs": int(idle.direct[i]),
                "PropIdle": int(prop_idle),
                "IdleCoresNeeded": int(prop_mc_idle),
                "EffectiveIdle": int(effective_idle),
                "RunningHere": int(real_jobs[i]),
                "SlotsTotal": s_total,
                "SlotsIdle": s_idle,
                "SlotsRunning": int(stats["Running"][i]),
                "MinIdle": int(min_idle),
                "MaxRun": int(max_run),
                "Limits": ", ".join(k for k in limits if k != "ZeroLimitHit"),
                "LimitDetails": limits,
                "InDowntime": bool(bucket.down[row_pos]),
                "glideid": int(i),
                "_row": row_pos,
            }
        )
        mon: dict[str, Any] = {t: int(counts[t].direct[i]) for t in JOB_TYPES}
        mon["RunningHere"] = int(real_jobs[i])
        for st in SLOT_STATS:
            v = stats[st][i]
            mon[f"Glideins{st}"] = int(v) if float(v).is_integer() else float(v)
        monitors[name + "@" + pool] = mon
    cred_slots: dict[int, dict[str, dict[str, int | float]]] = {}
    if credential_ids and rows:
        adv_codes = np.array([codes[r["glideid"]] for r in rows], dtype=int)
        for cid in credential_ids:
            key = None if idle_key is None else (*idle_key, "cred", str(cid))
            if key is not None and key in slots._stats_cache:
                where = idle_cred = group_where  # not used: the counts of this key are cached
            else:
                where = group_where & (slots.cred == str(cid))
                idle_cred = idle_group & where
            cs = slot_stats(slots, where, idle_cred, adv_codes, cache_key=key)
            for j, r in enumerate(rows):
                cred_slots.setdefault(r["glideid"], {})[cid] = {
                    f"Glideins{st}": (int(cs[st][j]) if float(cs[st][j]).is_integer() else float(cs[st][j]))
                    for st in SLOT_STATS
                }
    frame = pd.DataFrame(rows)
    return BucketResult(group=g, rows=frame, monitors=monitors, cred_slots=cred_slots)


def apply_group_cycle_cap(table: pd.DataFrame, caps: dict[str, int | None]) -> pd.DataFrame:
    """Per-cycle cap of new idle glideins per frontend group: best FOM first (new, optional)."""
    if table.empty:
        return table
    table = table.copy()
    for group, cap in caps.items():
        if cap is None:
            continue
        # only the request the factory ends up with counts: the last bucket's for each entry of the group
        effective = table.loc[table["Group"] == group].drop_duplicates(subset=["Name"], keep="last")
        order = effective.sort_values(["FOM", "Name"], na_position="last").index
        left = cap
        for idx in order:
            want = int(table.at[idx, "MinIdle"])
            give = min(want, left)
            if give < want:
                table.at[idx, "MinIdle"] = give
                lim = table.at[idx, "Limits"]
                table.at[idx, "Limits"] = (lim + ", " if lim else "") + "GroupCycleCap"
            left -= give
    return table


# -- the typed request rows (de explain, de replay, the API) ------------------------------------------------
def request_row(rec: dict[str, Any]) -> RequestRow:
    """One published ``glideclient`` request (a row of ``GlideinWMSManifests``' record: entry, type, group,
    FOM, idle jobs matched, min_idle, max_run, ``ReqIdleGlideins``/``ReqMaxGlideins``, limits hit, why) as
    a :class:`~hepde.records.RequestRow`."""
    return RequestRow(
        entry=str(rec.get("entry")),
        entry_type=str(rec.get("type") or ""),
        group=str(rec.get("group") or ""),
        idle_requested=int(rec.get("ReqIdleGlideins") or 0),
        max_requested=int(rec.get("ReqMaxGlideins") or 0),
        limits_hit=split_limits(rec.get("limits_hit")),
        why=str(rec.get("why") or ""),
        detail={k: rec.get(k) for k in ("FOM", "idle_jobs_matched", "min_idle", "max_run")},
        remove_excess=rec.get("ReqRemoveExcess") if isinstance(rec.get("ReqRemoveExcess"), str) else None,
        policies=str(rec.get("policies") or ""),
    )
