"""The bridge service's receive loop: long-poll actions, validate and dedupe them, act exactly once.

One loop, one thread (:meth:`Bridge.run`); :meth:`Bridge.run_once` is one iteration (tests drive it).
The loop owns the order of durable steps below; :class:`~hepde_bridge.executor.Executor` does the
check before act and the side-effecting call, :class:`~hepde_bridge.reporter.Reporter` reports
results and dead letters, pushes snapshots and writes health.

Exactly-once effect over at-least-once delivery — the order of durable steps for one message:

1. parse; a malformed or impossible action (unknown schedd, executable not allowed, ...) is
   **dead-lettered** with its reason and deleted;
2. ledger lookup by key: a finished action (``done``/``failed``) is a duplicate — its result is
   re-reported and the message deleted; the same key with different content is a key conflict
   (dead-lettered, the original's result untouched);
2b. the action's **claim** (:mod:`hepde_bridge.claims`, ADR 0010): with two instances on one queue
   only the claimant acts; a claim held by another leaves the message invisible, a ``done`` one deletes it;
3. ``ledger.begin`` (attempt + 1, committed) — an action past ``retry.max_attempts`` is given up;
4. **check before act**: a submit first queries the schedd's queue and its history (always: the
   ledger may have been lost) for jobs carrying the key; found → ``already_done``, nothing submitted;
5. ``ledger.mark_tried`` (committed), then the one side-effecting call; the key is stamped on every
   job created (``+HepdeActionKey``), so step 4 finds them whatever happens next;
6. ``ledger.finish`` (result, committed), report the result, ``ledger.mark_reported``, delete the
   message.

A crash anywhere re-enters at step 2 on redelivery: before 5 nothing happened; between 5 and 6 the
check of step 4 finds the jobs; after 6 the ledger has the result.  A transient HTCondor error
(daemon unreachable or refusing) leaves the message on the queue with a visibility timeout growing
exponentially (``retry.base_delay`` … ``retry.max_delay``, jittered); after ``retry.max_attempts`` the
action is given up and dead-lettered with the reason — ``failed`` when the daemon answered (or was
never reached with the effect), ``unknown`` when a submit was tried and the daemon stayed unreachable.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hepde.actions import (
    EXPIRED,
    FAILED,
    UNKNOWN,
    AnyAction,
    ExportJobs,
    MalformedActionError,
    SubmitPilots,
    parse_action,
)
from hepde.bridge_queue import Message, QueueNotFoundError, QueueUnavailableError, SqsQueue
from hepde.condor.adapter import Collector, CondorError, Schedd
from hepde.errors import DEError
from hepde_bridge.claims import Claims, ClaimsUnavailableError, MemoryClaims
from hepde_bridge.executor import Executor, HpcImpossibleError, ImpossibleActionError
from hepde_bridge.health import Health, Metrics
from hepde_bridge.ledger import Entry, Ledger, LedgerError, digest
from hepde_bridge.reporter import Reporter
from hepde_bridge.results import ResultSink
from hepde_bridge.snapshots import SnapshotPusher

log = logging.getLogger("de-bridge")

__all__ = ["Backoff", "Bridge", "ImpossibleActionError"]


class Backoff:
    """Bounded exponential backoff with jitter: base, 2·base, 4·base … max."""

    def __init__(self, base: float, maximum: float, rng: Callable[[], float] = random.random) -> None:
        self.base, self.maximum, self.rng = base, maximum, rng
        self.failures = 0

    def delay(self, attempt: int | None = None) -> float:
        n = self.failures if attempt is None else attempt
        raw = min(self.maximum, self.base * (2 ** max(0, n - 1)))
        return raw * (0.5 + 0.5 * self.rng())

    def fail(self) -> float:
        self.failures += 1
        return self.delay()

    def reset(self) -> None:
        self.failures = 0


class Bridge:
    """The receive loop: polls the queue, validates and dedupes messages, drives executor and reporter."""

    def __init__(
        self,
        config: Any,
        *,
        queue: SqsQueue,
        dead_letters: SqsQueue,
        schedds: Mapping[str, Schedd],
        collectors: Mapping[str, Collector],
        ledger: Ledger,
        results: Sequence[ResultSink],
        snapshots: SnapshotPusher | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        health_every: float = 5.0,
        housekeeping_every: float = 3600.0,
        cloudwatch: Any = None,
        cloudwatch_every: float = 60.0,
        claims: Claims | None = None,
        instance: str = "",
    ) -> None:
        self.config = config
        self.queue = queue
        self.dead_letters = dead_letters
        self.schedds = dict(schedds)
        self.collectors = dict(collectors)
        self.ledger = ledger
        self.results = list(results)
        self.snapshots = snapshots
        self.clock = clock
        self.rng = rng
        self.metrics = Metrics()
        poll = config.poll
        self.health = Health(self.metrics, stale_after=3 * poll.wait_seconds + 60)
        self.poll_backoff = Backoff(config.retry.poll_base_delay, config.retry.poll_max_delay, rng)
        self.stop_event = threading.Event()
        self.housekeeping_every = housekeeping_every
        self._last_housekeeping = 0.0
        self.name = config.bridge
        #: which instance acts on an action (ADR 0010): shared claims (DynamoDB) for two bridges on
        #: one queue; a lone bridge's own MemoryClaims otherwise
        self.claims: Claims = claims if claims is not None else MemoryClaims()
        self.instance = (
            instance
            or getattr(config, "instance", "")
            or (f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
        )
        self.claim_seconds = float(getattr(config, "claim_seconds", 600.0))
        self._claimed: str | None = None
        self.cloudwatch_every = cloudwatch_every
        self._last_cloudwatch = self.clock()
        created: dict[str, float] = {}
        #: check before act, then the one side-effecting call through hepde.condor
        self.executor = Executor(
            config,
            schedds=self.schedds,
            collectors=self.collectors,
            ledger=ledger,
            metrics=self.metrics,
            clock=clock,
            stop_event=self.stop_event,
            created=created,
        )
        self.hpc = self.executor.hpc
        #: results, dead letters, snapshots, health
        self.reporter = Reporter(
            config,
            queue=queue,
            dead_letters=dead_letters,
            ledger=ledger,
            results=self.results,
            snapshots=snapshots,
            metrics=self.metrics,
            health=self.health,
            clock=clock,
            cloudwatch=cloudwatch,
            poll_backoff=self.poll_backoff,
            make_result=self.executor.result,
            created=created,
            health_every=health_every,
        )

    # -- the loop ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the message in hand and return (signal handlers call this)."""
        self.stop_event.set()
        self.health.update(status="stopping")

    def run(self) -> None:
        log.info("de-bridge %s started: queue %s", self.name, self.queue.url)
        self.health.update(status="ok")
        try:
            while not self.stop_event.is_set():
                delay = self.run_once()
                if delay:
                    self.stop_event.wait(delay)
        finally:
            if self.cloudwatch is not None:
                self.cloudwatch.flush()
            self.health.update(status="stopped")
            self.reporter.write_health(force=True)
            log.info("de-bridge %s stopped", self.name)

    def run_once(self) -> float:
        """One iteration: housekeeping, snapshots, one poll, the messages received.

        Returns how long the caller should wait before the next iteration (0: go on).
        """
        self.flush_unreported()
        self.mirror_user_jobs()
        self.push_snapshots()
        self._housekeeping()
        try:
            messages = self.queue.receive(
                self.config.poll.max_messages,
                self.config.poll.wait_seconds,
                self.config.poll.visibility_timeout,
            )
        except (QueueUnavailableError, QueueNotFoundError) as exc:
            self.metrics.inc("sqs_errors")
            delay = self.poll_backoff.fail()
            self.health.update(
                status="ok" if not self.stop_event.is_set() else "stopping", last_error=f"{exc}", sqs_ok=False
            )
            log.warning(
                "SQS unavailable (%d in a row), next poll in %.1f s: %s",
                self.poll_backoff.failures,
                delay,
                exc,
            )
            self.reporter.write_health()
            return delay
        self.poll_backoff.reset()
        self.health.update(last_poll_ok=self.clock(), sqs_ok=True)
        for i, message in enumerate(messages):
            if self.stop_event.is_set():
                self._release(messages[i:])
                break
            self.metrics.inc("messages_received")
            try:
                self.handle(message)
            except LedgerError as exc:
                # without a durable ledger the bridge must not act: stop, leave the message for later
                log.error("ledger failure, stopping: %s", exc)
                self.health.update(ledger_writable=False, last_error=str(exc))
                self._release(messages[i:])
                self.stop()
                break
        self.reporter.write_health()
        return 0.0

    def _release(self, messages: Sequence[Message]) -> None:
        """Messages received but not handled go back to the queue at once (graceful shutdown)."""
        for m in messages:
            try:
                self.queue.change_visibility(m, 0)
            except DEError:
                pass  # they become visible again after the visibility timeout anyway

    def handle(self, message: Message) -> str:
        """Carry out one message; return what happened (for logs and tests)."""
        self._claimed = None
        outcome = self._handle(message)
        key, self._claimed = self._claimed, None
        if key is not None:
            entry = self.ledger.get(key)
            if entry is not None and entry.final:
                try:
                    self.claims.finish(
                        key, self.instance, self.clock(), self.config.ledger_retention_days * 86400
                    )
                except ClaimsUnavailableError as exc:
                    # the claim lapses after its lease; a taker's check before act covers it
                    log.warning("cannot mark the claim of %s done: %s", key, exc)
        return outcome

    def _claim(self, message: Message, action: AnyAction) -> str | None:
        """Take the action's claim; None when this instance may act, else what happened."""
        now = self.clock()
        try:
            claim = self.claims.claim(action.key, self.instance, now, self.claim_seconds)
        except ClaimsUnavailableError as exc:
            self.metrics.inc("claim_errors")
            log.warning("cannot claim %s now, retry later: %s", action.key, exc)
            self._keep(message, int(self.poll_backoff.delay(2)) + 1)
            return "claim_unavailable"
        if claim.outcome == "mine":
            self._claimed = action.key
            return None
        if claim.outcome == "done":
            self.metrics.inc("duplicates_absorbed")
            log.info("%s (%s) was carried out by %s: message deleted", action.key, action.kind, claim.owner)
            try:
                self.queue.delete(message)
            except DEError:
                pass  # a redelivery finds the claim done again
            return "done_elsewhere"
        self.metrics.inc("claimed_elsewhere")
        log.info("%s (%s) is being carried out by %s: not acting", action.key, action.kind, claim.owner)
        self._keep(message, int(min(max(1.0, claim.until - now), 900.0)) + 1)
        return "claimed_elsewhere"

    def _keep(self, message: Message, seconds: int) -> None:
        try:
            self.queue.change_visibility(message, seconds)
        except DEError:
            pass  # it reappears after the visibility timeout instead

    def _handle(self, message: Message) -> str:
        now = self.clock()
        try:
            action = parse_action(message.body)
        except MalformedActionError as exc:
            return self.reporter.dead_letter(message, str(exc), None)
        try:
            self.executor.check_possible(action)
        except (ImpossibleActionError, HpcImpossibleError) as exc:
            return self.reporter.dead_letter(message, str(exc), action)
        dig = digest(action)
        entry = self.ledger.get(action.key)
        if entry is not None and entry.digest != dig:
            self.metrics.inc("key_conflicts")
            return self.reporter.dead_letter(
                message,
                f"idempotency key {action.key} was already used for a different "
                f"{entry.kind} action; this one is not carried out",
                action,
                record=False,
            )
        if entry is not None and entry.final:
            self.metrics.inc("duplicates_absorbed")
            assert entry.result is not None
            log.info(
                "duplicate delivery of %s (%s): already %s", action.key, action.kind, entry.result.status
            )
            return self.reporter.report_and_delete(
                message, entry.result, "duplicate", reported=entry.reported
            )
        if action.expired(now) and (entry is None or not entry.tried or action.kind != "submit"):
            ago = f"expired at {action.expires_at:.0f} ({now - float(action.expires_at or now):.0f} s ago)"
            if (
                entry is not None and entry.tried
            ):  # an earlier attempt of an advertise/act may have taken effect
                result = self.executor.result(
                    action,
                    UNKNOWN,
                    f"not carried out again: {ago}; an earlier attempt may have taken effect",
                    attempts=entry.attempts,
                )
            else:
                result = self.executor.result(
                    action, EXPIRED, f"not carried out: {ago}", attempts=entry.attempts if entry else 0
                )
            self.ledger.finish(action.key, action.kind, dig, result)
            return self.reporter.report_and_delete(message, result, "expired")
        claimed = self._claim(message, action)  # step 2b: only one instance acts on a key
        if claimed is not None:
            return claimed
        entry = self.ledger.begin(action.key, action.kind, dig)
        if entry.attempts > self.config.retry.max_attempts:
            return self._give_up(message, action, dig, entry, entry.last_error or "too many attempts")
        try:
            result = self.executor.execute(action, entry)
        except (ImpossibleActionError, HpcImpossibleError) as exc:
            return self.reporter.dead_letter(message, str(exc), action)
        except CondorError as exc:
            self.ledger.note_error(action.key, str(exc))
            entry = self.ledger.get(action.key) or entry
            if entry.attempts >= self.config.retry.max_attempts:
                return self._give_up(message, action, dig, entry, str(exc))
            return self._retry_later(message, action, entry, exc)
        self.ledger.finish(action.key, action.kind, dig, result)
        self.reporter.count(result)
        if self.snapshots is not None and result.schedd:
            self.snapshots.request(result.schedd)
        return self.reporter.report_and_delete(message, result, result.status)

    def _retry_later(self, message: Message, action: AnyAction, entry: Entry, exc: CondorError) -> str:
        delay = Backoff(self.config.retry.base_delay, self.config.retry.max_delay, self.rng).delay(
            entry.attempts
        )
        self.metrics.inc("retries")
        log.warning(
            "%s %s attempt %d/%d failed, retry in %.0f s: %s",
            action.kind,
            action.key,
            entry.attempts,
            self.config.retry.max_attempts,
            delay,
            exc,
        )
        try:
            self.queue.change_visibility(message, int(delay))
        except DEError:
            pass  # the message reappears after the visibility timeout instead
        return "retry"

    def _give_up(self, message: Message, action: AnyAction, dig: str, entry: Entry, error: str) -> str:
        """Too many attempts: settle what can be known, record, dead-letter with the reason."""
        status = FAILED
        detail = f"gave up after {entry.attempts - (1 if entry.attempts > self.config.retry.max_attempts else 0)} attempt(s): {error}"
        if isinstance(action, ExportJobs) and entry.tried:
            try:  # jobs are never left in an export whose pool nobody submitted
                given = self.hpc.give_back_export(action)
            except CondorError as exc:
                status, detail = UNKNOWN, f"{detail}; the exported jobs could not be given back ({exc})"
            else:
                detail = f"{detail}; {given} exported job(s) given back to {action.schedd}"
        if isinstance(action, SubmitPilots) and entry.tried:
            try:  # one last look: the jobs of a submit whose reply was lost may exist
                found = self.executor.find(self.schedds[action.schedd], action.key, history=True)
            except CondorError as exc:
                status, detail = UNKNOWN, f"{detail}; outcome unknown, the schedd is unreachable ({exc})"
            else:
                if found:
                    result = self.executor.already(action, found, entry.attempts)
                    self.ledger.finish(action.key, action.kind, dig, result)
                    self.reporter.count(result)
                    return self.reporter.report_and_delete(message, result, result.status)
                if action.user_job is not None:
                    try:  # no batch job runs it: the user job goes back to its schedd
                        self.hpc.give_back_user_job(action)
                    except CondorError as exc:
                        detail = f"{detail}; user job {action.user_job.ident} not given back yet ({exc})"
        result = self.executor.result(action, status, detail, attempts=entry.attempts)
        self.ledger.finish(action.key, action.kind, dig, result)
        self.reporter.count(result)
        return self.reporter.dead_letter(message, detail, action, result=result)

    # -- housekeeping ----------------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        now = self.clock()
        if self.cloudwatch is not None and now - self._last_cloudwatch >= self.cloudwatch_every:
            self._last_cloudwatch = now
            self.cloudwatch.flush()
        if now - self._last_housekeeping < self.housekeeping_every:
            return
        self._last_housekeeping = now
        pruned = self.ledger.prune(self.config.ledger_retention_days * 86400)
        if pruned:
            log.info("pruned %d finished ledger entries", pruned)

    @property
    def cloudwatch(self) -> Any:
        """The CloudWatch metrics the reporter feeds (None: not configured); settable."""
        return self.reporter.cloudwatch

    @cloudwatch.setter
    def cloudwatch(self, value: Any) -> None:
        self.reporter.cloudwatch = value

    # -- delegated to the executor and the reporter ---------------------------------------------------
    def stamp(
        self, action: SubmitPilots | ExportJobs, description: dict[str, str] | None = None
    ) -> dict[str, str]:
        return self.executor.stamp(action, description)

    def mirror_user_jobs(self) -> int:
        return self.executor.mirror_user_jobs()

    def flush_unreported(self) -> int:
        return self.reporter.flush_unreported()

    def push_snapshots(self) -> list[dict[str, Any]]:
        return self.reporter.push_snapshots()

    def _write_health(self, force: bool = False) -> None:
        self.reporter.write_health(force)
