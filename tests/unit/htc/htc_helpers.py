"""Shared inputs of the HTC pilot channel's unit tests (the original's fixtures, copied to tests/fixtures/htc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hepde.modules.glideinwms.entries import by_type
from hepde_tools.synth.literal import load_python_literal

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "htc"
FACTORY = "fermicloud122.fnal.gov"


def fixture(name: str) -> list[dict[str, Any]]:
    return load_python_literal(FIXTURES / name)


def frontend(**group_config: Any) -> dict[str, Any]:
    return {
        "frontend_name": "Frontend-master-v1_0",
        "groups": {
            "main": {
                "config": group_config,
                "security": {
                    "credentials": [
                        {"absfname": str(FIXTURES / "cq.fixture"), "trust_domain": "OSG", "type": "scitoken"}
                    ]
                },
            }
        },
        "match": {
            "factory": {
                "collectors": [
                    {
                        "node": FACTORY,
                        "factory_identity": f"factory@{FACTORY}",
                        "my_identity": f"me@{FACTORY}",
                    }
                ]
            }
        },
    }


def fixture_block() -> dict[str, Any]:
    """The original's fixtures as a DataBlock: 4 idle jobs, 2 busy slots, 2 Grid entries, 1 factory global."""
    entries = fixture("factory_entries.cs.fixture")
    for e in entries:
        e.setdefault("GLIDEIN_CPUS", 1)  # the production template's correction_map
        e["CollectorHost"] = FACTORY
    fg = pd.DataFrame(fixture("factory_global.cs.fixture"))
    fg["CollectorHost"] = FACTORY
    return {
        "job_manifests": pd.DataFrame(fixture("cq.fixture")),
        "startd_manifests": pd.DataFrame(fixture("cs.fixture")),
        "Factory_Entries": by_type(pd.DataFrame(entries)),
        "factoryglobal_manifests": fg,
        "GCE_Figure_Of_Merit": pd.DataFrame(),
        "Nersc_Figure_Of_Merit": pd.DataFrame(),
    }


CLUSTERS = {
    "match_expressions": [
        {
            "job_bucket_criteria_expr": "ClusterId > 0",
            "site_bucket_criteria_expr": ["GLIDEIN_Site=='Test_Site_1'", "GLIDEIN_Site=='Test_Site_2'"],
            "frontend_group": "main",
        }
    ],
    "job_q_expr": "JobStatus==1",
}


def entry(name: str, cpus: Any = 8, **attrs: Any) -> dict[str, Any]:
    return {
        "Name": f"{name}@v1_0@GlideinFactory-master",
        "EntryName": name,
        "GLIDEIN_GridType": "condor",
        "GLIDEIN_Site": name,
        "GLIDEIN_CPUS": cpus,
        "GLIDEIN_In_Downtime": "False",
        "GLIDEIN_TrustDomain": "OSG",
        "GlideinMonitorTotalStatusRunning": 0,
        "GlideinConfigPerEntryMaxGlideins": 1000,
        "GlideinMonitorTotalStatusIdle": 0,
        "GlideinConfigPerEntryMaxIdle": 100,
        "CollectorHost": FACTORY,
        **attrs,
    }


def jobs(n: int, cpus: int = 1, memory: int = 2000, gpus: int = 0, status: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ClusterId": range(1, n + 1),
            "ProcId": 0,
            "JobStatus": status,
            "RequestCpus": cpus,
            "RequestMemory": memory,
            "RequestGPUs": gpus,
            "ServerTime": 1000,
            "EnteredCurrentStatus": 0,
            "x509userproxy": "",
            "x509UserProxyFirstFQAN": "",
        }
    )
