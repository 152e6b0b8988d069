"""``de replay``: the recorded inputs of past cycles through a changed channel config, and what it changes.

1. :func:`load_recording` reads, from the DataBlock the cycles ran against (deployed, or an embedded
   cloud), the cycle records of a channel in a time range — each record's ``snapshot`` pins the source
   products that cycle used — the pinned product values, and each cycle's decision record ("before").
   Everything is read before step 2, because the embedded cloud intercepts every AWS call.
2. :func:`replay` starts an :class:`~hepde_tools.local.embedded.EmbeddedAWS`, deploys the new config's real
   state machine, and for each recorded cycle, oldest first, stores that cycle's source products as the
   sources' latest acquisition (marked fresh and not due, so no source module runs: replay never reads a
   live system) and runs one cycle.  Publishers are replaced by
   :class:`~hepde_tools.replay_publisher.DryRunPublisher`, so nothing leaves the embedded cloud.
3. :func:`decision_diff` compares, per cycle, publisher, entry and request (``idle_requested``,
   ``max_requested``), the recorded typed requests (:class:`hepde.records.RequestRow`) with the replayed
   ones, plus which rules fired
   and which publishers were selected; :func:`summary_rows` folds it per entry over the whole range.
4. the CLI renders the diff (:mod:`hepde_tools.cli.replay_report`: text, a PNG plot, an HTML page).

"Before" is what the channel really decided (its decision records), with the publishers that really
ran; "after" used dry-run publishers.  Requests are compared for publishers that return typed requests
(the glideclient and bridge-submit publishers, a TableExport with ``requests`` columns); cycles recorded
before decision records carried them compare only rules and publishers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hepde.datablock.api import (
    DataBlockStore,
    Header,
    Metadata,
    ProductRef,
    source_namespace,
)
from hepde.errors import ChannelNotFoundError, DEError
from hepde.records import DecisionRecord, cycle_records, read_decision

Progress = Callable[[int, int, str], None]


class ReplayError(DEError):
    """A replay cannot run: nothing recorded in the range, or the new config needs inputs never recorded."""


@dataclass
class RecordedCycle:
    generation: int
    started_at: float
    status: str
    snapshot: dict[str, ProductRef]
    decision: DecisionRecord | None


@dataclass
class Recording:
    channel: str
    since: float
    until: float
    cycles: list[RecordedCycle] = field(default_factory=list)
    values: dict[ProductRef, Any] = field(default_factory=dict)


def load_recording(
    store: DataBlockStore,
    channel: str,
    since: float,
    until: float,
    *,
    max_cycles: int = 500,
    progress: Progress | None = None,
) -> Recording:
    """The recorded inputs and decisions of ``channel``'s cycles started in [since, until]."""
    records = cycle_records(store, channel, None)
    if not records:
        raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
    chosen = [r for r in records if since <= (r.started_at or 0.0) <= until and r.snapshot]
    chosen = sorted(chosen, key=lambda r: r.generation)[-max_cycles:]
    if not chosen:
        raise ReplayError(
            f"channel '{channel}' has no cycle with recorded inputs between the given times "
            f"({len(records)} cycle(s) recorded in all)"
        )
    # the range actually covered: first and last recorded cycle start
    rec = Recording(channel, chosen[0].started_at or since, chosen[-1].started_at or until)
    for i, r in enumerate(chosen):
        if progress:
            progress(i, len(chosen), f"reading cycle {r.generation}")
        snapshot = {name: ProductRef.from_json(ref) for name, ref in r.snapshot.items()}
        for ref in snapshot.values():
            if ref not in rec.values:
                rec.values[ref] = store.get_product(ref)
        rec.cycles.append(
            RecordedCycle(
                r.generation,
                r.started_at or 0.0,
                r.status,
                snapshot,
                read_decision(store, channel, r.generation),
            )
        )
    if progress:
        progress(len(chosen), len(chosen), "read")
    return rec


def replay_config(prepared: Any) -> Any:
    """The channel config a replay deploys: the same, with every publisher wrapped in a dry run."""
    from hepde.config.model import ModuleEntry

    config = prepared.config
    publishers = {
        key: ModuleEntry(
            key=key,
            kind="publisher",
            module="hepde_tools.replay_publisher",
            name="DryRunPublisher",
            parameters={
                "wrapped_module": e.module,
                "wrapped_name": e.name,
                "wrapped_parameters": e.parameters,
            },
        )
        for key, e in config.publishers.items()
    }
    return replace(config, publishers=publishers)


def replay(
    recording: Recording, config_path: str | Path, *, progress: Progress | None = None, timeout: float = 300.0
) -> list[dict[str, Any]]:
    """Run every recorded cycle through the channel file ``config_path`` in a fresh embedded cloud.

    Returns, per recorded cycle (oldest first): ``{"recorded_cycle", "started_at", "status", "decision"}``.
    """
    from hepde.runtime.asl import generate
    from hepde.runtime.channel import prepare
    from hepde_tools.local.embedded import EmbeddedAWS

    (prepared,) = prepare([config_path])
    config = replay_config(prepared)
    definition = generate(config, prepared.graph)
    by_source: dict[str, list[str]] = {}
    for product, key in prepared.graph.producers.items():
        if key in config.sources:
            by_source.setdefault(key, []).append(product)
    recorded_names = {n for c in recording.cycles for n in c.snapshot}
    missing = sorted(p for ps in by_source.values() for p in ps if p not in recorded_names)
    if missing:
        raise ReplayError(
            f"the new config's sources produce {', '.join(missing)}, which the recorded cycles of "
            f"'{recording.channel}' never had; replay needs recorded values for every source product"
        )
    results = []
    with EmbeddedAWS() as cloud:
        arn = cloud.deploy_channel(config.name, definition)
        store = cloud.store()
        for i, cycle in enumerate(recording.cycles):
            if progress:
                progress(i, len(recording.cycles), f"replaying cycle {cycle.generation}")
            now = time.time()
            for key, products in by_source.items():
                entry = config.sources[key]
                values = {p: recording.values[cycle.snapshot[p]] for p in products if p in cycle.snapshot}
                if len(values) != len(products):
                    absent = sorted(set(products) - set(values))
                    raise ReplayError(
                        f"recorded cycle {cycle.generation} has no {', '.join(absent)} "
                        f"(source '{key}' of the new config)"
                    )
                # created "in the future": the source is never due, so its module never runs in a replay
                header = Header(
                    creator=f"{entry.module}#{entry.config_hash()}",
                    create_time=now + 86400,
                    expiration_time=now + 2 * 86400,
                    scheduled_create_time=cycle.started_at,
                )
                ns = source_namespace(key)
                generation = store.next_generation(ns)
                store.put_products(
                    ns,
                    generation,
                    values,
                    header,
                    Metadata(generation_id=generation, generation_time=cycle.started_at),
                )
            execution = cloud.start(arn, {"trigger": "replay"}, name=f"replay-{cycle.generation}-{i}")
            desc = cloud.wait(execution, timeout=timeout)
            replayed = next(
                (r for r in cycle_records(store, config.name, 3) if r.execution_id == execution), None
            )
            if replayed is None:
                raise ReplayError(
                    f"replay of cycle {cycle.generation} opened no cycle: {desc.get('error')} "
                    f"{desc.get('cause')}"
                )
            acquired = [str(a.source) for a in replayed.acquisitions if a.acquired]
            if acquired:  # pragma: no cover - the headers above make this impossible
                raise ReplayError(f"replay acquired live source(s) {', '.join(acquired)}; aborted")
            results.append(
                {
                    "recorded_cycle": cycle.generation,
                    "started_at": cycle.started_at,
                    "status": replayed.status,
                    "error": replayed.error.to_json() if replayed.error else None,
                    "decision": read_decision(store, config.name, replayed.generation),
                }
            )
    if progress:
        progress(len(recording.cycles), len(recording.cycles), "replayed")
    return results


# -- the diff -----------------------------------------------------------------------------------------
def _requests(decision: DecisionRecord | None) -> dict[tuple[str, str], dict[str, Any]]:
    """``(publisher, entry) -> {"requests": {column: value}, "limits": [...], "why": str}`` of one decision,
    from its typed requests per entry (columns ``idle_requested`` and, where given, ``max_requested``)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for publisher, outcome in (decision.publishers if decision else {}).items():
        for row in outcome.requests:
            values: dict[str, Any] = {"idle_requested": row.idle_requested}
            if row.max_requested is not None:
                values["max_requested"] = row.max_requested
            out[(publisher, row.entry)] = {"requests": values, "limits": row.limits_hit, "why": row.why}
    return out


def _fired(decision: DecisionRecord | None) -> list[str]:
    return [r for r, v in (decision.rules if decision else {}).items() if v is True]


def decision_diff(recording: Recording, replayed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per cycle: rules fired and publishers selected before/after, and every (publisher, entry, column)
    request before/after with the limits hit; ``changed`` counts cycles whose requests differ."""
    cycles = []
    rows = []
    changed = 0
    for before_cycle, after in zip(recording.cycles, replayed, strict=True):
        before, after_d = before_cycle.decision, after["decision"]
        rb, ra = _requests(before), _requests(after_d)
        cycle_changed = False
        for publisher, entry in sorted(set(rb) | set(ra)):
            b, a = rb.get((publisher, entry)), ra.get((publisher, entry))
            columns = sorted(set((b or {}).get("requests", {})) | set((a or {}).get("requests", {})))
            for column in columns:
                vb = (b or {}).get("requests", {}).get(column)
                va = (a or {}).get("requests", {}).get(column)
                diff = (va - vb) if isinstance(va, int | float) and isinstance(vb, int | float) else None
                differs = vb != va or (b or {}).get("limits") != (a or {}).get("limits")
                cycle_changed |= differs
                rows.append(
                    {
                        "cycle": before_cycle.generation,
                        "started_at": before_cycle.started_at,
                        "publisher": publisher,
                        "entry": entry,
                        "column": column,
                        "before": vb,
                        "after": va,
                        "delta": diff,
                        "changed": differs,
                        "limits_before": (b or {}).get("limits", []),
                        "limits_after": (a or {}).get("limits", []),
                        "why_after": (a or {}).get("why", ""),
                    }
                )
        fired_b, fired_a = _fired(before), _fired(after_d)
        sel_b = before.selected_publishers if before else []
        sel_a = after_d.selected_publishers if after_d else []
        cycle_changed |= fired_b != fired_a or sel_b != sel_a
        changed += cycle_changed
        cycles.append(
            {
                "cycle": before_cycle.generation,
                "started_at": before_cycle.started_at,
                "status_before": before_cycle.status,
                "status_after": after["status"],
                "rules_before": fired_b,
                "rules_after": fired_a,
                "published_before": sel_b,
                "published_after": sel_a,
                "changed": cycle_changed,
            }
        )
    return {
        "channel": recording.channel,
        "since": recording.since,
        "until": recording.until,
        "cycles": cycles,
        "requests": rows,
        "cycles_changed": changed,
        "summary": summary_rows(rows),
    }


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (publisher, entry, column) over the whole range: totals before/after, cycles changed, limits hit after."""
    agg: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        k = (r["publisher"], r["entry"], r["column"])
        a = agg.setdefault(
            k,
            {
                "publisher": k[0],
                "entry": k[1],
                "column": k[2],
                "total_before": 0,
                "total_after": 0,
                "cycles": 0,
                "cycles_changed": 0,
                "limits_after": [],
            },
        )
        a["total_before"] += r["before"] if isinstance(r["before"], int | float) else 0
        a["total_after"] += r["after"] if isinstance(r["after"], int | float) else 0
        a["cycles"] += 1
        a["cycles_changed"] += bool(r["changed"])
        a["limits_after"] += [x for x in r["limits_after"] if x not in a["limits_after"]]
    return [agg[k] for k in sorted(agg, key=lambda k: (k[0], entry_order(k[1]), k[2]))]


def entry_order(entry: str) -> tuple[int, float | str]:
    try:
        return (0, float(entry))
    except ValueError:
        return (1, entry)
