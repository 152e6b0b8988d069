"""The module context: everything a module may use besides its parameters and its DataBlock.

The runtime (:mod:`hepde.runtime.context`) builds one :class:`ModuleContext` per module call and binds it
to the module (:meth:`hepde.modules.base.Module.bind`) before ``acquire`` / ``transform`` / ``evaluate`` /
``publish``; the original 2.0.6 signatures are unchanged.  A module reads:

* the cycle's identity and clock: :attr:`ModuleContext.channel`, ``generation``, ``execution_id``, ``now``;
* its channel's earlier output: :meth:`ModuleContext.previous_product`;
* small JSON records in its channel's namespace (or another channel's): :attr:`ModuleContext.records`,
  :meth:`ModuleContext.records_of`;
* the bridge actions queue, resolved by the runtime from the deployment's settings
  (:func:`hepde.bridge_queue.actions_queue_address`): :meth:`ModuleContext.action_queue`;
* snapshots the condor bridge uploaded: :attr:`ModuleContext.snapshots`;
* locations inside the deployment's products bucket: :meth:`ModuleContext.location`.

Modules never import :mod:`hepde.runtime`.  In a test, bind a :class:`FakeContext` (in-memory records,
queues and earlier products; snapshots from a folder)::

    ctx = FakeContext(channel="htc", generation=7)
    result = publisher.bind(ctx).publish(data_block)
    assert ctx.queue("default").bodies
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from hepde.snapshots import Snapshot


class RecordStore(Protocol):
    """Small JSON records of one namespace (a channel's), by kind and ident."""

    def put(self, kind: str, ident: str, record: Mapping[str, Any]) -> None: ...

    def get(self, kind: str, ident: str) -> dict[str, Any] | None: ...

    def query(
        self, kind: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Records of one kind ordered by ident (string order)."""
        ...


class ActionQueue(Protocol):
    """The bridge's actions queue (:class:`hepde.bridge_queue.SqsQueue` in the runtime)."""

    @property
    def name(self) -> str: ...

    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str: ...

    def send_batch(self, items: Iterable[tuple[str, Mapping[str, str]]]) -> int: ...


class SnapshotReader(Protocol):
    """Reads the newest snapshot the condor bridge uploaded (:func:`hepde.snapshots.read_latest`)."""

    def latest(self, location: str, kind: str, origin: str, *, max_age: float | None) -> Snapshot:
        """``location`` may use ``{bucket}`` (the deployment's products bucket)."""
        ...


class ContextServices(Protocol):
    """What backs a context: the runtime's (DataBlock, SQS, S3) or a fake's (memory)."""

    def previous_product(self, name: str) -> tuple[Any, float] | None: ...

    def records(self, channel: str) -> RecordStore: ...

    def action_queue(
        self, bridge: str, queue: str = "", *, create_if_missing: bool = False
    ) -> ActionQueue: ...

    def snapshots(self) -> SnapshotReader: ...

    def bucket(self) -> str: ...


@dataclass(frozen=True)
class ModuleContext:
    """One module call's view of the cycle (see the module docstring)."""

    channel: str
    generation: int
    execution_id: str
    #: the cycle's clock: seconds since the epoch when the runtime built this context
    now: float
    services: ContextServices

    def previous_product(self, name: str) -> tuple[Any, float] | None:
        """``(value, generation_time)`` of product ``name`` from the newest earlier cycle that has it."""
        return self.services.previous_product(name)

    @property
    def records(self) -> RecordStore:
        """Records in this channel's namespace."""
        return self.services.records(self.channel)

    def records_of(self, channel: str) -> RecordStore:
        """Records in another channel's namespace (e.g. the actions a channel sent)."""
        return self.services.records(channel)

    def action_queue(
        self, bridge: str = "default", queue: str = "", *, create_if_missing: bool = False
    ) -> ActionQueue:
        """The actions queue of condor bridge ``bridge``; ``queue`` (a name or URL) overrides it."""
        return self.services.action_queue(bridge, queue, create_if_missing=create_if_missing)

    @property
    def snapshots(self) -> SnapshotReader:
        return self.services.snapshots()

    @property
    def bucket(self) -> str:
        """The deployment's products bucket."""
        return self.services.bucket()

    def location(self, template: str, **fields: Any) -> str:
        """``template`` with ``{bucket}``, ``{channel}``, ``{generation}`` and ``fields`` filled in."""
        values: dict[str, Any] = {"channel": self.channel, "generation": self.generation, **fields}
        if "{bucket}" in template:
            values["bucket"] = self.bucket
        return template.format(**values)


# -- the fake -------------------------------------------------------------------------------------
class MemoryRecords:
    """A :class:`RecordStore` in a dict (``records[(kind, ident)]``)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, kind: str, ident: str, record: Mapping[str, Any]) -> None:
        self.records[(kind, ident)] = dict(record)

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        found = self.records.get((kind, ident))
        return dict(found) if found is not None else None

    def query(
        self, kind: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        out = sorted(((i, dict(r)) for (k, i), r in self.records.items() if k == kind), reverse=newest_first)
        return out[:limit] if limit is not None else out


class MemoryQueue:
    """An :class:`ActionQueue` that keeps what was sent (``bodies``, ``attributes``)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.bodies: list[str] = []
        self.attributes: list[dict[str, str]] = []

    @property
    def name(self) -> str:
        return self._name

    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str:
        self.bodies.append(body)
        self.attributes.append(dict(attributes or {}))
        return str(len(self.bodies))

    def send_batch(self, items: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        n = 0
        for body, attributes in items:
            self.send(body, attributes)
            n += 1
        return n


class FolderSnapshots:
    """A :class:`SnapshotReader` over a folder or ``s3://`` location (``{bucket}`` = ``bucket``)."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    def latest(self, location: str, kind: str, origin: str, *, max_age: float | None) -> Snapshot:
        from hepde.snapshots import read_latest

        return read_latest(location.replace("{bucket}", self._bucket), kind, origin, max_age=max_age)


@dataclass
class _FakeServices:
    previous: dict[str, tuple[Any, float]]
    channels: dict[str, MemoryRecords]
    queues: dict[str, MemoryQueue]
    bucket_name: str

    def previous_product(self, name: str) -> tuple[Any, float] | None:
        return self.previous.get(name)

    def records(self, channel: str) -> MemoryRecords:
        return self.channels.setdefault(channel, MemoryRecords())

    def action_queue(self, bridge: str, queue: str = "", *, create_if_missing: bool = False) -> MemoryQueue:
        from hepde.bridge_queue import actions_queue_address

        address = actions_queue_address(bridge, override=queue)
        return self.queues.setdefault(address, MemoryQueue(address.rstrip("/").rsplit("/", 1)[-1]))

    def snapshots(self) -> FolderSnapshots:
        return FolderSnapshots(self.bucket_name)

    def bucket(self) -> str:
        return self.bucket_name


def FakeContext(  # noqa: N802 - reads as the class it stands in for
    channel: str = "test",
    generation: int = 0,
    *,
    execution_id: str = "test",
    now: float | None = None,
    previous: Mapping[str, tuple[Any, float]] | None = None,
    bucket: str = "test-bucket",
) -> FakeModuleContext:
    """A context backed by memory: ``previous`` = earlier products ``{name: (value, generation_time)}``."""
    services = _FakeServices(dict(previous or {}), {}, {}, bucket)
    return FakeModuleContext(channel, generation, execution_id, time.time() if now is None else now, services)


@dataclass(frozen=True)
class FakeModuleContext(ModuleContext):
    """What :func:`FakeContext` returns: a :class:`ModuleContext` plus accessors for the test's checks."""

    services: _FakeServices = field(repr=False)

    def queue(self, bridge: str = "default", queue: str = "") -> MemoryQueue:
        """The in-memory queue that :meth:`action_queue` with the same arguments returns."""
        return self.services.action_queue(bridge, queue)

    def channel_records(self, channel: str | None = None) -> MemoryRecords:
        return self.services.records(channel or self.channel)
