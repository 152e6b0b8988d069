"""A deterministic CMS-pool-sized HTCondor/GlideinWMS workload (``de synth``).

Same seed, same sizes → the same tables, bit for bit.  Defaults: 150 000 jobs (≈38 % idle, ≈55 %
running) in 52 job buckets (13 job types × 4 resource classes: 1 core, 2–4 cores, 8 cores, GPU),
mixed memory and GPU requests; 100 000 slots (static, partitionable with their dynamic children,
idle, draining) whose running slots are the running jobs' ``RemoteHost``; 500 factory entries of
the four types (300 Grid, 60 AWS, 40 GCE, 100 LCF), some in downtime, some with ``GLIDEIN_CPUS``
"auto"; one factory global ad with a public key; a frontend description with four groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

FRONTEND = "hepcloud-de"
FACTORY = "factory.example.org"
GROUPS = ("cms_main", "cms_multicore", "cms_gpu", "cms_hpc")
JOB_TYPES = (
    "Production",
    "Processing",
    "Analysis",
    "Merge",
    "Cleanup",
    "LogCollect",
    "Harvesting",
    "Skim",
    "Reco",
    "Digi",
    "GenSim",
    "Premix",
    "Relval",
)
REGIONS = (
    "T1_US",
    "T2_US",
    "T2_DE",
    "T2_IT",
    "T2_FR",
    "T2_UK",
    "T2_CH",
    "T2_ES",
    "T3_US",
    "T2_BR",
    "T2_IN",
    "T2_KR",
    "T2_CN",
)
CLASSES = {  # resource class → (job bucket condition, site bucket condition, frontend group)
    "single": ("RequestCpus == 1 and RequestGPUs == 0", "GLIDEIN_CPUS >= 1", "cms_main"),
    "multi": (
        "RequestCpus > 1 and RequestCpus <= 4 and RequestGPUs == 0",
        "GLIDEIN_CPUS >= 4",
        "cms_multicore",
    ),
    "whole": ("RequestCpus == 8 and RequestGPUs == 0", "GLIDEIN_CPUS >= 8", "cms_multicore"),
    "gpu": ("RequestGPUs > 0", "GLIDEIN_GPUs > 0", "cms_gpu"),
}
ENTRY_KINDS = (
    ("Grid", "condor", 0.6),
    ("AWS", "ec2", 0.12),
    ("GCE", "gce", 0.08),
    ("LCF", "batch slurm", 0.2),
)


@dataclass
class Workload:
    jobs: pd.DataFrame
    slots: pd.DataFrame
    entries: pd.DataFrame
    factory_global: pd.DataFrame
    frontend: dict[str, Any]
    match_expressions: list[dict[str, Any]]
    seed: int

    def describe(self) -> str:
        idle = int((self.jobs["JobStatus"] == 1).sum())
        kinds = self.entries["GLIDEIN_GridType"].value_counts().to_dict()
        return (
            f"{len(self.jobs)} jobs ({idle} idle) in {len(self.match_expressions)} buckets, "
            f"{len(self.slots)} slots, {len(self.entries)} entries {kinds}, seed {self.seed}"
        )


def public_key_pem() -> str:
    return resources.files("hepde").joinpath("data/htc/factory_pubkey.pem").read_text()


def frontend_description(
    credential: str = "package://hepde/data/htc/credentials/frontend.scitoken",
) -> dict[str, Any]:
    """The frontend (content of a glideinwms.libsonnet) the workload's requests are computed for."""
    group_cfg = {
        "idle_glideins_per_entry": {"max": "100", "reserve": "5"},
        "idle_vms_per_entry": {"curb": "5", "max": "100"},
        "idle_vms_total": {"curb": "2000", "max": "10000"},
        "running_glideins_per_entry": {"max": "10000", "min": "0", "relative_to_queue": "1.15"},
        "running_glideins_total": {"curb": "90000", "max": "100000"},
    }
    return {
        "frontend_name": FRONTEND,
        "config": {
            "idle_vms_total": {"curb": "4000", "max": "20000"},
            "idle_vms_total_global": {"curb": "4000", "max": "20000"},
            "running_glideins_total": {"curb": "180000", "max": "200000"},
            "running_glideins_total_global": {"curb": "180000", "max": "200000"},
        },
        "match": {
            "factory": {
                "collectors": [
                    {
                        "node": FACTORY,
                        "factory_identity": f"gfactory@{FACTORY}",
                        "my_identity": f"decisionengine_service@{FACTORY}",
                        "DN": "",
                    }
                ]
            }
        },
        "security": {
            "proxy_selection_plugin": "ProxyAll",
            "security_name": "decisionengine_service",
            "sym_key": "aes_256_cbc",
            "credentials": [
                {
                    "absfname": credential,
                    "security_class": "frontend",
                    "trust_domain": "grid",
                    "type": "scitoken",
                }
            ],
        },
        "stage": {"web_base_url": "https://de.example.org/vofrontend/stage"},
        "attrs": {
            "GLIDECLIENT_Rank": {"value": "1", "type": "string", "parameter": "True"},
            "USE_MATCH_AUTH": {"value": "True", "type": "string", "parameter": "True"},
        },
        "groups": {g: {"enabled": "True", "config": group_cfg} for g in GROUPS},
    }


def match_expressions() -> list[dict[str, Any]]:
    out = []
    for jt in JOB_TYPES:
        for cls, (job_cond, site_cond, group) in CLASSES.items():
            regions = REGIONS[: 4 + (len(jt) % 9)] if cls != "gpu" else REGIONS[:3]
            site_exprs = [f"GLIDEIN_CMSSite.str.startswith('{r}') and {site_cond}" for r in regions]
            out.append(
                {
                    "job_bucket_criteria_expr": f"CMS_JobType == '{jt}' and {job_cond}",
                    "site_bucket_criteria_expr": site_exprs,
                    "frontend_group": group,
                }
            )
    return out


def generate(jobs: int = 150_000, slots: int = 100_000, entries: int = 500, seed: int = 20250501) -> Workload:
    rng = np.random.default_rng(seed)
    # -- entries ------------------------------------------------------------------------------------
    n_e = entries
    kinds = rng.choice(len(ENTRY_KINDS), size=n_e, p=[k[2] for k in ENTRY_KINDS])
    order = np.argsort(kinds, kind="stable")
    kinds = kinds[order]
    region = rng.integers(0, len(REGIONS), n_e)
    site = [f"{REGIONS[r]}_Site{rng.integers(1, 9)}" for r in region]
    entry_name = [
        f"CMSHTPC_{s}_{ENTRY_KINDS[k][0]}_{i:03d}" for i, (s, k) in enumerate(zip(site, kinds, strict=True))
    ]
    cpus_choice = np.array([1, 4, 8, 8, 8, 16, -1])  # -1: "auto"
    cpus = cpus_choice[rng.integers(0, len(cpus_choice), n_e)]
    est = np.where(cpus == -1, rng.choice([8, 16], n_e), np.nan)
    gpus = np.where(rng.random(n_e) < 0.08, rng.choice([1, 2, 4], n_e), 0)
    max_glideins = rng.choice([500, 1000, 2000, 5000, 10000], n_e)
    running = (max_glideins * rng.uniform(0, 1.05, n_e)).astype(int)
    max_idle = rng.choice([50, 100, 200], n_e)
    idle = (max_idle * rng.uniform(0, 1.1, n_e)).astype(int)
    e_df = pd.DataFrame(
        {
            "Name": [f"{n}@gfactory_instance@OSG" for n in entry_name],
            "EntryName": entry_name,
            "GLIDEIN_GridType": [ENTRY_KINDS[k][1] for k in kinds],
            "GLIDEIN_Site": site,
            "GLIDEIN_CMSSite": site,
            "GLIDEIN_CPUS": pd.Series([("auto" if c == -1 else int(c)) for c in cpus], dtype=object),
            "GLIDEIN_ESTIMATED_CPUS": est,
            "GLIDEIN_GPUs": gpus,
            "GLIDEIN_Supported_VOs": np.where(rng.random(n_e) < 0.9, "CMS", "CMS,OSG"),
            "GLIDEIN_In_Downtime": np.where(rng.random(n_e) < 0.02, "True", "False"),
            "GLIDEIN_TrustDomain": "grid",
            "GLIDEIN_SupportedAuthenticationMethod": "scitoken",
            "GlideinMonitorTotalStatusRunning": running,
            "GlideinConfigPerEntryMaxGlideins": max_glideins,
            "GlideinMonitorTotalStatusIdle": idle,
            "GlideinConfigPerEntryMaxIdle": max_idle,
            "CollectorHost": FACTORY,
            "CollectorHosts": FACTORY,
        }
    )
    fg = pd.DataFrame(
        [
            {
                "Name": "gfactory_instance@OSG",
                "FactoryName": "OSG",
                "GlideinName": "gfactory_instance",
                "AuthenticatedIdentity": f"gfactory@{FACTORY}",
                "PubKeyID": "synthkey0001",
                "PubKeyType": "RSA",
                "PubKeyValue": public_key_pem().replace("\n", "\\n"),
                "CollectorHost": FACTORY,
                "CollectorHosts": FACTORY,
            }
        ]
    )

    # -- jobs ---------------------------------------------------------------------------------------
    n = jobs
    status = rng.choice([1, 2, 5], n, p=[0.384, 0.55, 0.066])
    cls = rng.choice(4, n, p=[0.55, 0.2, 0.2, 0.05])
    req_cpus = np.select([cls == 0, cls == 1, cls == 2, cls == 3], [1, rng.choice([2, 4], n), 8, 1])
    req_gpus = np.where(cls == 3, 1, 0)
    req_mem = (req_cpus * rng.choice([1500, 2000, 2500, 4000], n) + np.where(cls == 3, 8000, 0)).astype(int)
    now = 1_750_000_000
    entered = now - rng.integers(0, 7200, n)
    jtype = np.array(JOB_TYPES, dtype=object)[rng.integers(0, len(JOB_TYPES), n)]
    j_df = pd.DataFrame(
        {
            "ClusterId": 1000 + np.arange(n) // 10,
            "ProcId": np.arange(n) % 10,
            "JobStatus": status,
            "RequestCpus": req_cpus,
            "RequestMemory": req_mem,
            "RequestGPUs": req_gpus,
            "CMS_JobType": jtype,
            "DESIRED_Sites": np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), n)],
            "EnteredCurrentStatus": entered,
            "ServerTime": now,
            "MaxWallTimeMins": rng.choice([120, 720, 1440, 2880], n),
            "x509userproxy": "",
            "x509UserProxyFirstFQAN": "",
            "VO": "cms",
            "ScheddName": np.array([f"schedd{i}@submit.example.org" for i in range(8)], dtype=object)[
                rng.integers(0, 8, n)
            ],
            "CollectorHost": "pool.example.org",
        }
    )

    # -- slots: the running jobs' slots, partitionable parents, idle and draining ones ---------------
    run_idx = np.flatnonzero(status == 2)
    n_s = slots
    n_run = min(len(run_idx), int(n_s * 0.8))
    n_parent = int(n_s * 0.08)
    n_rest = n_s - n_run - n_parent
    e_pick = rng.integers(0, n_e, n_s)
    glidein = rng.integers(0, max(n_parent, 1), n_s)
    names = [
        f"slot1_{i % 32}@glidein_{g}_{i}@wn{g % 5000}.example.org" for i, g in enumerate(glidein[:n_run])
    ]
    names += [
        f"slot1@glidein_{g}_p{i}@wn{g % 5000}.example.org"
        for i, g in enumerate(glidein[n_run : n_run + n_parent])
    ]
    names += [f"glidein_{g}_s{i}@wn{g % 5000}.example.org" for i, g in enumerate(glidein[n_run + n_parent :])]
    kind = np.array(["run"] * n_run + ["parent"] * n_parent + ["rest"] * n_rest, dtype=object)
    rest_state = rng.choice(3, n_s, p=[0.8, 0.15, 0.05])  # idle, idle partitionable leftovers, draining
    state = np.where(
        kind == "run",
        "Claimed",
        np.where(kind == "parent", "Unclaimed", np.where(rest_state == 2, "Drained", "Unclaimed")),
    )
    activity = np.where(
        kind == "run",
        np.where(rng.random(n_s) < 0.97, "Busy", "Retiring"),
        np.where(rest_state == 2, "Retiring", "Idle"),
    )
    slot_type = np.where(
        kind == "run",
        np.where(rng.random(n_s) < 0.7, "Dynamic", "Static"),
        np.where(kind == "parent", "Partitionable", np.where(rest_state == 1, "Partitionable", "Static")),
    )
    s_cpus = np.where(
        kind == "run",
        req_cpus[run_idx[np.minimum(np.arange(n_s), n_run - 1)]] if n_run else 1,
        rng.choice([0, 1, 2, 4, 8], n_s),
    )
    s_mem = np.where(
        kind == "parent",
        rng.choice([500, 1500, 3000, 8000], n_s),
        s_cpus * rng.choice([1000, 2000, 2600], n_s),
    )
    total_slots = np.where(
        kind == "parent", rng.integers(2, 9, n_s), np.where(slot_type == "Partitionable", 1, 1)
    )
    group = np.array(GROUPS, dtype=object)[rng.choice(4, n_s, p=[0.6, 0.25, 0.05, 0.1])]
    client = np.where(rng.random(n_s) < 0.95, [f"{FRONTEND}.{g}" for g in group], "otherfe.main")
    en = e_df["EntryName"].to_numpy(dtype=object)[e_pick]
    s_df = pd.DataFrame(
        {
            "Name": names,
            "State": state,
            "Activity": activity,
            "SlotType": slot_type,
            "Cpus": s_cpus,
            "Memory": s_mem,
            "GPUs": np.where(rng.random(n_s) < 0.03, 1, 0),
            "TotalCpus": 8,
            "TotalSlots": total_slots,
            "TotalSlotCpus": np.where(slot_type == "Partitionable", 8, s_cpus),
            # the attribute spellings the original's code looks up (count_glidein_slots and append_running_on)
            "GLIDECLIENT_NAME": client,
            "GLIDEIN_Entry_Name": en,
            "GLIDEIN_ENTRY_NAME": en,
            "GLIDEIN_Name": "gfactory_instance",
            "GLIDEIN_FACTORY": "OSG",
            "GLIDEIN_Factory": "OSG",
            "GLIDEIN_Schedd": f"schedd_glideins2@{FACTORY}:9618",
            "GLIDEIN_Site": e_df["GLIDEIN_Site"].to_numpy(dtype=object)[e_pick],
            "GLIDEIN_CredentialIdentifier": "",
            "GLIDEIN_GridType": e_df["GLIDEIN_GridType"].to_numpy(dtype=object)[e_pick],
            "CollectorHost": "pool.example.org",
            "CollectorHosts": "pool.example.org",
        }
    )
    remote = np.full(n, None, dtype=object)
    remote[run_idx[:n_run]] = s_df["Name"].to_numpy(dtype=object)[:n_run]
    j_df["RemoteHost"] = remote
    from hepde.modules.glideinwms.transforms import credential_id

    s_df["GLIDEIN_CredentialIdentifier"] = credential_id(
        "package://hepde/data/htc/credentials/frontend.scitoken"
    )
    return Workload(
        jobs=j_df,
        slots=s_df,
        entries=e_df,
        factory_global=fg,
        frontend=frontend_description(),
        match_expressions=match_expressions(),
        seed=seed,
    )
