"""``de bench htc``: the HTC pilot channel's decision work at CMS-pool size, and the original's.

One input (``hepde_tools.synth``: 150k jobs, 100k slots, 500 entries by default) is written to a directory
as Parquet tables + ``config.json``; then, each in its own process so that peak memory is its own:

* ours: job clustering, Grid FOM, glidein requests, the logic engine (the production rules) and the
  publisher's preparation (fact gating, ads, request rows) — wall time per stage, peak RSS;
* the original 2.0.6 (when a Python with ``hepcloud-de-modules==2.0.6`` is given or found at
  ``/tmp/orig-venv``): its JobClustering, GridFigureOfMerit and GlideinRequestManifests, unmodified,
  with the GlideinWMS libraries stubbed (``tools/hepde_tools/bench/original_2_0_6/``).

With the original, ours also runs once with ``compat_original`` and the per-entry requests
(``ReqIdleGlideins``, ``ReqMaxGlideins``) of both are compared.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

PRODUCTION_RULES = {
    "facts": {
        "publish_requests": "(True)",
        "allow_grid": "(True)",
        "allow_lcf": "(True)",
        "allow_gce": "(True)",
        "allow_aws": "(True)",
    },
    "rules": {
        "publish_glidein_requests": {
            "expression": "(publish_requests)",
            "actions": ["glideclientglobal_manifests", "glideclient_manifests"],
            "facts": [],
        },
        "publish_grid_requests": {
            "expression": "(allow_grid)",
            "actions": [],
            "facts": ["allow_grid_requests"],
        },
    },
}


def original_frontend_config(frontend: dict[str, Any], files: Path | None = None) -> dict[str, Any]:
    """The original's ``de_frontend_config`` dict for a frontend description (what configure_gwms_frontend wrote).

    The original reads credentials from local files: ``package://``/``s3://`` ones are copied into ``files``.
    """
    from hepde.modules.glideinwms.frontend import Frontend
    from hepde.modules.tables import read_bytes

    fe = Frontend.from_value(frontend)
    groups = {}
    for name in fe.description.groups:
        g = fe.group(name)
        for c in g.credentials:
            if files is not None and "://" in c.absfname:
                local = files / Path(c.absfname).name
                local.write_bytes(read_bytes(c.absfname))
                c.absfname = str(local)
        creds = [c.absfname for c in g.credentials]
        groups[name] = {
            "workdir": "/tmp",
            "web_url": g.web_url,
            "security_name": g.security_name,
            "factory_collectors": [(c.node, c.factory_identity, c.my_identity) for c in g.collectors],
            **{
                k: getattr(g, k)
                for k in (
                    "min_running",
                    "max_running",
                    "fraction_running",
                    "max_idle",
                    "reserve_idle",
                    "max_vms_idle",
                    "curb_vms_idle",
                    "total_max_glideins",
                    "total_curb_glideins",
                    "total_max_vms_idle",
                    "total_curb_vms_idle",
                    "fe_total_max_glideins",
                    "fe_total_curb_glideins",
                    "fe_total_max_vms_idle",
                    "fe_total_curb_vms_idle",
                    "global_total_max_glideins",
                    "global_total_curb_glideins",
                    "global_total_max_vms_idle",
                    "global_total_curb_vms_idle",
                )
            },
            "max_matchmakers": 3,
            "proxies": creds,
            "proxy_selection_plugin": "ProxyAll",
            "sign_descript": {
                "frontend_descript_fname": "",
                "group_descript_fname": "",
                "signature_type": "sha1",
                "frontend_descript_signature": "",
                "group_descript_signature": "",
            },
            "attrs_descript": {},
            "ProxySecurityClasses": {c.absfname: c.security_class for c in g.credentials},
            "ProxyTrustDomains": {c.absfname: c.trust_domain for c in g.credentials},
            "ProxyTypes": {c.absfname: c.type for c in g.credentials},
            **{
                k: {}
                for k in (
                    "ProxyKeyFiles",
                    "ProxyPilotFiles",
                    "ProxyVMIds",
                    "ProxyVMTypes",
                    "ProxyVMIdFname",
                    "ProxyVMTypeFname",
                    "ProxyCreationScripts",
                    "ProxyUpdateFrequency",
                    "ProxyRemoteUsernames",
                    "ProxyProjectIds",
                )
            },
        }
    return {
        "frontend": {"frontend_name": fe.name, "workdir": "/tmp", "web_url": "", "monitoring_web_url": ""},
        "group": groups,
    }


def write_input(workload, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    entries = workload.entries.copy()
    entries["GLIDEIN_CPUS"] = entries["GLIDEIN_CPUS"].astype(str)
    workload.jobs.to_parquet(directory / "jobs.parquet", index=False)
    workload.slots.to_parquet(directory / "slots.parquet", index=False)
    entries.to_parquet(directory / "entries.parquet", index=False)
    workload.factory_global.to_parquet(directory / "factory_global.parquet", index=False)
    config = {
        "job_clustering": {"match_expressions": workload.match_expressions, "job_q_expr": "JobStatus==1"},
        "grid_fom": {"price_performance": 0.9},
        "requests": {"accounting_group": "cms", "job_filter": "ClusterId > 0"},
        "frontend": workload.frontend,
        "de_frontend_config": original_frontend_config(workload.frontend, directory),
    }
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    return directory


def load_input(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from hepde.modules.glideinwms.entries import by_type

    config = json.loads((directory / "config.json").read_text())
    db = {
        "job_manifests": pd.read_parquet(directory / "jobs.parquet"),
        "startd_manifests": pd.read_parquet(directory / "slots.parquet"),
        "Factory_Entries": by_type(pd.read_parquet(directory / "entries.parquet")),
        "factoryglobal_manifests": pd.read_parquet(directory / "factory_global.parquet"),
        "GCE_Figure_Of_Merit": pd.DataFrame(),
        "Nersc_Figure_Of_Merit": pd.DataFrame(),
        "AWS_Figure_Of_Merit": pd.DataFrame(),
    }
    return db, config


def run_ours(directory: Path, compat: bool = False) -> dict[str, Any]:
    """Transforms, logic engine and publish preparation on the input in ``directory``; times and peak RSS."""
    from hepde.logicengine.engine import LogicEngine
    from hepde.modules.glideinwms.publishers import (
        GlideClientGlobalManifests,
        GlideinWMSManifests,
        frame_to_ads,
    )
    from hepde.modules.glideinwms.transforms import GlideinRequestManifests, GridFigureOfMerit, JobClustering

    db, config = load_input(directory)
    times: dict[str, float] = {}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def stage(name: str, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        return out

    db.update(stage("JobClustering", lambda: JobClustering(config["job_clustering"]).transform(db)))
    db.update(stage("GridFigureOfMerit", lambda: GridFigureOfMerit(config["grid_fom"]).transform(db)))
    req = GlideinRequestManifests(
        {**config["requests"], "frontend": config["frontend"], "compat_original": compat}
    )
    db.update(stage("GlideinRequestManifests", lambda: req.transform(db)))

    def decide():
        actions, facts = LogicEngine(PRODUCTION_RULES).evaluate(db)
        db["de_logicengine_facts"] = facts
        return actions

    stage("LogicEngine", decide)
    pub = GlideinWMSManifests({"advertise_via": "none"})

    def prepare():
        gated = pub.gated_requests(db)
        ads = frame_to_ads(gated.drop(columns=["EntryType", "GatedBy"])) if not gated.empty else []
        rows = pub._rows(gated, db.get("glidein_request_table"))
        gads = frame_to_ads(db["glideclientglobal_manifests"])
        GlideClientGlobalManifests({"advertise_via": "none"})
        return len(ads), len(rows), len(gads)

    n_ads, n_rows, n_gads = stage("Publish preparation", prepare)
    total = sum(times.values())
    requests = db["glideclient_manifests"]
    cols = [c for c in ("ReqName", "GroupName", "ReqIdleGlideins", "ReqMaxGlideins") if c in requests.columns]
    if cols:
        requests[cols].to_csv(
            directory / ("ours_compat_requests.csv" if compat else "ours_requests.csv"), index=False
        )
    return {
        "times": times,
        "total": total,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_load_mb": rss0,
        "ads": n_ads,
        "rows": n_rows,
        "global_ads": n_gads,
        "summary": db.get("glidein_request_summary"),
    }


def run_original(python: str, directory: Path, timeout: float = 3600) -> dict[str, Any]:
    """Run ``original_2_0_6/runner.py`` (the original's transforms, GlideinWMS libraries stubbed) with ``python``."""
    here = resources.files("hepde_tools.bench").joinpath("original_2_0_6")
    with resources.as_file(here) as program:
        proc = subprocess.run(
            [python, str(program / "runner.py"), str(directory), str(directory), str(program / "stubs")],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the original failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads((directory / "orig_times.json").read_text())


def compare(directory: Path) -> tuple[int, int, list[str]]:
    """(identical, total, differences) of per-entry requests: ours (compat) vs the original's."""
    ours = pd.read_csv(directory / "ours_compat_requests.csv")
    orig = pd.read_csv(directory / "orig_requests.csv")
    key = ["ReqName", "GroupName"]
    o = ours.groupby(key)[["ReqIdleGlideins", "ReqMaxGlideins"]].last()
    g = orig.groupby(key)[["ReqIdleGlideins", "ReqMaxGlideins"]].last()
    both = o.join(g, lsuffix="_ours", rsuffix="_orig", how="outer")
    same = (both["ReqIdleGlideins_ours"] == both["ReqIdleGlideins_orig"]) & (
        both["ReqMaxGlideins_ours"] == both["ReqMaxGlideins_orig"]
    )
    diffs = [
        f"{k}: ours {r.ReqIdleGlideins_ours}/{r.ReqMaxGlideins_ours}, original {r.ReqIdleGlideins_orig}/"
        f"{r.ReqMaxGlideins_orig}"
        for k, r in both[~same].iterrows()
    ]
    return int(same.sum()), len(both), diffs


def _child(directory: str, compat: bool) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "hepde_tools.bench.htc", "run-ours", directory]
        + (["--compat"] if compat else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(
    jobs: int,
    slots: int,
    entries: int,
    seed: int,
    original: str | None,
    keep: str | None,
    original_timeout: float = 1800.0,
) -> int:
    from hepde_tools.synth.workload import generate

    workload = generate(jobs, slots, entries, seed)
    print(f"input: {workload.describe()}")
    tmp = tempfile.mkdtemp(prefix="htc-bench-") if keep is None else keep
    directory = write_input(workload, Path(tmp))
    del workload
    ours = _child(str(directory), compat=False)
    print("\nhepde-serverless (one process, one core):")
    for name, sec in ours["times"].items():
        print(f"  {name:<26} {sec:8.3f} s")
    print(f"  {'total':<26} {ours['total']:8.3f} s   goal <= 5 s: {'PASS' if ours['total'] <= 5 else 'MISS'}")
    print(
        f"  peak RSS {ours['peak_rss_mb']:.0f} MB ({ours['rss_after_load_mb']:.0f} MB after reading the input); "
        f"{ours['ads']} glideclient ads, {ours['global_ads']} glideclientglobal ads"
    )
    if original is None and Path("/tmp/orig-venv/bin/python").exists():
        original = "/tmp/orig-venv/bin/python"
    if not original:
        print(
            "\noriginal 2.0.6: not measured (give --original PYTHON of a virtualenv with hepcloud-de-modules==2.0.6)"
        )
        return 0
    print(
        f"\noriginal hepcloud-de-modules 2.0.6 ({original}), same input (at most {original_timeout:.0f} s) ...",
        flush=True,
    )
    try:
        orig = run_original(original, directory, timeout=original_timeout)
    except subprocess.TimeoutExpired:
        print(
            f"  did not finish within {original_timeout:.0f} s (stopped); Appendix C measured ≈500 s at 150k jobs"
        )
        print(f"\nspeed-up: more than {original_timeout / ours['total']:.0f}x   goal >= 10x: PASS")
        return 0
    for name in ("JobClustering", "GridFigureOfMerit", "GlideinRequestManifests"):
        print(f"  {name:<26} {orig[name]:8.3f} s")
    orig_total = sum(orig[n] for n in ("JobClustering", "GridFigureOfMerit", "GlideinRequestManifests"))
    print(f"  {'total (transforms only)':<26} {orig_total:8.3f} s   peak RSS {orig['peak_rss_mb']:.0f} MB")
    print(
        f"\nspeed-up: {orig_total / ours['total']:.0f}x   goal >= 10x: {'PASS' if orig_total / ours['total'] >= 10 else 'MISS'}"
    )
    _child(str(directory), compat=True)
    same, total, diffs = compare(directory)
    print(f"requests identical to the original (compat_original mode): {same} of {total} entries")
    for d in diffs[:10]:
        print("  differs:", d)
    if keep is None:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":  # the measured child process
    if len(sys.argv) >= 3 and sys.argv[1] == "run-ours":
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        result = run_ours(Path(sys.argv[2]), compat="--compat" in sys.argv)
        print(json.dumps(result, default=str))
