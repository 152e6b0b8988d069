"""Cloud economics benchmark: spot prices for 20 regions x 400 instance types through the FOM transform.

The EC2 answers come from an in-memory client that pages like EC2 (1000 records a page, two price
records per zone and type, newest first), so the figures measure this project's code: the
``AWSSpotPrice`` source (every page, latest per account/zone/type), ``FigureOfMerit`` and
``AwsBurnRate`` — not the network.  ``de bench cloud`` or ``python -m hepde_tools.bench.cloud``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from hepde.modules.cloud.aws.adapter import EC2Adapter
from hepde.modules.cloud.aws.sources import AWSSpotPrice
from hepde.modules.cloud.aws.transforms import AwsBurnRate, FigureOfMerit

ACCOUNT = "CMS"
ZONES_PER_REGION = 3


def regions(n: int) -> list[str]:
    bases = [
        "us-east",
        "us-west",
        "eu-west",
        "eu-central",
        "ap-south",
        "ap-northeast",
        "ap-southeast",
        "ca-central",
        "sa-east",
        "eu-north",
    ]
    return [f"{bases[i % len(bases)]}-{i // len(bases) + 1}" for i in range(n)]


def instance_types(n: int) -> list[str]:
    families = ["m5", "m6i", "m7g", "c5", "c6i", "c7g", "r5", "r6i", "t3", "i4i"]
    sizes = [
        "large",
        "xlarge",
        "2xlarge",
        "4xlarge",
        "8xlarge",
        "12xlarge",
        "16xlarge",
        "24xlarge",
        "metal",
        "medium",
    ]
    out = [f"{f}.{s}" for f in families for s in sizes]
    k = 0
    while len(out) < n:
        out += [f"x{k}{f}.{s}" for f in families for s in sizes]
        k += 1
    return out[:n]


class _Paginator:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_kwargs: Any):
        yield from self.pages


class PagedEC2Client:
    """Answers ``describe_spot_price_history`` for one region from memory, in 1000-record pages."""

    def __init__(self, region: str, types: list[str], seed: int) -> None:
        rng = np.random.default_rng(seed)
        now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
        records = []
        for age in (0, 25):  # newest first, as EC2 answers
            for z in "abc"[:ZONES_PER_REGION]:
                prices = rng.uniform(0.01, 3.0, len(types))
                for itype, price in zip(types, prices, strict=True):
                    records.append(
                        {
                            "AvailabilityZone": f"{region}{z}",
                            "InstanceType": itype,
                            "ProductDescription": "Linux/UNIX",
                            "SpotPrice": f"{price:.4f}",
                            "Timestamp": now - dt.timedelta(minutes=age),
                        }
                    )
        self.pages = [{"SpotPriceHistory": records[i : i + 1000]} for i in range(0, len(records), 1000)]
        self.meta = type("Meta", (), {"region_name": region})()

    def get_paginator(self, _name: str) -> _Paginator:
        return _Paginator(self.pages)


def inputs(
    n_regions: int, n_types: int, seed: int = 7
) -> tuple[dict[str, PagedEC2Client], dict[str, pd.DataFrame]]:
    types = instance_types(n_types)
    clients = {r: PagedEC2Client(r, types, seed + i) for i, r in enumerate(regions(n_regions))}
    rng = np.random.default_rng(seed)
    zones = [f"{r}{z}" for r in clients for z in "abc"[:ZONES_PER_REGION]]
    grid = pd.MultiIndex.from_product([zones, types], names=["AvailabilityZone", "InstanceType"]).to_frame(
        index=False
    )
    perf = grid.assign(
        OnDemandPrice=rng.uniform(0.05, 5.0, len(grid)),
        PerfTtbarTotal=rng.uniform(0.01, 1.0, len(grid)),
        EntryName=[f"AWS_{a}_{t}" for a, t in zip(grid.AvailabilityZone, grid.InstanceType, strict=True)],
    )
    perf = perf.sample(frac=0.95, random_state=seed).reset_index(drop=True)  # some without a benchmark
    limits = grid.assign(MaxLimit=rng.integers(0, 500, len(grid)), AWSProfile=ACCOUNT)
    occupancy = grid.sample(frac=0.2, random_state=seed).assign(
        AccountName=ACCOUNT, RunningVms=lambda f: rng.integers(0, 300, len(f))
    )
    return clients, {
        "Performance_Data": perf,
        "aws_instance_limits": limits,
        "AWS_Occupancy": occupancy[["AccountName", "InstanceType", "AvailabilityZone", "RunningVms"]],
    }


def run(n_regions: int = 20, n_types: int = 400, repeats: int = 3) -> dict[str, Any]:
    clients, tables = inputs(n_regions, n_types)
    source = AWSSpotPrice({"accounts": {ACCOUNT: {r: [] for r in clients}}})
    source.adapter_factory = lambda account, region: EC2Adapter(clients[region], account=account)
    fom, burn = FigureOfMerit({}), AwsBurnRate({})
    times: dict[str, list[float]] = {"acquire": [], "fom": [], "burn": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        spot = source.acquire()["provisioner_resource_spot_prices"]
        t1 = time.perf_counter()
        out = fom.transform({"provisioner_resource_spot_prices": spot, **tables})
        t2 = time.perf_counter()
        rate = burn.transform(
            {"provisioner_resource_spot_prices": spot, "AWS_Occupancy": tables["AWS_Occupancy"]}
        )
        t3 = time.perf_counter()
        times["acquire"].append(t1 - t0)
        times["fom"].append(t2 - t1)
        times["burn"].append(t3 - t2)
    records = sum(len(p["SpotPriceHistory"]) for c in clients.values() for p in c.pages)
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "regions": n_regions,
        "types": n_types,
        "records": records,
        "spot_rows": len(spot),
        "fom_rows": len(out["AWS_Figure_Of_Merit"]),
        "burn_rate": float(rate["AWS_Burn_Rate"]["BurnRate"].iloc[0]),
        **medians,
        "total": sum(medians.values()),
    }


def main(n_regions: int = 20, n_types: int = 400, repeats: int = 3) -> dict[str, Any]:
    r = run(n_regions, n_types, repeats)
    print(
        f"cloud economics: {r['regions']} regions x {r['types']} instance types x {ZONES_PER_REGION} zones, "
        f"{r['records']} spot price records -> {r['spot_rows']} latest prices -> {r['fom_rows']} FOM rows "
        f"(median of {repeats})"
    )
    print(f"  AWSSpotPrice acquire (all pages, latest per zone/type)  {r['acquire']:.3f} s")
    print(f"  FigureOfMerit transform                                 {r['fom']:.3f} s")
    print(f"  AwsBurnRate transform                                   {r['burn']:.3f} s")
    print(f"  total                                                   {r['total']:.3f} s")
    return r


if __name__ == "__main__":  # pragma: no cover
    main(*(int(a) for a in sys.argv[1:3]))
