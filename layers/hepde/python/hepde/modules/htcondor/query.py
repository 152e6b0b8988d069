"""Where HTCondor ads come from: one small interface, two adapters.

* :class:`BindingsAdSource` queries schedds and collectors through the project's HTCondor adapter
  (:mod:`hepde.condor.adapter`, the real ``htcondor2`` bindings: ``pip install
  'hepde-serverless[bridge]'``, or the fakes of :mod:`hepde.condor.fakes` in tests); it is what runs
  on-prem, in the condor bridge or in a Decision Engine that can reach the pool.  Its configuration
  (``condor_config``, tokens, proxy) is a :class:`~hepde.condor.adapter.CondorSettings` handed to the
  adapter, never an environment variable.
* :class:`SnapshotAdSource` reads the newest snapshot the bridge uploaded (:mod:`hepde.snapshots`);
  it is what runs in AWS, where a Lambda cannot reach an on-prem collector.

Both return ads as plain dicts, evaluated the way the original's ``eval_classad_expr`` did:
every requested attribute present (``None`` when the ad lacks it), ``Requirements`` and ``START``
skipped, expressions evaluated, ``Undefined`` dropped.  Failures raise :class:`QueryError`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from hepde.condor.adapter import CondorError, CondorSettings, HTCondorPool, Pool
from hepde.errors import DEError

SKIPPED_ATTRS = ("Requirements", "START")


class QueryError(DEError):
    """A schedd or collector could not be queried (or its snapshot could not be read)."""


class AdSource(Protocol):
    """What the HTCondor and GlideinWMS sources need from a pool."""

    def schedd_ads(
        self, collector_host: str | None, schedd: str | None, constraint: str, attrs: list[str] | None
    ) -> list[dict[str, Any]]: ...

    def collector_ads(
        self,
        collector_host: str | None,
        ad_type: str,
        constraint: str,
        attrs: list[str] | None,
        *,
        snapshot_kind: str,
    ) -> list[dict[str, Any]]: ...


def constraint_text(constraint: Any) -> str:
    if constraint is None or constraint is True:
        return "True"
    if constraint is False:
        return "False"
    return str(constraint)


def evaluate_ads(classads: Iterable[Any], format_list: list[str] | None = None) -> list[dict[str, Any]]:
    """Ads (ClassAd objects or mappings) → dicts, as the original's ``eval_classad_expr``."""
    out = []
    for ad in classads:
        record: dict[str, Any] = dict.fromkeys(format_list) if format_list else {}
        for attr in ad:
            if attr in SKIPPED_ATTRS:
                continue
            with contextlib.suppress(Exception):
                value = ad[attr]
                if value.__class__.__name__ == "ExprTree":
                    value = value.eval()
                if f"{value}" == "Undefined":
                    continue
                record[attr] = value
        out.append(record)
    return out


def split_collector_host(collector_host: str) -> tuple[str, str]:
    """``"a, c b"`` → (``"a"``, ``"b,c"``): the primary collector and the sorted secondaries."""
    if not isinstance(collector_host, str) or not collector_host.strip():
        raise QueryError(
            f"collector_host should be a comma or space separated string but found {collector_host!r}"
        )
    hosts = collector_host.replace(",", " ").split()
    return hosts[0], ",".join(sorted(hosts[1:]))


def apply_correction_map(ads: list[dict[str, Any]], correction_map: Mapping[str, Any] | None) -> None:
    """Attributes that are missing or ``None`` get the configured default (in place)."""
    for ad in ads:
        for key, value in (correction_map or {}).items():
            if ad.get(key) is None:
                ad[key] = value


#: slot attributes that are counts: a startd publishes some of them as reals (``TotalCpus = 4.0``
#: while ``Cpus = 4``); the sources give them as integers when the value is integral
INTEGER_ATTRS = (
    "Cpus",
    "TotalCpus",
    "TotalSlotCpus",
    "DetectedCpus",
    "Memory",
    "TotalMemory",
    "TotalSlotMemory",
    "DetectedMemory",
    "Disk",
    "TotalDisk",
    "TotalSlotDisk",
    "GPUs",
    "TotalGPUs",
    "TotalSlotGPUs",
    "DetectedGPUs",
    "RequestCpus",
    "RequestMemory",
    "RequestDisk",
    "RequestGPUs",
    "JobStatus",
    "JobUniverse",
    "ClusterId",
    "ProcId",
)


def coerce_integers(ads: list[dict[str, Any]], attrs: Sequence[str] = INTEGER_ATTRS) -> None:
    """Integral reals of the count attributes become ``int`` (in place); anything else is left alone."""
    for ad in ads:
        for key in attrs:
            value = ad.get(key)
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                ad[key] = int(value)


class BindingsAdSource:
    """Queries schedds and collectors through a :class:`~hepde.condor.adapter.Pool` (default: the
    ``htcondor2`` one with ``settings``)."""

    def __init__(
        self,
        condor_config: str | None = None,
        *,
        settings: CondorSettings | None = None,
        pool: Pool | None = None,
    ) -> None:
        self.settings = settings or CondorSettings(config_file=condor_config or None)
        self.pool: Pool = pool or HTCondorPool(self.settings)

    def schedd_ads(self, collector_host, schedd, constraint, attrs):
        try:
            client = self.pool.schedd(schedd, str(collector_host) if collector_host else None)
            ads = client.query(constraint, list(attrs or []))
        except CondorError as exc:
            raise QueryError(
                f"error querying schedd {schedd or 'default'} in pool {collector_host or 'default'}: {exc}"
            ) from exc
        out = evaluate_ads(ads, attrs)
        coerce_integers(out)
        located = getattr(client, "daemon_name", None)
        if schedd is None and located:
            # the local schedd's Name, as the collector knows it (job ads do not carry it)
            for ad in out:
                ad.setdefault("ScheddName", located)
        return out

    def collector_ads(self, collector_host, ad_type, constraint, attrs, *, snapshot_kind):
        try:
            client = self.pool.collector(str(collector_host) if collector_host else None)
            ads = client.query(str(ad_type).lower(), constraint, list(attrs or []))
        except CondorError as exc:
            raise QueryError(f"error querying pool {collector_host or 'default'}: {exc}") from exc
        out = evaluate_ads(ads, attrs)
        coerce_integers(out)
        return out


class SnapshotAdSource:
    """Reads the newest snapshot of each origin (the bridge applied the query when it took it)."""

    def __init__(self, location: str, max_age: float | None = None, s3_client: Any = None) -> None:
        from hepde.snapshots import SnapshotStore

        self.store = SnapshotStore(location, s3_client=s3_client)
        self.max_age = max_age
        self.taken_at: dict[str, float] = {}

    def _read(self, kind: str, origin: str, attrs: list[str] | None) -> list[dict[str, Any]]:
        from hepde.snapshots import SnapshotError, read_latest

        try:
            snap = read_latest(self.store, kind, origin, max_age=self.max_age)
        except SnapshotError as exc:
            raise QueryError(str(exc)) from exc
        self.taken_at[origin] = snap.manifest.taken_at
        ads = snap.ads()
        out = evaluate_ads(ads, attrs) if attrs else ads
        # a snapshot holds what the daemons published (``TotalCpus = 4.0``): counts as integers here
        # too, whether the ads came from the bindings or from the bridge
        coerce_integers(out)
        return out

    def schedd_ads(self, collector_host, schedd, constraint, attrs):
        return self._read("job_queue", schedd or collector_host or "local", attrs)

    def collector_ads(self, collector_host, ad_type, constraint, attrs, *, snapshot_kind):
        origin = split_collector_host(collector_host)[0] if collector_host else "local"
        return self._read(snapshot_kind, origin, attrs)


def ad_source(
    snapshot_location: str | None,
    condor_config: str | None,
    max_age: float | None,
    pool: Pool | None = None,
) -> AdSource:
    """The snapshots when ``snapshot_location`` is set, else the pool (``pool``, or ``htcondor2``
    configured with ``condor_config``)."""
    if snapshot_location:
        return SnapshotAdSource(snapshot_location, max_age=max_age)
    return BindingsAdSource(condor_config, pool=pool)
