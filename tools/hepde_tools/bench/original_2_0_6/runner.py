"""Run the original 2.0.6 HTC transforms on a pickle-free input directory (see README.md).

    python runner.py INPUT_DIR OUTPUT_DIR STUBS_DIR

Runs with the interpreter of a throw-away virtualenv that has ``hepcloud-de-modules==2.0.6``; the
GlideinWMS frontend libraries it imports come from ``STUBS_DIR`` (no crypto, the ``ProxyAll`` split).
"""

import json
import os
import resource
import sys
import time

#: the original's factory-entry groups, as its channel templates configure them
ENTRY_TYPES = {"Grid": ["gt2", "condor"], "AWS": ["ec2"], "GCE": ["gce"], "LCF": ["batch slurm"]}


class DataBlock(dict):
    """The original's transforms call ``data_block.get(name)`` and expect the product."""

    def get(self, k, default=None):
        return self[k]


def main(inp: str, out: str, stubs: str) -> dict:
    sys.path.insert(0, stubs)
    import pandas as pd
    from decisionengine_modules.glideinwms.transforms.glidein_requests import GlideinRequestManifests
    from decisionengine_modules.glideinwms.transforms.grid_figure_of_merit import GridFigureOfMerit
    from decisionengine_modules.glideinwms.transforms.job_clustering import JobClustering

    with open(os.path.join(inp, "config.json")) as fh:
        cfg = json.load(fh)

    def table(name):
        path = os.path.join(inp, name + ".parquet")
        return pd.read_parquet(path) if os.path.exists(path) else pd.DataFrame()

    entries = table("entries")
    factory_entries = pd.concat(
        [entries[entries.GLIDEIN_GridType.isin(v)] for v in ENTRY_TYPES.values()], keys=list(ENTRY_TYPES)
    )
    db = DataBlock(
        job_manifests=table("jobs"),
        startd_manifests=table("slots"),
        Factory_Entries=factory_entries,
        factoryglobal_manifests=table("factory_global"),
        GCE_Figure_Of_Merit=pd.DataFrame(),
        Nersc_Figure_Of_Merit=pd.DataFrame(),
    )
    times = {}
    t = time.perf_counter()
    db.update(JobClustering({"channel_name": "x", **cfg["job_clustering"]}).transform(db))
    times["JobClustering"] = time.perf_counter() - t
    t = time.perf_counter()
    db.update(GridFigureOfMerit({"channel_name": "x", **cfg["grid_fom"]}).transform(db))
    times["GridFigureOfMerit"] = time.perf_counter() - t
    # the original reads its frontend description from the Python-literal file the frontend writes
    frontend_config = os.path.join(out, "de_frontend_config")
    with open(frontend_config, "w") as fh:
        fh.write(repr(cfg["de_frontend_config"]))
    t = time.perf_counter()
    requests = GlideinRequestManifests(
        {"channel_name": "x", "de_frontend_config": frontend_config, **cfg["requests"]}
    ).transform(db)
    times["GlideinRequestManifests"] = time.perf_counter() - t

    gc = requests.get("glideclient_manifests", pd.DataFrame())
    wanted = ("ReqName", "GroupName", "ReqIdleGlideins", "ReqMaxGlideins")
    cols = [c for c in gc.columns if c in wanted or c.startswith("GlideinMonitor")]
    gc[cols].to_csv(os.path.join(out, "orig_requests.csv"), index=False)
    db["Grid_Figure_Of_Merit"].to_csv(os.path.join(out, "orig_grid_fom.csv"), index=False)
    db["job_clusters"][["Totals", "Frontend_Group"]].to_csv(
        os.path.join(out, "orig_clusters.csv"), index=False
    )
    times["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(os.path.join(out, "orig_times.json"), "w") as fh:
        json.dump(times, fh, indent=1)
    return times


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3])))
