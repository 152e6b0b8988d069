"""Publishers of bridge actions: the decision becomes messages on the bridge's SQS queue.

:class:`BridgeSubmitPublisher` turns each row of ``pilot_submissions`` with ``pilots > 0`` into one
:class:`~hepde.actions.SubmitPilots` action.  Its idempotency key is derived from the channel, the
cycle's generation, the route, the target and the node count, so a retried publish Lambda sends the
same keys and the bridge absorbs the copies.

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

from hepde.actions import SENT_RECORD, SubmitPilots, idempotency_key, record_ident
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
    def actions(self, frame: pd.DataFrame, now: float) -> list[SubmitPilots]:
        generation = self.context.generation
        out = []
        for row in frame.to_dict(orient="records"):
            count = int(row.get("pilots") or 0)
            if count <= 0:
                continue
            nodes = int(row.get("nodes") or 1)
            reason = (
                f"route {row.get('route')}: {row.get('idle_jobs')} idle job(s), {row.get('pending_pilots')} "
                f"pilot(s) pending" + (f"; limited by {row['limited_by']}" if row.get("limited_by") else "")
            )
            out.append(
                SubmitPilots(
                    key=idempotency_key(
                        self.channel_name, generation, "submit", row["route"], row["target"], nodes
                    ),
                    channel=self.channel_name,
                    generation=generation,
                    created_at=now,
                    expires_at=now + self.params.action_ttl,
                    reason=reason,
                    schedd=str(row["schedd"]),
                    count=count,
                    description=json.loads(row["submit"]),
                    target=str(row["target"]),
                    route=str(row["route"]),
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
        queue = self.queue()
        records = self.context.records

        def record(a: SubmitPilots, status: str, error: str = "") -> None:
            records.put(
                SENT_RECORD,
                record_ident(a.created_at, a.key),
                {
                    "key": a.key,
                    "kind": a.kind,
                    "target": a.target,
                    "route": a.route,
                    "count": a.count,
                    "nodes": int(
                        json.loads(a.description.get("+HepdeNodes", "1"))
                        if a.description.get("+HepdeNodes")
                        else 1
                    ),
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
        pilots = sum(a.count for a in actions)
        rows = (
            frame[frame["pilots"] > 0].head(self.params.record_rows).drop(columns=["submit"], errors="ignore")
        )
        return PublishResult(
            summary=f"sent {len(actions)} submit action(s) for {pilots} pilot(s) to {queue.name}",
            requested=[
                {**r, "key": a.key} for r, a in zip(rows.to_dict(orient="records"), actions, strict=False)
            ],
            requests=request_rows(frame),
        )
