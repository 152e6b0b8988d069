"""Factory entries by type (the original's 2-level ``Factory_Entries`` index) and small helpers."""

from __future__ import annotations

from typing import Any

import pandas as pd

#: GLIDEIN_GridType values of each entry type (the original's ``ENTRY_TYPES``)
ENTRY_TYPES: dict[str, list[str]] = {
    "Grid": ["gt2", "condor"],
    "AWS": ["ec2"],
    "GCE": ["gce"],
    "LCF": ["batch slurm"],
}


def by_type(entries: pd.DataFrame) -> pd.DataFrame:
    """Flat entry ads → the ``Factory_Entries`` frame: index level 0 = type, level 1 = row number.

    Unlike the original, every type is a key of the index even when there are no entries of it, so
    ``.xs("GCE")`` never raises ``KeyError`` (seed-system §4.9 #14); entries of other grid types are
    dropped as in the original.
    """
    if entries.empty or "GLIDEIN_GridType" not in entries.columns:
        cols = list(entries.columns) or ["Name", "EntryName", "GLIDEIN_GridType"]
        index = pd.MultiIndex.from_arrays([pd.Index([], dtype=object), pd.Index([], dtype="int64")])
        return pd.DataFrame(columns=cols, index=index)
    parts = [entries.loc[entries["GLIDEIN_GridType"].isin(kinds)] for kinds in ENTRY_TYPES.values()]
    return pd.concat(parts, keys=list(ENTRY_TYPES))


def of_type(factory_entries: pd.DataFrame | None, entry_type: str) -> pd.DataFrame:
    """The entries of one type, an empty frame if there are none (never ``KeyError``)."""
    if factory_entries is None or factory_entries.empty:
        return pd.DataFrame()
    if isinstance(factory_entries.index, pd.MultiIndex):
        if entry_type not in factory_entries.index.get_level_values(0):
            return pd.DataFrame(columns=factory_entries.columns)
        return factory_entries.xs(entry_type)
    # a flat frame (e.g. from a file): classify by grid type
    kinds = ENTRY_TYPES.get(entry_type, [])
    if "GLIDEIN_GridType" not in factory_entries.columns:
        return pd.DataFrame(columns=factory_entries.columns)
    return factory_entries.loc[factory_entries["GLIDEIN_GridType"].isin(kinds)]


def is_true(value: Any) -> bool:
    """A classad boolean that may arrive as ``True``, ``"True"``, ``"TRUE"``, ``1`` ..."""
    if isinstance(value, str):
        return value.strip().upper() == "TRUE"
    try:
        return bool(value) and not pd.isna(value)
    except (TypeError, ValueError):
        return False


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` with Python values, without pandas' slow per-cell boxing
    (Arrow-backed string columns are converted once per column); missing values are ``None``."""
    if frame.empty:
        return []
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object)
        if frame[name].dtype.kind in "iub":
            values = frame[name].to_numpy().tolist()
        elif frame[name].dtype.kind == "f":
            values = [None if v != v else v for v in frame[name].to_numpy().tolist()]
        else:
            values = [
                None if (v is None or v is pd.NA or (isinstance(v, float) and v != v)) else v for v in values
            ]
        columns.append(values)
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
