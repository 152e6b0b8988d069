"""GCE transforms (``decisionengine_modules.GCE.transforms.*``): figure of merit and burn rate.

Formulas are the original's (seed-system §4.3.4).  Differences: no ``KeyError`` when the factory has
no GCE entries (every FOM is then the worst value, as with an entry that has no limits), and the
consumed ``GCE_Instance_Performance`` product is not modified in place.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hepde.modules.base import Transform
from hepde.modules.cloud.common import as_float, entries_of_type, figure_of_merit, price_performance


def gce_figures(
    performance: pd.DataFrame, factory_entries: Any, occupancy: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    perf = performance.copy()
    perf["PricePerformance"] = price_performance(perf["OnDemandPrice"], perf["PerfTtbarTotal"])
    entries = entries_of_type(
        factory_entries, "GCE"
    )  # missing numbers count as 0 (as_float), as the original's fillna(0)
    occ = occupancy if isinstance(occupancy, pd.DataFrame) else pd.DataFrame()
    have_occ = {"AvailabilityZone", "InstanceType", "Occupancy"} <= set(occ.columns)
    running_of: dict[tuple[Any, Any], float] = {}
    if have_occ:
        for az, it, n in zip(occ["AvailabilityZone"], occ["InstanceType"], occ["Occupancy"], strict=True):
            running_of.setdefault((az, it), as_float(n))
    limits_of: dict[Any, tuple[float, float, float]] = {}
    if not entries.empty and "EntryName" in entries.columns:
        for row in entries.to_dict("records"):
            limits_of.setdefault(
                row["EntryName"],
                (
                    as_float(row.get("GlideinConfigPerEntryMaxGlideins")),
                    as_float(row.get("GlideinConfigPerEntryMaxIdle")),
                    as_float(row.get("GlideinMonitorTotalStatusIdle")),
                ),
            )
    foms = []
    for row in perf.to_dict("records"):
        running = running_of.get((row.get("AvailabilityZone"), row.get("InstanceType")), 0)
        max_allowed, max_idle, idle = limits_of.get(row.get("EntryName"), (0, 0, 0))
        foms.append(
            {
                "EntryName": row.get("EntryName"),
                "FigureOfMerit": figure_of_merit(
                    row["PricePerformance"], running, max_allowed, idle, max_idle
                ),
            }
        )
    fom = pd.DataFrame(foms, columns=["EntryName", "FigureOfMerit"])
    return perf.filter(["EntryName", "PricePerformance"]), fom


@Transform.consumes(
    GCE_Instance_Performance=pd.DataFrame, Factory_Entries=pd.DataFrame, GCE_Occupancy=pd.DataFrame
)
@Transform.produces(GCE_Price_Performance=pd.DataFrame, GCE_Figure_Of_Merit=pd.DataFrame)
class GceFigureOfMerit(Transform):
    """``PricePerformance = OnDemandPrice / PerfTtbarTotal``; FOM from occupancy and the GCE entry's limits."""

    def transform(self, data_block) -> dict[str, Any]:
        pp, fom = gce_figures(
            data_block["GCE_Instance_Performance"], data_block["Factory_Entries"], data_block["GCE_Occupancy"]
        )
        return {"GCE_Price_Performance": pp, "GCE_Figure_Of_Merit": fom}


def gce_burn_rate(performance: pd.DataFrame, occupancy: pd.DataFrame) -> pd.DataFrame:
    value = 0.0
    keys = ["AvailabilityZone", "InstanceType"]
    if not occupancy.empty and set(keys) <= set(occupancy.columns) and set(keys) <= set(performance.columns):
        joined = pd.merge(occupancy, performance, how="inner", on=keys)
        if not joined.empty:
            count = pd.to_numeric(joined["Occupancy"], errors="coerce").fillna(0)
            price = pd.to_numeric(joined["PreemptiblePrice"], errors="coerce").fillna(0)
            value = float((count * price).sum())
    return pd.DataFrame([{"BurnRate": value}])


@Transform.consumes(GCE_Instance_Performance=pd.DataFrame, GCE_Occupancy=pd.DataFrame)
@Transform.produces(GCE_Burn_Rate=pd.DataFrame)
class GceBurnRate(Transform):
    """Dollars per hour: ``Σ Occupancy × PreemptiblePrice`` over (zone, machine type)."""

    def transform(self, data_block) -> dict[str, Any]:
        return {
            "GCE_Burn_Rate": gce_burn_rate(
                data_block["GCE_Instance_Performance"], data_block["GCE_Occupancy"]
            )
        }
