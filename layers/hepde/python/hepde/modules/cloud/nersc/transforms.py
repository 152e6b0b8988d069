"""NERSC transforms (``decisionengine_modules.NERSC.transforms.NerscFigureOfMerit``).

``PricePerformance = OnDemandPrice / PerfTtbarTotal`` (worst value if the performance is not positive);
for each LCF factory entry and each performance row with its ``EntryName``: the generic figure of merit
with the entry's running/idle counts and limits.  Differences: no ``KeyError`` when the factory has no
LCF entries (empty FOM table, with its columns), and the consumed product is not modified in place.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hepde.modules.base import Transform
from hepde.modules.cloud.common import as_float, entries_of_type, figure_of_merit, price_performance


def nersc_figures(performance: pd.DataFrame, factory_entries: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    perf = performance.copy()
    perf["PricePerformance"] = price_performance(perf["OnDemandPrice"], perf["PerfTtbarTotal"])
    lcf = entries_of_type(factory_entries, "LCF")
    foms = []
    if not lcf.empty and "EntryName" in lcf.columns:
        by_entry: dict[Any, list[float]] = {}
        for name, pp in zip(perf["EntryName"], perf["PricePerformance"], strict=True):
            by_entry.setdefault(name, []).append(pp)
        for row in lcf.to_dict("records"):
            for pp in by_entry.get(row["EntryName"], []):
                foms.append(
                    {
                        "EntryName": row["EntryName"],
                        "FigureOfMerit": figure_of_merit(
                            pp,
                            as_float(row.get("GlideinMonitorTotalStatusRunning")),
                            as_float(row.get("GlideinConfigPerEntryMaxGlideins")),
                            as_float(row.get("GlideinMonitorTotalStatusIdle")),
                            as_float(row.get("GlideinConfigPerEntryMaxIdle")),
                        ),
                    }
                )
    return perf.filter(["EntryName", "PricePerformance"]), pd.DataFrame(
        foms, columns=["EntryName", "FigureOfMerit"]
    )


@Transform.consumes(Nersc_Instance_Performance=pd.DataFrame, Factory_Entries=pd.DataFrame)
@Transform.produces(Nersc_Price_Performance=pd.DataFrame, Nersc_Figure_Of_Merit=pd.DataFrame)
class NerscFigureOfMerit(Transform):
    def transform(self, data_block) -> dict[str, Any]:
        pp, fom = nersc_figures(data_block["Nersc_Instance_Performance"], data_block["Factory_Entries"])
        return {"Nersc_Price_Performance": pp, "Nersc_Figure_Of_Merit": fom}
