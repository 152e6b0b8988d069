"""Publishers of bridge actions: the decision becomes messages on the bridge's SQS queue.

:class:`BridgeSubmitPublisher` turns each row of ``pilot_submissions`` into its action:

* a pilot row with ``pilots > 0`` → one :class:`~hepde.actions.SubmitPilots` of ``pilots`` jobs, key
  derived from the channel, the cycle's generation, the route, the target and the node count, so a
  retried publish Lambda sends the same keys and the bridge absorbs the copies;
* an MPI row → one :class:`~hepde.actions.SubmitPilots` of one batch job with its ``user_job``, under
  the key the planner derived from the user job (the same in every cycle: a user job is submitted
  once);
* an ``export`` row → one :class:`~hepde.actions.ExportJobs` (key from the generation, route, target
  and the job ids); an ``import`` row → one :class:`~hepde.actions.ImportResults` (the planner's key,
  one per export).

The ``bridge_action`` record of an MPI submit or an export names its ``job_ids``: the planner keeps
them out of the idle demand while the action is in flight.

Order of writes: a ``bridge_action`` record per action (``send_status: sending``), the messages (SQS
``SendMessageBatch`` through :class:`~hepde.bridge_queue.SqsQueue`, the publish Lambda's own client), then
the records again (``sent``).  If SQS refuses, the records say ``send_failed`` and the publisher fails
(the cycle fails with ``PublisherFailedError``; the next cycle decides again).  If the Lambda dies in
between, the records stay ``sending``: the planner counts them as in flight until they expire — at
worst a short under-submission, never a double one.

The queue is the module context's :meth:`~hepde.modules.context.ModuleContext.action_queue` of
``bridge``: ``queue`` (a name or URL) if set, else the deployed queue of the default bridge, else the name
derived from ``bridge`` and the stack (:func:`hepde.bridge_queue.actions_queue_address`); the records go
to the context's record store (the channel's namespace of the DataBlock).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from pydantic import Field

from hepde.actions import (
    SENT_RECORD,
    ExportJobs,
    ImportResults,
    SubmitPilots,
    UserJob,
    idempotency_key,
    record_ident,
)
from hepde.modules.base import ModuleParameters, Publisher, PublishResult
from hepde.modules.context import ActionQueue
from hepde.modules.direct.planner import request_rows


class BridgeSubmitPublisher(Publisher):
    """Sends the planned pilot submissions to the condor bridge (see the module docstring)."""

    params: Parameters

    class Parameters(ModuleParameters):
        product: str = "pilot_submissions"
        #: the bridge (site) whose queue receives the actions
        bridge: str = "default"
        #: queue name or URL; empty: the deployed queue of ``bridge`` (see the module docstring)
        queue: str = ""
        #: seconds after which the bridge no longer carries an action out (it reports ``expired``)
        action_ttl: float = Field(default=900.0, gt=0)
        #: create the queue when it does not exist — for ``de run`` in the embedded local cloud only;
        #: a deployed publish function has no permission to create queues
        create_queue_if_missing: bool = False
        #: rows of the decision record
        record_rows: int = 50

    def __init__(self, parameters: Any = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._consumes = {self.params.product: pd.DataFrame}

    def queue(self) -> ActionQueue:
        """The actions queue this publisher sends to (from the context)."""
        p = self.params
        return self.context.action_queue(p.bridge, p.queue, create_if_missing=p.create_queue_if_missing)

    # ------------------------------------------------------------------------------------------
    def actions(self, frame: pd.DataFrame, now: float) -> list[SubmitPilots | ExportJobs | ImportResults]:
        generation = self.context.generation
        out: list[SubmitPilots | ExportJobs | ImportResults] = []
        for row in frame.to_dict(orient="records"):
            action = str(row.get("action") or "submit")
            count = int(row.get("pilots") or 0)
            if action != "import" and count <= 0:
                continue
            nodes = int(row.get("nodes") or 1)
            jobs = json.loads(row["jobs"]) if row.get("jobs") else []
            reason = (
                f"route {row.get('route')}: {row.get('idle_jobs')} idle job(s), {row.get('pending_pilots')} "
                f"pilot(s) pending" + (f"; limited by {row['limited_by']}" if row.get("limited_by") else "")
            )
            common: dict[str, Any] = {
                "channel": self.channel_name,
                "generation": generation,
                "created_at": now,
                "expires_at": now + self.params.action_ttl,
                "target": str(row["target"]),
                "route": str(row["route"]),
            }
            if action == "import":
                out.append(
                    ImportResults(
                        key=str(row["key"]),
                        reason=f"route {row.get('route')}: the batch job of export {row['export_key']} ended",
                        schedd=str(row["user_schedd"]),
                        export_key=str(row["export_key"]),
                        **common,
                    )
                )
            elif action == "export":
                out.append(
                    ExportJobs(
                        key=idempotency_key(
                            self.channel_name,
                            generation,
                            "export",
                            row["route"],
                            row["target"],
                            ",".join(jobs),
                        ),
                        reason=f"{reason}; exporting {len(jobs)} job(s)",
                        schedd=str(row["user_schedd"]),
                        jobs=jobs,
                        pool_schedd=str(row["schedd"]),
                        spool_dir=str(row["spool_dir"]),
                        description=json.loads(row["submit"]),
                        nodes=nodes,
                        **common,
                    )
                )
            elif row.get("user_schedd") and jobs:
                out.append(
                    SubmitPilots(
                        key=str(row["key"]),
                        reason=f"route {row.get('route')}: MPI job {jobs[0]} on {nodes} node(s)",
                        schedd=str(row["schedd"]),
                        count=1,
                        description=json.loads(row["submit"]),
                        user_job=UserJob(schedd=str(row["user_schedd"]), job=str(jobs[0])),
                        **common,
                    )
                )
            else:
                out.append(
                    SubmitPilots(
                        key=idempotency_key(
                            self.channel_name, generation, "submit", row["route"], row["target"], nodes
                        ),
                        reason=reason,
                        schedd=str(row["schedd"]),
                        count=count,
                        description=json.loads(row["submit"]),
                        **common,
                    )
                )
        return out

    def publish(self, data_block: Any) -> PublishResult:
        frame = data_block[self.params.product]
        now = self.context.now
        actions = self.actions(frame, now)
        if not actions:
            return PublishResult(
                summary="no pilots to submit: nothing sent to the bridge", requests=request_rows(frame)
            )
        by_key = {a.key: a for a in actions}
        if len(by_key) != len(actions):
            actions = list(by_key.values())  # one action per key (an MPI job planned twice is sent once)
        queue = self.queue()
        records = self.context.records

        def record(a: SubmitPilots | ExportJobs | ImportResults, status: str, error: str = "") -> None:
            if isinstance(a, ImportResults):
                count, nodes, job_ids, extra = 0, 1, [], {"export_key": a.export_key}
            elif isinstance(a, ExportJobs):
                count, nodes, job_ids, extra = 1, a.nodes, list(a.jobs), {"pool_schedd": a.pool_schedd}
            else:
                count = a.count
                nodes = int(
                    json.loads(a.description.get("+HepdeNodes", "1"))
                    if a.description.get("+HepdeNodes")
                    else 1
                )
                job_ids = [a.user_job.job] if a.user_job is not None else []
                extra = {"user_job": a.user_job.ident} if a.user_job is not None else {}
            records.put(
                SENT_RECORD,
                record_ident(a.created_at, a.key),
                {
                    "key": a.key,
                    "kind": a.kind,
                    "target": a.target,
                    "route": a.route,
                    "count": count,
                    "nodes": nodes,
                    **({"job_ids": job_ids} if job_ids else {}),
                    **extra,
                    "schedd": a.schedd,
                    "generation": a.generation,
                    "sent_at": a.created_at,
                    "expires_at": a.expires_at,
                    "send_status": status,
                    "queue": queue.name,
                    **({"error": error} if error else {}),
                },
            )

        for a in actions:
            record(a, "sending")
        try:
            queue.send_batch(
                (a.model_dump_json(), {"kind": a.kind, "key": a.key, "channel": a.channel}) for a in actions
            )
        except Exception as exc:
            for a in actions:
                record(a, "send_failed", str(exc))
            raise
        for a in actions:
            record(a, "sent")
        pilots = sum(
            a.count if isinstance(a, SubmitPilots) else 1 for a in actions if not isinstance(a, ImportResults)
        )
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(_count_kinds(actions).items()))
        rows = (
            (frame[frame["actions"] > 0] if "actions" in frame else frame[frame["pilots"] > 0])
            .head(self.params.record_rows)
            .drop(columns=["submit"], errors="ignore")
        )
        return PublishResult(
            summary=(
                f"sent {len(actions)} submit action(s) for {pilots} pilot(s) to {queue.name}"
                if set(_count_kinds(actions)) == {"submit"}
                else f"sent {len(actions)} action(s) ({kinds}) for {pilots} batch job(s) to {queue.name}"
            ),
            requested=[
                {**r, "key": a.key} for r, a in zip(rows.to_dict(orient="records"), actions, strict=False)
            ],
            requests=request_rows(frame),
        )


def _count_kinds(actions: list[SubmitPilots | ExportJobs | ImportResults]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in actions:
        out[a.kind] = out.get(a.kind, 0) + 1
    return out
