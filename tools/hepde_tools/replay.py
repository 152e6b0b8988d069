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
3. :func:`decision_diff` compares, per cycle, publisher, entry and request column, the recorded requests
   with the replayed ones (entries and columns read as ``de explain`` reads them), plus which rules fired
   and which publishers were selected; :func:`summary_rows` folds it per entry over the whole range.
4. :func:`plot_png` draws requests per entry over time, before (dashed) and after (solid);
   :func:`html_report` writes one self-contained HTML file (tables and the plot inlined).

"Before" is what the channel really decided (its decision records), with the publishers that really
ran; "after" used dry-run publishers.  For a publisher whose ``requested`` rows are its consumed table
(TableExport and any publisher without ``dry_run``) the two are comparable row for row.
"""

from __future__ import annotations

import base64
import html
import io
import json
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
    channel_namespace,
    source_namespace,
)
from hepde.errors import ChannelNotFoundError, DEError
from hepde.ops.history import cycle_records
from hepde.runtime.explain import entry_requests
from hepde.runtime.stages import DECISION, gen_id

Progress = Callable[[int, int, str], None]


class ReplayError(DEError):
    """A replay cannot run: nothing recorded in the range, or the new config needs inputs never recorded."""


@dataclass
class RecordedCycle:
    generation: int
    started_at: float
    status: str
    snapshot: dict[str, ProductRef]
    decision: dict[str, Any] | None


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
    chosen = [r for r in records if since <= float(r.get("started_at") or 0) <= until and r.get("snapshot")]
    chosen = sorted(chosen, key=lambda r: int(r["generation"]))[-max_cycles:]
    if not chosen:
        raise ReplayError(
            f"channel '{channel}' has no cycle with recorded inputs between the given times "
            f"({len(records)} cycle(s) recorded in all)"
        )
    # the range actually covered: first and last recorded cycle start
    rec = Recording(
        channel, float(chosen[0].get("started_at") or since), float(chosen[-1].get("started_at") or until)
    )
    ns = channel_namespace(channel)
    for i, r in enumerate(chosen):
        if progress:
            progress(i, len(chosen), f"reading cycle {r['generation']}")
        snapshot = {name: ProductRef.from_json(ref) for name, ref in r["snapshot"].items()}
        for ref in snapshot.values():
            if ref not in rec.values:
                rec.values[ref] = store.get_product(ref)
        rec.cycles.append(
            RecordedCycle(
                int(r["generation"]),
                float(r.get("started_at") or 0),
                str(r.get("status")),
                snapshot,
                store.get_record(ns, DECISION, gen_id(int(r["generation"]))),
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
                (r for r in cycle_records(store, config.name, 3) if r.get("execution_id") == execution), None
            )
            if replayed is None:
                raise ReplayError(
                    f"replay of cycle {cycle.generation} opened no cycle: {desc.get('error')} "
                    f"{desc.get('cause')}"
                )
            acquired = [a.get("source") for a in replayed.get("acquisitions") or [] if a.get("acquired")]
            if acquired:  # pragma: no cover - the headers above make this impossible
                raise ReplayError(f"replay acquired live source(s) {', '.join(acquired)}; aborted")
            decision = store.get_record(
                channel_namespace(config.name), DECISION, gen_id(int(replayed["generation"]))
            )
            results.append(
                {
                    "recorded_cycle": cycle.generation,
                    "started_at": cycle.started_at,
                    "status": replayed.get("status"),
                    "error": replayed.get("error"),
                    "decision": decision,
                }
            )
    if progress:
        progress(len(recording.cycles), len(recording.cycles), "replayed")
    return results


# -- the diff -----------------------------------------------------------------------------------------
def _requests(decision: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """``(publisher, entry) -> {"requests": {column: value}, "limits": [...], "why": str}`` of one decision."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for publisher, outcome in ((decision or {}).get("publishers") or {}).items():
        req = entry_requests(outcome.get("requested") or [])
        for e in req["entries"]:
            out[(publisher, str(e["entry"]))] = {"entry_column": req["entry_column"], **e}
    return out


def _fired(decision: dict[str, Any] | None) -> list[str]:
    return [r for r, v in ((decision or {}).get("rules") or {}).items() if v is True]


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
        sel_b = (before or {}).get("selected_publishers", [])
        sel_a = (after_d or {}).get("selected_publishers", [])
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
    return [agg[k] for k in sorted(agg, key=lambda k: (k[0], _entry_order(k[1]), k[2]))]


def _entry_order(entry: str) -> tuple[int, float | str]:
    try:
        return (0, float(entry))
    except ValueError:
        return (1, entry)


def diff_text(diff: dict[str, Any]) -> str:
    from hepde.ops.timeutil import fmt_time
    from hepde_tools.cli.render import table

    lines = [
        f"Replay of channel {diff['channel']}: {len(diff['cycles'])} cycle(s) from "
        f"{fmt_time(diff['since'])} to {fmt_time(diff['until'])} UTC; "
        f"{diff['cycles_changed']} decided differently",
        "",
    ]
    rows = [
        [
            s["publisher"],
            s["entry"],
            s["column"],
            s["total_before"],
            s["total_after"],
            s["total_after"] - s["total_before"],
            f"{s['cycles_changed']}/{s['cycles']}",
            ", ".join(s["limits_after"]) or "-",
        ]
        for s in diff["summary"]
    ]
    lines += [
        "Requests per entry, summed over the replayed cycles",
        table(
            rows,
            [
                "publisher",
                "entry",
                "request",
                "before",
                "after",
                "delta",
                "cycles changed",
                "limits hit after",
            ],
        )
        if rows
        else "  (no requests before or after)",
        "",
    ]
    rows = [
        [
            c["cycle"],
            fmt_time(c["started_at"]),
            c["status_before"],
            c["status_after"],
            ", ".join(c["published_before"]) or "-",
            ", ".join(c["published_after"]) or "-",
            "yes" if c["changed"] else "",
        ]
        for c in diff["cycles"]
    ]
    lines += [
        "Cycles",
        table(
            rows,
            ["cycle", "started (UTC)", "before", "after", "published before", "published after", "changed"],
        ),
    ]
    changed_rows = [r for r in diff["requests"] if r["changed"]]
    if changed_rows:
        lines += [
            "",
            "Changed requests",
            table(
                [
                    [
                        r["cycle"],
                        r["publisher"],
                        r["entry"],
                        r["column"],
                        r["before"],
                        r["after"],
                        ", ".join(r["limits_after"]) or "-",
                        r["why_after"],
                    ]
                    for r in changed_rows[:200]
                ],
                ["cycle", "publisher", "entry", "request", "before", "after", "limits hit after", "why"],
            ),
        ]
    return "\n".join(lines) + "\n"


def plot_png(diff: dict[str, Any]) -> bytes:
    """Requests per entry over time: one panel per (publisher, request column); before dashed, after solid."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    panels: dict[tuple[str, str], dict[str, list[tuple[float, Any, Any]]]] = {}
    for r in diff["requests"]:
        panels.setdefault((r["publisher"], r["column"]), {}).setdefault(r["entry"], []).append(
            (r["started_at"], r["before"], r["after"])
        )
    changed = {(r["publisher"], r["column"]) for r in diff["requests"] if r["changed"]}
    order = sorted(panels.items(), key=lambda kv: (kv[0] not in changed, kv[0]))  # what changed comes first
    n = max(1, len(panels))
    fig, axes = plt.subplots(n, 1, figsize=(10, 3.2 * n), squeeze=False)
    for ax, ((publisher, column), entries) in zip(axes[:, 0], order, strict=False):
        for i, (entry, points) in enumerate(sorted(entries.items(), key=lambda kv: _entry_order(kv[0]))):
            points.sort()
            t = [datetime.fromtimestamp(p[0], UTC) for p in points]
            color = f"C{i % 10}"
            ax.plot(
                t,
                [p[1] if isinstance(p[1], int | float) else float("nan") for p in points],
                "--",
                color=color,
                alpha=0.6,
                marker="o",
                markersize=3,
            )
            ax.plot(
                t,
                [p[2] if isinstance(p[2], int | float) else float("nan") for p in points],
                "-",
                color=color,
                marker="o",
                markersize=3,
                label=f"{entry}",
            )
        mark = "changed" if (publisher, column) in changed else "unchanged"
        ax.set_title(
            f"{publisher}: {column} per entry — {mark} (dashed: recorded, solid: replayed)", fontsize=10
        )
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylabel(column)
        ax.grid(alpha=0.3)
        ax.legend(title="entry", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no requests before or after", ha="center", va="center")
    axes[-1, 0].set_xlabel("cycle start (UTC)")
    fig.suptitle(f"Replay of channel {diff['channel']}: requests per entry, before vs after", fontsize=12)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def html_report(diff: dict[str, Any], png: bytes | None = None, config: str = "") -> str:
    """One self-contained HTML page: summary, cycles, changed requests, and the plot inlined."""
    from hepde.ops.timeutil import fmt_time

    def tbl(headers: list[str], rows: list[list[Any]], highlight: list[bool] | None = None) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join(
            f"<tr{' class=changed' if highlight and highlight[i] else ''}>"
            + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
            + "</tr>"
            for i, row in enumerate(rows)
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    summary = tbl(
        ["publisher", "entry", "request", "before", "after", "delta", "cycles changed", "limits hit after"],
        [
            [
                s["publisher"],
                s["entry"],
                s["column"],
                s["total_before"],
                s["total_after"],
                s["total_after"] - s["total_before"],
                f"{s['cycles_changed']}/{s['cycles']}",
                ", ".join(s["limits_after"]) or "-",
            ]
            for s in diff["summary"]
        ],
        [s["cycles_changed"] > 0 for s in diff["summary"]],
    )
    cycles = tbl(
        [
            "cycle",
            "started (UTC)",
            "before",
            "after",
            "rules fired before",
            "rules fired after",
            "published before",
            "published after",
        ],
        [
            [
                c["cycle"],
                fmt_time(c["started_at"]),
                c["status_before"],
                c["status_after"],
                ", ".join(c["rules_before"]),
                ", ".join(c["rules_after"]),
                ", ".join(c["published_before"]),
                ", ".join(c["published_after"]),
            ]
            for c in diff["cycles"]
        ],
        [c["changed"] for c in diff["cycles"]],
    )
    changed = [r for r in diff["requests"] if r["changed"]]
    changes = tbl(
        ["cycle", "publisher", "entry", "request", "before", "after", "limits before", "limits after", "why"],
        [
            [
                r["cycle"],
                r["publisher"],
                r["entry"],
                r["column"],
                r["before"],
                r["after"],
                ", ".join(r["limits_before"]),
                ", ".join(r["limits_after"]),
                r["why_after"],
            ]
            for r in changed
        ],
    )
    img = (
        f'<img alt="requests per entry over time" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        if png
        else ""
    )
    title = f"Replay of channel {diff['channel']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
th {{ background: #f0f0f0; }} tr.changed td {{ background: #fff3cd; }}
img {{ max-width: 100%; }} code {{ background: #f4f4f4; padding: 1px 4px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(diff["cycles"])} recorded cycle(s) from {fmt_time(diff["since"])} to {fmt_time(diff["until"])} UTC,
replayed through <code>{html.escape(config)}</code> in the embedded local AWS:
<strong>{diff["cycles_changed"]}</strong> decided differently. Before: what the channel decided. After: the
same inputs through the new configuration (publishers as dry runs).</p>
<h2>Requests per entry over time</h2>{img}
<h2>Requests per entry, summed</h2>{summary}
<h2>Cycles</h2>{cycles}
<h2>Changed requests ({len(changed)})</h2>{changes}
<script type="application/json" id="diff">{html.escape(json.dumps(diff, default=str))}</script>
</body></html>
"""
