"""`de cost`: the model's arithmetic, DynamoDB's size rule, and a measured run of the example channel."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hepde_tools.cli.main import main
from hepde_tools.deploy.cost import PRICES, Measurement, Usage, attribute_size, item_size, model

ROOT = Path(__file__).resolve().parents[2]


def synthetic(transitions: int = 17, seconds: float = 0.02) -> Measurement:
    cycle = Usage(
        invocations=[("cycle", seconds)] * 3 + [("transform", seconds)] * 2,
        transitions=transitions,
        ddb_wru=10,
        ddb_rru=8,
        log_bytes=1000,
    )
    acq = Usage(invocations=[("source", seconds)], ddb_wru=4, ddb_rru=2)
    return Measurement("demo", {}, cycle, {"src": acq}, {"src": 300.0}, cycles_measured=3)


def test_deploy_cost_standard_pays_per_transition_express_per_execution():
    m = synthetic()
    std = model(m, cycles_per_minute=1, workflow="STANDARD")
    exp = model(m, cycles_per_minute=1, workflow="EXPRESS")
    cycles = 60 * 730
    assert std.lines["Step Functions (Standard)"] == pytest.approx(
        17 * cycles * PRICES["sfn_standard_transition"][0]
    )
    assert exp.lines["Step Functions (Express)"] < std.lines["Step Functions (Standard)"] / 50
    assert std.cycles_per_month == cycles


def test_deploy_cost_scales_with_the_cycle_rate_and_splits_shared_sources():
    m = synthetic()
    one, two = model(m, cycles_per_minute=1), model(m, cycles_per_minute=2)
    assert two.lines["Lambda requests"] > 1.9 * one.lines["Lambda requests"] - 0.01
    alone = model(m, cycles_per_minute=1, source_users={"src": 1})
    shared = model(m, cycles_per_minute=1, source_users={"src": 2})
    assert (
        shared.details["acquisitions_per_month"]["src"] == alone.details["acquisitions_per_month"]["src"] / 2
    )
    assert alone.details["acquisitions_per_month"]["src"] == round(730 * 3600 / 300)
    assert shared.lines["CloudWatch custom metrics"] < alone.lines["CloudWatch custom metrics"]


def test_deploy_cost_lambda_time_below_a_full_vcpu_is_stretched():
    m = synthetic(seconds=0.1)
    est = model(m, cycles_per_minute=1)
    # cycle: 256 MB -> x 1769/256; transform: 1024 MB -> x 1769/1024
    per_cycle = 3 * 0.1 * 1769 / 256 * 0.25 + 2 * 0.1 * 1769 / 1024 * 1.0
    assert est.details["lambda_gb_s_per_month"] == pytest.approx(
        per_cycle * 43800 + 8760 * 0.1 * 1769 / 512 * 0.5, rel=0.01
    )


def test_deploy_cost_uses_dynamodbs_item_size_rule():
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert attribute_size({"B": base64.b64encode(b"x" * 100).decode()}) == 100
    assert attribute_size({"BOOL": True}) == 1
    assert attribute_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2


def test_deploy_cost_command_measures_the_example_channel(capsys):
    assert main(["cost", str(ROOT / "channels" / "example.jsonnet"), "--cycles", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by = {e["workflow"]: e for e in out}
    exp, std = by["EXPRESS"], by["STANDARD"]
    d = exp["details"]
    assert d["lambda_invocations_per_cycle"] >= 8 and d["state_transitions_per_cycle"] >= 10
    assert d["ddb_wru_per_cycle"] > 0 and d["ddb_rru_per_cycle"] > 0
    assert set(d["acquisitions_per_month"]) == {"jobs_manifests", "startd_manifests"}
    assert std["lines"]["Step Functions (Standard)"] > 10 * exp["lines"]["Step Functions (Express)"]
    assert exp["running_usd"] < std["running_usd"]
