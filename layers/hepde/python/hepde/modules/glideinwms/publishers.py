"""Publishers of the glidein requests: ``glideclient`` ads with fact gating (the original's
``fe_group_classads``) and ``glideclientglobal`` ads (seed-system §4.3.7).

Where the ads go (``advertise_via``):

* ``htcondor`` (the original's behaviour): UPDATE_AD_GENERIC at each ad's ``CollectorHost`` through
  the ``htcondor2`` bindings — for a Decision Engine that can reach the factory collector;
* ``bridge``: one :class:`hepde.actions.AdvertiseAds` message per collector on the condor bridge's
  SQS actions queue (idempotency key derived from channel, generation and collector) — what runs
  in AWS;
* ``none``: nothing is sent; the requests are only recorded (``de run`` on sample data).

Fact gating (``GlideinWMSManifests``): for each entry type (Grid, AWS, GCE, LCF) the requests for
entries of that type get ``ReqIdleGlideins = 0`` unless the logic engine produced
``allow_<type>_requests`` True this cycle (``ReqMaxGlideins`` is kept so running pilots finish);
an optional ``queries[type]`` expression further zeroes requests it does not select.  The returned
:class:`~hepde.modules.base.PublishResult` lists one row per request: entry, FOM, idle jobs matched,
min_idle, max_run, the published ``ReqIdleGlideins``/``ReqMaxGlideins`` and the limits hit.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal, cast

import pandas as pd
from pydantic import Field, field_validator

from hepde.condor.adapter import Collector, Pool
from hepde.errors import DEError
from hepde.logicengine.gating import FACTS_PRODUCT, fact_is_true, gate_fact_name
from hepde.modules.base import ModuleParameters, Publisher, PublishResult
from hepde.modules.glideinwms.entries import ENTRY_TYPES, of_type, records
from hepde.modules.glideinwms.expressions import check_query
from hepde.modules.glideinwms.pilot_requests import request_row

logger = logging.getLogger(__name__)


class AdvertiseError(DEError):
    """Ads could not be advertised (or handed to the bridge)."""


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str) and value.startswith("b'") and value.endswith("'"):
        value = value[2:-1]  # modules #263: bytes rendered as text
    return value


def frame_to_ads(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows → ads, attributes without a value omitted (the original dropped NaN attributes)."""
    ads = []
    for rec in records(frame):
        ad = {}
        for k, v in rec.items():
            if v is None:  # the attribute is omitted
                continue
            ad[k] = _clean(v) if isinstance(v, bytes | str) or hasattr(v, "item") else v
        ads.append(ad)
    return ads


def invalidate_constraint(ad_type: str, client_names: list[str]) -> str:
    return f'(glideinmytype == "{ad_type}") && (stringlistmember(ClientName, "{",".join(sorted(set(client_names)))}"))'


class AdvertiseParameters(ModuleParameters):
    #: an HTCondor configuration file for the advertisements (loaded by the bindings for the calls)
    condor_config: str | None = None
    #: the X.509 proxy to authenticate to the factory collectors with (SSL), for these calls only
    x509_user_proxy: str | None = None
    #: a collector that cannot be reached is tried again this many times (a refusal is not)
    max_retries: int = Field(default=0, ge=0)
    retry_interval: float = Field(default=0, ge=0)
    #: upper bound of the time spent waiting between retries in one publication
    max_retry_seconds: float = Field(default=60.0, ge=0)
    advertise_via: Literal["htcondor", "bridge", "none"] = "htcondor"
    #: the bridge whose actions queue receives the ads (resolved by the runtime, like every module's)
    bridge: str = "default"
    #: factory collector host → the bridge's logical collector name (default: the host name)
    collector_names: dict[str, str] = {}
    #: an advertisement older than this is not performed by the bridge (seconds)
    action_ttl: float = Field(default=600.0, gt=0)


class _Advertising(Publisher):
    Parameters = AdvertiseParameters
    params: AdvertiseParameters
    classad_type = "generic"
    #: where the collectors are reached (default: ``htcondor2`` with the parameters' settings);
    #: tests give a :class:`~hepde.condor.fakes.FakePool`
    condor_pool: Pool | None = None

    def advertise(self, ads: list[dict[str, Any]]) -> str:
        """Send the ads (grouped by ``CollectorHost``); return a one-line summary."""
        p: AdvertiseParameters = self.params
        if not ads:
            return f"no {self.classad_type} ads"
        by_collector: dict[str, list[dict[str, Any]]] = {}
        for ad in ads:
            by_collector.setdefault(str(ad.get("CollectorHost")), []).append(ad)
        if p.advertise_via == "none":
            return f"{len(ads)} {self.classad_type} ad(s) for {len(by_collector)} collector(s) (not sent: advertise_via none)"
        if p.advertise_via == "bridge":
            return self._to_bridge(by_collector)
        return self._to_collectors(by_collector)

    def _to_collectors(self, by_collector: dict[str, list[dict[str, Any]]]) -> str:
        from hepde.condor.adapter import CondorError, RetryPolicy, with_retries

        p: AdvertiseParameters = self.params
        pool = self.condor_pool or self._default_pool(p)
        policy = RetryPolicy(
            attempts=p.max_retries + 1, interval=p.retry_interval, max_seconds=p.max_retry_seconds
        )
        for host, ads in by_collector.items():
            collector = pool.collector(host)

            def send(c: Collector = collector, a: list[dict[str, Any]] = ads) -> None:
                c.advertise(a, "UPDATE_AD_GENERIC")

            try:
                with_retries(send, policy)
            except CondorError as exc:
                raise AdvertiseError(
                    f"advertising {len(ads)} {self.classad_type} ad(s) to {host} failed: {exc}"
                ) from exc
        return f"advertised {sum(map(len, by_collector.values()))} {self.classad_type} ad(s) to {len(by_collector)} collector(s)"

    @staticmethod
    def _default_pool(p: AdvertiseParameters) -> Pool:
        """``htcondor2`` with the publisher's configuration file and proxy, for these calls only."""
        from hepde.condor.adapter import CondorSettings, HTCondorPool, bindings

        try:
            bindings()
        except DEError as exc:
            raise AdvertiseError(str(exc)) from exc
        return HTCondorPool(
            CondorSettings(config_file=p.condor_config or None, proxy_file=p.x509_user_proxy or None)
        )

    def _to_bridge(self, by_collector: dict[str, list[dict[str, Any]]]) -> str:
        from hepde.actions import AdvertiseAds, idempotency_key

        p = self.params
        ctx = self.context
        channel, generation = ctx.channel, ctx.generation
        queue = ctx.action_queue(p.bridge)
        now = ctx.now
        for host, ads in by_collector.items():
            collector = p.collector_names.get(host, host)
            for start in range(0, len(ads), 5000):
                chunk = ads[start : start + 5000]
                action = AdvertiseAds(
                    key=idempotency_key(channel, generation, self.classad_type, collector, start),
                    channel=channel,
                    generation=generation,
                    created_at=now,
                    expires_at=now + p.action_ttl,
                    reason=f"{len(chunk)} {self.classad_type} request(s)",
                    collector=collector,
                    ad_type=cast(
                        Literal["glideclient", "glideclientglobal", "glideclientmonitor"], self.classad_type
                    ),
                    ads=chunk,
                )
                queue.send(action.model_dump_json())
        return f"sent {sum(map(len, by_collector.values()))} {self.classad_type} ad(s) to the bridge '{p.bridge}'"


@Publisher.consumes(glideclientglobal_manifests=pd.DataFrame)
class GlideClientGlobalManifests(_Advertising):
    """Advertises the ``glideclientglobal`` ads (credentials, encrypted for each factory)."""

    classad_type = "glideclientglobal"

    def publish(self, data_block) -> PublishResult:
        frame = data_block.get("glideclientglobal_manifests")
        ads = frame_to_ads(frame) if frame is not None and not frame.empty else []
        summary = self.advertise(ads)
        return PublishResult(
            summary=summary,
            requested=[
                {
                    "factory": ad.get("Name"),
                    "collector": ad.get("CollectorHost"),
                    "group": ad.get("GroupName"),
                }
                for ad in ads
            ],
        )


class GlideinWMSParameters(AdvertiseParameters):
    #: per entry type, a pandas query over the request joined with its entry; unselected requests get 0 idle
    queries: dict[str, str] = {}

    @field_validator("queries")
    @classmethod
    def _queries(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(ENTRY_TYPES)
        if unknown:
            raise ValueError(f"unknown entry type(s) {sorted(unknown)}; expected {list(ENTRY_TYPES)}")
        return {k: check_query(v) for k, v in value.items() if v}


@Publisher.consumes(Factory_Entries=pd.DataFrame, glideclient_manifests=pd.DataFrame)
class GlideinWMSManifests(_Advertising):
    """Advertises the ``glideclient`` ads (the requests), gated by ``allow_<type>_requests`` facts."""

    Parameters = GlideinWMSParameters
    params: GlideinWMSParameters
    classad_type = "glideclient"

    def gated_requests(self, data_block) -> pd.DataFrame:
        requests = data_block.get("glideclient_manifests")
        if requests is None or requests.empty:
            return pd.DataFrame()
        facts = data_block.get(FACTS_PRODUCT)
        entries_all = data_block.get("Factory_Entries")
        parts = []
        for entry_type in ENTRY_TYPES:
            entries = of_type(entries_all, entry_type)
            if entries.empty or "Name" not in entries.columns:
                continue
            joint = requests.merge(entries, left_on="ReqName", right_on="Name", suffixes=("", "_right"))
            if joint.empty:
                continue
            req = joint.iloc[:, : len(requests.columns)].copy()
            req["EntryType"] = entry_type
            if not fact_is_true(facts, gate_fact_name(entry_type)):
                req["ReqIdleGlideins"] = 0
                req["GatedBy"] = f"fact {gate_fact_name(entry_type)} not True"
            else:
                query = self.params.queries.get(entry_type)
                req["GatedBy"] = ""
                if query:
                    keep = joint.eval(query, local_dict={}, global_dict={}).to_numpy(dtype=bool)
                    req.loc[~keep, "GatedBy"] = f"query {query!r}"
                    req["ReqIdleGlideins"] = req["ReqIdleGlideins"].where(keep, other=0)
            parts.append(req)
        return pd.concat(parts, ignore_index=True, sort=False) if parts else pd.DataFrame()

    def publish(self, data_block) -> PublishResult:
        gated = self.gated_requests(data_block)
        if not gated.empty and "Name" in gated.columns:
            # buckets of one group asking one entry make ads of the same Name: the collector keeps the last
            # one (as with the original, which advertised them all); send and report exactly that one
            gated = gated.drop_duplicates(subset="Name", keep="last").reset_index(drop=True)
        ads = frame_to_ads(gated.drop(columns=["EntryType", "GatedBy"])) if not gated.empty else []
        summary = self.advertise(ads)
        rows = self._rows(gated, data_block.get("glidein_request_table"))
        return PublishResult(summary=summary, requested=rows, requests=[request_row(r) for r in rows])

    def dry_run(self, data_block) -> PublishResult:
        """What :meth:`publish` would request, without advertising (``de replay``)."""
        gated = self.gated_requests(data_block)
        if not gated.empty and "Name" in gated.columns:
            gated = gated.drop_duplicates(subset="Name", keep="last").reset_index(drop=True)
        rows = self._rows(gated, data_block.get("glidein_request_table"))
        return PublishResult(
            summary=f"dry run: {len(rows)} {self.classad_type} request(s) not advertised",
            requested=rows,
            requests=[request_row(r) for r in rows],
        )

    @staticmethod
    def _rows(gated: pd.DataFrame, table: pd.DataFrame | None) -> list[dict[str, Any]]:
        if gated.empty:
            return []
        info: dict[tuple[Any, Any], dict[str, Any]] = {}
        if table is not None and not table.empty:
            for rec in records(table):
                info[(rec["Name"], rec["Group"])] = rec
        rows: list[dict[str, Any]] = []
        for rec in records(gated):
            t = info.get((rec.get("ReqName"), rec.get("GroupName")), {})
            fom = t.get("FOM")
            limits = t.get("Limits", "") or ""
            if rec.get("GatedBy"):
                limits = ", ".join(x for x in (limits, "Gated") if x)
            rows.append(
                {
                    "entry": rec.get("ReqName"),
                    "type": rec.get("EntryType"),
                    "group": rec.get("GroupName"),
                    "FOM": None
                    if fom is None or (isinstance(fom, float) and math.isnan(fom))
                    else ("INF" if fom >= 1e308 else round(float(fom), 6)),
                    "idle_jobs_matched": int(t.get("IdleJobs", rec.get("GlideinMonitorIdle", 0)) or 0),
                    "min_idle": int(t.get("MinIdle", rec.get("ReqIdleGlideins", 0)) or 0),
                    "max_run": int(t.get("MaxRun", rec.get("ReqMaxGlideins", 0)) or 0),
                    "ReqIdleGlideins": int(rec.get("ReqIdleGlideins", 0) or 0),
                    "ReqMaxGlideins": int(rec.get("ReqMaxGlideins", 0) or 0),
                    "limits_hit": limits,
                    "why": rec.get("GatedBy") or "",
                    **(
                        {
                            "ReqRemoveExcess": rec["ReqRemoveExcess"],
                            "ReqRemoveExcessMargin": rec.get("ReqRemoveExcessMargin"),
                        }
                        if isinstance(rec.get("ReqRemoveExcess"), str)
                        else {}
                    ),
                    **({"policies": t["Policies"]} if t.get("Policies") else {}),
                }
            )
        # what is asked for first, then by entry
        rows.sort(key=lambda r: (-r["ReqIdleGlideins"], -r["ReqMaxGlideins"], str(r["entry"])))
        return rows
