"""The text of ``de explain`` and of each cycle ``de run`` prints: one renderer over
:func:`hepde.runtime.explain.explanation` (the library returns the data, this renders it)."""

from __future__ import annotations

from typing import Any

from hepde_tools.cli.render import table


def explain_text(e: dict[str, Any]) -> str:
    """The readable form of :func:`explanation`."""
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
        lines += [
            f"    {s['source']}/{s.get('product') or '*'}: {s['reason']}"
            + (f" (last acquire failed: {s['error']})" if s.get("error") else "")
            for s in e["stale"]
        ]
    if e["sources"]:
        lines += [
            "",
            table(
                [
                    [
                        s.get("source"),
                        "acquired" if s.get("acquired") else "reused",
                        s.get("generation"),
                        s.get("error") or s.get("reason") or ", ".join(s.get("products") or []),
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
            if req:
                lines.append("    " + requests_text(req).replace("\n", "\n    "))
            else:  # rows that are not requests per entry: as they are
                for row in (out or {}).get("requested", [])[:50]:
                    lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return "\n".join(lines) + "\n"


def requests_text(rows: list[dict[str, Any]], max_rows: int = 50) -> str:
    """The per-entry request table of one publisher: entry, type, group, idle/max requested, limits, why."""
    has_type = any(r.get("entry_type") for r in rows)
    has_group = any(r.get("group") for r in rows)
    has_max = any(r.get("max_requested") is not None for r in rows)
    header = ["entry", *(["type"] if has_type else []), *(["group"] if has_group else [])]
    header += ["idle requested", *(["max requested"] if has_max else []), "limits hit", "why"]
    body = [
        [
            r["entry"],
            *([r.get("entry_type")] if has_type else []),
            *([r.get("group")] if has_group else []),
            r["idle_requested"],
            *([r.get("max_requested")] if has_max else []),
            ", ".join(r["limits_hit"]) or "-",
            r["why"],
        ]
        for r in rows[:max_rows]
    ]
    text = table(body, header)
    if len(rows) > max_rows:
        text += f"\n... {len(rows) - max_rows} more entr(ies)"
    return text
