"""AWS spend from Cost Explorer (``ce.get_cost_and_usage``): the ``spent`` figure of a budget guard.

``AWSCostExplorerSpend`` produces ``AWS_Spend``: one row per Cost Explorer period (``Start``, ``End``,
``Amount`` in ``Unit``, ``Estimated``) of the current billing period so far (``month_to_date``) or the last
``days`` days, for ``metric`` (``UnblendedCost`` by default) and an optional Cost Explorer ``filter``
(e.g. a cost-allocation tag).  A budget guard reads it as ``spent: {product: 'AWS_Spend', column:
'Amount'}`` (summed).  Pages (``NextPageToken``) are followed, at most ``max_pages``.

``response_file`` reads a recorded ``get_cost_and_usage`` response instead (a path, ``s3://`` or
``package://`` location): the bundled fixture ``package://hepde/data/cloud/cost_explorer_month.json``
lets the channels run offline, and tests give the same response to a botocore ``Stubber``.

Failures raise (the runtime keeps the last good product while fresh, then holds); a guard without a spend
figure fails closed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from hepde.errors import DEError
from hepde.modules.base import ModuleParameters, Source

COLUMNS = ["Start", "End", "Amount", "Unit", "Estimated"]


class SpendError(DEError):
    """Cost Explorer could not be read, or its answer is not a cost-and-usage response."""


def period(kind: str, days: int, now: float) -> tuple[str, str]:
    """Cost Explorer's ``TimePeriod`` (Start inclusive, End exclusive, ``YYYY-MM-DD``)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    end = today + dt.timedelta(days=1)
    start = today.replace(day=1) if kind == "month_to_date" else today - dt.timedelta(days=days - 1)
    return start.isoformat(), end.isoformat()


def spend_rows(response: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    results = response.get("ResultsByTime")
    if not isinstance(results, list):
        raise SpendError("Cost Explorer response has no ResultsByTime list")
    rows = []
    for r in results:
        try:
            total = r["Total"][metric]
            rows.append(
                {
                    "Start": r["TimePeriod"]["Start"],
                    "End": r["TimePeriod"]["End"],
                    "Amount": float(total["Amount"]),
                    "Unit": str(total.get("Unit", "USD")),
                    "Estimated": bool(r.get("Estimated", False)),
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpendError(f"Cost Explorer result without Total.{metric}.Amount: {exc}") from exc
    return rows


@Source.produces(AWS_Spend=pd.DataFrame)
class AWSCostExplorerSpend(Source):
    """The account's AWS spend so far this period, from Cost Explorer."""

    params: Parameters

    class Parameters(ModuleParameters):
        time_period: Literal["month_to_date", "last_days"] = "month_to_date"
        days: int = Field(default=30, ge=1, le=366)
        granularity: Literal["DAILY", "MONTHLY"] = "MONTHLY"
        metric: Literal["UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost"] = "UnblendedCost"
        #: a Cost Explorer Expression (e.g. {Tags: {Key: 'project', Values: ['hepcloud']}})
        filter: dict[str, Any] | None = None
        #: an AWS profile for the call (default: the standard credential chain)
        profile: str | None = None
        max_pages: int = Field(default=20, ge=1)
        #: a recorded get_cost_and_usage response (path, s3:// or package://) instead of calling AWS
        response_file: str | None = None

    #: the clock; tests set it
    clock: Callable[[], float] = time.time
    #: a Cost Explorer client (tests give one wrapped in a botocore Stubber)
    client: Any = None

    def _client(self) -> Any:
        if self.client is not None:
            return self.client
        import boto3

        session = (
            boto3.session.Session(profile_name=self.params.profile)
            if self.params.profile
            else boto3.session.Session()
        )
        return session.client("ce", region_name="us-east-1")  # Cost Explorer's one endpoint

    def request(self) -> dict[str, Any]:
        p = self.params
        start, end = period(p.time_period, p.days, self.clock())
        req: dict[str, Any] = {
            "TimePeriod": {"Start": start, "End": end},
            "Granularity": p.granularity,
            "Metrics": [p.metric],
        }
        if p.filter:
            req["Filter"] = p.filter
        return req

    def acquire(self) -> dict[str, pd.DataFrame]:
        p = self.params
        if p.response_file:
            from hepde.modules.tables import read_bytes

            try:
                response = json.loads(read_bytes(p.response_file))
            except (ValueError, UnicodeDecodeError) as exc:
                raise SpendError(f"{p.response_file}: not a JSON Cost Explorer response: {exc}") from exc
            if not isinstance(response, dict):
                raise SpendError(f"{p.response_file}: expected a JSON object (a get_cost_and_usage response)")
            return {"AWS_Spend": pd.DataFrame(spend_rows(response, p.metric), columns=COLUMNS)}
        client = self._client()
        req = self.request()
        rows: list[dict[str, Any]] = []
        token = None
        for _ in range(p.max_pages):
            call = dict(req, NextPageToken=token) if token else req
            try:
                response = client.get_cost_and_usage(**call)
            except Exception as exc:  # botocore ClientError / NoCredentialsError / EndpointConnectionError
                raise SpendError(f"Cost Explorer get_cost_and_usage failed: {exc}") from exc
            rows.extend(spend_rows(response, p.metric))
            token = response.get("NextPageToken")
            if not token:
                break
        else:
            raise SpendError(f"Cost Explorer returned more than {p.max_pages} pages; raise max_pages")
        return {"AWS_Spend": pd.DataFrame(rows, columns=COLUMNS)}
