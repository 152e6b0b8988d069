"""The runtime's side of the module context: :func:`module_context` builds the
:class:`~hepde.modules.context.ModuleContext` every stage binds to the module it calls.

What backs it: the DataBlock store (earlier products, records), the deployment's settings (the products
bucket; the stack and deployed queue URL from which the bridge actions queue is resolved, once, by
:func:`hepde.bridge_queue.actions_queue_address`), an SQS client (created on first use) and the
snapshot store.  The Lambda handlers, ``de run`` (embedded cloud) and ``de module run`` build contexts
only through this function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from hepde.bridge_queue import SqsQueue, actions_queue_address, open_queue
from hepde.datablock.api import DataBlockStore, channel_namespace
from hepde.modules.context import FolderSnapshots, ModuleContext
from hepde.settings import Settings, settings


def sqs_client() -> Any:
    """The SQS client of the stage functions (one per process; tests replace this function)."""
    import boto3

    return boto3.client("sqs")


class StoreRecords:
    """A :class:`~hepde.modules.context.RecordStore` over one namespace of the DataBlock store."""

    def __init__(self, store: DataBlockStore, namespace: str) -> None:
        self.store = store
        self.namespace = namespace

    def put(self, kind: str, ident: str, record: Mapping[str, Any]) -> None:
        self.store.put_record(self.namespace, kind, ident, dict(record))

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        return self.store.get_record(self.namespace, kind, ident)

    def query(
        self, kind: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        return self.store.query_records(self.namespace, kind, newest_first=newest_first, limit=limit)


def previous_product(
    store: DataBlockStore, channel: str, generation: int, name: str, max_back: int = 20
) -> tuple[Any, float] | None:
    """``(value, generation_time)`` of product ``name`` from the newest earlier generation of the
    channel that has it (looking back at most ``max_back`` generations), or None."""
    ns = channel_namespace(channel)
    earlier = [g for g in store.generations(ns) if g < generation]
    for g in sorted(earlier, reverse=True)[:max_back]:
        for info in store.list_generation(ns, g):
            if info.ref.name == name:
                return store.get_product(info.ref), info.metadata.generation_time
    return None


class RuntimeServices:
    """:class:`~hepde.modules.context.ContextServices` of a deployed (or embedded) cycle."""

    def __init__(
        self,
        store: DataBlockStore,
        channel: str,
        generation: int,
        *,
        settings_of: Callable[[], Settings] = settings,
        sqs: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.generation = generation
        self._settings_of = settings_of
        self._sqs = sqs
        self._queues: dict[tuple[str, str], SqsQueue] = {}

    def previous_product(self, name: str) -> tuple[Any, float] | None:
        return previous_product(self.store, self.channel, self.generation, name)

    def records(self, channel: str) -> StoreRecords:
        return StoreRecords(self.store, channel_namespace(channel))

    def action_queue(self, bridge: str, queue: str = "", *, create_if_missing: bool = False) -> SqsQueue:
        if (bridge, queue) not in self._queues:
            s = self._settings_of()
            address = actions_queue_address(
                bridge, stack=s.stack, deployed_url=s.bridge_actions_queue_url, override=queue
            )
            client = (self._sqs or sqs_client)()
            self._queues[(bridge, queue)] = open_queue(client, address, create_if_missing=create_if_missing)
        return self._queues[(bridge, queue)]

    def snapshots(self) -> FolderSnapshots:
        return FolderSnapshots(self.bucket())

    def bucket(self) -> str:
        return self._settings_of().bucket_name


def module_context(
    store: DataBlockStore,
    channel: str,
    generation: int,
    execution_id: str = "local",
    *,
    now: float | None = None,
    sqs: Callable[[], Any] | None = None,
    settings_of: Callable[[], Settings] = settings,
) -> ModuleContext:
    """The context of one module call in cycle ``generation`` of ``channel`` (see the module docstring)."""
    services = RuntimeServices(store, channel, generation, settings_of=settings_of, sqs=sqs)
    return ModuleContext(channel, generation, execution_id, time.time() if now is None else now, services)
