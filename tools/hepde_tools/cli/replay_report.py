"""How ``de replay`` shows a decision diff (:func:`hepde_tools.replay.decision_diff`): text tables
(:func:`diff_text`), requests per entry over time, before (dashed) and after (solid) (:func:`plot_png`),
and one self-contained HTML page with the tables and the plot inlined (:func:`html_report`)."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

from hepde_tools.cli.render import table
from hepde_tools.replay import entry_order


def diff_text(diff: dict[str, Any]) -> str:
    from hepde.ops.timeutil import fmt_time

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
        for i, (entry, points) in enumerate(sorted(entries.items(), key=lambda kv: entry_order(kv[0]))):
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
