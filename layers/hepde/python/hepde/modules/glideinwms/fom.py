"""Figures of merit (seed-system §4.3.4) and the ranking of entries by FOM (§4.3.5)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

INFINITY = sys.float_info.max

#: FOM product → its FOM column (the original's ``_RESOURCE_FROM_COLUMN_MAP``, in its order)
FOM_COLUMNS: dict[str, str] = {
    "Grid_Figure_Of_Merit": "Grid_Figure_Of_Merit",
    "GCE_Figure_Of_Merit": "FigureOfMerit",
    "AWS_Figure_Of_Merit": "AWS_Figure_Of_Merit",
    "Nersc_Figure_Of_Merit": "FigureOfMerit",
}


def figure_of_merit(performance, running, max_allowed, idle=None, max_idle=None) -> np.ndarray:
    """``performance * (running + 1) / max_allowed``; INF at a limit; vectorised, NaN inputs → INF."""
    running = np.asarray(running, dtype=float)
    max_allowed = np.asarray(max_allowed, dtype=float)
    perf = np.broadcast_to(np.asarray(performance, dtype=float), running.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = perf * (running + 1.0) / max_allowed
    at_limit = (running >= max_allowed) | (max_allowed == 0)
    if idle is not None and max_idle is not None:
        at_limit |= np.asarray(idle, dtype=float) >= np.asarray(max_idle, dtype=float)
    value = np.where(at_limit, INFINITY, value)
    return np.where(np.isnan(value), INFINITY, value)


def order_resources(foms: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """All FOM tables as ``[EntryName, FOM]``, sorted by FOM then EntryName."""
    parts = []
    for product, column in FOM_COLUMNS.items():
        df = foms.get(product)
        if df is not None and not df.empty and {"EntryName", column} <= set(df.columns):
            parts.append(df[["EntryName", column]].rename(columns={column: "FOM"}))
    if not parts:
        return pd.DataFrame({"EntryName": pd.Series([], dtype=object), "FOM": pd.Series([], dtype=float)})
    return pd.concat(parts).sort_values(by=["FOM", "EntryName"], ascending=True).reset_index(drop=True)


def fom_eligible_resources(foms, constraint: str | None = None, limit: int | None = None) -> pd.DataFrame:
    ordered = order_resources(foms)
    if constraint:
        ordered = ordered.query(constraint, local_dict={}, global_dict={})
    return ordered.head(limit) if limit is not None else ordered
