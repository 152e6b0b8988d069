"""The bridge's executor: check before acting, then act on HTCondor through the one adapter.

What an action may do (:meth:`Executor.check_possible`: known schedd/collector, allowed executable,
universe and ad type), the **check before act** against the schedd (jobs stamped with the action's
key, :meth:`Executor.find`), the one side-effecting call (submit, act, advertise, invalidate, the HPC
modes through :class:`~hepde_bridge.hpc.HpcBridge`) and the ledger's ``mark_tried`` just before it.
Everything goes through :mod:`hepde.condor` (``Schedd``/``Collector``); the order of durable steps is
the receive loop's (:mod:`hepde_bridge.service`), documented in ``docs/bridge.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from hepde.actions import (
    ALREADY_DONE,
    CHANNEL_ATTR,
    DONE,
    EXPIRED,
    KEY_ATTR,
    ROUTE_ATTR,
    TARGET_ATTR,
    ActionResult,
    ActOnPilots,
    AdvertiseAds,
    AnyAction,
    ExportJobs,
    ImportResults,
    InvalidateAds,
    SubmitPilots,
)
from hepde.condor.adapter import (
    COMPLETED,
    HELD,
    IDLE,
    REMOVED,
    RUNNING,
    Collector,
    CondorError,
    CondorUnavailableError,
    Schedd,
    expr_literal,
    invalidation_ad,
)
from hepde.errors import DEError
from hepde_bridge.health import Metrics
from hepde_bridge.hpc import HpcBridge, HpcImpossibleError
from hepde_bridge.ledger import Entry, Ledger

log = logging.getLogger("de-bridge")

__all__ = ["Executor", "HpcImpossibleError", "ImpossibleActionError"]


class ImpossibleActionError(DEError):
    """A well-formed action this bridge must not or cannot carry out (dead-lettered, never retried)."""


class Executor:
    """Carries actions out on the schedds and collectors this bridge is configured with."""

    def __init__(
        self,
        config: Any,
        *,
        schedds: Mapping[str, Schedd],
        collectors: Mapping[str, Collector],
        ledger: Ledger,
        metrics: Metrics,
        clock: Callable[[], float],
        stop_event: threading.Event,
        created: dict[str, float],
    ) -> None:
        self.config = config
        self.schedds = dict(schedds)
        self.collectors = dict(collectors)
        self.ledger = ledger
        self.metrics = metrics
        self.clock = clock
        self.stop_event = stop_event
        self.name = config.bridge
        #: when each action in hand was created (the reporter's latency figure)
        self.created = created
        #: the HPC modes: Lumberjack exports/imports, MPI user jobs taken over and mirrored
        self.hpc = HpcBridge(
            self.schedds,
            {n: c.export_dir for n, c in config.schedds.items() if getattr(c, "export_dir", "")},
            stamp=lambda desc, action: self.stamp(action, desc),
            max_attempts=config.retry.max_attempts,
            stopping=self.stop_event.is_set,
        )

    def result(self, action: AnyAction, status: str, detail: str, **fields: Any) -> ActionResult:
        base = {
            "key": action.key,
            "kind": action.kind,
            "channel": action.channel,
            "generation": action.generation,
            "created_at": action.created_at,
            "status": status,
            "detail": detail,
            "bridge": self.name,
            "at": self.clock(),
        }
        if isinstance(action, SubmitPilots | ExportJobs | ImportResults):
            base.update(schedd=action.schedd, target=action.target, route=action.route)
        elif isinstance(action, ActOnPilots):
            base.update(schedd=action.schedd)
        base.update(fields)
        return ActionResult(**base)

    # -- what may be done --------------------------------------------------------------------------
    def check_possible(self, action: AnyAction) -> None:
        if isinstance(action, ExportJobs | ImportResults):
            self.hpc.check_possible(action)
        if isinstance(action, ExportJobs):
            conf = self.config.schedds[action.pool_schedd]
            lower = {k.lower(): v for k, v in action.description.items()}
            universe = lower.get("universe", "vanilla").strip().lower()
            exe = lower.get("executable", "")
            if universe not in conf.universes or exe not in conf.executables:
                raise ImpossibleActionError(
                    f"the pool's universe {universe!r} / executable {exe!r} is not allowed on schedd "
                    f"{action.pool_schedd!r} (allowed: {conf.universes} / {conf.executables})"
                )
        if isinstance(action, SubmitPilots) and action.user_job is not None:
            if action.user_job.schedd not in self.schedds:
                raise ImpossibleActionError(
                    f"unknown user schedd {action.user_job.schedd!r} (this bridge has: {sorted(self.schedds)})"
                )
        if isinstance(action, SubmitPilots | ActOnPilots):
            if action.schedd not in self.schedds:
                raise ImpossibleActionError(
                    f"unknown schedd {action.schedd!r} (this bridge has: {sorted(self.schedds)})"
                )
        if isinstance(action, SubmitPilots):
            conf = self.config.schedds[action.schedd]
            lower = {k.lower(): v for k, v in action.description.items()}
            universe = lower.get("universe", "vanilla").strip().lower()
            if universe not in conf.universes:
                raise ImpossibleActionError(
                    f"universe {universe!r} is not allowed on schedd {action.schedd!r} (allowed: {conf.universes})"
                )
            exe = lower.get("executable", "")
            if exe not in conf.executables:
                raise ImpossibleActionError(
                    f"executable {exe!r} is not allowed on schedd {action.schedd!r} (allowed: {conf.executables})"
                )
        if isinstance(action, AdvertiseAds | InvalidateAds):
            if action.collector not in self.collectors:
                raise ImpossibleActionError(
                    f"unknown collector {action.collector!r} (this bridge has: {sorted(self.collectors)})"
                )
            allowed = self.config.collectors[action.collector].ad_types
            if action.ad_type not in allowed:
                raise ImpossibleActionError(
                    f"ad type {action.ad_type!r} is not allowed at collector "
                    f"{action.collector!r} (allowed: {allowed})"
                )
        if isinstance(action, AdvertiseAds):
            for ad in action.ads:
                mytype = ad.get("MyType", action.ad_type)
                if mytype != action.ad_type:
                    raise ImpossibleActionError(
                        f"ad {ad.get('Name')!r} has MyType {mytype!r}, not {action.ad_type!r}"
                    )

    # -- carrying actions out ------------------------------------------------------------------------
    def execute(self, action: AnyAction, entry: Entry) -> ActionResult:
        self.created[action.key] = action.created_at
        if isinstance(action, SubmitPilots):
            return self.submit(action, entry)
        if isinstance(action, ExportJobs | ImportResults):
            if isinstance(action, ExportJobs):
                outcome = self.hpc.export(action, entry.attempts, lambda: self.ledger.mark_tried(action.key))
            else:
                outcome = self.hpc.import_results(
                    action, entry.tried, lambda: self.ledger.mark_tried(action.key)
                )
            status, detail, fields = outcome
            return self.result(action, status, detail, attempts=entry.attempts, **fields)
        if isinstance(action, ActOnPilots):
            return self.act(action, entry)
        if isinstance(action, AdvertiseAds):
            ads = [{**ad, "MyType": action.ad_type} for ad in action.ads]
            self.ledger.mark_tried(action.key)
            self.collectors[action.collector].advertise(ads, "UPDATE_AD_GENERIC")
            self.metrics.inc("ads_advertised", len(ads))
            return self.result(
                action,
                DONE,
                f"advertised {len(ads)} {action.ad_type} ad(s) to {action.collector}",
                jobs=len(ads),
                attempts=entry.attempts,
            )
        self.ledger.mark_tried(action.key)
        self.collectors[action.collector].advertise(
            [invalidation_ad(action.ad_type, action.constraint)], "INVALIDATE_ADS_GENERIC"
        )
        return self.result(
            action,
            DONE,
            f"invalidated {action.ad_type} ads where {action.constraint}",
            attempts=entry.attempts,
        )

    @staticmethod
    def key_constraint(key: str) -> str:
        return f"{KEY_ATTR} == {expr_literal(key)}"

    def find(self, schedd: Schedd, key: str, *, history: bool) -> list[dict[str, Any]]:
        projection = ["ClusterId", "ProcId", "JobStatus"]
        found = schedd.query(self.key_constraint(key), projection)
        if not found and history:
            found = schedd.history(self.key_constraint(key), projection)
        return found

    def already(self, action: SubmitPilots, found: list[dict[str, Any]], attempts: int) -> ActionResult:
        clusters = sorted({int(j["ClusterId"]) for j in found if "ClusterId" in j})
        return self.result(
            action,
            ALREADY_DONE,
            f"found {len(found)} job(s) with key {action.key} in cluster(s) "
            f"{clusters} on {action.schedd}: not submitted again",
            jobs=len(found),
            clusters=clusters,
            attempts=attempts,
        )

    def submit(self, action: SubmitPilots, entry: Entry) -> ActionResult:
        schedd = self.schedds[action.schedd]
        # check before act: jobs stamped with this key mean an earlier attempt (of this bridge or of
        # another instance, or one whose ledger was lost) succeeded.  Queue AND history, always: the
        # ledger saying "never tried" proves nothing when it was lost, and the pilots may have finished.
        found = self.find(schedd, action.key, history=True)
        if found:
            return self.already(action, found, entry.attempts)
        if action.expired(self.clock()):
            return self.result(
                action,
                EXPIRED,
                f"not submitted: expired at {action.expires_at:.0f}; no job with its key exists",
                attempts=entry.attempts,
            )
        if self.stop_event.is_set():
            raise CondorUnavailableError("bridge is stopping; the submit is left for the next start")
        if action.user_job is not None:
            refused = self.hpc.take_over(action, lambda: self.ledger.mark_tried(action.key))
            if refused is not None:
                status, detail, fields = refused
                return self.result(action, status, detail, attempts=entry.attempts, **fields)
        description = self.hpc.stamp_user_job(action, self.stamp(action))
        self.ledger.mark_tried(action.key)
        outcome = schedd.submit(description, action.count)
        self.metrics.inc("jobs_submitted", outcome.procs)
        log.info(
            "submitted %d job(s) as cluster %d on %s for %s (target %s, key %s)",
            outcome.procs,
            outcome.cluster,
            action.schedd,
            action.channel,
            action.target,
            action.key,
        )
        return self.result(
            action,
            DONE,
            f"submitted {outcome.procs} job(s) as cluster {outcome.cluster} on {action.schedd}",
            jobs=outcome.procs,
            clusters=[outcome.cluster],
            attempts=entry.attempts,
        )

    def stamp(
        self, action: SubmitPilots | ExportJobs, description: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The submit description with the bridge's attributes (key, target, route, channel) and defaults."""
        desc = dict(action.description if description is None else description)
        desc[f"MY.{KEY_ATTR}"] = expr_literal(action.key)
        desc[f"MY.{CHANNEL_ATTR}"] = expr_literal(action.channel)
        if action.target:
            desc[f"MY.{TARGET_ATTR}"] = expr_literal(action.target)
        if action.route:
            desc[f"MY.{ROUTE_ATTR}"] = expr_literal(action.route)
        submitter = action.pool_schedd if isinstance(action, ExportJobs) else action.schedd
        log_dir = self.config.schedds[submitter].job_log_dir
        if log_dir and not any(k.lower() == "log" for k in desc):
            desc["log"] = f"{log_dir.rstrip('/')}/{action.key}.log"
        return desc

    def act(self, action: ActOnPilots, entry: Entry) -> ActionResult:
        schedd = self.schedds[action.schedd]
        states = {
            "remove": f"JobStatus =!= {REMOVED} && JobStatus =!= {COMPLETED}",
            "hold": f"(JobStatus == {IDLE} || JobStatus == {RUNNING})",
            "release": f"JobStatus == {HELD}",
        }[action.kind]
        # only jobs this bridge created are ever touched
        constraint = f"({action.constraint}) && ({KEY_ATTR} =!= undefined) && {states}"
        matching = schedd.query(constraint, ["ClusterId", "ProcId"])
        if len(matching) > action.max_jobs:
            raise ImpossibleActionError(
                f"{action.kind} would affect {len(matching)} jobs, more than the action's "
                f"max_jobs={action.max_jobs}; nothing was done"
            )
        if not matching:
            status = ALREADY_DONE if entry.tried else DONE
            return self.result(
                action, status, f"no job to {action.kind} where {action.constraint}", attempts=entry.attempts
            )
        self.ledger.mark_tried(action.key)
        changed = schedd.act(
            action.kind, constraint, f"de-bridge {action.kind}: {action.reason or action.key}"
        )
        self.metrics.inc("jobs_changed", changed)
        return self.result(
            action,
            DONE,
            f"{action.kind}: {changed} job(s) on {action.schedd}",
            jobs=changed,
            attempts=entry.attempts,
        )

    def mirror_user_jobs(self) -> int:
        """MPI: copy the batch jobs' state onto the user jobs they run (every loop)."""
        try:
            changed = self.hpc.mirror()
        except CondorError as exc:
            log.warning("cannot mirror MPI user jobs now: %s", exc)
            return 0
        if changed:
            self.metrics.inc("user_jobs_mirrored", changed)
        return changed
