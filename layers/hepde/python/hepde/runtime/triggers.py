"""Event-driven cycles: a new snapshot or new source products start the channels that read them.

Timers stay the floor (every channel has its EventBridge schedule); events make a cycle start as soon
as its inputs change.  Two kinds of event reach the trigger function (``functions/trigger``), through
one SQS queue fed by EventBridge rules (the queue's batching window gathers a burst into one call):

* ``aws.s3`` / ``Object Created`` for ``<SNAPSHOT_PREFIX>/<kind>/<origin>/LATEST.json`` in the products
  bucket: the condor bridge uploaded a snapshot (``LATEST.json`` is written last, so the data is there);
* ``hepde`` / ``Source products written``: a source's own schedule acquired new products
  (:func:`announce_source`, sent by the source function; a cycle's own acquisitions announce nothing,
  or every cycle would start the next).

:func:`handle` maps each event to the channels that read it (:class:`Routes`, generated with the template
from the channel configs), and starts each channel's state machine at most once per burst:

* debounced: a start takes the lease ``trigger:<channel>`` for :data:`DEBOUNCE_SECONDS`; events in that
  window start nothing more;
* never doubled: a channel whose running cycle already has a start waiting for it (its queue slot,
  :func:`hepde.runtime.stages.queue_lease`) gets no new start; otherwise the new execution waits for the
  running cycle or runs at once (:func:`hepde.runtime.stages.begin_cycle`).

A malformed or foreign event is ignored with one log line, never a failed invocation (SQS would redeliver
it) and never a cycle.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hepde.naming import SNAPSHOT_PREFIX, safe, state_machine_name

#: events within this many seconds of a start coalesce into it
DEBOUNCE_SECONDS = 5.0
#: the custom event a source's own schedule sends after writing new products
EVENT_SOURCE = "hepde"
SOURCE_PRODUCTS_WRITTEN = "Source products written"
#: the environment of the trigger function (set by the template / the embedded cloud)
ROUTES_ENV = "DE_TRIGGER_ROUTES"
ARN_PREFIX_ENV = "DE_STATE_MACHINE_ARN_PREFIX"
EVENT_BUS_ENV = "DE_EVENT_BUS"


#: a source with one of these parameters reads the condor bridge's snapshots
SNAPSHOT_PARAMETERS = ("snapshot_location", "snapshots")


def trigger_lease(channel: str) -> str:
    return f"trigger:{channel}"


class Routes(BaseModel):
    """Which channels an input change starts: channels reading the bridge's snapshots, and per source key
    the channels that consume that source's products."""

    model_config = ConfigDict(extra="forbid")

    #: channel -> its sources that read snapshots (re-read by a cycle a new snapshot starts)
    snapshots: dict[str, list[str]] = Field(default_factory=dict)
    #: source key -> the channels that consume its products
    sources: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def from_channels(cls, channels: Iterable[Any]) -> Routes:
        """From prepared channels (``.name``, ``.config.sources`` of module entries)."""
        snapshots: dict[str, list[str]] = {}
        sources: dict[str, set[str]] = {}
        for ch in channels:
            for key, entry in ch.config.sources.items():
                sources.setdefault(key, set()).add(ch.name)
                params = entry.parameters or {}
                if any(k in params for k in SNAPSHOT_PARAMETERS):
                    snapshots.setdefault(ch.name, []).append(key)
        return cls(
            snapshots={k: sorted(v) for k, v in sorted(snapshots.items())},
            sources={k: sorted(v) for k, v in sorted(sources.items())},
        )

    def to_env(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))


@dataclass
class Demand:
    """One input change: what changed (for the execution's trigger text) and which channels read it."""

    what: str
    channels: list[str]
    #: channel -> source keys its cycle re-reads now (a new snapshot), due or not
    refresh: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class TriggerResult:
    started: dict[str, str] = field(default_factory=dict)  # channel -> execution ARN
    debounced: list[str] = field(default_factory=list)
    already_waiting: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # one reason per ignored event
    errors: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "debounced": sorted(set(self.debounced)),
            "already_waiting": sorted(set(self.already_waiting)),
            "ignored": len(self.ignored),
            "errors": self.errors,
        }


def _events(event: Any) -> Iterable[Any]:
    """The EventBridge events in an invocation: an SQS batch (``Records[].body``), or one event."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        for record in event["Records"]:
            body = record.get("body") if isinstance(record, dict) else None
            try:
                yield json.loads(body) if isinstance(body, str) else body
            except ValueError:
                yield body
    else:
        yield event


def demand_of(event: Any, routes: Routes, bucket: str | None = None) -> Demand | str:
    """What ``event`` asks for, or a one-line reason why it is ignored."""
    if not isinstance(event, dict):
        return f"not an EventBridge event ({type(event).__name__})"
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return "no detail object"
    source, detail_type = event.get("source"), event.get("detail-type")
    if source == "aws.s3" and detail_type == "Object Created":
        obj, bkt = detail.get("object"), detail.get("bucket")
        key = obj.get("key") if isinstance(obj, dict) else None
        name = bkt.get("name") if isinstance(bkt, dict) else None
        if not isinstance(key, str):
            return "S3 event without object.key"
        if bucket and name != bucket:
            return f"S3 event of another bucket ({name!r})"
        parts = key.split("/")
        if len(parts) < 4 or parts[0] != SNAPSHOT_PREFIX or parts[-1] != "LATEST.json":
            return f"S3 object {key!r} is not a snapshot's LATEST.json"
        if not routes.snapshots:
            return f"no channel reads snapshots ({key})"
        return Demand(
            f"snapshot {parts[1]}/{'/'.join(parts[2:-1])}", sorted(routes.snapshots), dict(routes.snapshots)
        )
    if source == EVENT_SOURCE and detail_type == SOURCE_PRODUCTS_WRITTEN:
        key = detail.get("source")
        if not isinstance(key, str) or not key:
            return "source event without a source key"
        channels = routes.sources.get(key)
        if not channels:
            return f"no channel reads source {key!r}"
        return Demand(f"source {key} generation {detail.get('generation')}", list(channels))
    return f"foreign event (source {source!r}, detail-type {detail_type!r})"


def handle(
    event: Any,
    routes: Routes,
    store: Any,
    start: Callable[[str, dict[str, Any]], str],
    *,
    bucket: str | None = None,
    now: float | None = None,
    log: Callable[[str, dict[str, Any]], None] = lambda _msg, _extra: None,
) -> TriggerResult:
    """Start the channels ``event`` asks for, debounced; ``start(channel, execution_input)`` returns an ARN.

    The execution input is ``{"trigger": "event: <what changed>", "refresh": [source keys]}``."""
    from hepde.runtime.stages import queue_lease

    now = time.time() if now is None else now
    result = TriggerResult()
    wanted: dict[str, list[str]] = {}
    refresh: dict[str, set[str]] = {}
    for ev in _events(event):
        d = demand_of(ev, routes, bucket)
        if isinstance(d, str):
            result.ignored.append(d)
            log("trigger event ignored", {"reason": d})
            continue
        for ch in d.channels:
            wanted.setdefault(ch, []).append(d.what)
            refresh.setdefault(ch, set()).update(d.refresh.get(ch, []))
    for channel, whats in sorted(wanted.items()):
        waiting = store.get_lease(queue_lease(channel))
        if waiting and float(waiting.get("expires_at", 0)) > now:
            result.already_waiting.append(channel)
            continue
        owner = f"trigger-{uuid.uuid4().hex[:12]}"
        if store.acquire_lease(trigger_lease(channel), owner, DEBOUNCE_SECONDS, now=now) is not None:
            result.debounced.append(channel)
            continue
        text = f"event: {whats[0]}" + (f" (+{len(whats) - 1} more)" if len(whats) > 1 else "")
        try:
            result.started[channel] = start(channel, {"trigger": text, "refresh": sorted(refresh[channel])})
        except Exception as exc:  # noqa: BLE001 - one channel's failure must not stop the others
            store.release_lease(trigger_lease(channel), owner)
            result.errors[channel] = f"{type(exc).__name__}: {exc}"
            log("trigger start failed", {"channel": channel, "error": result.errors[channel]})
    return result


class TriggerSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routes: Routes
    arn_prefix: str
    stack: str = "hepde"
    bucket: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> TriggerSettings:
        from hepde.settings import SettingsError

        raw = env.get(ROUTES_ENV, "")
        try:
            routes = Routes.model_validate_json(raw or "{}")
        except ValidationError as exc:
            raise SettingsError(f"environment setting {ROUTES_ENV} is not a routes document: {exc}") from exc
        prefix = env.get(ARN_PREFIX_ENV, "")
        if not prefix.startswith("arn:"):
            raise SettingsError(f"environment setting {ARN_PREFIX_ENV}={prefix!r}: expected an ARN prefix")
        return cls(
            routes=routes,
            arn_prefix=prefix,
            stack=env.get("DE_STACK") or "hepde",
            bucket=env.get("DE_BUCKET_NAME") or None,
        )

    def state_machine_arn(self, channel: str) -> str:
        return self.arn_prefix + state_machine_name(channel, self.stack)


def execution_name(channel: str, now: float) -> str:
    """Step Functions execution names: at most 80 characters of letters, digits, - and _."""
    return f"event-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}-{uuid.uuid4().hex[:8]}-{safe(channel)}"[
        :80
    ]


def announce_source(events_client: Any, bus: str, result: dict[str, Any], channel: str) -> bool:
    """After a source's own schedule wrote new products: tell the trigger (True if an event was sent)."""
    if not result.get("acquired"):
        return False
    events_client.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": SOURCE_PRODUCTS_WRITTEN,
                "EventBusName": bus,
                "Detail": json.dumps(
                    {
                        "source": result.get("source"),
                        "generation": result.get("generation"),
                        "channel": channel,
                    }
                ),
            }
        ]
    )
    return True
