"""What each stage of a decision cycle does.  Lambda handlers and the local runner call these.

A cycle of channel C is one Step Functions execution:

``BeginCycle`` (take C's cycle lease, allocate generation N, open the cycle record) →
``Source <key>`` for each source (acquire if due; a failure is recorded, not raised) →
``Snapshot`` (pin, for every source product, the latest version; any pinned product expired →
**hold**: nothing is decided or published, the stale products are recorded) →
``Transform <key>`` in dependency order → ``LogicEngine`` (facts, rules, actions; decision record) →
``Publish <key>`` for exactly the publishers the actions select → ``FinishCycle``.

Every stage reads the products pinned by ``Snapshot`` plus what earlier stages of the same
generation wrote, so a cycle sees one consistent DataBlock even while shared sources write newer
versions.  A module that raises fails the cycle with a named error and nothing after it runs.
"""

from __future__ import annotations

import time
import traceback
import uuid
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from hepde.config.model import ModuleEntry
from hepde.datablock.api import (
    DataBlockStore,
    Header,
    Metadata,
    ProductRef,
    channel_namespace,
    source_namespace,
)
from hepde.datablock.view import DataBlockView
from hepde.errors import (
    DEError,
    HoldCycleError,
    LogicEngineFailedError,
    ModuleFailedError,
    ProductNotFoundError,
    PublisherFailedError,
    SourceFailedError,
    TransformFailedError,
)
from hepde.modules.base import (
    LogicEngineBase,
    Module,
    Publisher,
    PublishResult,
    Source,
    Transform,
    check_declared_types,
)
from hepde.modules.registry import resolve
from hepde.records import (
    CYCLE,
    DECISION,
    SOURCE_STATUS,
    Acquisition,
    CycleError,
    CycleRecord,
    DecisionRecord,
    Hold,
    PublisherOutcome,
    SourceStatus,
    StaleInput,
    gen_id,
    read_cycle,
    read_decision,
    write_cycle,
    write_decision,
    write_source_status,
)
from hepde.runtime.context import module_context, previous_product

# re-exported for callers of the stages (the implementations live in hepde.records / hepde.runtime.context)
__all__ = ["CYCLE", "DECISION", "SOURCE_STATUS", "gen_id", "previous_product"]

#: header lifetime of products a cycle derives (transforms, logic engine): they describe that cycle and
#: are never inputs to a later one, so they do not go stale; history retention is the table's TTL
DERIVED_LIFETIME = 10 * 365 * 86400.0


def cycle_lease(channel: str) -> str:
    return f"cycle:{channel}"


def queue_lease(channel: str) -> str:
    """The one waiting slot of a channel: a start while a cycle runs takes it and waits, or coalesces."""
    return f"cycle-queue:{channel}"


#: an Express execution's hard cap (AWS ends it after 5 minutes): the cycle lease of an Express channel
EXPRESS_MAX_SECONDS = 300.0
#: how long a queued start may wait for the running cycle, as a share of its own execution's cap
QUEUE_WAIT_SHARE = 0.5

BeginOutcome = Literal["started", "queued", "coalesced"]


def execution_start(value: Any) -> float | None:
    """``$$.Execution.StartTime`` (ISO 8601, e.g. ``2026-12-02T20:15:34.123Z``) as Unix seconds; None if absent
    or unreadable (the lease then runs from the stage's own clock)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    execution_id: str = "local"


class BeginRequest(_Request):
    #: the longest this execution can run (Express: 300 s; Standard: the state machine's timeout); the
    #: cycle lease expires that long after the execution started, so it never outlives the execution
    lock_seconds: float = EXPRESS_MAX_SECONDS
    #: ``$$.Execution.StartTime``: the lease is measured from it, not from when BeginCycle ran
    execution_started_at: Any = None
    trigger: str = "schedule"
    #: the execution's input (``$$.Execution.Input``): ``{"trigger": ...}`` from `de run`, run-now or replay
    execution_input: dict[str, Any] | None = None

    def model_post_init(self, __context: Any) -> None:
        given = (self.execution_input or {}).get("trigger")
        if isinstance(given, str) and given:
            self.trigger = given


class SourceRequest(_Request):
    generation: int = 0
    entry: dict[str, Any]
    mode: str = "if_due"  # if_due | force
    #: the execution's input: a cycle started by a new snapshot lists the sources to re-read now
    #: (``{"refresh": [key, ...]}``, :mod:`hepde.runtime.triggers`), due or not
    execution_input: dict[str, Any] | None = None

    def refresh(self, key: str) -> bool:
        wanted = (self.execution_input or {}).get("refresh")
        return isinstance(wanted, list) and key in wanted


class SnapshotRequest(_Request):
    generation: int
    sources: list[dict[str, Any]] = Field(default_factory=list)
    acquisitions: list[dict[str, Any]] = Field(default_factory=list)


class StageRequest(_Request):
    generation: int
    entry: dict[str, Any] | None = None


class DecideRequest(_Request):
    generation: int
    entry: dict[str, Any] | None = None  # None: pass-through logic engine
    publishers: list[str] = Field(default_factory=list)


class FinishRequest(_Request):
    generation: int
    status: str  # SUCCEEDED | HELD | FAILED
    error: dict[str, Any] | None = None


# ------------------------------------------------------------------------------------------
def instantiate(entry: ModuleEntry, channel: str) -> Module:
    cls = resolve(entry.module, entry.kind, entry.name)
    return cls(entry.parameters, channel_name=channel)


def _declared_products(
    module: Module, products: Any, method: str, error: type[ModuleFailedError]
) -> dict[str, Any]:
    """Check what a source/transform returned against its declaration; raise ``error`` if it differs."""
    if not isinstance(products, dict):
        raise error(f"{method}() returned {type(products).__name__}, expected a dict of products")
    problems = check_declared_types(module.declared_produces(), products)
    if problems:
        raise error("".join(problems))
    return products


def _failure(exc: BaseException, what: str) -> str:
    if isinstance(exc, DEError) and not isinstance(exc, ModuleFailedError):
        return f"{what}: {exc}"
    return f"{what} raised {type(exc).__name__}: {exc}"


def _update_cycle(store: DataBlockStore, channel: str, generation: int, **fields: Any) -> CycleRecord:
    record = read_cycle(store, channel, generation) or CycleRecord(generation=generation)
    record = CycleRecord.model_validate({**record.model_dump(), **fields})
    write_cycle(store, channel, record)
    return record


def _cycle_view(store: DataBlockStore, channel: str, generation: int) -> DataBlockView:
    """The DataBlock a stage of cycle ``generation`` sees: pinned source products + this generation's."""
    record = read_cycle(store, channel, generation)
    if record is None:
        raise ProductNotFoundError(f"channel '{channel}' has no cycle {generation}")
    refs = {name: ProductRef.from_json(ref) for name, ref in record.snapshot.items()}
    ns = channel_namespace(channel)
    for info in store.list_generation(ns, generation):
        refs[info.ref.name] = info.ref
    return DataBlockView(store, refs)


# ------------------------------------------------------------------------------------------
def begin_cycle(store: DataBlockStore, req: BeginRequest, now: float | None = None) -> dict[str, Any]:
    """Take the channel's cycle lease and open cycle N.  A start while a cycle runs is never a failure:

    * ``started``: the lease was free (or expired): cycle N is open;
    * ``queued``: another cycle runs and the channel's one waiting slot was free (or already ours):
      the state machine waits and calls this again, so demand that arrived during a cycle gets a
      cycle on inputs at least that new;
    * ``coalesced``: a cycle runs and another start already waits: this start adds nothing and ends.

    Both leases expire when this execution is certainly over (its start + ``lock_seconds``), so an
    aborted execution blocks its channel no longer than it could have run.  A queued start that has
    waited for more than :data:`QUEUE_WAIT_SHARE` of its cap gives up (``coalesced``): the channel's
    schedule is the floor.
    """
    now = time.time() if now is None else now
    started_at = execution_start(req.execution_started_at)
    started_at = now if started_at is None or started_at > now else started_at
    remaining = started_at + req.lock_seconds - now
    if remaining <= 0:
        return {"outcome": "coalesced", "generation": 0, "reason": "the execution is past its lease"}
    holder = store.acquire_lease(cycle_lease(req.channel), req.execution_id, remaining, now=now)
    if holder is not None:
        waited = now - started_at
        if waited > req.lock_seconds * QUEUE_WAIT_SHARE:
            store.release_lease(queue_lease(req.channel), req.execution_id)
            return {
                "outcome": "coalesced",
                "generation": 0,
                "running": holder.get("owner"),
                "reason": f"waited {waited:.0f} s for the running cycle",
            }
        queued = store.acquire_lease(queue_lease(req.channel), req.execution_id, remaining, now=now)
        return {
            "outcome": "queued" if queued is None else "coalesced",
            "generation": 0,
            "running": holder.get("owner"),
            "lease_until": float(holder.get("expires_at", 0)),
        }
    store.release_lease(queue_lease(req.channel), req.execution_id)
    generation = store.next_generation(channel_namespace(req.channel))
    write_cycle(
        store,
        req.channel,
        CycleRecord(
            generation=generation,
            status="RUNNING",
            execution_id=req.execution_id,
            trigger=req.trigger,
            started_at=now,
        ),
    )
    return {"outcome": "started", "generation": generation, "started_at": now}


def break_lease(store: DataBlockStore, channel: str) -> dict[str, Any] | None:
    """``de channel unlock``: release the channel's cycle lease (and its waiting slot) whoever holds it.

    Returns the lease that was broken (``owner``, ``expires_at``) or None if there was none.  The
    release is conditional on the owner read just before, so a cycle that took the lease in between
    keeps it.
    """
    broken = None
    for name in (cycle_lease(channel), queue_lease(channel)):
        lease = store.get_lease(name)
        if lease and lease.get("owner"):
            if store.release_lease(name, str(lease["owner"])) and name == cycle_lease(channel):
                broken = lease
    return broken


def acquire_source(store: DataBlockStore, req: SourceRequest, now: float | None = None) -> dict[str, Any]:
    """Acquire a (possibly shared) source if it is due; record failures instead of raising them.

    ``if_due``: skip when the latest products are younger than the source's schedule (another
    channel, or this source's own schedule, already acquired them).  ``force``: always acquire;
    a failure raises :class:`SourceFailedError` (used by the source's own scheduled run).
    """
    now = time.time() if now is None else now
    entry = ModuleEntry.from_json(req.entry)
    ns = source_namespace(entry.key)
    latest = store.latest_generation(ns)
    if req.mode == "if_due" and latest is not None and not req.refresh(entry.key):
        infos = store.list_generation(ns, latest)
        created = min((i.header.create_time for i in infos), default=0.0)
        same_config = all(i.header.creator == _creator(entry) for i in infos)
        if same_config and now - created < entry.effective_schedule:
            return {"source": entry.key, "acquired": False, "generation": latest, "reason": "not due"}
    lease = f"source:{entry.key}"
    owner = f"{req.execution_id}#{uuid.uuid4().hex[:8]}"  # unique even for two scheduled runs at once
    holder = store.acquire_lease(lease, owner, max(60.0, entry.effective_schedule), now=now)
    if holder is not None:
        return {
            "source": entry.key,
            "acquired": False,
            "generation": latest,
            "reason": "being acquired by another run",
        }
    try:
        try:
            module = instantiate(entry, req.channel)
            assert isinstance(module, Source)
            module.bind(module_context(store, req.channel, req.generation, req.execution_id, now=now))
            products = _declared_products(module, module.acquire(), "acquire", SourceFailedError)
        except Exception as exc:
            message = _failure(exc, f"source '{entry.key}' ({entry.module})")
            write_source_status(
                store,
                entry.key,
                SourceStatus(ok=False, at=now, error=message, error_type=type(exc).__name__),
            )
            if req.mode == "force":
                raise SourceFailedError(message) from exc
            return {"source": entry.key, "acquired": False, "generation": latest, "error": message}
        generation = store.next_generation(ns)
        header = Header.new(_creator(entry), entry.effective_lifetime, now=now)
        store.put_products(
            ns, generation, products, header, Metadata(generation_id=generation, generation_time=now)
        )
        write_source_status(store, entry.key, SourceStatus(ok=True, at=now, generation=generation))
        return {"source": entry.key, "acquired": True, "generation": generation, "products": sorted(products)}
    finally:
        store.release_lease(lease, owner)


def _creator(entry: ModuleEntry) -> str:
    """Header creator of a source product: module path and config hash (same key, other config ≠ same)."""
    return f"{entry.module}#{entry.config_hash()}"


def snapshot(store: DataBlockStore, req: SnapshotRequest, now: float | None = None) -> dict[str, Any]:
    """Pin the latest version of every source product; hold if any is expired or missing."""
    now = time.time() if now is None else now
    pins: dict[str, list[Any]] = {}
    stale: list[StaleInput] = []
    errors = {
        a.get("source"): a.get("error") for a in req.acquisitions if isinstance(a, dict) and a.get("error")
    }
    for raw in req.sources:
        entry = ModuleEntry.from_json(raw)
        ns = source_namespace(entry.key)
        latest = store.latest_generation(ns)
        if latest is None:
            stale.append(StaleInput(source=entry.key, reason="never acquired", error=errors.get(entry.key)))
            continue
        for info in store.list_generation(ns, latest):
            if info.header.is_expired(now):
                stale.append(
                    StaleInput(
                        source=entry.key,
                        product=info.ref.name,
                        generation=latest,
                        expired_at=info.header.expiration_time,
                        reason=f"expired {now - info.header.expiration_time:.0f} s ago",
                        error=errors.get(entry.key),
                    )
                )
            pins[info.ref.name] = info.ref.to_json()
    hold = bool(stale)
    _update_cycle(
        store,
        req.channel,
        req.generation,
        snapshot=pins,
        stale=stale,
        acquisitions=[Acquisition.model_validate(a) for a in req.acquisitions if isinstance(a, dict)],
        source_errors={k: str(v) for k, v in errors.items() if k},
        status="HOLDING" if hold else "RUNNING",
    )
    return {"hold": hold, "stale": [s.to_json() for s in stale]}


def run_transform(store: DataBlockStore, req: StageRequest) -> dict[str, Any]:
    assert req.entry is not None
    entry = ModuleEntry.from_json(req.entry)
    view = _cycle_view(store, req.channel, req.generation)
    try:
        module = instantiate(entry, req.channel)
        assert isinstance(module, Transform)
        # a transform may read its own earlier output (e.g. to judge whether its inputs are plausible)
        module.bind(module_context(store, req.channel, req.generation, req.execution_id))
        products = _declared_products(module, module.transform(view), "transform", TransformFailedError)
    except HoldCycleError as exc:
        _update_cycle(
            store,
            req.channel,
            req.generation,
            status="HOLDING",
            hold=Hold(transform=entry.key, reason=str(exc)),
        )
        raise HoldCycleError(f"transform '{entry.key}' held the cycle: {exc}") from exc
    except Exception as exc:
        raise TransformFailedError(_failure(exc, f"transform '{entry.key}' ({entry.module})")) from exc
    header = Header.new(entry.name or entry.module, lifetime=DERIVED_LIFETIME)
    meta = Metadata(generation_id=req.generation, generation_time=time.time())
    store.put_products(channel_namespace(req.channel), req.generation, products, header, meta)
    return {"transform": entry.key, "products": sorted(products)}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


def decide(store: DataBlockStore, req: DecideRequest) -> dict[str, Any]:
    """Run the logic engine; store ``de_logicengine_facts``, ``actions`` and the decision record."""
    view = _cycle_view(store, req.channel, req.generation)
    from hepde.logicengine.engine import LogicEngine

    key = "passthrough"
    try:
        if req.entry is None:
            engine: LogicEngineBase = LogicEngine.passthrough(req.publishers)
        else:
            entry = ModuleEntry.from_json(req.entry)
            key = entry.key
            instance = instantiate(entry, req.channel)
            assert isinstance(instance, LogicEngineBase)
            engine = instance
        engine.bind(module_context(store, req.channel, req.generation, req.execution_id))
        evaluation = engine.evaluate_detailed(view)  # type: ignore[attr-defined]
    except Exception as exc:
        raise LogicEngineFailedError(_failure(exc, f"logic engine '{key}'")) from exc
    selected = [p for p in evaluation.selected_publishers() if p in req.publishers]
    unknown = [p for p in evaluation.selected_publishers() if p not in req.publishers]
    if unknown:
        raise LogicEngineFailedError(
            f"logic engine '{key}' selected unknown publisher(s): {', '.join(unknown)}"
        )
    facts_table = evaluation.facts_table
    if not isinstance(facts_table, pd.DataFrame):
        facts_table = pd.DataFrame(facts_table, columns=["rule_name", "fact_name", "fact_value"])
    header = Header.new("logicengine", lifetime=DERIVED_LIFETIME)
    meta = Metadata(generation_id=req.generation, generation_time=time.time())
    store.put_products(
        channel_namespace(req.channel),
        req.generation,
        {"de_logicengine_facts": facts_table, "actions": {k: list(v) for k, v in evaluation.actions.items()}},
        header,
        meta,
    )
    record = DecisionRecord(
        generation=req.generation,
        logicengine=key,
        facts={k: _jsonable(v) for k, v in evaluation.fact_values.items()},
        rules={k: _jsonable(v) for k, v in evaluation.rule_results.items()},
        new_facts={r: {f: _jsonable(v) for f, v in fs.items()} for r, fs in evaluation.new_facts.items()},
        actions={k: list(v) for k, v in evaluation.actions.items()},
        selected_publishers=selected,
    )
    write_decision(store, req.channel, record)
    return {
        "selected": selected,
        # keyed by position: publisher keys need not be valid JSONPath member names
        "publish": {f"p{i}": (p in selected) for i, p in enumerate(req.publishers)},
    }


def run_publisher(store: DataBlockStore, req: StageRequest) -> dict[str, Any]:
    assert req.entry is not None
    entry = ModuleEntry.from_json(req.entry)
    view = _cycle_view(store, req.channel, req.generation)
    started = time.time()
    try:
        module = instantiate(entry, req.channel)
        assert isinstance(module, Publisher)
        module.bind(module_context(store, req.channel, req.generation, req.execution_id))
        result = module.publish(view)
    except Exception as exc:
        raise PublisherFailedError(_failure(exc, f"publisher '{entry.key}' ({entry.module})")) from exc
    if result is None:
        result = PublishResult(summary="published")
    elif result is False:  # the original's "disable me" return value
        result = PublishResult(summary="publisher returned False (reported itself unable to publish)")
    outcome = PublisherOutcome(
        ok=True,
        seconds=round(time.time() - started, 4),
        summary=result.summary,
        requested=result.model_dump(mode="json")["requested"],
        requests=result.requests,
    )
    record = read_decision(store, req.channel, req.generation) or DecisionRecord(generation=req.generation)
    record.publishers[entry.key] = outcome
    write_decision(store, req.channel, record)
    return {"publisher": entry.key, "summary": outcome.summary}


def finish_cycle(store: DataBlockStore, req: FinishRequest, now: float | None = None) -> dict[str, Any]:
    """Close the cycle record and release the lease (only if this execution holds it)."""
    now = time.time() if now is None else now
    record = read_cycle(store, req.channel, req.generation) or CycleRecord(generation=req.generation)
    error = None
    if req.error:
        error = CycleError(error=req.error.get("Error"), cause=_cause_message(req.error.get("Cause")))
    record.status = req.status
    record.finished_at = now
    record.duration = round(now - (record.started_at if record.started_at is not None else now), 4)
    record.error = error
    write_cycle(store, req.channel, record)
    store.release_lease(cycle_lease(req.channel), req.execution_id)
    return {
        "generation": req.generation,
        "status": req.status,
        "duration": record.duration,
        "error": error.to_json() if error else None,
    }


def _cause_message(cause: Any) -> Any:
    """Step Functions passes a Lambda error's Cause as a JSON string ``{"errorMessage": ...}``."""
    if isinstance(cause, str):
        import json

        try:
            parsed = json.loads(cause)
        except ValueError:
            return cause
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return parsed["errorMessage"]
        return parsed
    return cause


def format_exception(exc: BaseException) -> list[str]:
    return traceback.format_exception(type(exc), exc, exc.__traceback__)
