"""Reading what a cycle left behind: its cycle record, decision record and products."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hepde.datablock.api import DataBlockStore, ProductRef, channel_namespace
from hepde.runtime.stages import CYCLE, DECISION, gen_id


@dataclass
class CycleReport:
    channel: str
    generation: int
    cycle: dict[str, Any]
    decision: dict[str, Any] | None
    products: dict[str, ProductRef] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.cycle.get("status", "UNKNOWN"))


def latest_generation(store: DataBlockStore, channel: str) -> int | None:
    records = store.query_records(channel_namespace(channel), CYCLE, newest_first=True, limit=1)
    return int(records[0][1]["generation"]) if records else None


def cycle_report(store: DataBlockStore, channel: str, generation: int) -> CycleReport:
    ns = channel_namespace(channel)
    cycle = store.get_record(ns, CYCLE, gen_id(generation)) or {"generation": generation, "status": "UNKNOWN"}
    decision = store.get_record(ns, DECISION, gen_id(generation))
    products = {name: ProductRef.from_json(ref) for name, ref in (cycle.get("snapshot") or {}).items()}
    for info in store.list_generation(ns, generation):
        products[info.ref.name] = info.ref
    return CycleReport(channel, generation, cycle, decision, products)
