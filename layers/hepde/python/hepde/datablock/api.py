"""DataBlock types and the store protocol every implementation satisfies.

Layout: a *namespace* is ``channel:<name>`` (a channel's own products: transforms, logic-engine
outputs, cycle records) or ``source:<key>`` (a shared source's products; every channel using the
source reads them).  A *generation* is an integer that only grows inside a namespace: a channel's
cycle number, or a source's acquisition number.  A product is identified by
``(namespace, generation, name)`` and carries the original's header and metadata.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol


def channel_namespace(channel: str) -> str:
    return f"channel:{channel}"


def source_namespace(source_key: str) -> str:
    return f"source:{source_key}"


@dataclass(frozen=True)
class Header:
    """The original's product header (``dataspace/datablock.py Header``); times are epoch seconds."""

    creator: str
    create_time: float
    expiration_time: float
    scheduled_create_time: float
    schema_id: int | None = None

    @classmethod
    def new(cls, creator: str, lifetime: float, now: float | None = None) -> Header:
        now = time.time() if now is None else now
        return cls(
            creator=creator, create_time=now, expiration_time=now + lifetime, scheduled_create_time=now
        )

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expiration_time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Header:
        return cls(**data)


@dataclass(frozen=True)
class Metadata:
    """The original's product metadata; ``state`` is one of NEW, START_BACKUP, METADATA_UPDATE, END_CYCLE."""

    generation_id: int
    state: str = "END_CYCLE"
    generation_time: float = 0.0
    missed_update_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metadata:
        return cls(**data)


@dataclass(frozen=True)
class ProductRef:
    namespace: str
    generation: int
    name: str

    def to_json(self) -> list[Any]:
        return [self.namespace, self.generation, self.name]

    @classmethod
    def from_json(cls, data: list[Any]) -> ProductRef:
        return cls(str(data[0]), int(data[1]), str(data[2]))


@dataclass(frozen=True)
class GenerationInfo:
    """Header and metadata of one stored product, without its value."""

    ref: ProductRef
    header: Header
    metadata: Metadata
    stored_bytes: int
    in_s3: bool


class DataBlockStore(Protocol):
    """What the runtime needs from a DataBlock backend.

    Every read is strongly consistent.  Writes of products are idempotent (same key overwrites).
    All errors from the backend are translated: ``ProductNotFoundError`` for a missing product,
    ``DataBlockUnavailableError`` for throttling/timeouts/unreachable service (transient).
    """

    # -- products -------------------------------------------------------------------------
    def put_products(
        self, namespace: str, generation: int, products: dict[str, Any], header: Header, metadata: Metadata
    ) -> list[GenerationInfo]: ...

    def get_product(self, ref: ProductRef) -> Any: ...

    def get_info(self, ref: ProductRef) -> GenerationInfo: ...

    def list_generation(self, namespace: str, generation: int) -> list[GenerationInfo]: ...

    def generations(self, namespace: str, since: float | None = None) -> list[int]:
        """Generations of a namespace that hold products, ascending (``since``: create_time >=)."""
        ...

    def latest_generation(self, namespace: str) -> int | None:
        """The highest generation that holds products, or None."""
        ...

    # -- counters, records, leases ----------------------------------------------------------
    def next_generation(self, namespace: str) -> int:
        """Atomically allocate the next generation number of a namespace (1, 2, ...)."""
        ...

    def put_record(self, namespace: str, kind: str, ident: str, body: dict[str, Any]) -> None:
        """Store a small JSON document (cycle record, decision record, source status, ...)."""
        ...

    def get_record(self, namespace: str, kind: str, ident: str) -> dict[str, Any] | None: ...

    def query_records(
        self, namespace: str, kind: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Records of one kind in a namespace, ordered by ``ident`` (string order)."""
        ...

    def acquire_lease(
        self, name: str, owner: str, seconds: float, now: float | None = None
    ) -> dict[str, Any] | None:
        """Take lease ``name`` for ``owner`` if free or expired (conditional write).

        Returns None on success; otherwise the current holder's record (``owner``, ``expires_at``).
        Re-acquiring a lease one already owns succeeds (extends it).
        """
        ...

    def release_lease(self, name: str, owner: str) -> bool:
        """Release lease ``name`` only if ``owner`` holds it; True if released."""
        ...

    def get_lease(self, name: str) -> dict[str, Any] | None: ...
