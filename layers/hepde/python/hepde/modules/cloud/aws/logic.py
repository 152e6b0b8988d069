"""The AWS computations, as plain functions over records and DataFrames (no I/O).

Formulas are the original's (``decisionengine_modules/AWS``, seed-system §4.3.4, §4.4), computed
column-wise instead of row by row.  Differences, on purpose:

* **unknown performance** (no ``Performance_Data`` row, or ``PerfTtbarTotal <= 0``): the original set
  price/performance to ``0.0`` and so the figure of merit to ``0`` — the *most* attractive value;
  here both are :data:`~hepde.modules.cloud.common.INF` (never preferred), as GCE and NERSC do;
* ``SpotPrice`` is a float (the original kept boto3's string);
* the latest spot price per (account, AZ, type) is the one with the latest ``Timestamp``; the original
  kept the *last in answer order*, which depends on how EC2 orders its answer;
* a ``MaxLimit`` that is missing/NaN uses the default (20), where the original crashed on ``int(nan)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from hepde.modules.cloud.common import INF, parse_literal

#: the original's ``DEFAULT_MAX_LIMIT`` when ``aws_instance_limits`` has no row for a spot price
DEFAULT_MAX_LIMIT = 20

SPOT_PRICE_COLUMNS = [
    "AccountName",
    "AvailabilityZone",
    "InstanceType",
    "ProductDescription",
    "SpotPrice",
    "Timestamp",
]
OCCUPANCY_COLUMNS = ["AccountName", "InstanceType", "AvailabilityZone", "RunningVms"]
LIMITS_COLUMNS = ["InstanceType", "AvailabilityZone", "MaxLimit", "AWSProfile"]
_KEY = ["AvailabilityZone", "InstanceType"]


# -- spot prices --------------------------------------------------------------------------------------
def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def spot_price_summary(records: Iterable[Mapping[str, Any]], account: str | None) -> list[dict[str, Any]]:
    """The latest price per (AZ, instance type) of one account's records, in first-seen order."""
    latest: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    for rec in records:
        key = (rec.get("AvailabilityZone"), rec.get("InstanceType"))
        seen = latest.get(key)
        if seen is None:
            latest[key] = rec
            continue
        try:
            newer = rec.get("Timestamp") > seen.get("Timestamp")  # type: ignore[operator]
        except TypeError:
            newer = True  # incomparable timestamps: the later record wins, as in the original
        if newer:
            latest[key] = rec
    rows = []
    for (az, itype), rec in latest.items():
        try:
            price = float(rec.get("SpotPrice"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            price = math.nan
        rows.append(
            {
                "AccountName": account,
                "AvailabilityZone": az,
                "InstanceType": itype,
                "ProductDescription": rec.get("ProductDescription"),
                "SpotPrice": price,
                "Timestamp": _iso(rec.get("Timestamp")),
            }
        )
    return rows


def spot_price_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c == "SpotPrice" else object) for c in SPOT_PRICE_COLUMNS}
        )
    return pd.DataFrame(rows, columns=SPOT_PRICE_COLUMNS)


# -- occupancy ---------------------------------------------------------------------------------------
def occupancy_summary(
    instances: Iterable[Mapping[str, Any]], account: str | None, instance_types: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Instances per (AZ, type) with the number of running ones (every state gets a row, as in the original)."""
    wanted = set(instance_types or ())
    counts: dict[tuple[Any, Any], dict[str, Any]] = {}
    for inst in instances:
        itype, az = inst.get("InstanceType"), inst.get("AvailabilityZone")
        if wanted and itype not in wanted:
            continue
        row = counts.setdefault(
            (az, itype),
            {"AccountName": account, "InstanceType": itype, "AvailabilityZone": az, "RunningVms": 0},
        )
        row["RunningVms"] += 1 if inst.get("State") == "running" else 0
    return list(counts.values())


def occupancy_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "RunningVms" else object) for c in OCCUPANCY_COLUMNS}
        )
    return pd.DataFrame(rows, columns=OCCUPANCY_COLUMNS)


# -- spot_occupancy_config ------------------------------------------------------------------------------
def instance_types_of(cell: Any) -> list[str] | None:
    """The instance types in one ``spot_occupancy_config`` cell; ``None`` when the account lacks the region."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None
    if isinstance(cell, np.ndarray):
        return [str(t) for t in cell.tolist()]
    if isinstance(cell, list | tuple | set):
        return [str(t) for t in cell]
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("["):  # a CSV round trip leaves the list's repr
            value = parse_literal(text, where="spot_occupancy_config cell")
            return [str(t) for t in value] if isinstance(value, list | tuple) else [str(value)]
        return [text] if text else []
    return [str(cell)]


def account_regions(config: Any) -> list[tuple[str, str, list[str]]]:
    """``(account, region, instance types)`` of a ``spot_occupancy_config`` (DataFrame or mapping)."""
    mapping = config.to_dict() if isinstance(config, pd.DataFrame) else dict(config or {})
    out = []
    for account, regions in mapping.items():
        for region, cell in (regions or {}).items():
            types = instance_types_of(cell)
            if types is not None:
                out.append((str(account), str(region), types))
    return out


# -- figure of merit ------------------------------------------------------------------------------------
def _first(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    cols = [c for c in keys + values if c in frame.columns]
    return frame[cols].drop_duplicates(subset=keys, keep="first")


def figure_of_merit_tables(
    spot: pd.DataFrame, perf: pd.DataFrame, limits: pd.DataFrame, occupancy: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(AWS_Price_Performance, AWS_Figure_Of_Merit)`` for every spot-price row, in its order."""
    spot = spot.reset_index(drop=True)
    base = list(spot.columns)
    frame = spot.copy()
    n = len(frame)

    if not perf.empty and set(_KEY) <= set(perf.columns) and "PerfTtbarTotal" in perf.columns:
        p = _first(perf, _KEY, ["PerfTtbarTotal", "EntryName"])
        frame = frame.merge(p, on=_KEY, how="left", suffixes=("", "_perf"))
    for col in ("PerfTtbarTotal", "EntryName"):
        if col not in frame.columns:
            frame[col] = np.nan
    perf_value = pd.to_numeric(frame["PerfTtbarTotal"], errors="coerce")
    frame["PerfTtbarTotal"] = perf_value.fillna(0.0).astype("float64")

    running = pd.Series(np.zeros(n), index=frame.index)
    if not occupancy.empty and set(_KEY + ["RunningVms"]) <= set(occupancy.columns):
        o = _first(occupancy, _KEY, ["RunningVms"]).rename(columns={"RunningVms": "_running"})
        merged = frame[_KEY].merge(o, on=_KEY, how="left")
        running = pd.to_numeric(merged["_running"], errors="coerce").fillna(0.0).set_axis(frame.index)

    max_limit = pd.Series(np.full(n, np.nan), index=frame.index)
    if (
        not limits.empty
        and set(_KEY + ["MaxLimit", "AWSProfile"]) <= set(limits.columns)
        and "AccountName" in frame
    ):
        lim = limits.rename(columns={"AWSProfile": "AccountName"})
        lim = _first(lim, ["AccountName", *_KEY], ["MaxLimit"]).rename(columns={"MaxLimit": "_max"})
        merged = frame[["AccountName", *_KEY]].merge(lim, on=["AccountName", *_KEY], how="left")
        max_limit = pd.to_numeric(merged["_max"], errors="coerce").set_axis(frame.index)
    max_limit = max_limit.fillna(DEFAULT_MAX_LIMIT)
    if len(max_limit) and (max_limit == np.trunc(max_limit)).all():
        max_limit = max_limit.astype("int64")
    frame["MaxLimit"] = max_limit

    price = pd.to_numeric(frame["SpotPrice"], errors="coerce").astype("float64")
    known = frame["PerfTtbarTotal"] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(known, price / frame["PerfTtbarTotal"].where(known, 1.0), INF)
    pp = pd.Series(np.where(np.isnan(pp), INF, pp), index=frame.index, dtype="float64")

    limit_int = np.trunc(max_limit.astype("float64"))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fom = ((running.astype("float64") + 1) / limit_int.where(limit_int > 0, 1.0)) * pp
    at_limit = (limit_int <= 0) | (running >= max_limit) | ~known
    fom = pd.Series(np.where(at_limit | np.isnan(fom), INF, fom), index=frame.index, dtype="float64")

    columns = base + [c for c in ("PerfTtbarTotal", "EntryName", "MaxLimit") if c not in base]
    price_perf = frame[columns].copy()
    price_perf["AWS_Price_Performance"] = pp
    fom_frame = frame[columns].copy()
    fom_frame["AWS_Figure_Of_Merit"] = fom
    return price_perf, fom_frame


# -- burn rate --------------------------------------------------------------------------------------------
def burn_rate(spot: pd.DataFrame, occupancy: pd.DataFrame) -> pd.DataFrame:
    """``Σ RunningVms × SpotPrice`` over (account, AZ, type) — dollars per hour, one row ``BurnRate``."""
    keys = ["AccountName", *_KEY]
    value = 0.0
    if (
        not occupancy.empty
        and not spot.empty
        and set(keys) <= set(occupancy.columns)
        and set(keys) <= set(spot.columns)
    ):
        joined = pd.merge(occupancy[[*keys, "RunningVms"]], spot[[*keys, "SpotPrice"]], how="inner", on=keys)
        if not joined.empty:
            running = pd.to_numeric(joined["RunningVms"], errors="coerce").fillna(0)
            price = pd.to_numeric(joined["SpotPrice"], errors="coerce").fillna(0)
            value = float((running * price).sum())
    return pd.DataFrame([{"BurnRate": value}])
