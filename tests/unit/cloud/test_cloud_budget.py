"""Budget guards: the checks, the facts, and the default rules that stop requests with a reason."""

from __future__ import annotations

import datetime as dt
import json

import _jsonnet
import pandas as pd
import pytest

from hepde.config.loader import CONFIG_DIR
from hepde.logicengine.engine import LogicEngine
from hepde.logicengine.gating import allowed_types
from hepde.modules.base import check_declared_types
from hepde.modules.cloud.budget import BudgetGuard, BudgetReport, ProviderGuard, evaluate_guard

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
BURN = {"product": "AWS_Burn_Rate", "column": "BurnRate"}


def _row(block, **guard):
    return evaluate_guard(ProviderGuard(provider="AWS", **guard), block, NOW)


def test_within_limits():
    row = _row(
        {"AWS_Burn_Rate": pd.DataFrame([{"BurnRate": 10.0}])},
        budget=50_000,
        spent=20_000,
        burn_rate=BURN,
        target_burn_rate=40,
        period_end="2026-07-01T00:00:00Z",
    )
    assert row["Ok"] and row["HoursLeft"] == 3000 and row["Fact"] == "aws_budget_ok"
    assert row["ExhaustionTime"] == "2026-10-04T12:00:00+00:00"
    assert row["Reason"].startswith("within limits: 30,000.00 USD left, 10.00 USD/h, lasts 3,000.0 h")


def test_hard_budget_reached():
    row = _row({}, budget=50_000, spent=49_900, reserve=200, burn_rate=5)
    assert not row["Ok"] and not row["HardLimitOk"]
    assert "spent 49,900.00 USD of 50,000.00 USD (reserve 200.00): hard limit reached" in row["Reason"]


def test_burn_rate_above_target():
    row = _row(
        {"AWS_Burn_Rate": pd.DataFrame([{"BurnRate": 55.5}])},
        budget=50_000,
        spent=0,
        burn_rate=BURN,
        target_burn_rate=40,
    )
    assert not row["Ok"] and row["HardLimitOk"] and not row["BurnRateOk"] and row["ForecastOk"]
    assert (
        "burn rate 55.50 USD/h (AWS_Burn_Rate.BurnRate (sum)) is above the target 40.00 USD/h"
        in row["Reason"]
    )


def test_forecast_runs_out_before_the_period_ends():
    row = _row({}, budget=10_000, spent=9_000, burn_rate=50, period_end="2026-06-02T12:00:00Z")
    assert not row["Ok"] and not row["ForecastOk"]
    assert (
        "runs out at 2026-06-02T08:00+00:00, before the period ends (2026-06-02T12:00+00:00)" in row["Reason"]
    )
    row = _row({}, budget=10_000, spent=9_000, burn_rate=50, min_hours_left=24)
    assert "lasts 20.0 h, less than 24 h" in row["Reason"]


def test_nersc_allocation_from_the_sf_api_product_and_the_average_rate():
    alloc = pd.DataFrame(
        [
            {"repo_name": "m2612", "project_hours_given": 600000.0, "project_hours_used": 473946.0},
            {"repo_name": "m3249", "project_hours_given": 95545.7, "project_hours_used": 24722.7},
        ]
    )
    block = {"Nersc_Allocation_SFAPI": alloc}
    ref = {"product": "Nersc_Allocation_SFAPI", "where": {"repo_name": "m2612"}}
    row = evaluate_guard(
        ProviderGuard(
            provider="NERSC",
            unit="hours",
            budget={**ref, "column": "project_hours_given"},
            spent={**ref, "column": "project_hours_used"},
            period_start="2026-01-01T00:00:00Z",
            period_end="2027-01-01T00:00:00Z",
        ),
        block,
        NOW,
    )
    hours_so_far = (NOW - dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).total_seconds() / 3600
    assert row["Fact"] == "nersc_allocation_ok"
    assert row["BurnRate"] == pytest.approx(473946.0 / hours_so_far)
    assert not row["Ok"] and "hours/h the remaining 126,054.00 hours runs out at" in row["Reason"]


def test_missing_figures_fail_closed_with_the_reason():
    empty = {"Nersc_Allocation_SFAPI": pd.DataFrame(columns=["repo_name", "project_hours_given"])}
    row = evaluate_guard(
        ProviderGuard(
            provider="NERSC",
            unit="hours",
            burn_rate=0,
            budget={"product": "Nersc_Allocation_SFAPI", "column": "project_hours_given"},
        ),
        empty,
        NOW,
    )
    assert not row["Ok"]
    assert row["Reason"].startswith("no data for budget (Nersc_Allocation_SFAPI.project_hours_given (sum))")


def test_configuration_mistakes_are_reported():
    with pytest.raises(ValueError, match="give 'burn_rate'"):
        ProviderGuard(provider="AWS", budget=1)
    with pytest.raises(ValueError, match="repeated: AWS"):
        BudgetGuard({"providers": [{"provider": "AWS", "budget": 1, "burn_rate": 0}] * 2})
    with pytest.raises(ValueError, match="Extra inputs"):
        BudgetGuard({"providers": [{"provider": "AWS", "budget": 1, "burn_rate": 0, "budjet": 2}]})


PROVIDERS = [
    {"provider": "AWS", "budget": 50_000, "spent": 49_000, "burn_rate": BURN, "target_burn_rate": 40},
    {"provider": "GCE", "budget": 20_000, "spent": 1_000, "burn_rate": {"product": "GCE_Burn_Rate"}},
]


def _guard_outputs(aws_rate: float):
    guard = BudgetGuard({"providers": PROVIDERS})
    guard.clock = lambda: NOW.timestamp()  # type: ignore[method-assign]
    assert guard.declared_consumes() == {
        "AWS_Burn_Rate": guard.declared_consumes()["AWS_Burn_Rate"],
        "GCE_Burn_Rate": guard.declared_consumes()["GCE_Burn_Rate"],
    }
    block = {
        "AWS_Burn_Rate": pd.DataFrame([{"BurnRate": aws_rate}]),
        "GCE_Burn_Rate": pd.DataFrame([{"BurnRate": 2.0}]),
    }
    out = guard.transform(block)
    assert not check_declared_types(guard.declared_produces(), out)
    return {**block, **out}


def _library_engine(expression: str) -> LogicEngine:
    text = _jsonnet.evaluate_snippet("le.jsonnet", expression, jpathdir=[str(CONFIG_DIR)])
    return LogicEngine(json.loads(text)["parameters"])


def test_default_rules_stop_requests_with_the_reason_in_the_decision():
    block = _guard_outputs(aws_rate=55.0)
    assert block["aws_budget_ok"] is False and block["gce_budget_ok"] is True
    gce = block["Budget_Guard"].set_index("Provider").loc["GCE"]
    assert gce["ExhaustionTime"] == (NOW + dt.timedelta(hours=19_000 / 2.0)).isoformat(timespec="seconds")
    engine = _library_engine(
        "(import 'budget_rules.libsonnet').logicengine(['aws', 'gce'], report='budget_report')"
    )
    evaluation = engine.evaluate_detailed(block)
    assert evaluation.fact_values["aws_burn_rate_ok"] is False
    assert (
        evaluation.fact_values["aws_forecast_ok"] is True and evaluation.fact_values["gce_budget_ok"] is True
    )
    assert evaluation.actions == {"aws_within_budget": ["budget_report"], "gce_within_budget": []}
    block["de_logicengine_facts"] = evaluation.facts_table
    assert allowed_types(block, ["AWS", "GCE"]) == {"AWS": False, "GCE": True}
    report = BudgetReport({}).publish(block)
    assert report.summary.startswith("new requests stopped for AWS: AWS: burn rate 55.00 USD/h")
    assert report.requested[0]["provider"] == "AWS" and report.requested[0]["ok"] is False


def test_default_rules_allow_requests_within_limits_and_honour_when():
    block = _guard_outputs(aws_rate=10.0)
    engine = _library_engine(
        "(import 'budget_rules.libsonnet').logicengine(['aws', 'gce'], "
        "when={gce: 'gce_wanted'}, facts={gce_wanted: 'False'})"
    )
    evaluation = engine.evaluate_detailed(block)
    assert evaluation.new_facts == {
        "aws_within_budget": {"allow_aws_requests": True},
        "gce_within_budget": {"allow_gce_requests": False},
    }
    assert "every provider within limits" in BudgetReport({"all_providers": True}).publish(block).summary
