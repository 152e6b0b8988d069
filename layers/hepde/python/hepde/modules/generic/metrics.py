"""Publish values of a table product as CloudWatch metrics, through the Embedded Metric Format.

In Lambda, a JSON line in EMF printed to stdout becomes a CloudWatch metric without an API call
(and without the ``cloudwatch:PutMetricData`` permission).  Each distinct combination of dimension
values is a separate custom metric ($0.30 a month each), so ``max_series`` refuses to publish more
than that many — per-entry values belong in the decision record (``de explain``), not in metrics.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Literal

import pandas as pd

from hepde.modules.base import ModuleParameters, Publisher, PublishResult
from hepde.naming import METRICS_NAMESPACE

SERVICE = "decision-engine"


class ProductMetrics(Publisher):
    """``metric`` = ``aggregate(value_column)`` per combination of ``dimension_columns``."""

    params: Parameters

    class Parameters(ModuleParameters):
        product: str
        metric: str
        value_column: str
        #: columns whose values become dimensions (one metric series per distinct combination)
        dimension_columns: list[str] = []
        #: fixed dimensions, e.g. {"provider": "AWS"}
        dimensions: dict[str, str] = {}
        aggregate: Literal["sum", "mean", "max", "min", "last"] = "sum"
        unit: str = "None"
        max_series: int = 20

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._consumes = {self.params.product: pd.DataFrame}

    def series(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The metric values to publish: one row per dimension combination."""
        p = self.params
        missing = [c for c in [p.value_column, *p.dimension_columns] if c not in frame.columns]
        if missing:
            raise ValueError(
                f"product {p.product!r} has no column(s) {missing}; columns: {list(frame.columns)}"
            )
        values = pd.to_numeric(frame[p.value_column], errors="coerce")
        data = (
            frame[p.dimension_columns].astype(str).assign(_v=values)
            if p.dimension_columns
            else pd.DataFrame({"_v": values})
        )
        if p.dimension_columns:
            grouped = data.groupby(p.dimension_columns, sort=True)["_v"]
            agg = grouped.last() if p.aggregate == "last" else grouped.agg(p.aggregate)
            rows = [
                dict(zip(p.dimension_columns, k if isinstance(k, tuple) else (k,), strict=True))
                | {"value": v}
                for k, v in agg.items()
            ]
        else:
            col = data["_v"]
            v = (
                (col.iloc[-1] if len(col) else float("nan"))
                if p.aggregate == "last"
                else col.agg(p.aggregate)
            )
            rows = [{"value": v}]
        rows = [r for r in rows if pd.notna(r["value"])]
        if len(rows) > p.max_series:
            raise ValueError(
                f"{len(rows)} metric series for {p.metric} exceed max_series={p.max_series} "
                "(each is a custom metric billed monthly); aggregate over fewer dimension columns"
            )
        return [{**r, "value": float(r["value"])} for r in rows]

    def publish(self, data_block) -> PublishResult:
        p = self.params
        rows = self.series(data_block[p.product])
        base = {"channel": self.channel_name, "service": SERVICE, **p.dimensions}
        dim_names = sorted(set(base) | set(p.dimension_columns))
        now_ms = int(time.time() * 1000)
        for row in rows:
            doc = {
                "_aws": {
                    "Timestamp": now_ms,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": METRICS_NAMESPACE,
                            "Dimensions": [dim_names],
                            "Metrics": [{"Name": p.metric, "Unit": p.unit}],
                        }
                    ],
                },
                **base,
                **{k: row[k] for k in p.dimension_columns},
                p.metric: row["value"],
            }
            print(json.dumps(doc, separators=(",", ":")), file=sys.stdout, flush=True)
        return PublishResult(
            summary=f"{len(rows)} {p.metric} value(s) published as CloudWatch metrics",
            requested=[{**p.dimensions, **r} for r in rows],
        )
