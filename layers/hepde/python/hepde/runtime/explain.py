"""The decision record of a cycle, explained: facts, rules, actions, what each publisher requested.

:func:`explanation` returns a JSON-able document (``de explain --json``, the REST API's
``/channels/{channel}/explain``); the CLI renders it as text.  Its keys: ``channel``, ``cycle``,
``status``, ``execution_id``, ``started_at``, ``duration``, ``error``, ``stale``, ``hold``, ``sources``
(the acquisitions), ``inputs`` (product → ref), ``facts``, ``rules`` (``[{rule, result, actions,
new_facts}]`` in evaluation order), ``selected_publishers``, ``publishers`` (key → outcome: ``summary``,
``seconds``, ``requested`` rows as the publisher gave them, ``requests``) and ``requests``: per
publisher, its typed requests per entry (:class:`hepde.records.RequestRow`: ``entry``, ``entry_type``,
``group``, ``idle_requested``, ``max_requested``, ``limits_hit``, ``why``, ``detail``).  Nothing is
guessed from column names: a publisher without typed requests has only its ``requested`` rows.
"""

from __future__ import annotations

from typing import Any

from hepde.datablock.api import DataBlockStore
from hepde.errors import ChannelNotFoundError, DEError
from hepde.records import read_cycle
from hepde.runtime.records import cycle_report, latest_generation


class CycleNotFoundError(DEError):
    """The channel has recorded cycles, but not the one asked for."""


def explanation(store: DataBlockStore, channel: str, cycle: int | None = None) -> dict[str, Any]:
    """A JSON-able explanation of cycle ``cycle`` (default: the last) of ``channel``."""
    if cycle is None:
        cycle = latest_generation(store, channel)
        if cycle is None:
            raise ChannelNotFoundError(f"channel '{channel}' has no recorded cycle in this DataBlock")
    elif read_cycle(store, channel, cycle) is None:
        raise CycleNotFoundError(f"channel '{channel}' has no cycle {cycle}")
    report = cycle_report(store, channel, cycle)
    c = report.cycle
    d = report.decision
    publishers = {k: o.to_json() for k, o in d.publishers.items()} if d else {}
    return {
        "channel": channel,
        "cycle": cycle,
        "status": c.status,
        "execution_id": c.execution_id,
        "started_at": c.started_at,
        "duration": c.duration,
        "error": c.error.to_json() if c.error else None,
        "stale": [s.to_json() for s in c.stale],
        "hold": c.hold.to_json() if c.hold else None,
        "sources": [a.to_json() for a in c.acquisitions],
        "inputs": {name: ref.to_json() for name, ref in sorted(report.products.items())},
        "facts": d.facts if d else {},
        "rules": [
            {
                "rule": r,
                "result": v,
                "actions": d.actions.get(r, []),
                "new_facts": d.new_facts.get(r, {}),
            }
            for r, v in d.rules.items()
        ]
        if d
        else [],
        "selected_publishers": d.selected_publishers if d else [],
        "publishers": publishers,
        "requests": {p: out["requests"] for p, out in publishers.items() if out["requests"]},
    }
