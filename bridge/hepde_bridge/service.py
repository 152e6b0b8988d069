"""The bridge service: long-poll actions, act on HTCondor exactly once, report, push snapshots.

One loop, one thread (:meth:`Bridge.run`); :meth:`Bridge.run_once` is one iteration (tests drive it).

Exactly-once effect over at-least-once delivery — the order of durable steps for one message:

1. parse; a malformed or impossible action (unknown schedd, executable not allowed, ...) is
   **dead-lettered** with its reason and deleted;
2. ledger lookup by key: a finished action (``done``/``failed``) is a duplicate — its result is
   re-reported and the message deleted; the same key with different content is a key conflict
   (dead-lettered, the original's result untouched);
3. ``ledger.begin`` (attempt + 1, committed) — an action past ``retry.max_attempts`` is given up;
4. **check before act**: a submit first queries the schedd (and, if an earlier attempt reached the
   schedd, its history) for jobs carrying the key; found → ``already_done``, nothing submitted;
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

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hepde.actions import (
    ALREADY_DONE,
    CHANNEL_ATTR,
    DEAD_LETTERED,
    DONE,
    EXPIRED,
    FAILED,
    KEY_ATTR,
    ROUTE_ATTR,
    TARGET_ATTR,
    UNKNOWN,
    ActionResult,
    ActOnPilots,
    AdvertiseAds,
    AnyAction,
    ExportJobs,
    ImportResults,
    InvalidateAds,
    MalformedActionError,
    SubmitPilots,
    key_of,
    parse_action,
)
from hepde.bridge_queue import Message, QueueNotFoundError, QueueUnavailableError, SqsQueue, dead_letter_body
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
from hepde_bridge.health import Health, Metrics
from hepde_bridge.hpc import HpcBridge, HpcImpossibleError
from hepde_bridge.ledger import Entry, Ledger, LedgerError, digest
from hepde_bridge.results import ResultSink, ResultsUnavailableError
from hepde_bridge.snapshots import SnapshotPusher

log = logging.getLogger("de-bridge")


class ImpossibleActionError(DEError):
    """A well-formed action this bridge must not or cannot carry out (dead-lettered, never retried)."""


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
        self.health_every = health_every
        self.housekeeping_every = housekeeping_every
        self._last_health = 0.0
        self._last_housekeeping = 0.0
        self.name = config.bridge
        self._created: dict[str, float] = {}
        self.cloudwatch = cloudwatch
        self.cloudwatch_every = cloudwatch_every
        self._last_cloudwatch = self.clock()
        #: the HPC modes: Lumberjack exports/imports, MPI user jobs taken over and mirrored
        self.hpc = HpcBridge(
            self.schedds,
            {n: c.export_dir for n, c in config.schedds.items() if getattr(c, "export_dir", "")},
            stamp=lambda desc, action: self.stamp(action, desc),
            max_attempts=config.retry.max_attempts,
            stopping=self.stop_event.is_set,
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
            self._write_health(force=True)
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
            self._write_health()
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
        self._write_health()
        return 0.0

    def _release(self, messages: Sequence[Message]) -> None:
        """Messages received but not handled go back to the queue at once (graceful shutdown)."""
        for m in messages:
            try:
                self.queue.change_visibility(m, 0)
            except DEError:
                pass  # they become visible again after the visibility timeout anyway

    # -- one message ---------------------------------------------------------------------------
    def handle(self, message: Message) -> str:
        """Carry out one message; return what happened (for logs and tests)."""
        now = self.clock()
        try:
            action = parse_action(message.body)
        except MalformedActionError as exc:
            return self._dead_letter(message, str(exc), None)
        try:
            self._check_possible(action)
        except (ImpossibleActionError, HpcImpossibleError) as exc:
            return self._dead_letter(message, str(exc), action)
        dig = digest(action)
        entry = self.ledger.get(action.key)
        if entry is not None and entry.digest != dig:
            self.metrics.inc("key_conflicts")
            return self._dead_letter(
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
            return self._report_and_delete(message, entry.result, "duplicate", reported=entry.reported)
        if action.expired(now) and (entry is None or not entry.tried or action.kind != "submit"):
            ago = f"expired at {action.expires_at:.0f} ({now - float(action.expires_at or now):.0f} s ago)"
            if (
                entry is not None and entry.tried
            ):  # an earlier attempt of an advertise/act may have taken effect
                result = self._result(
                    action,
                    UNKNOWN,
                    f"not carried out again: {ago}; an earlier attempt may have taken effect",
                    attempts=entry.attempts,
                )
            else:
                result = self._result(
                    action, EXPIRED, f"not carried out: {ago}", attempts=entry.attempts if entry else 0
                )
            self.ledger.finish(action.key, action.kind, dig, result)
            return self._report_and_delete(message, result, "expired")
        entry = self.ledger.begin(action.key, action.kind, dig)
        if entry.attempts > self.config.retry.max_attempts:
            return self._give_up(message, action, dig, entry, entry.last_error or "too many attempts")
        try:
            result = self._execute(action, entry)
        except (ImpossibleActionError, HpcImpossibleError) as exc:
            return self._dead_letter(message, str(exc), action)
        except CondorError as exc:
            self.ledger.note_error(action.key, str(exc))
            entry = self.ledger.get(action.key) or entry
            if entry.attempts >= self.config.retry.max_attempts:
                return self._give_up(message, action, dig, entry, str(exc))
            return self._retry_later(message, action, entry, exc)
        self.ledger.finish(action.key, action.kind, dig, result)
        self._count(result)
        if self.snapshots is not None and result.schedd:
            self.snapshots.request(result.schedd)
        return self._report_and_delete(message, result, result.status)

    def _count(self, result: ActionResult) -> None:
        name = {
            DONE: "actions_done",
            ALREADY_DONE: "actions_already_done",
            FAILED: "actions_failed",
            UNKNOWN: "actions_unknown",
            EXPIRED: "actions_expired",
        }.get(result.status)
        if name:
            self.metrics.inc(name)
        latency = max(0.0, result.at - (result.created_at or self._created.get(result.key, result.at)))
        self._created.pop(result.key, None)
        self.metrics.set("last_action_latency_seconds", latency)
        if self.cloudwatch is not None:
            self.cloudwatch.observe(latency, failed=result.status in (FAILED, UNKNOWN, DEAD_LETTERED))

    def _result(self, action: AnyAction, status: str, detail: str, **fields: Any) -> ActionResult:
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
                found = self._find(self.schedds[action.schedd], action.key, history=True)
            except CondorError as exc:
                status, detail = UNKNOWN, f"{detail}; outcome unknown, the schedd is unreachable ({exc})"
            else:
                if found:
                    result = self._already(action, found, entry.attempts)
                    self.ledger.finish(action.key, action.kind, dig, result)
                    self._count(result)
                    return self._report_and_delete(message, result, result.status)
                if action.user_job is not None:
                    try:  # no batch job runs it: the user job goes back to its schedd
                        self.hpc.give_back_user_job(action)
                    except CondorError as exc:
                        detail = f"{detail}; user job {action.user_job.ident} not given back yet ({exc})"
        result = self._result(action, status, detail, attempts=entry.attempts)
        self.ledger.finish(action.key, action.kind, dig, result)
        self._count(result)
        return self._dead_letter(message, detail, action, result=result)

    # -- dead letters and reports ------------------------------------------------------------------
    def _dead_letter(
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
            result = result or self._dead_result(message, reason, action)
            if result is not None and self.cloudwatch is not None and result.status == DEAD_LETTERED:
                self.cloudwatch.observe(
                    max(0.0, result.at - result.created_at) if result.created_at else 0.0, True
                )
            if result is not None and action is not None:
                existing = self.ledger.get(action.key)
                if existing is None or not existing.final:
                    self.ledger.finish(action.key, action.kind, digest(action), result)
                self._report(result)  # if a sink is down, the ledger keeps it unreported and it is retried
            elif result is not None and key and self.ledger.get(key) is None:
                self._report(result)  # malformed: reported only if no genuine action has that key
        try:
            self.queue.delete(message)
        except DEError:
            pass
        return DEAD_LETTERED

    def _dead_result(self, message: Message, reason: str, action: AnyAction | None) -> ActionResult | None:
        if action is not None:
            return self._result(action, DEAD_LETTERED, reason)
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

    def _report(self, result: ActionResult) -> bool:
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

    def _report_and_delete(
        self, message: Message, result: ActionResult, outcome: str, *, reported: bool = False
    ) -> str:
        if not reported and not self._report(result):
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
            if entry.result is None or not self._report(entry.result):
                break
            n += 1
        return n

    # -- what may be done --------------------------------------------------------------------------
    def _check_possible(self, action: AnyAction) -> None:
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
    def _execute(self, action: AnyAction, entry: Entry) -> ActionResult:
        self._created[action.key] = action.created_at
        if isinstance(action, SubmitPilots):
            return self._submit(action, entry)
        if isinstance(action, ExportJobs | ImportResults):
            if isinstance(action, ExportJobs):
                outcome = self.hpc.export(action, entry.attempts, lambda: self.ledger.mark_tried(action.key))
            else:
                outcome = self.hpc.import_results(
                    action, entry.tried, lambda: self.ledger.mark_tried(action.key)
                )
            status, detail, fields = outcome
            return self._result(action, status, detail, attempts=entry.attempts, **fields)
        if isinstance(action, ActOnPilots):
            return self._act(action, entry)
        if isinstance(action, AdvertiseAds):
            ads = [{**ad, "MyType": action.ad_type} for ad in action.ads]
            self.ledger.mark_tried(action.key)
            self.collectors[action.collector].advertise(ads, "UPDATE_AD_GENERIC")
            self.metrics.inc("ads_advertised", len(ads))
            return self._result(
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
        return self._result(
            action,
            DONE,
            f"invalidated {action.ad_type} ads where {action.constraint}",
            attempts=entry.attempts,
        )

    @staticmethod
    def _key_constraint(key: str) -> str:
        return f"{KEY_ATTR} == {expr_literal(key)}"

    def _find(self, schedd: Schedd, key: str, *, history: bool) -> list[dict[str, Any]]:
        projection = ["ClusterId", "ProcId", "JobStatus"]
        found = schedd.query(self._key_constraint(key), projection)
        if not found and history:
            found = schedd.history(self._key_constraint(key), projection)
        return found

    def _already(self, action: SubmitPilots, found: list[dict[str, Any]], attempts: int) -> ActionResult:
        clusters = sorted({int(j["ClusterId"]) for j in found if "ClusterId" in j})
        return self._result(
            action,
            ALREADY_DONE,
            f"found {len(found)} job(s) with key {action.key} in cluster(s) "
            f"{clusters} on {action.schedd}: not submitted again",
            jobs=len(found),
            clusters=clusters,
            attempts=attempts,
        )

    def _submit(self, action: SubmitPilots, entry: Entry) -> ActionResult:
        schedd = self.schedds[action.schedd]
        # check before act: jobs stamped with this key mean an earlier attempt succeeded.  The history
        # is read only if an earlier attempt reached the submit call (it is slow on a big schedd).
        found = self._find(schedd, action.key, history=entry.tried)
        if found:
            return self._already(action, found, entry.attempts)
        if action.expired(self.clock()):
            return self._result(
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
                return self._result(action, status, detail, attempts=entry.attempts, **fields)
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
        return self._result(
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

    def _act(self, action: ActOnPilots, entry: Entry) -> ActionResult:
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
            return self._result(
                action, status, f"no job to {action.kind} where {action.constraint}", attempts=entry.attempts
            )
        self.ledger.mark_tried(action.key)
        changed = schedd.act(
            action.kind, constraint, f"de-bridge {action.kind}: {action.reason or action.key}"
        )
        self.metrics.inc("jobs_changed", changed)
        return self._result(
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

    # -- snapshots, housekeeping, health --------------------------------------------------------------
    def push_snapshots(self) -> list[dict[str, Any]]:
        if self.snapshots is None:
            return []
        outcomes = self.snapshots.run_due()
        for o in outcomes:
            self.metrics.inc("snapshots_pushed" if o["ok"] else "snapshot_failures")
        if outcomes:
            self.health.update(snapshots=self.snapshots.status())
        return outcomes

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

    def _write_health(self, force: bool = False) -> None:
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
