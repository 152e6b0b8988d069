"""HTCondor sources: the job queue (``job_manifests``) and the pool's slots (``startd_manifests``).

Same products and columns as the original 2.0.6 ``htcondor.sources.job_q`` / ``slots``, with these
differences, on purpose:

* ``correction_map`` is optional for the job queue (the original crashed on ``None.items()``, caught
  its own error and returned an **empty** queue every cycle: seed-system §4.9 #1);
* a query that fails **raises** instead of returning an empty table: the runtime records the failure
  and keeps deciding on the last good products while they are fresh (then holds the cycle), so an
  outage never looks like "no jobs" and never drops the requests to zero;
* ads come from the real bindings or from the condor bridge's snapshots (``snapshot_location``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import Field, field_validator

from hepde.condor.adapter import Pool
from hepde.modules.base import ModuleParameters, Source
from hepde.modules.htcondor.query import (
    QueryError,
    ad_source,
    apply_correction_map,
    constraint_text,
    split_collector_host,
)


class QueryParameters(ModuleParameters):
    collector_host: str | None = None
    #: an HTCondor configuration file for the queries (loaded by the bindings, not via CONDOR_CONFIG)
    condor_config: str | None = None
    constraint: str | bool = True
    classad_attrs: list[str] | None = None
    correction_map: dict[str, Any] | None = None
    #: read the condor bridge's snapshots here (s3://bucket/prefix, a directory or package://) instead of querying
    snapshot_location: str | None = None
    #: a snapshot older than this (seconds) is an error (the source fails; the runtime keeps the last good products)
    snapshot_max_age: float | None = Field(default=900.0, gt=0)

    @field_validator("collector_host")
    @classmethod
    def _collector(cls, value: str | None) -> str | None:
        if value is not None:
            split_collector_host(value)
        return value


def _with_collector_columns(
    frame: pd.DataFrame, collector_host: str | None, secondaries: bool
) -> pd.DataFrame:
    if frame.empty or not collector_host:
        return frame
    primary, secondary = split_collector_host(collector_host)
    frame["CollectorHost"] = primary
    if secondaries:
        frame["CollectorHosts"] = f"{primary},{secondary}" if secondary else primary
    return frame


@Source.produces(job_manifests=pd.DataFrame)
class JobQ(Source):
    """Jobs of every configured schedd: one row per job, the requested attributes + ``ScheddName``, ``CollectorHost``."""

    params: Parameters
    #: where the schedds are reached (default: ``htcondor2``); tests give a :class:`~hepde.condor.fakes.FakePool`
    condor_pool: Pool | None = None

    class Parameters(QueryParameters):
        schedds: list[str | None] = [None]
        #: with False (default) one failing schedd fails the source (its jobs would silently vanish otherwise)
        allow_partial: bool = False

    def acquire(self) -> dict[str, pd.DataFrame]:
        p = self.params
        source = ad_source(p.snapshot_location, p.condor_config, p.snapshot_max_age, self.condor_pool)
        frames, errors = [], []
        for schedd in p.schedds:
            try:
                ads = source.schedd_ads(
                    p.collector_host, schedd, constraint_text(p.constraint), p.classad_attrs
                )
            except QueryError as exc:
                errors.append(str(exc))
                continue
            apply_correction_map(ads, p.correction_map)
            df = pd.DataFrame(ads)
            if not df.empty:
                if schedd is not None or "ScheddName" not in df.columns:
                    df["ScheddName"] = schedd  # the local schedd: the Name it was located by, if known
                df["CollectorHost"] = split_collector_host(p.collector_host)[0] if p.collector_host else None
                frames.append(df)
        if errors and (not p.allow_partial or len(errors) == len(p.schedds)):
            raise QueryError(
                f"{len(errors)} of {len(p.schedds)} schedd(s) could not be queried: " + "; ".join(errors)
            )
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return {"job_manifests": frame}


class ResourceManifests(Source):
    """Collector ads of one pool (+ ``CollectorHost``, ``CollectorHosts``)."""

    params: Parameters

    class Parameters(QueryParameters):
        group_attr: list[str] = ["Name"]
        subsystem_name: str | None = None
        correction_map: dict[str, Any] = {}

    ad_type = "Startd"
    snapshot_kind = "slots"
    extra_constraint: str | None = None
    #: where the collectors are reached (default: ``htcondor2``); tests give a :class:`~hepde.condor.fakes.FakePool`
    condor_pool: Pool | None = None

    def load(self) -> pd.DataFrame:
        p = self.params
        constraint = constraint_text(p.constraint)
        if self.extra_constraint:
            constraint = f"({constraint})&&({self.extra_constraint})"
        ad_type = "Any" if p.subsystem_name == "any" else self.ad_type
        source = ad_source(p.snapshot_location, p.condor_config, p.snapshot_max_age, self.condor_pool)
        ads = source.collector_ads(
            p.collector_host, ad_type, constraint, p.classad_attrs, snapshot_kind=self.snapshot_kind
        )
        apply_correction_map(ads, p.correction_map)
        return _with_collector_columns(pd.DataFrame(ads), p.collector_host, secondaries=True)


@Source.produces(startd_manifests=pd.DataFrame)
class StartdManifests(ResourceManifests):
    """The pool's slots (startd ads)."""

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {"startd_manifests": self.load()}
