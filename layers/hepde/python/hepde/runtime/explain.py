"""The decision record of a cycle, explained: facts, rules, actions, what each publisher requested."""

from __future__ import annotations

from typing import Any

from hepde.datablock.api import DataBlockStore, channel_namespace
from hepde.errors import ChannelNotFoundError, DEError
from hepde.runtime.records import cycle_report, latest_generation
from hepde.runtime.stages import CYCLE


def explanation(store: DataBlockStore, channel: str, cycle: int | None = None) -> dict[str, Any]:
    """A JSON-able explanation of cycle ``cycle`` (default: the last) of ``channel``."""
    if cycle is None:
        cycle = latest_generation(store, channel)
        if cycle is None:
            raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
    elif store.get_record(channel_namespace(channel), CYCLE, f"{cycle:012d}") is None:
        raise DEError(f"channel '{channel}' has no cycle {cycle}")
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
        "sources": c.get("acquisitions") or [],
        "inputs": {name: ref.to_json() for name, ref in sorted(report.products.items())},
        "facts": d.get("facts", {}),
        "rules": [
            {"rule": r, "result": v, "actions": d.get("actions", {}).get(r, []),
             "new_facts": d.get("new_facts", {}).get(r, {})}
            for r, v in d.get("rules", {}).items()
        ],
        "selected_publishers": d.get("selected_publishers", []),
        "publishers": d.get("publishers", {}),
    }


def explain_text(e: dict[str, Any]) -> str:
    """The readable form of :func:`explanation`."""
    from hepde.cli.render import table

    lines = [f"Channel {e['channel']}, cycle {e['cycle']}: {e['status']}"
             + (f" in {e['duration']} s" if e.get("duration") is not None else "")]
    if e.get("error"):
        lines.append(f"  failed: {e['error'].get('error')}: {e['error'].get('cause')}")
    if e["stale"]:
        lines.append("  held: nothing was decided or published because these inputs were stale or missing:")
        lines += [f"    {s['source']}/{s.get('product') or '*'}: {s['reason']}" for s in e["stale"]]
    if e["sources"]:
        lines += ["", table([[s.get("source"), "acquired" if s.get("acquired") else "reused", s.get("generation"),
                              s.get("error") or s.get("reason") or ""] for s in e["sources"]],
                            ["source", "this cycle", "generation", "detail"])]
    if e["facts"]:
        lines += ["", "Facts", table([[k, v] for k, v in e["facts"].items()], ["fact", "value"])]
    if e["rules"]:
        lines += ["", "Rules, in evaluation order",
                  table([[r["rule"], r["result"], ", ".join(r["actions"]) or "-",
                          ", ".join(f"{k}={v}" for k, v in r["new_facts"].items())] for r in e["rules"]],
                        ["rule", "fired", "actions", "facts produced"])]
    if e["status"] not in ("HELD",) and e["rules"]:
        lines += ["", "Publishers"]
        if not e["selected_publishers"]:
            lines.append("  no rule selected a publisher: nothing was published")
        for p in e["selected_publishers"]:
            out = e["publishers"].get(p)
            lines.append(f"  {p}: {out['summary'] if out else 'did not run'}")
            for row in (out or {}).get("requested", [])[:50]:
                lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return "\n".join(lines) + "\n"
