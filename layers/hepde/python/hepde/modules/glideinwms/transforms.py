"""Job clustering and the Grid figure of merit (seed-system §4.3.3, §4.3.4).

``GlideinRequestManifests``: how many glideins to ask each factory entry for (seed-system §4.3.6).

Consumes the job queue, the job clusters, the slots, the factory entries and globals and the figures
of merit; produces the ``glideclient`` and ``glideclientglobal`` ads (``glideclient_manifests``,
``glideclientglobal_manifests``) and, new, ``glidein_request_table`` (one row per advertised entry:
FOM, idle jobs matched, min idle, max running, limits hit) and ``glidein_request_summary``.

Holding on implausible input: when the runtime offers the previous cycle's summary and it saw at
least ``implausible_min_previous_jobs`` jobs, a queue that shrank below
``implausible_fraction`` of that (e.g. 0 jobs after 30 000) raises :class:`~hepde.errors.HoldCycleError`:
the cycle is held, nothing is published, and the factory keeps the last requests.  After
``hold_max_seconds`` without a successful cycle the new value is believed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hepde.errors import DEError, HoldCycleError
from hepde.modules.base import ModuleParameters, Transform
from hepde.modules.glideinwms.crypto import FactoryKeyError, KeyBuilder, load_factory_key
from hepde.modules.glideinwms.entries import of_type, records
from hepde.modules.glideinwms.expressions import check_query, query_mask
from hepde.modules.glideinwms.fom import figure_of_merit, fom_eligible_resources
from hepde.modules.glideinwms.frontend import Credential, Frontend, FrontendConfigError, GroupSettings
from hepde.modules.glideinwms.pilot_requests import (
    EXACT_CASE,
    JOB_TYPES,
    apply_group_cycle_cap,
    compute_bucket,
    prepare_jobs,
    prepare_slots,
    sanitize_entries,
)
from hepde.modules.glideinwms.request_policies import (
    RequestPolicies,
    apply_policies,
    factory_counts,
    held_products,
    inconsistent_inputs,
    job_walltime_seconds,
    site_admission,
    slot_remaining_seconds,
)

CLUSTER_COLUMNS = ["Job_Bucket_Criteria_Expr", "Site_Bucket_Criteria_Expr", "Totals", "Frontend_Group"]


class MatchExpression(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_bucket_criteria_expr: str
    site_bucket_criteria_expr: list[str]
    frontend_group: str

    @field_validator("job_bucket_criteria_expr")
    @classmethod
    def _job(cls, value: str) -> str:
        return check_query(value)

    @field_validator("site_bucket_criteria_expr")
    @classmethod
    def _sites(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one site bucket expression is needed")
        return [check_query(v) for v in value]


@Transform.consumes(job_manifests=pd.DataFrame)
@Transform.produces(job_clusters=pd.DataFrame)
class JobClustering(Transform):
    """Idle jobs counted per bucket: one row per match expression (= one frontend group bucket)."""

    params: Parameters

    class Parameters(ModuleParameters):
        match_expressions: list[MatchExpression]
        job_q_expr: str = "JobStatus==1"

        @field_validator("job_q_expr")
        @classmethod
        def _q(cls, value: str) -> str:
            return check_query(value)

    def _frame(self, totals: list[int]) -> pd.DataFrame:
        rows = [
            [m.job_bucket_criteria_expr, list(m.site_bucket_criteria_expr), t, m.frontend_group]
            for m, t in zip(self.params.match_expressions, totals, strict=True)
        ]
        return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)

    def transform(self, data_block) -> dict[str, pd.DataFrame]:
        zeros = [0] * len(self.params.match_expressions)
        jobs = data_block.get("job_manifests")
        if jobs is None or jobs.empty:
            return {"job_clusters": self._frame(zeros)}
        jobs = jobs.reset_index(drop=True)
        try:
            queued = jobs.loc[query_mask(jobs, self.params.job_q_expr)]
            totals = [
                int(query_mask(queued, m.job_bucket_criteria_expr).sum())
                for m in self.params.match_expressions
            ]
        except (KeyError, ValueError, pd.errors.UndefinedVariableError):
            # as the original: missing attributes give empty buckets
            return {"job_clusters": self._frame(zeros)}
        return {"job_clusters": self._frame(totals)}


@Transform.consumes(Factory_Entries=pd.DataFrame)
@Transform.produces(Grid_Figure_Of_Merit=pd.DataFrame)
class GridFigureOfMerit(Transform):
    """``price_performance * (running + 1) / max_glideins`` per Grid entry; INF at a limit."""

    params: Parameters

    class Parameters(ModuleParameters):
        price_performance: float = 1

    def transform(self, data_block) -> dict[str, pd.DataFrame]:
        entries = of_type(data_block.get("Factory_Entries"), "Grid")
        if entries.empty:
            return {"Grid_Figure_Of_Merit": pd.DataFrame()}

        def col(name: str) -> np.ndarray:
            if name not in entries.columns:
                return np.full(len(entries), np.nan)
            return pd.to_numeric(entries[name], errors="coerce").to_numpy(dtype=float)

        fom = figure_of_merit(
            self.params.price_performance,
            col("GlideinMonitorTotalStatusRunning"),
            col("GlideinConfigPerEntryMaxGlideins"),
            col("GlideinMonitorTotalStatusIdle"),
            col("GlideinConfigPerEntryMaxIdle"),
        )
        return {
            "Grid_Figure_Of_Merit": pd.DataFrame(
                {"EntryName": entries["EntryName"].to_list(), "Grid_Figure_Of_Merit": fom}
            )
        }


logger = logging.getLogger(__name__)

GLIDEINWMS_VERSION = "Decision Engine - v0.01"
BASE_CONSUMES = [
    "factoryglobal_manifests",
    "job_manifests",
    "job_clusters",
    "Factory_Entries",
    "startd_manifests",
    "Grid_Figure_Of_Merit",
    "GCE_Figure_Of_Merit",
    "Nersc_Figure_Of_Merit",
]
SUMMARY = "glidein_request_summary"
TABLE = "glidein_request_table"


def credential_id(filename: str) -> str:
    """A stable 6-digit id of a credential file name (the original used ``hash()``, random per process)."""
    return str(int(hashlib.sha256(filename.encode()).hexdigest(), 16) % 1000000)


class LoadedCredential:
    def __init__(self, cred: Credential) -> None:
        self.cred = cred
        self.id = credential_id(cred.absfname)
        self.data: dict[str, str] = {}
        self.error: str | None = None

    def load(self) -> None:
        from hepde.modules.tables import read_bytes

        for fname in (self.cred.absfname, self.cred.keyabsfname, self.cred.pilotabsfname):
            if not fname:
                continue
            try:
                self.data[fname] = read_bytes(fname).decode()
            except DEError as exc:
                self.error = str(exc)
                return

    @property
    def advertise(self) -> bool:
        return self.error is None and bool(self.data)

    def supports_auth_method(self, auth_method: str) -> bool:
        return set(str(auth_method).split("+")) <= set(self.cred.type.split("+"))


def fair_split(total: int, n: int) -> list[int]:
    """``total`` split over ``n`` credentials, differing by at most one (GlideinWMS ``fair_assign``)."""
    return [(total * (i + 1)) // n - (total * i) // n for i in range(n)]


class GlideinRequestManifests(Transform):
    params: Parameters

    class Parameters(ModuleParameters):
        accounting_group: str = "CMS"
        job_filter: str = "ClusterId > 0"
        fe_config_group: str = "CMS"
        fom_resource_constraint: str | None = None
        fom_resource_limit: int | None = Field(default=None, ge=0)
        #: the frontend description (content of glideinwms.libsonnet), inline or as a Jsonnet/JSON location
        frontend: dict[str, Any] | str | None = None
        #: the original's parameter: accepted as a location of the frontend description (JSON/Jsonnet)
        de_frontend_config: str | None = None
        #: entry types requested from (the original 2.0.6: LCF, Grid, GCE; its master adds AWS)
        entry_types: list[Literal["LCF", "Grid", "GCE", "AWS"]] = ["LCF", "Grid", "GCE"]
        implausible_min_previous_jobs: int = Field(default=10000, ge=0)
        implausible_fraction: float = Field(default=0.01, ge=0, le=1)
        hold_max_seconds: float = Field(default=1800.0, ge=0)
        #: reproduce the original 2.0.6 exactly where this project fixed it (attribute names looked up with
        #: their exact case, the "Memory > 2500" idle-slot rule, downtime "True" strings ignored): for comparisons
        compat_original: bool = False
        #: the decision policies (docs/channels-htc.md: merge buckets, hold steady, circuit breaker, scale
        #: down, site-aware matching, lifetime-aware capacity); all off with compat_original
        policies: RequestPolicies = RequestPolicies()

        @field_validator("fom_resource_constraint")
        @classmethod
        def _constraint(cls, value: str | None) -> str | None:
            return check_query(value) if value else value

        @model_validator(mode="after")
        def _frontend(self):
            if self.frontend is None and not self.de_frontend_config:
                from hepde.modules.glideinwms.saved_frontend import DEFAULT_LOCATION

                if not os.path.isfile(DEFAULT_LOCATION):
                    raise ValueError(
                        "the frontend description is required: set 'frontend' "
                        "(e.g. frontend: import 'glideinwms.libsonnet'), or 'de_frontend_config' (the file "
                        f"the original's configure_gwms_frontend.py wrote; its default {DEFAULT_LOCATION} "
                        "does not exist here)"
                    )
                # the original's default: the file configure_gwms_frontend.py wrote on this host
                self.de_frontend_config = DEFAULT_LOCATION
            if isinstance(self.frontend, dict):
                try:
                    Frontend.from_value(self.frontend)
                except FrontendConfigError as exc:
                    raise ValueError(str(exc)) from None
            return self

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        consumes = list(BASE_CONSUMES)
        if "AWS" in self.params.entry_types:
            consumes.append("AWS_Figure_Of_Merit")
        if self.policies_on and self.params.policies.factory_client:
            consumes.append("factoryclient_manifests")
        self._consumes = dict.fromkeys(consumes, pd.DataFrame)
        self._produces = {
            "glideclientglobal_manifests": pd.DataFrame,
            "glideclient_manifests": pd.DataFrame,
            TABLE: pd.DataFrame,
            SUMMARY: dict,
        }
        self._frontend: Frontend | None = (
            Frontend.from_value(self.params.frontend) if isinstance(self.params.frontend, dict) else None
        )

    @property
    def policies_on(self) -> bool:
        return self.params.policies.enabled and not self.params.compat_original

    def _previous(self, name: str) -> tuple[Any, float] | None:
        return self.context.previous_product(name) if self.has_context else None

    def _hold_steady(
        self, jobs_df: pd.DataFrame, slots_df: pd.DataFrame, now: float
    ) -> dict[str, Any] | None:
        """The previous cycle's requests again when the inputs contradict each other (policy hold_steady)."""
        hs = self.params.policies.hold_steady
        if not self.policies_on or not hs.enabled:
            return None
        reason = inconsistent_inputs(jobs_df, slots_df, self.frontend.name)
        if reason is None:
            return None
        names = ("glideclientglobal_manifests", "glideclient_manifests", TABLE, SUMMARY)
        previous = {n: self._previous(n) for n in names}
        if any(v is None for v in previous.values()):
            logger.warning("hold steady: %s, but there is no earlier decision to keep", reason)
            return None
        summary = previous[SUMMARY][0]  # type: ignore[index]
        last_good = float((summary.get("policy_state") or {}).get("last_good_at", previous[SUMMARY][1]))  # type: ignore[index]
        if now - last_good > hs.max_seconds:
            logger.warning(
                "hold steady: %s for %.0f s (> %.0f s): believed", reason, now - last_good, hs.max_seconds
            )
            return None
        return held_products({n: v[0] for n, v in previous.items()}, reason, now)  # type: ignore[index]

    @property
    def frontend(self) -> Frontend:
        if self._frontend is None:
            self._frontend = Frontend.from_value(self.params.frontend or self.params.de_frontend_config)
        return self._frontend

    # -- hold on implausible input ----------------------------------------------------------------
    def _check_plausible(self, n_jobs: int, now: float) -> None:
        if not self.has_context:  # called directly (2.0.6 style): no earlier cycles to compare with
            return
        previous = self.context.previous_product(SUMMARY)
        if not previous:
            return
        prev, at = previous
        prev_jobs = int(prev.get("jobs", 0)) if isinstance(prev, dict) else 0
        p = self.params
        if prev_jobs >= p.implausible_min_previous_jobs and n_jobs <= prev_jobs * p.implausible_fraction:
            if now - at <= p.hold_max_seconds:
                raise HoldCycleError(
                    f"implausible job queue: {n_jobs} job(s) where the last decided cycle saw {prev_jobs}; "
                    f"keeping the last requests (believed after {p.hold_max_seconds:.0f} s without a decided cycle)"
                )

    # -- the cycle ---------------------------------------------------------------------------------
    def transform(self, data_block) -> dict[str, Any]:
        EXACT_CASE["value"] = self.params.compat_original
        try:
            return self._transform(data_block)
        finally:
            EXACT_CASE["value"] = False

    def _transform(self, data_block) -> dict[str, Any]:
        now = self.context.now if self.has_context else time.time()
        p = self.params
        jobs_df = data_block.get("job_manifests")
        jobs_df = pd.DataFrame() if jobs_df is None else jobs_df
        self._check_plausible(len(jobs_df), now)
        factory_entries = data_block.get("Factory_Entries")
        parts = [of_type(factory_entries, t) for t in p.entry_types]
        parts = [x for x in parts if not x.empty]
        summary: dict[str, Any] = {
            "jobs": len(jobs_df),
            "computed_at": now,
            "entries": 0,
            "requests": 0,
            "min_idle_total": 0,
            "max_run_total": 0,
            #: pilots a scale-down releases this cycle (the channel publishes while > 0, even with no job)
            "pilots_released": 0,
        }
        empty = {
            "glideclientglobal_manifests": pd.DataFrame(),
            "glideclient_manifests": pd.DataFrame(),
            TABLE: pd.DataFrame(),
            SUMMARY: summary,
        }
        if not parts:
            return empty
        entries = sanitize_entries(pd.concat(parts, ignore_index=True, sort=True))
        summary["entries"] = len(entries)
        foms = {
            name: data_block.get(name)
            for name in (
                "Grid_Figure_Of_Merit",
                "GCE_Figure_Of_Merit",
                "AWS_Figure_Of_Merit",
                "Nersc_Figure_Of_Merit",
            )
            if name != "AWS_Figure_Of_Merit" or "AWS" in p.entry_types
        }
        fom = fom_eligible_resources(foms, p.fom_resource_constraint, p.fom_resource_limit)
        clusters = data_block.get("job_clusters")
        slots_df = data_block.get("startd_manifests")
        slots_df = pd.DataFrame() if slots_df is None else slots_df
        held = self._hold_steady(jobs_df, slots_df, now)
        if held is not None:
            return held
        factory_globals = data_block.get("factoryglobal_manifests")
        factory_globals = (
            pd.DataFrame() if factory_globals is None else factory_globals.reset_index(drop=True)
        )

        knobs_threshold = 2500.0
        if clusters is not None and not clusters.empty:
            first_group = self.frontend.group(str(clusters.iloc[0]["Frontend_Group"]))
            knobs_threshold = first_group.knobs.partitionable_min_memory_mb
        slots = prepare_slots(slots_df, knobs_threshold)
        jobs = prepare_jobs(jobs_df, slots)
        pol = p.policies
        sites = site_admission(jobs.frame, entries, pol.site_matching) if self.policies_on else None
        lifetime = None
        if self.policies_on and pol.lifetime_aware and len(jobs.frame) and len(slots.frame):
            server = (
                pd.to_numeric(jobs.frame.get("ServerTime"), errors="coerce")
                if "ServerTime" in jobs.frame
                else None
            )
            clock = float(server.max()) if server is not None and server.notna().any() else now
            lifetime = (job_walltime_seconds(jobs.frame), slot_remaining_seconds(slots.frame, clock))
        summary["idle_jobs"] = int(jobs.type_masks["Idle"].sum())
        summary["running_jobs"] = int(jobs.type_masks["Running"].sum())
        creds_by_group: dict[str, list[LoadedCredential]] = {}
        key_builder = KeyBuilder()
        gc_ads: list[dict[str, Any]] = []
        gcg_ads: dict[str, dict[str, Any]] = {}
        tables = []
        seq = int(now)
        entries_memo: dict[str, np.ndarray] = {}  # masks of the site sub-expressions, shared by buckets
        for cluster_no, row in enumerate([] if clusters is None else records(clusters)):
            group = self.frontend.group(str(row["Frontend_Group"]))
            site_expr = " or ".join(row["Site_Bucket_Criteria_Expr"])
            matched = entries.loc[query_mask(entries, site_expr, entries_memo)]
            if group.group not in creds_by_group:
                creds = [LoadedCredential(c) for c in group.credentials]
                creds_by_group[group.group] = creds
                if not factory_globals.empty:
                    for c in creds:
                        c.load()
            creds = creds_by_group[group.group]
            if p.compat_original:
                group = group.model_copy(
                    update={
                        "knobs": group.knobs.model_copy(
                            update={"usable_idle_slots": "original", "partitionable_min_memory_mb": 2500.0}
                        )
                    }
                )
            result = compute_bucket(
                group,
                row["Job_Bucket_Criteria_Expr"],
                matched,
                fom,
                jobs,
                slots,
                [c.id for c in creds],
                compat=p.compat_original,
                sites=sites,
                lifetime=lifetime,
            )
            if result.rows.empty:
                continue
            table = result.rows.assign(Cluster=cluster_no, Group=group.group)
            keys = self._factory_keys(factory_globals, group, key_builder)
            for fg_name, (key_obj, fg_row) in keys.items():
                gcg_ads[f"{fg_name}@{group.client_name}"] = self._glideclientglobal_ad(
                    fg_row, group, key_obj, creds, seq
                )
            notes = []
            trust = (
                matched["GLIDEIN_TrustDomain"].to_numpy(dtype=object)
                if "GLIDEIN_TrustDomain" in matched
                else np.full(len(matched), "Grid", dtype=object)
            )
            auth = (
                matched["GLIDEIN_SupportedAuthenticationMethod"].to_numpy(dtype=object)
                if "GLIDEIN_SupportedAuthenticationMethod" in matched
                else np.full(len(matched), "grid_proxy", dtype=object)
            )
            for rec in records(table):
                note = self._glideclient_ads(
                    gc_ads, rec, trust[rec["_row"]], auth[rec["_row"]], group, keys, creds, result, seq
                )
                notes.append(note)
            table["Advertised"] = notes
            tables.append(table)
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        if not table.empty:
            caps = {}
            for grp in table["Group"].unique():
                caps[grp] = self.frontend.group(grp).knobs.max_new_idle_per_group
            capped = apply_group_cycle_cap(table, caps)
            if not capped["MinIdle"].equals(table["MinIdle"]):
                final = dict(
                    zip(zip(capped["Name"], capped["Group"], strict=True), capped["MinIdle"], strict=True)
                )
                for ad in gc_ads:
                    key = (ad["ReqName"], ad["GroupName"])
                    if key in final and ad["ReqIdleGlideins"] > final[key]:
                        ad["ReqIdleGlideins"] = int(final[key])
            table = capped.drop(columns=["LimitDetails", "_row", "glideid"])
            if self.policies_on:
                previous = self._previous(SUMMARY)
                prev_state = (
                    previous[0].get("policy_state") if previous and isinstance(previous[0], dict) else None
                )
                factory = (
                    factory_counts(data_block.get("factoryclient_manifests"), self.frontend.name)
                    if pol.factory_client
                    else {}
                )
                max_idle = {g: int(self.frontend.group(g).max_idle) for g in table["Group"].unique()}
                table, summary["policy_state"] = apply_policies(
                    table, gc_ads, pol, max_idle, factory, prev_state, now
                )
                summary["pilots_released"] = int(summary["policy_state"].get("released", 0))
            summary["requests"] = len(table)
            summary["min_idle_total"] = int(table["MinIdle"].sum())
            summary["max_run_total"] = int(table["MaxRun"].sum())
            if self.policies_on:
                sent = pd.DataFrame(gc_ads).drop_duplicates(subset=["Name"], keep="last") if gc_ads else None
                summary["req_idle_total"] = int(sent["ReqIdleGlideins"].sum()) if sent is not None else 0
        return {
            "glideclientglobal_manifests": pd.DataFrame(list(gcg_ads.values())),
            "glideclient_manifests": pd.DataFrame(gc_ads),
            TABLE: table,
            SUMMARY: summary,
        }

    # -- ads ---------------------------------------------------------------------------------------
    def _factory_keys(
        self, factory_globals: pd.DataFrame, group: GroupSettings, builder: KeyBuilder
    ) -> dict[str, tuple[Any, dict[str, Any]]]:
        """Factory global ad name → (key object, ad) for every factory with a usable public key."""
        out = {}
        for fg in records(factory_globals):
            if not fg.get("PubKeyID") or not fg.get("PubKeyValue"):
                continue
            try:
                pub = load_factory_key(fg["PubKeyValue"])
            except FactoryKeyError as exc:
                logger.warning("factory %s: %s", fg.get("Name"), exc)
                continue
            identity = group.my_identity(str(fg.get("CollectorHost")), fg.get("AuthenticatedIdentity"))
            if identity is None:
                identity = group.my_identity(str(fg.get("CollectorHost"))) or "None"
            out[str(fg["Name"])] = (builder.get(identity, str(fg["PubKeyID"]), pub), fg)
        return out

    def _glideclientglobal_ad(
        self, fg: dict[str, Any], group: GroupSettings, key_obj, creds, seq: int
    ) -> dict[str, Any]:
        ad: dict[str, Any] = {
            "MyType": "glideclientglobal",
            "GlideinMyType": "glideclientglobal",
            "GlideinWMSVersion": GLIDEINWMS_VERSION,
            "ClientName": group.client_name,
            "Name": f"{fg['Name']}@{group.client_name}",
            "UpdateSequenceNumber": seq,
            "CollectorHost": fg.get("CollectorHost"),
            "FrontendName": group.frontend_name,
            "GroupName": group.group,
            "FrontendHAMode": "False",
            **key_obj.ad_params(),
        }
        secret = {"NumberOfCredentials": str(len(creds)), "SecurityName": str(group.security_name)}
        for c in creds:
            if c.advertise:
                for fname, data in c.data.items():
                    fid = credential_id(fname)
                    secret[fid] = data
                    secret[f"SecurityClass{fid}"] = str(c.cred.security_class)
        for k, v in secret.items():
            ad[f"GlideinEncParam{k}"] = key_obj.encrypt_hex(v)
        return ad

    def _glideclient_ads(
        self,
        out: list[dict[str, Any]],
        rec: dict[str, Any],
        trust_domain: str,
        auth_method: str,
        group: GroupSettings,
        keys,
        creds: list[LoadedCredential],
        result,
        seq: int,
    ) -> str:
        name, pool = rec["Name"], rec["CollectorHost"]
        key_obj = next((k for fg_name, (k, _) in keys.items() if name.endswith(fg_name)), None)
        if key_obj is None:
            return f"no factory key for {pool}"
        usable = [c for c in creds if c.cred.trust_domain == trust_domain]
        if not usable:
            # the original raised NoCredentialException and the whole channel went offline
            return f"no credential for trust domain {trust_domain}"
        idle_split = fair_split(int(rec["MinIdle"]), len(usable))
        max_split = fair_split(int(rec["MaxRun"]), len(usable))
        monitors = result.monitors[f"{name}@{pool}"]
        params = {**group.params}
        params.setdefault("CONTINUE_IF_NO_PROXY", "True")
        params["GLIDECLIENT_ReqNode"] = pool
        per_cred = result.cred_slots.get(rec["glideid"], {})
        with_running = [c for c in usable if per_cred.get(c.id, {}).get("GlideinsRunning")]
        scaled = {}
        total_running = monitors["Running"]
        for n, c in enumerate(with_running):
            last = n == len(with_running) - 1
            scaled[c.id] = (
                total_running - (total_running // len(with_running)) * n
                if last
                else total_running // len(with_running)
            )
        made = 0
        for c, req_idle, req_max in zip(usable, idle_split, max_split, strict=True):
            if not c.advertise or not (
                c.supports_auth_method(auth_method)
                or (auth_method == "grid_proxy" and "scitoken" in c.cred.type)
            ):
                continue
            cred_mon = dict(per_cred.get(c.id, {}))
            cred_mon["ScaledRunning"] = scaled.get(c.id, 0)
            ad: dict[str, Any] = {
                "MyType": "glideclient",
                "GlideinMyType": "glideclient",
                "GlideinWMSVersion": GLIDEINWMS_VERSION,
                "FactoryName": name,
                "ClientName": group.client_name,
                "Name": f"{c.id}_{name}@{group.client_name}",
                "GLIDEIN_In_Downtime": "False",
                "UpdateSequenceNumber": seq,
                "CollectorHost": pool,
                "FrontendName": group.frontend_name,
                "GroupName": group.group,
                "FrontendHAMode": "master",
                "ReqName": name,
                "ReqGlidein": name,
                "ReqIdleGlideins": int(req_idle),
                "ReqMaxGlideins": int(req_max),
                "ReqRemoveExcess": None,
                **key_obj.ad_params(),
                "WebMonitoringURL": group.monitoring_web_url,
                "WebSignType": group.sign.signature_type,
                "WebURL": group.web_url,
                "WebDescriptFile": group.sign.frontend_descript_fname,
                "WebDescriptSign": group.sign.frontend_descript_signature,
                "WebGroupURL": f"{group.web_url}/group_{group.group}" if group.web_url else "",
                "WebGroupDescriptFile": group.sign.group_descript_fname,
                "WebGroupDescriptSign": group.sign.group_descript_signature,
            }
            ad.update({f"GlideinParam{k}": v for k, v in params.items()})
            for attr in (
                *JOB_TYPES,
                "RunningHere",
                *(
                    f"Glideins{s}"
                    for s in ("Total", "Idle", "Running", "Failed", "TotalCores", "IdleCores", "RunningCores")
                ),
            ):
                if attr == "RunningHere" and cred_mon:
                    value = cred_mon.get("GlideinsRunning", 0)
                elif attr == "Running" and cred_mon:
                    value = cred_mon.get("ScaledRunning", 0)
                else:
                    value = cred_mon.get(attr, monitors[attr])
                ad[f"GlideinMonitor{attr}"] = value
            secret = {"SecurityClass": str(c.cred.security_class), "SecurityName": str(group.security_name)}
            if "scitoken" in c.cred.type:
                secret["frontend_scitoken"] = c.data.get(c.cred.absfname, "")
            if "grid_proxy" in c.cred.type:
                secret["SubmitProxy"] = c.id
            if c.cred.project_id:
                secret["ProjectId"] = c.cred.project_id
            if c.cred.pilotabsfname:
                secret["GlideinProxy"] = credential_id(c.cred.pilotabsfname)
            for k, v in secret.items():
                ad[f"GlideinEncParam{k}"] = key_obj.encrypt_hex(v)
            out.append(ad)
            made += 1
        return f"{made} ad(s)" if made else "no usable credential"
