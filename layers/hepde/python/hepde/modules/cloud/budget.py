"""Budget guards: hard budget, target burn rate, allocation hours, and a forecast of exhaustion.

The original had the *parameters* (``FinancialParameters``: target burn rates and balances) and the
design doc's intention (facts like ``cloud_sufficient_budget`` gating cloud requests) but nothing that
computed them.  :class:`BudgetGuard` does, per provider:

* **hard limit** — ``spent < budget − reserve`` (money in USD, or allocation hours for NERSC);
* **burn rate** — the current rate (``AWS_Burn_Rate``/``GCE_Burn_Rate``, or the average since
  ``period_start``) is at most ``target_burn_rate``;
* **forecast** — at the current rate the remainder lasts until ``period_end`` and at least
  ``min_hours_left`` hours.

It produces ``Budget_Guard`` (one row per provider: figures, each check, ``Ok`` and a readable
``Reason``) and one boolean product per provider, named by its ``fact`` (``aws_budget_ok``,
``gce_budget_ok``, ``nersc_allocation_ok`` by default), for the logic engine.  The default rules in
``budget_rules.libsonnet`` turn these into the ``allow_<type>_requests`` facts that request publishers
honour, and run :class:`BudgetReport` — which puts the reason into the decision record — when a
provider is stopped.  Missing figures fail closed: a guard that cannot compute is not ok, and says why.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hepde.modules.base import ModuleParameters, Publisher, PublishResult, Transform

GUARD_PRODUCT = "Budget_Guard"
GUARD_COLUMNS = [
    "Provider",
    "Fact",
    "Unit",
    "Budget",
    "Reserve",
    "Spent",
    "Remaining",
    "BurnRate",
    "TargetBurnRate",
    "HoursLeft",
    "ExhaustionTime",
    "PeriodEnd",
    "HardLimitOk",
    "BurnRateOk",
    "ForecastOk",
    "Ok",
    "Reason",
]


class ProductValue(BaseModel):
    """A number read from a product: a scalar product, a dict ``key``, or a DataFrame ``column``.

    For a table, rows are first filtered by ``where`` (column → required value) and the column is then
    aggregated (``sum`` by default).  No expression language: nothing is evaluated.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str
    column: str | None = None
    key: str | None = None
    where: dict[str, Any] = Field(default_factory=dict)
    aggregate: Literal["sum", "first", "last", "max", "min", "mean"] = "sum"

    def describe(self) -> str:
        where = "".join(f"[{k}=={v!r}]" for k, v in self.where.items())
        return (
            f"{self.product}{where}"
            + (f".{self.column}" if self.column else "")
            + (f"['{self.key}']" if self.key else "")
            + (f" ({self.aggregate})" if self.column else "")
        )

    def read(self, data_block: Mapping[str, Any]) -> float:
        """The value, or NaN when there is no data (an empty table, a missing key or column)."""
        value = data_block[self.product]
        if isinstance(value, pd.DataFrame):
            frame = value
            for col, wanted in self.where.items():
                if col not in frame.columns:
                    return math.nan
                frame = frame[frame[col] == wanted]
            column = self.column or (frame.columns[0] if len(frame.columns) == 1 else None)
            if column is None or column not in frame.columns or frame.empty:
                return math.nan
            series = pd.to_numeric(frame[column], errors="coerce").dropna()
            if series.empty:
                return math.nan
            if self.aggregate == "first":
                return float(series.iloc[0])
            if self.aggregate == "last":
                return float(series.iloc[-1])
            return float(getattr(series, self.aggregate)())
        if isinstance(value, Mapping):
            value = value.get(self.key) if self.key else None
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan


Amount = float | ProductValue


def _value(amount: Amount | None, data_block: Mapping[str, Any]) -> float:
    if amount is None:
        return math.nan
    if isinstance(amount, ProductValue):
        return amount.read(data_block)
    return float(amount)


def _describe(amount: Amount | None) -> str:
    return amount.describe() if isinstance(amount, ProductValue) else repr(amount)


class ProviderGuard(BaseModel):
    """The limits of one provider (``AWS``, ``GCE``, ``NERSC`` ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    #: the boolean product/fact; default ``<provider>_budget_ok``, or ``<provider>_allocation_ok`` for hours
    fact: str | None = None
    unit: str = "USD"
    #: the hard budget (money) or allocation (hours)
    budget: Amount
    #: what is spent/used so far
    spent: Amount = 0.0
    #: kept unspent: requests stop at ``budget - reserve``
    reserve: float = 0.0
    #: the current rate per hour; default: the average since ``period_start``
    burn_rate: Amount | None = None
    target_burn_rate: Amount | None = None
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    min_hours_left: float | None = None

    @model_validator(mode="after")
    def _check(self) -> ProviderGuard:
        if self.burn_rate is None and self.period_start is None:
            raise ValueError(
                f"{self.provider}: give 'burn_rate' (a number or {{product, column}}) or 'period_start' "
                "(to use the average rate since then)"
            )
        if self.reserve < 0:
            raise ValueError(f"{self.provider}: 'reserve' must not be negative")
        return self

    @property
    def fact_name(self) -> str:
        kind = "allocation" if self.unit.lower() in ("hours", "hour", "h", "node-hours") else "budget"
        return self.fact or f"{self.provider.lower()}_{kind}_ok"

    def products(self) -> set[str]:
        values = (self.budget, self.spent, self.burn_rate, self.target_burn_rate)
        return {v.product for v in values if isinstance(v, ProductValue)}


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "unlimited"
    return f"{x:,.2f}"


def evaluate_guard(guard: ProviderGuard, data_block: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """One ``Budget_Guard`` row."""
    unit = guard.unit
    budget, spent = _value(guard.budget, data_block), _value(guard.spent, data_block)
    target = _value(guard.target_burn_rate, data_block)
    reasons: list[str] = []
    if guard.burn_rate is not None:
        rate = _value(guard.burn_rate, data_block)
        rate_from = _describe(guard.burn_rate)
    else:
        assert guard.period_start is not None
        hours = (now - _utc(guard.period_start)).total_seconds() / 3600
        rate = spent / hours if hours > 0 else 0.0
        rate_from = f"average since {_utc(guard.period_start).isoformat()}"
    missing = [
        f"{what} ({_describe(amount)})"
        for what, amount, value in (
            ("budget", guard.budget, budget),
            ("spent", guard.spent, spent),
            ("burn rate", guard.burn_rate, rate),
        )
        if math.isnan(value) and not (what == "burn rate" and amount is None)
    ]
    if guard.target_burn_rate is not None and math.isnan(target):
        missing.append(f"target burn rate ({_describe(guard.target_burn_rate)})")
    remaining = budget - guard.reserve - spent
    hours_left = math.inf if rate <= 0 else remaining / rate if not math.isnan(rate) else math.nan
    exhaustion = None
    if not math.isnan(hours_left) and not math.isinf(hours_left):
        exhaustion = now + dt.timedelta(hours=max(hours_left, 0.0)) if hours_left < 1e7 else None
    if missing:
        hard_ok = rate_ok = forecast_ok = False
        reasons.append("no data for " + ", ".join(missing) + "; requests stop until it is known")
    else:
        hard_ok = remaining > 0
        if not hard_ok:
            reasons.append(
                f"spent {_fmt(spent)} {unit} of {_fmt(budget)} {unit}"
                + (f" (reserve {_fmt(guard.reserve)})" if guard.reserve else "")
                + ": hard limit reached"
            )
        rate_ok = guard.target_burn_rate is None or rate <= target
        if not rate_ok:
            reasons.append(
                f"burn rate {_fmt(rate)} {unit}/h ({rate_from}) is above the target {_fmt(target)} {unit}/h"
            )
        forecast_ok = True
        if (
            hard_ok
            and guard.period_end is not None
            and exhaustion is not None
            and exhaustion < _utc(guard.period_end)
        ):
            forecast_ok = False
            reasons.append(
                f"at {_fmt(rate)} {unit}/h the remaining {_fmt(remaining)} {unit} runs out at "
                f"{exhaustion.isoformat(timespec='minutes')}, before the period ends "
                f"({_utc(guard.period_end).isoformat(timespec='minutes')})"
            )
        if hard_ok and guard.min_hours_left is not None and hours_left < guard.min_hours_left:
            forecast_ok = False
            reasons.append(
                f"at {_fmt(rate)} {unit}/h the remaining {_fmt(remaining)} {unit} lasts "
                f"{hours_left:,.1f} h, less than {guard.min_hours_left:g} h"
            )
    ok = bool(hard_ok and rate_ok and forecast_ok)
    if ok:
        lasts = "indefinitely" if math.isinf(hours_left) else f"{hours_left:,.1f} h"
        reasons.append(f"within limits: {_fmt(remaining)} {unit} left, {_fmt(rate)} {unit}/h, lasts {lasts}")
    return {
        "Provider": guard.provider,
        "Fact": guard.fact_name,
        "Unit": unit,
        "Budget": budget,
        "Reserve": float(guard.reserve),
        "Spent": spent,
        "Remaining": remaining,
        "BurnRate": rate,
        "TargetBurnRate": target,
        "HoursLeft": hours_left if not math.isinf(hours_left) else np.inf,
        "ExhaustionTime": exhaustion.isoformat(timespec="seconds") if exhaustion else None,
        "PeriodEnd": _utc(guard.period_end).isoformat(timespec="seconds") if guard.period_end else None,
        "HardLimitOk": bool(hard_ok),
        "BurnRateOk": bool(rate_ok),
        "ForecastOk": bool(forecast_ok),
        "Ok": ok,
        "Reason": "; ".join(reasons),
    }


class BudgetGuard(Transform):
    """Per-provider budget/allocation checks → ``Budget_Guard`` and one boolean product per provider."""

    params: Parameters

    class Parameters(ModuleParameters):
        providers: list[ProviderGuard] = Field(min_length=1)

        @model_validator(mode="after")
        def _unique(self) -> BudgetGuard.Parameters:
            names = [g.provider for g in self.providers]
            facts = [g.fact_name for g in self.providers]
            for what, values in (("provider", names), ("fact", facts)):
                dupes = sorted({v for v in values if values.count(v) > 1})
                if dupes:
                    raise ValueError(f"each {what} may appear once; repeated: {', '.join(dupes)}")
            if GUARD_PRODUCT in facts:
                raise ValueError(f"a fact may not be called {GUARD_PRODUCT}")
            return self

    #: the clock, seconds since the epoch (tests set it on the instance)
    clock: Callable[[], float] = time.time

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        consumed: set[str] = set().union(*(g.products() for g in self.params.providers))
        self._consumes = dict.fromkeys(sorted(consumed), Any)
        self._produces = {GUARD_PRODUCT: pd.DataFrame, **{g.fact_name: bool for g in self.params.providers}}

    def transform(self, data_block) -> dict[str, Any]:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        rows = [evaluate_guard(g, data_block, now) for g in self.params.providers]
        frame = pd.DataFrame(rows, columns=GUARD_COLUMNS)
        return {GUARD_PRODUCT: frame, **{row["Fact"]: bool(row["Ok"]) for row in rows}}


@Publisher.consumes(Budget_Guard=pd.DataFrame)
class BudgetReport(Publisher):
    """Puts each stopped provider and its reason into the cycle's decision record (and the log)."""

    params: Parameters

    class Parameters(ModuleParameters):
        #: report every provider, not only the stopped ones
        all_providers: bool = False

    def publish(self, data_block) -> PublishResult:
        frame = data_block[GUARD_PRODUCT]
        rows = frame.to_dict("records")
        shown = rows if self.params.all_providers else [r for r in rows if not r["Ok"]]
        stopped = [r["Provider"] for r in rows if not r["Ok"]]
        summary = (
            f"new requests stopped for {', '.join(stopped)}: "
            if stopped
            else "every provider within limits: "
        ) + " | ".join(f"{r['Provider']}: {r['Reason']}" for r in shown)
        requested = [
            {
                "provider": r["Provider"],
                "fact": r["Fact"],
                "ok": bool(r["Ok"]),
                "reason": r["Reason"],
                "hours_left": None if not np.isfinite(r["HoursLeft"]) else round(float(r["HoursLeft"]), 2),
                "exhaustion_time": r["ExhaustionTime"],
            }
            for r in shown
        ]
        return PublishResult(summary=summary, requested=requested)
