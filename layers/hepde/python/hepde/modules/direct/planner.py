"""The direct-submission decision: how many pilots to submit where, this cycle.

Inputs (products):

* ``job_manifests`` — the users' job queue (a bridge snapshot of the user schedds);
* ``pilot_manifests`` + ``pilot_manifests_snapshot`` — the pilots the bridge's schedd holds (every pilot carries
  ``HepdeTarget``, ``HepdeRoute``, ``HepdeActionKey``, ``HepdeNodes``) and when that snapshot was taken;
* ``bridge_actions`` — the submit actions this channel sent and what the bridge reported for them;
* ``hpc_allocations`` — node-hours left per allocation, columns ``allocation`` and ``node_hours_left``
  (only when a batch target is configured; a target's allocation missing from it submits nothing).

What counts as already provided for:

* pilots in the snapshot: idle ones — and running ones that started less than ``startup_grace``
  before the snapshot, which have not claimed their jobs yet — absorb demand; idle + running + held
  count against the limits;
* pilots *in flight*: a submit action whose jobs the snapshot cannot show yet — sent and not reported,
  or reported done / ``unknown`` after the snapshot was taken — counts as idle pilots until a snapshot
  taken after its result (or after it expired) shows the truth.  An action reported ``failed``,
  ``expired`` or ``dead_lettered`` had no effect and does not count.  This is what keeps the next
  cycle from submitting again what the last one asked for.

The decision per route (job routes: :mod:`hepde.modules.direct.routing`), targets in order of
preference:

* ordinary routes: idle jobs' cores not absorbed by pending pilots → ``ceil(cores / pilot cores)``
  pilots (jobs larger than a target's pilot skip that target), times ``ramp_fraction``;
* MPI routes (``mode: "mpi"``): each idle job is submitted *itself* as one batch job of ``nodes``
  nodes (``nodes_attribute``, default ``RequestNodes``) on the first MPI-capable target whose
  ``max_nodes_per_job`` fits — its executable, arguments and input files under the target's MPI
  launcher (:meth:`~hepde.modules.direct.targets.BatchTarget.mpi_description`); the row names the
  ``user_job`` the bridge takes over and mirrors the batch job's state onto;
* Lumberjack routes (``mode: "lumberjack"``): idle jobs grouped, largest first, into batch jobs of
  the target's ``nodes_per_pilot`` nodes (a group's ``RequestCpus`` fit the nodes' cores), each
  group one ``export`` row (its job ids); when an exported group's batch job has left the pilot
  schedd's queue (a snapshot taken after its result says so) while its jobs are still exported, an
  ``import`` row brings the results back;
* jobs an external manager holds (``Managed == "External"``: exported, or taken over for MPI) and
  jobs named by an MPI submit or an export still in flight are not idle demand;
* every pilot is capped by the target's limits — idle/queued, total, per cycle — the channel's
  ``max_submit_per_cycle`` and, for batch targets, the allocation: the node-hours of every pilot
  queued, running or in flight on that allocation (at full walltime) plus the new ones never exceed
  the node-hours left minus the reserve.  Which limit bound is written in ``limited_by``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import Field, model_validator

from hepde.actions import (
    ALREADY_DONE,
    ATTEMPTS_ATTR,
    DONE,
    KEY_ATTR,
    MANAGED_BY_ATTR,
    NO_EFFECT,
    NODES_ATTR,
    ROUTE_ATTR,
    TARGET_ATTR,
    idempotency_key,
)
from hepde.condor.adapter import MANAGED_EXTERNAL
from hepde.modules.base import ModuleParameters, Transform
from hepde.modules.direct.routing import Route, route_jobs
from hepde.modules.direct.targets import BatchTarget, CETarget, Target
from hepde.records import RequestRow, split_limits

IDLE, RUNNING, HELD = 1, 2, 5
UNROUTED = "(unrouted)"

SUBMISSION_COLUMNS = [
    "route",
    "target",
    "kind",
    "schedd",
    "pilots",
    "nodes",
    "cores_per_pilot",
    "walltime_minutes",
    "node_hours",
    "idle_jobs",
    "pending_pilots",
    "limited_by",
    "submit",
    #: what the row asks of the bridge: ``submit`` (pilots, or one MPI job), ``export``, ``import``
    "action",
    #: actions the row sends (0 or 1 for export/import/MPI rows; 1 for a pilot row with pilots)
    "actions",
    #: the bridge's logical name of the user schedd (MPI, export, import rows)
    "user_schedd",
    #: JSON list of the job ids (``ClusterId.ProcId``) an MPI row runs or an export row exports
    "jobs",
    #: the idempotency key of the row's action when the planner derives it (MPI, import rows)
    "key",
    #: the export an import row imports
    "export_key",
    #: where an export row's jobs run inside the allocation (the target's ``lumberjack_spool_dir``)
    "spool_dir",
]
DEMAND_COLUMNS = [
    "route",
    "mpi",
    "idle_jobs",
    "idle_cores",
    "pending_pilots",
    "planned_pilots",
    "unserved_jobs",
    "why_unserved",
]


@dataclass
class _TargetState:
    idle: int = 0
    running: int = 0
    held: int = 0
    inflight: int = 0
    planned: int = 0
    #: (route, nodes) → pilots idle or in flight (capacity waiting for jobs)
    pending: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    node_hours: float = 0.0  # committed: queued + running + in flight + planned, at full walltime

    @property
    def queued(self) -> int:
        return self.idle + self.inflight + self.planned

    @property
    def total(self) -> int:
        return self.idle + self.running + self.held + self.inflight + self.planned


def _int(value: Any, default: int) -> int:
    try:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return default
        return int(value)
    except (TypeError, ValueError):
        return default


def mpi_key(channel: str, user_schedd: str, job: str, qdate: Any, attempts: Any = 0) -> str:
    """The key of the submit that runs one user MPI job: the same in every cycle (a job is
    submitted once, whichever cycle sends it; the bridge absorbs a repeat) until the bridge gives
    the job back (``HepdeAttempts`` + 1), when it may be submitted anew."""
    return idempotency_key(channel, 0, "mpi", user_schedd, job, _int(qdate, 0), _int(attempts, 0))


def import_key(channel: str, export_key: str) -> str:
    """The key of the import of one export: one import per export, whichever cycle sends it."""
    return idempotency_key(channel, 0, "import", export_key)


def _ids(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, str) and value.startswith("["):
        try:
            return [str(v) for v in json.loads(value)]
        except ValueError:
            return []
    return []


def _float(value: Any) -> float | None:
    try:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return float(value)
    except (TypeError, ValueError):
        return None


class DirectSubmissionPlanner(Transform):
    """Pilots to submit per (route, target): see the module docstring."""

    params: Parameters

    class Parameters(ModuleParameters):
        targets: list[Target] = Field(min_length=1)
        routes: list[Route] = Field(min_length=1)
        cores_attribute: str = "RequestCpus"
        nodes_attribute: str = "RequestNodes"
        #: fraction of the missing pilots requested per cycle (the original's 1/3 ramp is 0.34)
        ramp_fraction: float = Field(default=1.0, gt=0, le=1)
        #: pilots submitted per cycle over all targets, at most
        max_submit_per_cycle: int = Field(default=100, ge=0)
        #: seconds of clock difference tolerated between the cloud and the bridge
        settle_margin: float = Field(default=120.0, ge=0)
        #: a pilot that started running less than this long before the snapshot has not claimed its
        #: jobs yet: it still counts as capacity waiting for the idle jobs
        startup_grace: float = Field(default=600.0, ge=0)
        #: the bridge's logical name of the user schedd whose jobs MPI/Lumberjack rows name ...
        user_schedd: str = "users"
        #: ... or one per ``ScheddName`` of the job queue snapshot
        user_schedds: dict[str, str] = Field(default_factory=dict)

        @model_validator(mode="after")
        def _consistent(self) -> DirectSubmissionPlanner.Parameters:
            names = [t.name for t in self.targets]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"target names must be unique: {dupes}")
            rnames = [r.name for r in self.routes]
            if len(set(rnames)) != len(rnames):
                raise ValueError(
                    f"route names must be unique: {sorted({n for n in rnames if rnames.count(n) > 1})}"
                )
            by_name = {t.name: t for t in self.targets}
            for r in self.routes:
                unknown = [t for t in r.targets if t not in by_name]
                if unknown:
                    raise ValueError(f"route '{r.name}' names unknown target(s) {unknown} (targets: {names})")
                if r.mode == "mpi":
                    bad = [
                        t
                        for t in r.targets
                        if not (isinstance(tg := by_name[t], BatchTarget) and tg.mpi_capable)
                    ]
                    if bad:
                        raise ValueError(
                            f"MPI route '{r.name}' may only use MPI-capable batch targets; "
                            f"not MPI-capable: {bad}"
                        )
                elif r.mode == "lumberjack":
                    bad = [
                        t
                        for t in r.targets
                        if not (isinstance(tg := by_name[t], BatchTarget) and tg.lumberjack_spool_dir)
                    ]
                    if bad:
                        raise ValueError(
                            f"Lumberjack route '{r.name}' may only use batch targets with a "
                            f"'lumberjack_spool_dir'; not so: {bad}"
                        )
                else:
                    bad = [t for t in r.targets if not by_name[t].executable]
                    if bad:
                        raise ValueError(
                            f"route '{r.name}' submits pilots: target(s) {bad} need an 'executable' "
                            "(the site's pilot, an absolute path on the bridge host)"
                        )
            return self

    def _user_schedd(self, schedd_name: Any) -> str:
        p = self.params
        return p.user_schedds.get(str(schedd_name or ""), p.user_schedd)

    def __init__(self, parameters: Any = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        consumes: dict[str, Any] = {
            "job_manifests": pd.DataFrame,
            "pilot_manifests": pd.DataFrame,
            "pilot_manifests_snapshot": dict,
            "bridge_actions": pd.DataFrame,
        }
        if any(isinstance(t, BatchTarget) for t in self.params.targets):
            consumes["hpc_allocations"] = pd.DataFrame
        self._consumes = consumes
        self._produces = {"pilot_submissions": pd.DataFrame, "routed_demand": pd.DataFrame}

    # ------------------------------------------------------------------------------------------
    def transform(self, data_block: Any) -> dict[str, pd.DataFrame]:
        p = self.params
        targets = {t.name: t for t in p.targets}
        states = {name: _TargetState() for name in targets}
        snapshot = data_block["pilot_manifests_snapshot"] or {}
        taken_at = _float(snapshot.get("taken_at"))
        self._inventory(data_block["pilot_manifests"], targets, states, taken_at)
        keys_seen = self._keys(data_block["pilot_manifests"])
        busy = self._in_flight(data_block["bridge_actions"], targets, states, keys_seen, taken_at)
        allocations = self._allocations(data_block) if "hpc_allocations" in self._consumes else {}
        committed: dict[str, float] = defaultdict(float)
        for name, t in targets.items():
            if isinstance(t, BatchTarget):
                committed[t.allocation_key] += states[name].node_hours

        jobs = data_block["job_manifests"]
        idle = (
            jobs[jobs["JobStatus"].astype("Int64") == IDLE]
            if not jobs.empty and "JobStatus" in jobs
            else jobs.iloc[0:0]
        )
        if not idle.empty and "Managed" in idle:
            idle = idle[idle["Managed"].astype(object) != MANAGED_EXTERNAL]
        if not idle.empty and busy and {"ClusterId", "ProcId"} <= set(idle.columns):
            ids = [
                f"{_int(c, -1)}.{_int(p, -1)}" for c, p in zip(idle["ClusterId"], idle["ProcId"], strict=True)
            ]
            idle = idle[[i not in busy for i in ids]]
        routes = route_jobs(idle, p.routes) if not idle.empty else pd.Series([], dtype=object)
        budget = {"global": p.max_submit_per_cycle}
        rows: list[dict[str, Any]] = []
        demand: list[dict[str, Any]] = []
        for route in p.routes:
            mine = idle[routes == route.name] if not idle.empty else idle
            if route.mode == "mpi":
                demand.append(
                    self._plan_mpi(route, mine, targets, states, allocations, committed, budget, rows)
                )
            elif route.mode == "lumberjack":
                demand.append(
                    self._plan_lumberjack(route, mine, targets, states, allocations, committed, budget, rows)
                )
            else:
                demand.append(
                    self._plan_cores(route, mine, targets, states, allocations, committed, budget, rows)
                )
        unrouted = int(routes.isna().sum()) if len(routes) else 0
        if unrouted:
            cores = self._cores(idle[routes.isna()])
            demand.append(
                {
                    "route": UNROUTED,
                    "mpi": False,
                    "idle_jobs": unrouted,
                    "idle_cores": int(sum(cores)),
                    "pending_pilots": 0,
                    "planned_pilots": 0,
                    "unserved_jobs": unrouted,
                    "why_unserved": "no route's expression matches",
                }
            )
        rows.extend(self._imports(data_block["bridge_actions"], jobs, targets, keys_seen, taken_at))
        for row in rows:
            row.setdefault("action", "submit")
            row.setdefault("actions", 1 if row["pilots"] > 0 else 0)
            for col in ("user_schedd", "jobs", "key", "export_key", "spool_dir"):
                row.setdefault(col, "")
        submissions = pd.DataFrame(rows, columns=SUBMISSION_COLUMNS)
        for col in (
            "pilots",
            "nodes",
            "cores_per_pilot",
            "walltime_minutes",
            "idle_jobs",
            "pending_pilots",
            "actions",
        ):
            submissions[col] = submissions[col].astype("int64")
        submissions["node_hours"] = submissions["node_hours"].astype("float64")
        return {
            "pilot_submissions": submissions,
            "routed_demand": pd.DataFrame(demand, columns=DEMAND_COLUMNS),
        }

    # -- what is already there ----------------------------------------------------------------------
    @staticmethod
    def _keys(pilots: pd.DataFrame) -> set[str]:
        if pilots.empty or KEY_ATTR not in pilots:
            return set()
        return {str(k) for k in pilots[KEY_ATTR].dropna()}

    def _inventory(
        self,
        pilots: pd.DataFrame,
        targets: dict[str, Target],
        states: dict[str, _TargetState],
        taken_at: float | None,
    ) -> None:
        if pilots.empty or TARGET_ATTR not in pilots:
            return
        for rec in pilots.to_dict(orient="records"):
            name = rec.get(TARGET_ATTR)
            if name not in targets:
                continue
            t, st = targets[name], states[name]
            nodes = _int(rec.get(NODES_ATTR), t.nodes)
            status = _int(rec.get("JobStatus"), 0)
            if status == IDLE:
                st.idle += 1
                st.pending[(str(rec.get(ROUTE_ATTR) or ""), nodes)] += 1
            elif status == RUNNING:
                st.running += 1
                started = _float(rec.get("EnteredCurrentStatus"))
                if (
                    taken_at is not None
                    and started is not None
                    and taken_at - started < self.params.startup_grace
                ):
                    st.pending[(str(rec.get(ROUTE_ATTR) or ""), nodes)] += (
                        1  # starting up: jobs not claimed yet
                    )
            elif status == HELD:
                st.held += 1
            else:
                continue
            if isinstance(t, BatchTarget) and status in (IDLE, RUNNING):
                st.node_hours += t.node_hours(nodes)

    def _in_flight(
        self,
        actions: pd.DataFrame,
        targets: dict[str, Target],
        states: dict[str, _TargetState],
        keys_seen: set[str],
        taken_at: float | None,
    ) -> set[str]:
        """Count the actions in flight against their targets; return the job ids they name."""
        busy: set[str] = set()
        if actions is None or actions.empty:
            return busy
        margin = self.params.settle_margin
        for rec in actions.to_dict(orient="records"):
            if rec.get("kind") not in ("submit", "export") or rec.get("target") not in targets:
                continue
            if rec.get("send_status") == "send_failed":
                continue
            if str(rec.get("key")) in keys_seen:
                # its batch job is in the pilot queue: the jobs it runs are taken whatever the
                # (possibly older) user snapshot still says
                busy.update(_ids(rec.get("job_ids")))
                continue
            status = rec.get("result_status")
            status = (
                None if status is None or (isinstance(status, float) and math.isnan(status)) else str(status)
            )
            if status in NO_EFFECT:
                continue
            settle = _float(rec.get("result_at")) if status else _float(rec.get("expires_at"))
            if settle is not None and taken_at is not None and taken_at > settle + margin:
                continue  # a snapshot taken after the result (or expiry) shows the truth: trust it
            busy.update(_ids(rec.get("job_ids")))
            t, st = targets[str(rec["target"])], states[str(rec["target"])]
            count = _int(rec.get("count"), 0)
            nodes = _int(rec.get("nodes"), t.nodes)
            st.inflight += count
            st.pending[(str(rec.get("route") or ""), nodes)] += count
            if isinstance(t, BatchTarget):
                st.node_hours += count * t.node_hours(nodes)
        return busy

    @staticmethod
    def _allocations(data_block: Any) -> dict[str, float]:
        frame = data_block["hpc_allocations"]
        if frame.empty:
            return {}
        missing = {"allocation", "node_hours_left"} - set(frame.columns)
        if missing:
            raise ValueError(f"hpc_allocations lacks column(s) {sorted(missing)}")
        return {
            str(a): float(h)
            for a, h in zip(frame["allocation"], frame["node_hours_left"], strict=True)
            if _float(h) is not None
        }

    def _cores(self, jobs: pd.DataFrame) -> list[int]:
        col = self.params.cores_attribute
        if jobs.empty:
            return []
        if col not in jobs:
            return [1] * len(jobs)
        return [_int(v, 1) for v in jobs[col]]

    # -- limits --------------------------------------------------------------------------------
    def _room(
        self,
        t: Target,
        st: _TargetState,
        allocations: dict[str, float],
        committed: dict[str, float],
        budget: dict[str, int],
        nodes: int,
    ) -> tuple[int, dict[str, int]]:
        """How many more pilots of ``nodes`` nodes ``t`` may get now, and each limit's room."""
        rooms: dict[str, int] = {
            "max_submit_per_cycle": t.max_submit_per_cycle - st.planned,
            "channel_max_submit_per_cycle": budget["global"],
        }
        if isinstance(t, CETarget):
            rooms["max_idle_pilots"] = t.max_idle_pilots - st.queued
            rooms["max_pilots"] = t.max_pilots - st.total
        else:
            rooms["max_queued_jobs"] = t.max_queued_jobs - st.queued
            rooms["max_jobs"] = t.max_jobs - st.total
            left = allocations.get(t.allocation_key)
            if left is None:
                rooms["allocation_unknown"] = 0
            else:
                spare = left - t.allocation_reserve_node_hours - committed[t.allocation_key]
                rooms["allocation"] = max(0, math.floor(spare / t.node_hours(nodes) + 1e-9))
        return max(0, min(rooms.values())), rooms

    @staticmethod
    def _binding(wanted: int, rooms: dict[str, int]) -> str:
        return ",".join(sorted(k for k, v in rooms.items() if v < wanted))

    def _take(
        self,
        t: Target,
        st: _TargetState,
        n: int,
        nodes: int,
        committed: dict[str, float],
        budget: dict[str, int],
    ) -> None:
        st.planned += n
        budget["global"] -= n
        if isinstance(t, BatchTarget):
            hours = n * t.node_hours(nodes)
            st.node_hours += hours
            committed[t.allocation_key] += hours

    def _row(
        self, route: Route, t: Target, n: int, nodes: int, idle_jobs: int, pending: int, limited: str
    ) -> dict[str, Any]:
        hours = n * t.node_hours(nodes) if isinstance(t, BatchTarget) else n * t.walltime_minutes / 60.0
        cores = t.cores_per_node * nodes if isinstance(t, BatchTarget) else t.cores_per_pilot
        return {
            "route": route.name,
            "target": t.name,
            "kind": t.kind,
            "schedd": t.schedd,
            "pilots": int(n),
            "nodes": int(nodes),
            "cores_per_pilot": int(cores),
            "walltime_minutes": int(t.walltime_minutes),
            "node_hours": float(hours),
            "idle_jobs": int(idle_jobs),
            "pending_pilots": int(pending),
            "limited_by": limited,
            "submit": json.dumps(t.description(nodes), sort_keys=True),
        }

    # -- ordinary routes -----------------------------------------------------------------------------
    def _plan_cores(
        self,
        route: Route,
        jobs: pd.DataFrame,
        targets: dict[str, Target],
        states: dict[str, _TargetState],
        allocations: dict[str, float],
        committed: dict[str, float],
        budget: dict[str, int],
        rows: list[dict[str, Any]],
    ) -> dict[str, Any]:
        remaining = sorted(self._cores(jobs), reverse=True)
        n_jobs, total_cores = len(remaining), sum(remaining)
        pending_total = 0
        # pilots waiting (idle or in flight) on this route's targets absorb demand first
        for name in route.targets:
            t, st = targets[name], states[name]
            for (r, nodes), count in st.pending.items():
                if r != route.name or count <= 0:
                    continue
                pending_total += count
                per = t.cores_per_node * nodes if isinstance(t, BatchTarget) else t.cores_per_pilot
                remaining = _absorb(remaining, count * per, per)
        planned = 0
        reasons: set[str] = set()
        for name in route.targets:
            t, st = targets[name], states[name]
            if not remaining:
                break
            per = t.pilot_cores
            fitting = [c for c in remaining if c <= per]
            pending_here = sum(c for (r, _), c in st.pending.items() if r == route.name)
            if not fitting:
                reasons.add(f"jobs larger than {name}'s {per}-core pilots")
                continue
            wanted = math.ceil(math.ceil(sum(fitting) / per) * self.params.ramp_fraction)
            if not t.enabled:
                rows.append(self._row(route, t, 0, t.nodes, n_jobs, pending_here, "target_disabled"))
                reasons.add(f"{name} disabled")
                continue
            room, rooms = self._room(t, st, allocations, committed, budget, t.nodes)
            n = min(wanted, room)
            limited = self._binding(wanted, rooms)
            rows.append(self._row(route, t, n, t.nodes, n_jobs, pending_here, limited))
            if limited:
                reasons.add(f"{name}: {limited}")
            if n > 0:
                self._take(t, st, n, t.nodes, committed, budget)
                planned += n
                remaining = _absorb(remaining, n * per, per)
        return {
            "route": route.name,
            "mpi": False,
            "idle_jobs": n_jobs,
            "idle_cores": int(total_cores),
            "pending_pilots": pending_total,
            "planned_pilots": planned,
            "unserved_jobs": len(remaining),
            "why_unserved": "; ".join(sorted(reasons)) if remaining else "",
        }

    # -- MPI routes ------------------------------------------------------------------------------------
    def _plan_mpi(
        self,
        route: Route,
        jobs: pd.DataFrame,
        targets: dict[str, Target],
        states: dict[str, _TargetState],
        allocations: dict[str, float],
        committed: dict[str, float],
        budget: dict[str, int],
        rows: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Each idle MPI job is submitted itself, as one batch job of its node count."""
        col = self.params.nodes_attribute
        records = jobs.to_dict(orient="records") if not jobs.empty else []
        records.sort(
            key=lambda r: (-_int(r.get(col), 1), _int(r.get("ClusterId"), 0), _int(r.get("ProcId"), 0))
        )
        n_jobs = len(records)
        binding: dict[tuple[str, int], set[str]] = defaultdict(set)
        reasons: set[str] = set()
        planned, left = 0, 0
        for job in records:
            need = _int(job.get(col), 1)
            placed = False
            for name in route.targets:
                t = targets[name]
                assert isinstance(t, BatchTarget)
                if not t.enabled:
                    binding[(name, need)].add("target_disabled")
                    reasons.add(f"{name} disabled")
                    continue
                if need > t.max_nodes_per_job:
                    reasons.add(f"{need} nodes > {name}'s max_nodes_per_job {t.max_nodes_per_job}")
                    continue
                room, rooms = self._room(t, states[name], allocations, committed, budget, need)
                if room < 1:
                    limits = self._binding(1, rooms)
                    binding[(name, need)].update(limits.split(","))
                    reasons.add(f"{name}: {limits}")
                    continue
                try:
                    desc = t.mpi_description(job, need)
                except ValueError as exc:
                    reasons.add(f"job {_int(job.get('ClusterId'), -1)}.{_int(job.get('ProcId'), -1)}: {exc}")
                    break
                self._take(t, states[name], 1, need, committed, budget)
                ident = f"{_int(job.get('ClusterId'), -1)}.{_int(job.get('ProcId'), -1)}"
                user_schedd = self._user_schedd(job.get("ScheddName"))
                row = self._row(route, t, 1, need, n_jobs, 0, "")
                row.update(
                    {
                        "submit": json.dumps(desc, sort_keys=True),
                        "user_schedd": user_schedd,
                        "jobs": json.dumps([ident]),
                        "key": mpi_key(
                            self.channel_name, user_schedd, ident, job.get("QDate"), job.get(ATTEMPTS_ATTR)
                        ),
                    }
                )
                rows.append(row)
                planned += 1
                placed = True
                break
            if not placed:
                left += 1
        for name, need in sorted(binding):
            t = targets[name]
            rows.append(self._row(route, t, 0, need, n_jobs, 0, ",".join(sorted(binding[(name, need)]))))
        return {
            "route": route.name,
            "mpi": True,
            "idle_jobs": n_jobs,
            "idle_cores": int(sum(self._cores(jobs))),
            "pending_pilots": 0,
            "planned_pilots": planned,
            "unserved_jobs": left,
            "why_unserved": "; ".join(sorted(reasons)) if left else "",
        }

    # -- Lumberjack routes ------------------------------------------------------------------------------
    def _plan_lumberjack(
        self,
        route: Route,
        jobs: pd.DataFrame,
        targets: dict[str, Target],
        states: dict[str, _TargetState],
        allocations: dict[str, float],
        committed: dict[str, float],
        budget: dict[str, int],
        rows: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Idle jobs grouped into exports: each group's cores fit one batch job's nodes."""
        records = jobs.to_dict(orient="records") if not jobs.empty else []
        cores_col = self.params.cores_attribute
        waiting = sorted(
            (
                (
                    _int(r.get(cores_col), 1),
                    str(r.get("ScheddName") or ""),
                    f"{_int(r.get('ClusterId'), -1)}.{_int(r.get('ProcId'), -1)}",
                )
                for r in records
            ),
            key=lambda x: (-x[0], x[1], x[2]),
        )
        n_jobs, total_cores = len(waiting), sum(c for c, _, _ in waiting)
        reasons: set[str] = set()
        planned = 0
        for name in route.targets:
            if not waiting:
                break
            t = targets[name]
            assert isinstance(t, BatchTarget)
            nodes, capacity = t.nodes_per_pilot, t.nodes_per_pilot * t.cores_per_node
            if not t.enabled:
                rows.append(
                    self._row(route, t, 0, nodes, n_jobs, 0, "target_disabled") | {"action": "export"}
                )
                reasons.add(f"{name} disabled")
                continue
            fitting = [w for w in waiting if w[0] <= capacity]
            if not fitting:
                reasons.add(f"jobs larger than {name}'s {capacity}-core batch jobs")
                continue
            # first fit, largest first, one user schedd per group (an export is one schedd's jobs)
            groups: list[tuple[str, int, list[tuple[int, str, str]]]] = []
            for job in fitting:
                for i, (schedd, used, members) in enumerate(groups):
                    if schedd == job[1] and used + job[0] <= capacity and len(members) < MAX_GROUP_JOBS:
                        members.append(job)
                        groups[i] = (schedd, used + job[0], members)
                        break
                else:
                    groups.append((job[1], job[0], [job]))
            wanted = math.ceil(len(groups) * self.params.ramp_fraction)
            room, rooms = self._room(t, states[name], allocations, committed, budget, nodes)
            n = min(wanted, room)
            limited = self._binding(wanted, rooms)
            if limited:
                reasons.add(f"{name}: {limited}")
            if n <= 0:
                rows.append(self._row(route, t, 0, nodes, n_jobs, 0, limited) | {"action": "export"})
                continue
            self._take(t, states[name], n, nodes, committed, budget)
            planned += n
            taken: set[str] = set()
            for schedd, _used, members in groups[:n]:
                ids = sorted((m[2] for m in members), key=lambda i: tuple(int(x) for x in i.split(".")))
                taken.update(ids)
                row = self._row(route, t, 1, nodes, n_jobs, 0, limited)
                row.update(
                    {
                        "submit": json.dumps(t.lumberjack_description(nodes), sort_keys=True),
                        "action": "export",
                        "user_schedd": self._user_schedd(schedd),
                        "jobs": json.dumps(ids),
                        "spool_dir": t.lumberjack_spool_dir,
                    }
                )
                rows.append(row)
            waiting = [w for w in waiting if w[2] not in taken]
        return {
            "route": route.name,
            "mpi": False,
            "idle_jobs": n_jobs,
            "idle_cores": int(total_cores),
            "pending_pilots": 0,
            "planned_pilots": planned,
            "unserved_jobs": len(waiting),
            "why_unserved": "; ".join(sorted(reasons)) if waiting else "",
        }

    def _imports(
        self,
        actions: pd.DataFrame,
        jobs: pd.DataFrame,
        targets: dict[str, Target],
        keys_seen: set[str],
        taken_at: float | None,
    ) -> list[dict[str, Any]]:
        """An import per export whose batch job has ended while its jobs are still exported."""
        if actions is None or actions.empty or jobs.empty or MANAGED_BY_ATTR not in jobs:
            return []
        exported = jobs[jobs[MANAGED_BY_ATTR].notna()]
        if "Managed" in exported:
            exported = exported[exported["Managed"].astype(object) == MANAGED_EXTERNAL]
        if exported.empty:
            return []
        by_key: dict[str, pd.DataFrame] = {str(k): g for k, g in exported.groupby(MANAGED_BY_ATTR)}
        sent = {
            str(k)
            for k, st in zip(actions["key"], actions["result_status"], strict=True)
            if st not in NO_EFFECT
        }
        out = []
        margin = self.params.settle_margin
        for rec in actions.to_dict(orient="records"):
            key = str(rec.get("key"))
            if rec.get("kind") != "export" or rec.get("result_status") not in (DONE, ALREADY_DONE):
                continue
            if key not in by_key or key in keys_seen or rec.get("target") not in targets:
                continue  # nothing exported left, or the batch job is still in the pilot schedd's queue
            result_at = _float(rec.get("result_at"))
            if taken_at is None or result_at is None or taken_at <= result_at + margin:
                continue  # the pilot snapshot is not yet one taken after the batch job was submitted
            ikey = import_key(self.channel_name, key)
            if ikey in sent:
                continue
            group = by_key[key]
            t = targets[str(rec["target"])]
            row = self._row_for_import(str(rec.get("route") or ""), t, len(group))
            row.update(
                {
                    "user_schedd": self._user_schedd(
                        group["ScheddName"].iloc[0] if "ScheddName" in group else ""
                    ),
                    "key": ikey,
                    "export_key": key,
                }
            )
            out.append(row)
        return out

    def _row_for_import(self, route: str, t: Target, n_jobs: int) -> dict[str, Any]:
        return {
            "route": route,
            "target": t.name,
            "kind": t.kind,
            "schedd": t.schedd,
            "pilots": 0,
            "nodes": int(t.nodes),
            "cores_per_pilot": int(t.pilot_cores),
            "walltime_minutes": int(t.walltime_minutes),
            "node_hours": 0.0,
            "idle_jobs": int(n_jobs),
            "pending_pilots": 0,
            "limited_by": "",
            "submit": "",
            "action": "import",
            "actions": 1,
        }


#: jobs one export carries at most (well inside the action's limit)
MAX_GROUP_JOBS = 2000


def _absorb(jobs_desc: list[int], capacity: int, per_pilot: int) -> list[int]:
    """Remove, largest first, the jobs that fit ``capacity`` cores of pilots of ``per_pilot`` cores."""
    out = []
    for cores in jobs_desc:
        if cores <= per_pilot and cores <= capacity:
            capacity -= cores
        else:
            out.append(cores)
    return out


def request_rows(submissions: pd.DataFrame) -> list[RequestRow]:
    """The typed requests of a ``pilot_submissions`` table: one per route and target (submitting or not),
    with the limit that bound it; ``de explain`` and ``de replay`` read these."""
    out = []
    for rec in submissions.to_dict(orient="records"):
        limits = split_limits(rec.get("limited_by"))
        out.append(
            RequestRow(
                entry=f"{rec['route']}/{rec['target']}",
                entry_type=str(rec.get("kind") or ""),
                idle_requested=int(rec.get("pilots") or 0),
                limits_hit=limits,
                why=(
                    f"{int(rec.get('idle_jobs') or 0)} idle job(s), {int(rec.get('pending_pilots') or 0)} "
                    "pilot(s) pending"
                ),
                detail={
                    "nodes": int(rec.get("nodes") or 1),
                    "node_hours": float(rec.get("node_hours") or 0.0),
                    "idle_jobs": int(rec.get("idle_jobs") or 0),
                    "pending_pilots": int(rec.get("pending_pilots") or 0),
                },
            )
        )
    return out
