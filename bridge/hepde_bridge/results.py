"""Where the bridge reports action results.

* :class:`DataBlockResults` — a ``bridge_result`` record per action in the channel's DataBlock
  namespace (``channel:<channel>``, ident ``<created ms>-<key>``), next to the ``bridge_action`` record
  the publisher wrote when it sent the action.  The channel's ``BridgeActionLog`` source reads both,
  so the next cycle knows which requests were carried out, failed or are still in flight.
* :class:`QueueResults` — one JSON message per result on the reply queue, for other consumers.

A report is idempotent (same key → same record / a duplicate message a consumer dedups by key), so
re-reporting after a crash is harmless.  A failing sink raises; the bridge keeps the result in its
ledger as unreported and tries again later.
"""

from __future__ import annotations

from typing import Any, Protocol

from hepde.actions import RESULT_RECORD, ActionResult, record_ident
from hepde.bridge_queue import SqsQueue
from hepde.errors import DEError


class ResultsUnavailableError(DEError):
    """A result could not be reported (DataBlock or reply queue unreachable): transient."""


class ResultSink(Protocol):
    def report(self, result: ActionResult) -> None: ...


class DataBlockResults:
    """Results as DataBlock records (DynamoDB): ``put_record(channel:<channel>, bridge_result, key)``."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def report(self, result: ActionResult) -> None:
        from hepde.datablock.api import channel_namespace

        if not result.channel:
            return  # a message so malformed that its channel is unknown: the dead-letter queue has it
        try:
            self.store.put_record(
                channel_namespace(result.channel),
                RESULT_RECORD,
                record_ident(result.created_at, result.key),
                result.model_dump(mode="json"),
            )
        except Exception as exc:
            raise ResultsUnavailableError(
                f"cannot record result {result.key} in the DataBlock: {exc}"
            ) from exc


class QueueResults:
    """Results as messages on the reply queue."""

    def __init__(self, queue: SqsQueue) -> None:
        self.queue = queue

    def report(self, result: ActionResult) -> None:
        try:
            self.queue.send(
                result.model_dump_json(),
                {"key": result.key, "status": result.status, "channel": result.channel or "-"},
            )
        except Exception as exc:
            raise ResultsUnavailableError(
                f"cannot send result {result.key} to {self.queue.name}: {exc}"
            ) from exc


class MemoryResults:
    """Results kept in a list (tests, ``--dry-run``)."""

    def __init__(self) -> None:
        self.results: list[ActionResult] = []
        self.fail = False

    def report(self, result: ActionResult) -> None:
        if self.fail:
            raise ResultsUnavailableError("results sink down (fake)")
        self.results.append(result)

    def by_key(self) -> dict[str, ActionResult]:
        return {r.key: r for r in self.results}
