"""The records a cycle leaves in the DataBlock, as typed models, and where they are stored.

Records are small JSON documents in the DataBlock table (``DataBlockStore.put_record``), one per
``(namespace, kind, ident)``:

============== ==================== ============================ ==========================================
kind           namespace            ident                        model
============== ==================== ============================ ==========================================
``cycle``      the channel's        generation, 12 digits        :class:`CycleRecord` (status, snapshot ...)
``decision``   the channel's        generation, 12 digits        :class:`DecisionRecord` (facts, rules ...)
``status``     the source's         ``last``                     :class:`SourceStatus` (last acquisition)
============== ==================== ============================ ==========================================

Each is written with ``model_dump(mode="json")`` — plain JSON types, which the DynamoDB store maps to
its attribute types (numbers as ``Decimal``) — and read back with ``model_validate``.  Reading is lenient
(unknown keys are ignored, every field has a default), so records written by earlier versions, whose
dicts had the same keys, read as the same models.  Records of earlier versions carry no typed
:class:`RequestRow` s (``PublisherOutcome.requests`` is empty): ``de explain`` shows their publishers'
``requested`` rows as they are, and ``de replay`` compares only rules and publishers for them.

A :class:`RequestRow` is one entry's request in one cycle: the planners build them
(:func:`hepde.modules.glideinwms.pilot_requests.request_rows`, :func:`hepde.modules.direct.planner.request_rows`,
:class:`RequestColumns` for a table whose columns a channel names), publishers return them in
``PublishResult.requests``, and ``de explain``, ``de replay`` and the REST API read them.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hepde.datablock.api import DataBlockStore, channel_namespace, source_namespace

CYCLE = "cycle"  # record kind: one per generation, the cycle's status and snapshot
DECISION = "decision"  # record kind: the decision record of one generation
SOURCE_STATUS = "status"  # record kind in a source namespace: last acquisition attempt

Scalar = str | int | float | bool | None


def gen_id(generation: int) -> str:
    """The ident of a generation's records: zero-padded, so string order is generation order."""
    return f"{generation:012d}"


class _Record(BaseModel):
    """Lenient on read (records of earlier versions), plain JSON on write."""

    model_config = ConfigDict(extra="ignore")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- requests per entry -------------------------------------------------------------------------------
class RequestRow(BaseModel):
    """One entry's request in one cycle: what was asked, the limits that shaped it and why."""

    model_config = ConfigDict(extra="forbid")

    #: the entry (GlideinWMS factory entry, direct-submission route/target, resource class ...)
    entry: str
    #: its kind: the entry type (``Grid``, ``AWS``, ``GCE``, ``LCF``), the route's target kind, "" if none
    entry_type: str = ""
    #: the frontend group asking, if any
    group: str = ""
    #: pilots requested idle (``ReqIdleGlideins``) / submitted this cycle
    idle_requested: int = 0
    #: the running + idle ceiling asked for (``ReqMaxGlideins``); None where a planner has none
    max_requested: int | None = None
    #: names of the limits that lowered the request (e.g. ``entry max_idle``, ``Gated``)
    limits_hit: list[str] = Field(default_factory=list)
    #: why, in words (the gating fact, the reason a limit applied)
    why: str = ""
    #: the figures behind the request (FOM, idle jobs matched, min_idle, max_run, ...)
    detail: dict[str, Scalar] = Field(default_factory=dict)
    #: ``ReqRemoveExcess`` sent (``WAIT``/``IDLE``) when a scale-down released pilots, else None
    remove_excess: str | None = None
    #: the decision policies that acted (``BucketsMerged``, ``HoldSteady``, ``CircuitOpen`` ...), in words with
    #: their numbers (which limit or breaker, the counts it saw, the request before and after)
    policies: str = ""


def split_limits(value: Any) -> list[str]:
    """Limit names from a table cell: ``"a, b"`` / ``"a; b"`` / a list / empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v not in (None, "", False)]
    return [p.strip() for p in str(value).replace(";", ",").split(",") if p.strip()]


def _scalar(value: Any) -> Scalar:
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class RequestColumns(BaseModel):
    """Which columns of a request table hold what, for a table a generic publisher exports (e.g. the
    example channel's ``pilot_requests``): named in the channel config, never guessed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry: str
    idle: str
    max: str | None = None
    limits: str | None = None
    why: str | None = None
    entry_type: str | None = None
    group: str | None = None
    #: further columns copied into ``RequestRow.detail``
    detail: list[str] = Field(default_factory=list)

    def rows(self, records: list[dict[str, Any]], where: str = "the table") -> list[RequestRow]:
        """One :class:`RequestRow` per record; a named column that is absent is a clear error."""
        if records:
            named = [self.entry, self.idle, self.max, self.limits, self.why, self.entry_type, self.group]
            missing = [c for c in [*named, *self.detail] if c and c not in records[0]]
            if missing:
                raise ValueError(
                    f"request columns {missing} are not columns of {where} (it has {sorted(records[0])})"
                )
        out = []
        for r in records:
            out.append(
                RequestRow(
                    entry=str(_scalar(r[self.entry])),
                    entry_type=str(r[self.entry_type]) if self.entry_type else "",
                    group=str(r[self.group]) if self.group else "",
                    idle_requested=int(r[self.idle] or 0),
                    max_requested=int(r[self.max] or 0) if self.max else None,
                    limits_hit=split_limits(r[self.limits]) if self.limits else [],
                    why=str(_scalar(r[self.why]) or "") if self.why else "",
                    detail={c: _scalar(r[c]) for c in self.detail},
                )
            )
        return out


# -- the cycle record -----------------------------------------------------------------------------------
class StaleInput(_Record):
    """A source product the snapshot found expired or never acquired (the cycle is held)."""

    source: str
    product: str | None = None
    reason: str = ""
    error: str | None = None
    generation: int | None = None
    expired_at: float | None = None


class Acquisition(_Record):
    """What a cycle's ``Source`` stage did for one source (the source function's result)."""

    source: str | None = None
    acquired: bool = False
    generation: int | None = None
    reason: str | None = None
    error: str | None = None
    products: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Hold(_Record):
    """A transform that held the cycle (``HoldCycleError``) and its reason."""

    transform: str
    reason: str


class CycleError(_Record):
    """The error that ended a failed (or held-by-error) cycle, as Step Functions reported it."""

    error: str | None = None
    cause: Any = None


class CycleRecord(_Record):
    """One cycle (generation) of a channel: who started it, what it pinned, how it ended."""

    generation: int
    #: RUNNING → HOLDING (stale input or held transform) → SUCCEEDED | HELD | FAILED
    status: str = "UNKNOWN"
    execution_id: str | None = None
    #: schedule | run-now | de run | replay
    trigger: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    #: product name → the pinned ProductRef (``ProductRef.to_json``: namespace, generation, name)
    snapshot: dict[str, list[Any]] = Field(default_factory=dict)
    stale: list[StaleInput] = Field(default_factory=list)
    acquisitions: list[Acquisition] = Field(default_factory=list)
    source_errors: dict[str, str] = Field(default_factory=dict)
    hold: Hold | None = None
    error: CycleError | None = None

    def to_json(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude={"acquisitions"})
        out["acquisitions"] = [a.to_json() for a in self.acquisitions]
        return out


# -- the decision record ----------------------------------------------------------------------------------
class PublisherOutcome(_Record):
    """What one publisher did in the cycle (its ``PublishResult`` and how long it took)."""

    ok: bool = True
    seconds: float = 0.0
    summary: str = ""
    #: the publisher's own rows (what it sent or wrote), shown as they are
    requested: list[dict[str, Any]] = Field(default_factory=list)
    #: its requests per entry
    requests: list[RequestRow] = Field(default_factory=list)


class DecisionRecord(_Record):
    """The logic engine's decision of one cycle and what each selected publisher did."""

    generation: int
    logicengine: str = "passthrough"
    facts: dict[str, Any] = Field(default_factory=dict)
    #: rule → its result, in evaluation order
    rules: dict[str, Any] = Field(default_factory=dict)
    new_facts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    actions: dict[str, list[str]] = Field(default_factory=dict)
    selected_publishers: list[str] = Field(default_factory=list)
    publishers: dict[str, PublisherOutcome] = Field(default_factory=dict)


class SourceStatus(_Record):
    """The last acquisition attempt of a source (in the source's namespace, ident ``last``)."""

    ok: bool
    at: float
    generation: int | None = None
    error: str | None = None
    error_type: str | None = None


# -- reading and writing -----------------------------------------------------------------------------------
def read_cycle(store: DataBlockStore, channel: str, generation: int) -> CycleRecord | None:
    raw = store.get_record(channel_namespace(channel), CYCLE, gen_id(generation))
    return CycleRecord.model_validate(raw) if raw is not None else None


def write_cycle(store: DataBlockStore, channel: str, record: CycleRecord) -> None:
    store.put_record(channel_namespace(channel), CYCLE, gen_id(record.generation), record.to_json())


def cycle_records(store: DataBlockStore, channel: str, limit: int | None = 20) -> list[CycleRecord]:
    """A channel's cycle records, newest first."""
    found = store.query_records(channel_namespace(channel), CYCLE, newest_first=True, limit=limit)
    return [CycleRecord.model_validate(r) for _, r in found]


def read_decision(store: DataBlockStore, channel: str, generation: int) -> DecisionRecord | None:
    raw = store.get_record(channel_namespace(channel), DECISION, gen_id(generation))
    return DecisionRecord.model_validate(raw) if raw is not None else None


def write_decision(store: DataBlockStore, channel: str, record: DecisionRecord) -> None:
    store.put_record(channel_namespace(channel), DECISION, gen_id(record.generation), record.to_json())


def read_source_status(store: DataBlockStore, source_key: str) -> SourceStatus | None:
    raw = store.get_record(source_namespace(source_key), SOURCE_STATUS, "last")
    return SourceStatus.model_validate(raw) if raw is not None else None


def write_source_status(store: DataBlockStore, source_key: str, status: SourceStatus) -> None:
    store.put_record(source_namespace(source_key), SOURCE_STATUS, "last", status.to_json())
