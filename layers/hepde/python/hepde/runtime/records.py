"""Reading what a cycle left behind: its cycle record, decision record and products."""

from __future__ import annotations

from dataclasses import dataclass, field

from hepde.datablock.api import DataBlockStore, ProductRef, channel_namespace
from hepde.records import CycleRecord, DecisionRecord, cycle_records, read_cycle, read_decision


@dataclass
class CycleReport:
    channel: str
    generation: int
    cycle: CycleRecord
    decision: DecisionRecord | None
    products: dict[str, ProductRef] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.cycle.status


def latest_generation(store: DataBlockStore, channel: str) -> int | None:
    records = cycle_records(store, channel, limit=1)
    return records[0].generation if records else None


def cycle_report(store: DataBlockStore, channel: str, generation: int) -> CycleReport:
    ns = channel_namespace(channel)
    cycle = read_cycle(store, channel, generation) or CycleRecord(generation=generation)
    decision = read_decision(store, channel, generation)
    products = {name: ProductRef.from_json(ref) for name, ref in cycle.snapshot.items()}
    for info in store.list_generation(ns, generation):
        products[info.ref.name] = info.ref
    return CycleReport(channel, generation, cycle, decision, products)
