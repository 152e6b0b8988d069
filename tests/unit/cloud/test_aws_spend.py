"""AWS spend from Cost Explorer: the request, pages, the fixture, errors; a budget guard reading it."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

import boto3
import pytest
from botocore.stub import Stubber

from hepde.modules.cloud.aws.spend import AWSCostExplorerSpend, SpendError, period
from hepde.modules.cloud.budget import BudgetGuard

NOW = dt.datetime(2026, 12, 2, 20, 0, tzinfo=dt.UTC).timestamp()
FIXTURE = "package://hepde/data/cloud/cost_explorer_month.json"


def fixture_response() -> dict:
    text = resources.files("hepde").joinpath("data/cloud/cost_explorer_month.json").read_text()
    response = json.loads(text)
    response.pop("ResponseMetadata")
    return response


def source(**params) -> AWSCostExplorerSpend:
    src = AWSCostExplorerSpend(params)
    src.clock = lambda: NOW
    return src


def test_period_month_to_date_and_last_days():
    assert period("month_to_date", 30, NOW) == ("2026-12-01", "2026-12-03")
    assert period("last_days", 7, NOW) == ("2026-11-26", "2026-12-03")


def test_get_cost_and_usage_is_called_as_documented_and_pages_are_followed():
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    src = source(filter={"Tags": {"Key": "project", "Values": ["hepcloud"]}})
    src.client = client
    first = dict(fixture_response(), NextPageToken="p2")
    second = fixture_response()
    second["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] = "1.5"
    expected = {
        "TimePeriod": {"Start": "2026-12-01", "End": "2026-12-03"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Tags": {"Key": "project", "Values": ["hepcloud"]}},
    }
    with Stubber(client) as stub:
        stub.add_response("get_cost_and_usage", first, expected)
        stub.add_response("get_cost_and_usage", second, dict(expected, NextPageToken="p2"))
        spend = src.acquire()["AWS_Spend"]
        stub.assert_no_pending_responses()
    assert spend["Amount"].tolist() == [12034.5621, 1.5]
    assert spend["Unit"].tolist() == ["USD", "USD"] and spend["Estimated"].all()


def test_a_failing_call_raises_a_clear_error():
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    src = source()
    src.client = client
    with Stubber(client) as stub:
        stub.add_client_error("get_cost_and_usage", "AccessDeniedException", "not allowed")
        with pytest.raises(SpendError, match="get_cost_and_usage failed: .*AccessDenied"):
            src.acquire()


def test_the_fixture_offline_and_a_bad_file(tmp_path):
    spend = source(response_file=FIXTURE).acquire()["AWS_Spend"]
    assert spend["Amount"].sum() == pytest.approx(12034.5621)
    bad = tmp_path / "ce.json"
    bad.write_text('{"ResultsByTime": [{"TimePeriod": {"Start": "a", "End": "b"}, "Total": {}}]}')
    with pytest.raises(SpendError, match="without Total.UnblendedCost.Amount"):
        source(response_file=str(bad)).acquire()
    bad.write_text("[1]")
    with pytest.raises(SpendError, match="expected a JSON object"):
        source(response_file=str(bad)).acquire()


def test_a_budget_guard_gates_on_the_cost_explorer_spend():
    spend = source(response_file=FIXTURE).acquire()
    params = {
        "providers": [
            {
                "provider": "AWS",
                "budget": 12000,
                "spent": {"product": "AWS_Spend", "column": "Amount"},
                "burn_rate": 10,
            }
        ]
    }
    guard = BudgetGuard(params)
    out = guard.transform(spend)
    assert out["aws_budget_ok"] is False
    assert "spent 12,034.56 USD of 12,000.00 USD: hard limit reached" in out["Budget_Guard"]["Reason"][0]
    params["providers"][0]["budget"] = 50000
    assert BudgetGuard(params).transform(spend)["aws_budget_ok"] is True
