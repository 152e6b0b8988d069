"""The bridge's reporter: results, dead letters, snapshots and health go out from here.

Results go to the configured sinks (DataBlock records, the results queue) and are marked reported
in the ledger; a sink that is down leaves them ``unreported`` and :meth:`Reporter.flush_unreported`
sends them later.  Malformed or impossible actions go to the dead-letter queue with their reason.
Snapshots are pushed when due (and at once after an action changed a schedd); the health file and
the metrics are written here too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from hepde.actions import (
    ALREADY_DONE,
    DEAD_LETTERED,
    DONE,
    EXPIRED,
    FAILED,
    UNKNOWN,
    ActionResult,
    AnyAction,
    key_of,
)
from hepde.bridge_queue import Message, SqsQueue, dead_letter_body
from hepde.errors import DEError
from hepde_bridge.health import Health, Metrics
from hepde_bridge.ledger import Ledger, digest
from hepde_bridge.results import ResultSink, ResultsUnavailableError
from hepde_bridge.snapshots import SnapshotPusher

log = logging.getLogger("de-bridge")


class Reporter:
    """Reports results and dead letters, pushes snapshots, writes health."""

    def __init__(
        self,
        config: Any,
        *,
        queue: SqsQueue,
        dead_letters: SqsQueue,
        ledger: Ledger,
        results: list[ResultSink],
        snapshots: SnapshotPusher | None,
        metrics: Metrics,
        health: Health,
        clock: Callable[[], float],
        cloudwatch: Any,
        poll_backoff: Any,
        make_result: Callable[..., ActionResult],
        created: dict[str, float],
        health_every: float = 5.0,
    ) -> None:
        self.config = config
        self.name = config.bridge
        self.queue = queue
        self.dead_letters = dead_letters
        self.ledger = ledger
        self.results = results  # the bridge's own list (sinks may be added after construction)
        self.snapshots = snapshots
        self.metrics = metrics
        self.health = health
        self.clock = clock
        self.cloudwatch = cloudwatch
        self.poll_backoff = poll_backoff
        self.make_result = make_result
        self.created = created
        self.health_every = health_every
        self._last_health = 0.0

    def count(self, result: ActionResult) -> None:
        name = {
            DONE: "actions_done",
            ALREADY_DONE: "actions_already_done",
            FAILED: "actions_failed",
            UNKNOWN: "actions_unknown",
            EXPIRED: "actions_expired",
        }.get(result.status)
        if name:
            self.metrics.inc(name)
        latency = max(0.0, result.at - (result.created_at or self.created.get(result.key, result.at)))
        self.created.pop(result.key, None)
        self.metrics.set("last_action_latency_seconds", latency)
        if self.cloudwatch is not None:
            self.cloudwatch.observe(latency, failed=result.status in (FAILED, UNKNOWN, DEAD_LETTERED))

    # -- dead letters and reports ------------------------------------------------------------------
    def dead_letter(
        self,
        message: Message,
        reason: str,
        action: AnyAction | None,
        *,
        record: bool = True,
        result: ActionResult | None = None,
    ) -> str:
        key = action.key if action is not None else key_of(message.body)
        try:
            self.dead_letters.send(
                dead_letter_body(reason, message, key=key, bridge=self.name, at=self.clock()),
                {"reason": reason[:256], "key": key or "-"},
            )
        except DEError as exc:
            log.error(
                "cannot dead-letter message %s (%s); it stays on the queue: %s",
                message.message_id,
                reason,
                exc,
            )
            self.metrics.inc("sqs_errors")
            return "dead_letter_failed"
        self.metrics.inc("dead_lettered")
        log.warning("dead-lettered message %s (key %s): %s", message.message_id, key, reason)
        if record:
            result = result or self.dead_result(message, reason, action)
            if result is not None and self.cloudwatch is not None and result.status == DEAD_LETTERED:
                self.cloudwatch.observe(
                    max(0.0, result.at - result.created_at) if result.created_at else 0.0, True
                )
            if result is not None and action is not None:
                existing = self.ledger.get(action.key)
                if existing is None or not existing.final:
                    self.ledger.finish(action.key, action.kind, digest(action), result)
                self.report(result)  # if a sink is down, the ledger keeps it unreported and it is retried
            elif result is not None and key and self.ledger.get(key) is None:
                self.report(result)  # malformed: reported only if no genuine action has that key
        try:
            self.queue.delete(message)
        except DEError:
            pass
        return DEAD_LETTERED

    def dead_result(self, message: Message, reason: str, action: AnyAction | None) -> ActionResult | None:
        if action is not None:
            return self.make_result(action, DEAD_LETTERED, reason)
        try:
            raw = json.loads(message.body)
        except (ValueError, TypeError):
            return None
        key = key_of(message.body)
        if not (isinstance(raw, dict) and key and isinstance(raw.get("channel"), str) and raw["channel"]):
            return None
        gen = raw.get("generation")
        created = raw.get("created_at")
        return ActionResult(
            key=key,
            created_at=float(created) if isinstance(created, int | float) else 0.0,
            kind=str(raw.get("kind", ""))[:32],
            channel=raw["channel"][:256],
            generation=gen if isinstance(gen, int) and gen >= 0 else 0,
            status=DEAD_LETTERED,
            detail=reason,
            bridge=self.name,
            at=self.clock(),
        )

    def report(self, result: ActionResult) -> bool:
        for sink in self.results:
            try:
                sink.report(result)
            except ResultsUnavailableError as exc:
                self.metrics.inc("report_errors")
                log.warning("cannot report result %s now, will retry: %s", result.key, exc)
                return False
        if self.ledger.get(result.key) is not None:
            self.ledger.mark_reported(result.key)
        return True

    def report_and_delete(
        self, message: Message, result: ActionResult, outcome: str, *, reported: bool = False
    ) -> str:
        if not reported and not self.report(result):
            # keep the message (its redelivery is a duplicate the ledger absorbs), retry the report
            try:
                self.queue.change_visibility(message, int(self.poll_backoff.delay(2)))
            except DEError:
                pass
            return f"{outcome}_unreported"
        try:
            self.queue.delete(message)
        except DEError as exc:
            log.warning(
                "cannot delete message %s; a redelivery will be absorbed by the ledger: %s",
                message.message_id,
                exc,
            )
        return outcome

    def flush_unreported(self) -> int:
        """Report results the ledger holds as unreported (a sink was down); return how many went out."""
        n = 0
        for entry in self.ledger.unreported():
            if entry.result is None or not self.report(entry.result):
                break
            n += 1
        return n

    # -- snapshots and health --------------------------------------------------------------------------
    def push_snapshots(self) -> list[dict[str, Any]]:
        if self.snapshots is None:
            return []
        outcomes = self.snapshots.run_due()
        for o in outcomes:
            self.metrics.inc("snapshots_pushed" if o["ok"] else "snapshot_failures")
        if outcomes:
            self.health.update(snapshots=self.snapshots.status())
        return outcomes

    def write_health(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last_health < self.health_every:
            return
        self._last_health = now
        counts = self.ledger.counts()
        for k, v in counts.items():
            self.metrics.set(f"ledger_{k}", v)
        self.health.update(ledger=counts, ledger_writable=self.ledger.writable())
        try:
            self.health.write(self.config.health_file)
        except OSError as exc:
            log.warning("cannot write the health file %s: %s", self.config.health_file, exc)
