"""GlideinWMS factory sources: entries (``Factory_Entries``), globals (``factoryglobal_manifests``)
and clients (``factoryclient_manifests``), from the factory collector(s) or the bridge's snapshots.

Differences from the original 2.0.6, on purpose:

* ``Factory_Entries`` always has every entry type (Grid, AWS, GCE, LCF) in its index, so a factory
  without entries of a type is an empty selection, not a ``KeyError`` (§4.9 #14);
* ``factoryglobal_manifests`` is always a DataFrame (the original returned ``None`` when no factory
  answered, a type error that took every channel using it offline: §4.9 #13); when **every**
  configured factory fails the source raises, the failure is recorded, and the channel keeps
  deciding on the last good factory ads while they are fresh;
* retries wait ``retry_interval`` seconds, growing ×2, and never more than ``max_retry_seconds`` in
  total (a Lambda must finish; the original could sleep for hours with its production settings).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from hepde.condor.adapter import Pool, RetryPolicy, with_retries
from hepde.modules.base import ModuleParameters, Source
from hepde.modules.glideinwms.entries import by_type
from hepde.modules.htcondor.query import (
    QueryError,
    ad_source,
    apply_correction_map,
    constraint_text,
    split_collector_host,
)
from hepde.modules.htcondor.sources import ResourceManifests


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


class Factory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collector_host: str
    classad_attrs: list[str] = []
    constraint: str | bool = True
    correction_map: dict[str, Any] | None = None


class FactoryParameters(ModuleParameters):
    condor_config: str | None = None
    factories: list[Factory] = []
    max_retries: int = Field(default=0, ge=0)
    retry_interval: float = Field(default=0, ge=0)
    #: upper bound of the time spent sleeping between retries in one acquisition
    max_retry_seconds: float = Field(default=60.0, ge=0)
    snapshot_location: str | None = None
    snapshot_max_age: float | None = Field(default=900.0, gt=0)


class _FactorySource(Source):
    Parameters = FactoryParameters
    params: FactoryParameters
    mytype = "glidefactory"
    snapshot_kind = "factory_entries"
    #: where the factory collectors are reached (default: ``htcondor2``); tests give a FakePool
    condor_pool: Pool | None = None

    def _query(self, factory: Factory) -> list[dict[str, Any]]:
        p: FactoryParameters = self.params
        source = ad_source(p.snapshot_location, p.condor_config, p.snapshot_max_age, self.condor_pool)
        constraint = f'({constraint_text(factory.constraint)})&&(glideinmytype=="{self.mytype}")'
        attrs = factory.classad_attrs or None

        # every failed query is retried, as the original did (a stale snapshot may be replaced by
        # the next one); the adapter's policy bounds the count and the time spent waiting
        return with_retries(
            lambda: source.collector_ads(
                factory.collector_host, "Any", constraint, attrs, snapshot_kind=self.snapshot_kind
            ),
            RetryPolicy(p.max_retries + 1, p.retry_interval, p.max_retry_seconds),
            retry_on=(QueryError,),
            sleep=_sleep,
        )

    def load_all(self) -> pd.DataFrame:
        p: FactoryParameters = self.params
        frames, errors = [], []
        for factory in p.factories:
            try:
                ads = self._query(factory)
            except QueryError as exc:
                errors.append(f"{factory.collector_host}: {exc}")
                continue
            apply_correction_map(ads, factory.correction_map)
            df = pd.DataFrame(ads)
            if not df.empty:
                primary, secondary = split_collector_host(factory.collector_host)
                df["CollectorHost"] = primary
                df["CollectorHosts"] = f"{primary},{secondary}" if secondary else primary
                frames.append(df)
        if errors and len(errors) == len(p.factories):
            raise QueryError("no factory collector could be queried: " + "; ".join(errors))
        return pd.concat(frames, ignore_index=True, sort=True) if frames else pd.DataFrame()


@Source.produces(Factory_Entries=pd.DataFrame)
class FactoryEntries(_FactorySource):
    """Entry ads of every factory, indexed by entry type (Grid, AWS, GCE, LCF)."""

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {"Factory_Entries": by_type(self.load_all())}


@Source.produces(factoryglobal_manifests=pd.DataFrame)
class FactoryGlobalManifests(_FactorySource):
    """The factories' ``glidefactoryglobal`` ads (with the public key requests are encrypted with)."""

    mytype = "glidefactoryglobal"
    snapshot_kind = "factory_global"

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {"factoryglobal_manifests": self.load_all()}


@Source.produces(factoryclient_manifests=pd.DataFrame)
class FactoryClientManifests(ResourceManifests):
    """The factory's ``glidefactoryclient`` ads (what the factory did with each client's requests)."""

    ad_type = "Any"
    snapshot_kind = "factory_client"
    extra_constraint = 'glideinmytype=="glidefactoryclient"'

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {"factoryclient_manifests": self.load()}
