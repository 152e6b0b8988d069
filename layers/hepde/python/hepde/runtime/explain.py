"""The decision record of a cycle, explained: facts, rules, actions, what each publisher requested.

Requests per entry come from the ``requested`` rows publishers return (``PublishResult.requested``),
read by convention, so any publisher's rows explain themselves:

* the **entry** column is the first of :data:`ENTRY_COLUMNS` present, else the first text column,
  else the first column (the example channel's rows are per ``cores`` class);
* **request** columns are the numeric columns whose name says "req" (``requested_pilots``,
  ``ReqIdleGlideins``, ``ReqMaxGlideins`` ...), else every other numeric column;
* a **limit** is hit when a column whose name says "limit", "curb" or "cap" holds a non-empty
  string (the limit's name, e.g. ``limited_by = "max_pilots_per_class"``; several may be joined by
  ``,`` or ``;``), a list of names, or ``True`` (the column's name is then the limit);
* **why** is the text of a column named ``why``, ``reason``, ``limit_reason`` or ``*_reason``; without
  one, the row's remaining values are shown as the context of the limit.
"""

from __future__ import annotations

from typing import Any

from hepde.datablock.api import DataBlockStore, channel_namespace
from hepde.errors import ChannelNotFoundError, DEError
from hepde.runtime.records import cycle_report, latest_generation
from hepde.runtime.stages import CYCLE


class CycleNotFoundError(DEError):
    """The channel has recorded cycles, but not the one asked for."""


def explanation(store: DataBlockStore, channel: str, cycle: int | None = None) -> dict[str, Any]:
    """A JSON-able explanation of cycle ``cycle`` (default: the last) of ``channel``."""
    if cycle is None:
        cycle = latest_generation(store, channel)
        if cycle is None:
            raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
    elif store.get_record(channel_namespace(channel), CYCLE, f"{cycle:012d}") is None:
        raise CycleNotFoundError(f"channel '{channel}' has no cycle {cycle}")
    report = cycle_report(store, channel, cycle)
    c, d = report.cycle, report.decision or {}
    return {
        "channel": channel,
        "cycle": cycle,
        "status": c.get("status"),
        "execution_id": c.get("execution_id"),
        "started_at": c.get("started_at"),
        "duration": c.get("duration"),
        "error": c.get("error"),
        "stale": c.get("stale") or [],
        "hold": c.get("hold"),
        "sources": c.get("acquisitions") or [],
        "inputs": {name: ref.to_json() for name, ref in sorted(report.products.items())},
        "facts": d.get("facts", {}),
        "rules": [
            {
                "rule": r,
                "result": v,
                "actions": d.get("actions", {}).get(r, []),
                "new_facts": d.get("new_facts", {}).get(r, {}),
            }
            for r, v in d.get("rules", {}).items()
        ],
        "selected_publishers": d.get("selected_publishers", []),
        "publishers": d.get("publishers", {}),
        "requests": {
            p: entry_requests(out.get("requested") or [])
            for p, out in (d.get("publishers") or {}).items()
            if out.get("requested")
        },
    }


ENTRY_COLUMNS = (
    "entry",
    "Entry",
    "EntryName",
    "entry_name",
    "ReqName",
    "Name",
    "name",
    "GlideFactoryName",
    "site",
    "resource",
    "cluster",
    "group",
)
_LIMIT_WORDS = ("limit", "curb", "cap")
_WHY_NAMES = ("why", "reason", "limit_reason", "limits_reason", "explanation")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _limit_names(column: str, value: Any) -> list[str]:
    if value is True:
        return [column]
    if isinstance(value, str):
        return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v not in (None, "", False)]
    return []


def entry_requests(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-entry requests of one publisher's ``requested`` rows, with the limits hit and why (see module doc)."""
    if not rows:
        return {"entry_column": None, "request_columns": [], "limit_columns": [], "entries": []}
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    entry_col = next((c for c in ENTRY_COLUMNS if c in columns), None)
    if entry_col is None:
        entry_col = next(
            (
                c
                for c in columns
                if any(isinstance(r.get(c), str) for r in rows)
                and not any(w in c.lower() for w in _LIMIT_WORDS + _WHY_NAMES)
            ),
            columns[0],
        )
    numeric = [
        c
        for c in columns
        if c != entry_col
        and all(_is_number(r.get(c)) or r.get(c) is None for r in rows)
        and any(_is_number(r.get(c)) for r in rows)
    ]
    request_cols = [c for c in numeric if "req" in c.lower()] or numeric
    why_cols = [c for c in columns if c.lower() in _WHY_NAMES or c.lower().endswith("_reason")]
    limit_cols = [
        c
        for c in columns
        if c not in why_cols
        and c != entry_col
        and c not in request_cols
        and any(w in c.lower() for w in _LIMIT_WORDS)
    ]
    entries = []
    for row in rows:
        limits: list[str] = []
        for c in limit_cols:
            limits += [n for n in _limit_names(c, row.get(c)) if n not in limits]
        why = "; ".join(str(row[c]) for c in why_cols if row.get(c) not in (None, ""))
        if limits and not why:
            context = [
                f"{c}={row[c]}"
                for c in columns
                if c not in (entry_col, *limit_cols, *request_cols) and row.get(c) not in (None, "")
            ]
            why = ", ".join(context)
        entries.append(
            {
                "entry": row.get(entry_col),
                "requests": {c: row.get(c) for c in request_cols},
                "limits": limits,
                "why": why,
            }
        )
    return {
        "entry_column": entry_col,
        "request_columns": request_cols,
        "limit_columns": limit_cols,
        "entries": entries,
    }


def explain_text(e: dict[str, Any]) -> str:
    """The readable form of :func:`explanation`."""
    from hepde_tools.cli.render import table

    lines = [
        f"Channel {e['channel']}, cycle {e['cycle']}: {e['status']}"
        + (f" in {e['duration']} s" if e.get("duration") is not None else "")
    ]
    if e.get("hold"):
        lines.append(
            f"  held by transform {e['hold'].get('transform')}: {e['hold'].get('reason')}; "
            "nothing was decided or published"
        )
    elif e.get("error"):
        lines.append(f"  failed: {e['error'].get('error')}: {e['error'].get('cause')}")
    if e["stale"]:
        lines.append("  held: nothing was decided or published because these inputs were stale or missing:")
        lines += [f"    {s['source']}/{s.get('product') or '*'}: {s['reason']}" for s in e["stale"]]
    if e["sources"]:
        lines += [
            "",
            table(
                [
                    [
                        s.get("source"),
                        "acquired" if s.get("acquired") else "reused",
                        s.get("generation"),
                        s.get("error") or s.get("reason") or "",
                    ]
                    for s in e["sources"]
                ],
                ["source", "this cycle", "generation", "detail"],
            ),
        ]
    if e["facts"]:
        lines += ["", "Facts", table([[k, v] for k, v in e["facts"].items()], ["fact", "value"])]
    if e["rules"]:
        lines += [
            "",
            "Rules, in evaluation order",
            table(
                [
                    [
                        r["rule"],
                        r["result"],
                        ", ".join(r["actions"]) or "-",
                        ", ".join(f"{k}={v}" for k, v in r["new_facts"].items()),
                    ]
                    for r in e["rules"]
                ],
                ["rule", "fired", "actions", "facts produced"],
            ),
        ]
    if e["status"] not in ("HELD",) and e["rules"]:
        lines += ["", "Publishers"]
        if not e["selected_publishers"]:
            lines.append("  no rule selected a publisher: nothing was published")
        for p in e["selected_publishers"]:
            out = e["publishers"].get(p)
            lines.append(f"  {p}: {out['summary'] if out else 'did not run'}")
            req = (e.get("requests") or {}).get(p)
            if req and req["entries"] and req["request_columns"]:
                lines.append("    " + requests_text(req).replace("\n", "\n    "))
            else:  # rows that are not requests per entry: as they are
                for row in (out or {}).get("requested", [])[:50]:
                    lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return "\n".join(lines) + "\n"


def requests_text(req: dict[str, Any], max_rows: int = 50) -> str:
    """The per-entry request table of one publisher: entry, request columns, limits hit, why."""
    from hepde_tools.cli.render import table

    rows = [
        [
            e["entry"],
            *[e["requests"].get(c) for c in req["request_columns"]],
            ", ".join(e["limits"]) or "-",
            e["why"] if e["limits"] else "",
        ]
        for e in req["entries"][:max_rows]
    ]
    text = table(rows, [str(req["entry_column"]), *req["request_columns"], "limits hit", "why"])
    if len(req["entries"]) > max_rows:
        text += f"\n... {len(req['entries']) - max_rows} more entr(ies)"
    return text
