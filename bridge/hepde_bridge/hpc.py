"""The bridge's side of the HPC modes: Lumberjack exports and imports, MPI user jobs taken over and mirrored.

Everything goes through the one adapter (:mod:`hepde.condor.adapter`); every effect is checked
against the schedds before it is done again, so a redelivered action or a bridge that died halfway
never does a half twice.

**Export** (:class:`~hepde.actions.ExportJobs`), two halves, each checked separately:

1. the user jobs: if none carries ``HepdeManagedBy == key`` and ``Managed == "External"`` yet, the
   bridge stamps the key on the listed jobs (``Schedd.edit``) and exports them
   (``Schedd.export_jobs``) into ``<export_dir>/<key>`` with ``Iwd`` ``<spool_dir>/<key>``; only
   idle jobs nobody manages are exported (the schedd's rule), the others stay where they are;
2. the batch job of the in-allocation pool on ``pool_schedd``: if no job carries the key (queue,
   then history), the description gets the export directory as ``initialdir`` and
   ``transfer_input_files`` and the spool path and key appended to its arguments, is stamped like
   every submit, and is submitted once.  When the pool cannot be submitted at the last attempt the
   exported jobs are given back (``Schedd.unexport_jobs``) and the action fails: jobs are never left
   in an export nobody runs.

**Import** (:class:`~hepde.actions.ImportResults`): once the pool's batch job has left every
schedd's queue, ``Schedd.import_exported_job_results(<export_dir>/<export key>)`` takes the results
back; jobs the import did not give back (the pool never recorded them) are unexported, so every job
of the export is back in the user schedd's hands afterwards.  Nothing left exported under the key:
``already_done``.

**MPI** (a :class:`~hepde.actions.SubmitPilots` with ``user_job``): before the batch job is
submitted, the user job must be idle, managed by nobody, and its ``Cmd`` the first of the batch job's
input files (the cloud cannot run another payload under the user's name); the bridge takes it over
(``Managed = "External"``, ``ManagedManager = "hepde"``, ``HepdeManagedBy = key``).  :meth:`HpcBridge.mirror`
then copies the batch job's state onto it every pass: ``JobStatus``/``EnteredCurrentStatus`` while
it is queued or running (a held batch job holds the user job with the reason), and when it ends
``ExitCode`` and ``JobStatus = 4`` with ``Managed = "ScheddDone"`` — the schedd finishes the user
job itself.  A batch job removed or lost gives the user job back idle (it returns to the demand).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from hepde.actions import (
    ALREADY_DONE,
    ATTEMPTS_ATTR,
    DONE,
    FAILED,
    KEY_ATTR,
    MANAGED_BY_ATTR,
    USER_JOB_ATTR,
    ExportJobs,
    ImportResults,
    SubmitPilots,
)
from hepde.condor.adapter import (
    COMPLETED,
    HELD,
    IDLE,
    MANAGED_DONE,
    MANAGED_EXTERNAL,
    REMOVED,
    CondorError,
    CondorUnavailableError,
    Schedd,
    argument_words,
    arguments_command,
    expr_literal,
    ids_constraint,
)
from hepde.errors import DEError

log = logging.getLogger("de-bridge")

#: ``ManagedManager`` of a user job the bridge took over for a batch job that runs it (MPI)
BRIDGE_MANAGER = "hepde"
#: attributes copied from the batch job onto the user job it runs
MIRRORED = ("JobStatus", "EnteredCurrentStatus", "ExitCode", "RemoteWallClockTime")


class HpcImpossibleError(DEError):
    """An HPC action this bridge must not or cannot carry out (it is dead-lettered, never retried)."""


#: what an operation reports: (status, detail, extra result fields)
Outcome = tuple[str, str, dict[str, Any]]


class HpcBridge:
    """Carries out exports, imports and MPI takeovers on the bridge's schedds; mirrors MPI jobs.

    ``export_dirs`` maps a user schedd's logical name to the directory exports are written under
    (it must be writable by the jobs' owners: the schedd writes the exported queue as them);
    ``stamp`` is the bridge's own stamping of a submit description; ``stopping`` tells a bridge that
    is shutting down (nothing new is started then).
    """

    def __init__(
        self,
        schedds: Mapping[str, Schedd],
        export_dirs: Mapping[str, str],
        *,
        stamp: Callable[[dict[str, str], Any], dict[str, str]],
        max_attempts: int,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.schedds = dict(schedds)
        self.export_dirs = dict(export_dirs)
        self.stamp = stamp
        self.max_attempts = max_attempts
        self.stopping = stopping

    # -- what may be done ------------------------------------------------------------------------
    def check_possible(self, action: ExportJobs | ImportResults) -> None:
        for name in (action.schedd, getattr(action, "pool_schedd", action.schedd)):
            if name not in self.schedds:
                raise HpcImpossibleError(f"unknown schedd {name!r} (this bridge has: {sorted(self.schedds)})")
        if action.schedd not in self.export_dirs:
            raise HpcImpossibleError(
                f"schedd {action.schedd!r} has no 'export_dir' in the bridge configuration: "
                "it cannot export jobs (Lumberjack)"
            )

    def export_dir(self, schedd: str, key: str) -> str:
        return os.path.join(self.export_dirs[schedd], key)

    # -- export -------------------------------------------------------------------------------------
    def _exported(self, schedd: Schedd, key: str) -> list[dict[str, Any]]:
        return schedd.query(
            f"{MANAGED_BY_ATTR} == {expr_literal(key)} && Managed == {expr_literal(MANAGED_EXTERNAL)}",
            ["ClusterId", "ProcId"],
        )

    def export(self, action: ExportJobs, attempts: int, mark_tried: Callable[[], None]) -> Outcome:
        user = self.schedds[action.schedd]
        pool = self.schedds[action.pool_schedd]
        directory = self.export_dir(action.schedd, action.key)
        exported = self._exported(user, action.key)
        if not exported:
            if self.stopping():
                raise CondorUnavailableError("bridge is stopping; the export is left for the next start")
            mark_tried()
            os.makedirs(directory, exist_ok=True)
            user.edit(action.jobs, MANAGED_BY_ATTR, action.key)
            user.export_jobs(action.jobs, directory, f"{action.spool_dir.rstrip('/')}/{action.key}")
            exported = self._exported(user, action.key)
            if not exported:
                return (
                    FAILED,
                    f"none of the {len(action.jobs)} job(s) could be exported from {action.schedd} "
                    "(not idle, or managed by someone else): no batch job submitted",
                    {"schedd": action.schedd},
                )
        ids = [f"{j['ClusterId']}.{j['ProcId']}" for j in exported]
        found = pool.query(f"{KEY_ATTR} == {expr_literal(action.key)}", ["ClusterId"]) or pool.history(
            f"{KEY_ATTR} == {expr_literal(action.key)}", ["ClusterId"]
        )
        if found:
            clusters = sorted({int(j["ClusterId"]) for j in found})
            return (
                ALREADY_DONE,
                f"{len(ids)} job(s) of {action.schedd} exported to {directory}; its pool is cluster(s) "
                f"{clusters} on {action.pool_schedd}: not submitted again",
                {"jobs": len(ids), "clusters": clusters, "schedd": action.pool_schedd},
            )
        desc = self.pool_description(action, directory)
        mark_tried()
        try:
            outcome = pool.submit(desc, 1)
        except CondorError as exc:
            if attempts < self.max_attempts:
                raise
            user.unexport_jobs(ids)
            return (
                FAILED,
                f"the in-allocation pool could not be submitted on {action.pool_schedd} ({exc}); "
                f"the {len(ids)} exported job(s) were given back to {action.schedd}",
                {"schedd": action.pool_schedd},
            )
        log.info(
            "exported %d job(s) of %s to %s, pool cluster %d on %s (key %s)",
            len(ids),
            action.schedd,
            directory,
            outcome.cluster,
            action.pool_schedd,
            action.key,
        )
        return (
            DONE,
            f"exported {len(ids)} job(s) of {action.schedd} to {directory}; submitted the in-allocation "
            f"pool as cluster {outcome.cluster} on {action.pool_schedd}",
            {"jobs": len(ids), "clusters": [outcome.cluster], "schedd": action.pool_schedd},
        )

    def pool_description(self, action: ExportJobs, directory: str) -> dict[str, str]:
        desc = dict(action.description)
        raw = desc.get("arguments", "").strip()
        words = (
            argument_words(arguments=raw[1:-1]) if raw.startswith('"') and raw.endswith('"') else raw.split()
        )
        desc["arguments"] = arguments_command(
            [*words, f"{action.spool_dir.rstrip('/')}/{action.key}", action.key]
        )
        desc["initialdir"] = directory
        desc["transfer_input_files"] = directory
        desc["transfer_output_files"] = os.path.basename(directory)
        return self.stamp(desc, action)

    def give_back_export(self, action: ExportJobs) -> int:
        """After giving up: unexport what this export holds; return how many jobs."""
        user = self.schedds[action.schedd]
        exported = self._exported(user, action.key)
        if exported:
            user.unexport_jobs([f"{j['ClusterId']}.{j['ProcId']}" for j in exported])
        return len(exported)

    # -- import -------------------------------------------------------------------------------------
    def import_results(self, action: ImportResults, tried: bool, mark_tried: Callable[[], None]) -> Outcome:
        user = self.schedds[action.schedd]
        exported = self._exported(user, action.export_key)
        if not exported:
            return (
                ALREADY_DONE if tried else DONE,
                f"no job of {action.schedd} is exported under {action.export_key}: nothing to import",
                {"schedd": action.schedd},
            )
        for name, schedd in self.schedds.items():
            if schedd.query(f"{KEY_ATTR} == {expr_literal(action.export_key)}", ["ClusterId"]):
                return (
                    FAILED,
                    f"the pool of export {action.export_key} is still in the queue of {name}: not imported",
                    {"schedd": action.schedd},
                )
        directory = self.export_dir(action.schedd, action.export_key)
        mark_tried()
        user.import_exported_job_results(directory)
        left = self._exported(user, action.export_key)
        if left:
            user.unexport_jobs([f"{j['ClusterId']}.{j['ProcId']}" for j in left])
        return (
            DONE,
            f"imported the results of {len(exported) - len(left)} job(s) from {directory} into {action.schedd}"
            + (f"; {len(left)} job(s) the pool never recorded given back" if left else ""),
            {"jobs": len(exported), "schedd": action.schedd},
        )

    # -- MPI: the user job the batch job runs ---------------------------------------------------------
    def take_over(self, action: SubmitPilots, mark_tried: Callable[[], None]) -> Outcome | None:
        """Take the action's user job over before its batch job is submitted; an outcome if the
        submit must not happen (the user job is gone or someone else's), None to go on."""
        assert action.user_job is not None
        uj = action.user_job
        if uj.schedd not in self.schedds:
            raise HpcImpossibleError(
                f"unknown user schedd {uj.schedd!r} (this bridge has: {sorted(self.schedds)})"
            )
        user = self.schedds[uj.schedd]
        ads = user.query(ids_constraint([uj.job]), ["JobStatus", "Managed", MANAGED_BY_ATTR, "Cmd"])
        if not ads:
            return FAILED, f"user job {uj.ident} is not in the queue (removed?): not submitted", {}
        ad = ads[0]
        if ad.get(MANAGED_BY_ATTR) == action.key and ad.get("Managed") == MANAGED_EXTERNAL:
            return None  # taken over by an earlier attempt
        if ad.get("Managed") == MANAGED_EXTERNAL or ad.get("JobStatus") != IDLE:
            return FAILED, f"user job {uj.ident} is not idle or is managed by someone else: not submitted", {}
        inputs = [
            p.strip() for p in action.description.get("transfer_input_files", "").split(",") if p.strip()
        ]
        if not inputs or inputs[0] != ad.get("Cmd"):
            raise HpcImpossibleError(
                f"the batch job does not run user job {uj.ident}'s executable {ad.get('Cmd')!r} "
                f"(its first input file is {inputs[0] if inputs else None!r})"
            )
        mark_tried()
        user.edit([uj.job], MANAGED_BY_ATTR, action.key)
        user.edit([uj.job], "ManagedManager", BRIDGE_MANAGER)
        user.edit([uj.job], "Managed", MANAGED_EXTERNAL)
        return None

    def stamp_user_job(self, action: SubmitPilots, desc: dict[str, str]) -> dict[str, str]:
        if action.user_job is not None:
            desc[f"MY.{USER_JOB_ATTR}"] = expr_literal(action.user_job.ident)
        return desc

    def give_back_user_job(self, action: SubmitPilots) -> None:
        """After a submit was given up: the user job returns to its schedd, idle."""
        if action.user_job is None or action.user_job.schedd not in self.schedds:
            return
        user = self.schedds[action.user_job.schedd]
        ads = user.query(ids_constraint([action.user_job.job]), [MANAGED_BY_ATTR, ATTEMPTS_ATTR])
        if ads and ads[0].get(MANAGED_BY_ATTR) == action.key:
            self._give_back(user, [action.user_job.job], ads[0])

    @staticmethod
    def _give_back(user: Schedd, ident: list[str], job: Mapping[str, Any]) -> None:
        """The user job returns to its schedd, idle; a new attempt gets a new key (``HepdeAttempts``)."""
        user.edit(ident, ATTEMPTS_ATTR, int(job.get(ATTEMPTS_ATTR) or 0) + 1)
        user.edit(ident, "JobStatus", IDLE)
        user.edit(ident, "Managed", MANAGED_DONE)

    def mirror(self) -> int:
        """Copy every taken-over user job's batch job state onto it; return how many changed."""
        changed = 0
        for user_name, user in self.schedds.items():
            try:
                taken = user.query(
                    f"ManagedManager == {expr_literal(BRIDGE_MANAGER)} && Managed == {expr_literal(MANAGED_EXTERNAL)}",
                    ["ClusterId", "ProcId", MANAGED_BY_ATTR, ATTEMPTS_ATTR, *MIRRORED],
                )
            except CondorError as exc:
                log.warning("cannot mirror MPI jobs of %s now: %s", user_name, exc)
                continue
            for job in taken:
                try:
                    changed += self._mirror_one(user, job)
                except CondorError as exc:
                    log.warning(
                        "cannot mirror user job %s.%s now: %s", job.get("ClusterId"), job.get("ProcId"), exc
                    )
        return changed

    def _batch_job(self, key: str) -> tuple[dict[str, Any] | None, bool]:
        """The batch job stamped with ``key`` and whether it is still queued."""
        projection = ["ClusterId", "ProcId", "HoldReason", *MIRRORED]
        for schedd in self.schedds.values():
            found = schedd.query(f"{KEY_ATTR} == {expr_literal(key)}", projection)
            if found:
                return found[0], True
        for schedd in self.schedds.values():
            found = schedd.history(f"{KEY_ATTR} == {expr_literal(key)}", projection, 1)
            if found:
                return found[0], False
        return None, False

    def _mirror_one(self, user: Schedd, job: dict[str, Any]) -> int:
        ident = [f"{job['ClusterId']}.{job['ProcId']}"]
        key = str(job.get(MANAGED_BY_ATTR) or "")
        batch, queued = self._batch_job(key) if key else (None, False)
        if batch is None or (not queued and batch.get("JobStatus") == REMOVED):
            # lost, or removed before it finished: the user job returns to its schedd, idle
            self._give_back(user, ident, job)
            return 1
        updates: dict[str, Any] = {}
        for attr in MIRRORED:
            if attr in batch and batch[attr] != job.get(attr):
                updates[attr] = batch[attr]
        if batch.get("JobStatus") == HELD and batch.get("HoldReason"):
            updates["HoldReason"] = (
                f"batch job {batch['ClusterId']}.{batch['ProcId']} held: {batch['HoldReason']}"
            )
        if not queued:
            updates["JobStatus"] = COMPLETED
        for attr, value in updates.items():
            if attr != "JobStatus":
                user.edit(ident, attr, value)
        if "JobStatus" in updates:
            user.edit(ident, "JobStatus", updates["JobStatus"])
        if not queued:
            user.edit(ident, "Managed", MANAGED_DONE)  # the schedd finishes the user job itself
        return 1 if updates else 0
