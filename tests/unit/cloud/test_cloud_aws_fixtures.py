"""AWS modules on the original's fixtures: the original's figures, except the listed fixes."""

from __future__ import annotations

import pandas as pd
import pytest
from cloud_test_support import FakeEC2Adapter, csv_fixture, fixture, fmt_column, literal_fixture

from hepde.modules.base import check_declared_types
from hepde.modules.cloud.aws import logic
from hepde.modules.cloud.aws.transforms import AwsBurnRate, AWSOccupancy, AWSSpotPrice, FigureOfMerit
from hepde.modules.cloud.common import INF


def _account_config() -> pd.DataFrame:
    # as the original's test: {HEPCloud_CMS: {us-east-1: "['m3.xlarge']"}} (a CSV round trip of a list)
    return pd.read_csv(fixture("account_config.csv"))


def test_spot_price_transform_reproduces_the_original():
    adapter = FakeEC2Adapter(records=literal_fixture("spot_price.fixture"))
    module = AWSSpotPrice({})
    module.adapter_factory = lambda account, region: adapter
    out = module.transform({"spot_occupancy_config": _account_config()})
    assert not check_declared_types(module.declared_produces(), out)
    expected = csv_fixture("AWSSpotPriceTransform_expected_acquire.csv")
    pd.testing.assert_frame_equal(out["provisioner_resource_spot_prices"], expected, check_dtype=False)
    assert adapter.queries == [["m3.xlarge"]]


def test_spot_price_keeps_the_latest_price_per_zone_and_type():
    import datetime as dt

    t0 = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
    records = [  # EC2 answers newest first; the original kept the last one seen (the oldest)
        {
            "AvailabilityZone": "us-east-1a",
            "InstanceType": "c5.large",
            "ProductDescription": "Linux/UNIX",
            "SpotPrice": "0.0400",
            "Timestamp": t0,
        },
        {
            "AvailabilityZone": "us-east-1a",
            "InstanceType": "c5.large",
            "ProductDescription": "Linux/UNIX",
            "SpotPrice": "0.0300",
            "Timestamp": t0 - dt.timedelta(minutes=30),
        },
    ]
    rows = logic.spot_price_summary(records, "acct")
    assert [(r["SpotPrice"], r["Timestamp"]) for r in rows] == [(0.04, "2024-01-01T12:00:00+00:00")]


def test_occupancy_transform_reproduces_the_original():
    by_id = literal_fixture("occupancy.fixture")
    instances = [
        {
            "InstanceId": i,
            "InstanceType": d["InstanceType"],
            "AvailabilityZone": d["AvailabilityZone"],
            "State": "running" if d["RunningVms"] else "stopped",
        }
        for i, d in by_id.items()
    ]
    module = AWSOccupancy({})
    module.adapter_factory = lambda account, region: FakeEC2Adapter(instances=instances)
    out = module.transform({"spot_occupancy_config": _account_config()})["AWS_Occupancy"]
    expected = csv_fixture("AWSOccupancyTransform_expected_acquire.csv")
    keys = ["AvailabilityZone", "InstanceType"]
    got = out[expected.columns].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.sort_values(keys).reset_index(drop=True), check_dtype=False)


def _fom_block() -> dict[str, pd.DataFrame]:
    dedup = {"subset": ["AvailabilityZone", "InstanceType"], "keep": "last"}
    return {
        "provisioner_resource_spot_prices": csv_fixture("AWSSpotPriceTransform_expected_acquire.csv"),
        "Performance_Data": csv_fixture("instance_performance_sample.csv")
        .drop_duplicates(**dedup)
        .reset_index(drop=True),
        "aws_instance_limits": csv_fixture("job_limits.csv").drop_duplicates(**dedup).reset_index(drop=True),
        "AWS_Occupancy": csv_fixture("AWSOccupancyTransform_expected_acquire.csv"),
    }


@pytest.mark.parametrize(
    "product, column, expected",
    [
        ("AWS_Figure_Of_Merit", "AWS_Figure_Of_Merit", "expected_figure_of_merit.csv"),
        ("AWS_Price_Performance", "AWS_Price_Performance", "expected_price_performance.csv"),
    ],
)
def test_figure_of_merit_reproduces_the_original(product, column, expected):
    module = FigureOfMerit({})
    out = module.transform(_fom_block())
    assert not check_declared_types(module.declared_produces(), out)
    pd.testing.assert_frame_equal(fmt_column(out[product], column), fmt_column(csv_fixture(expected), column))


def test_figure_of_merit_csv_matches_the_original_publisher_files():
    out = FigureOfMerit({}).transform(_fom_block())
    for product, expected in (
        ("AWS_Figure_Of_Merit", "expected_AWS_figure_of_merit_pub.csv"),
        ("AWS_Price_Performance", "expected_AWS_price_perf_pub.csv"),
    ):
        written = pd.read_csv(__import__("io").StringIO(out[product].to_csv(index=False)))
        pd.testing.assert_frame_equal(
            written, csv_fixture(expected), check_exact=False, rtol=1e-5
        )  # these CSVs were written from 6-digit figures


def test_cloud_fom_unknown_performance_is_least_attractive():
    """Regression (seed-system §4.9 #9): the original gave price/performance 0, so FOM 0 = the *best*."""
    block = _fom_block()
    block["Performance_Data"] = block["Performance_Data"][
        block["Performance_Data"]["AvailabilityZone"] != "us-east-1d"
    ]
    out = FigureOfMerit({}).transform(block)
    fom = out["AWS_Figure_Of_Merit"].set_index("AvailabilityZone")
    assert fom.loc["us-east-1d", "AWS_Figure_Of_Merit"] == INF
    assert fom.loc["us-east-1d", "PerfTtbarTotal"] == 0.0
    assert (
        out["AWS_Price_Performance"].set_index("AvailabilityZone").loc["us-east-1d", "AWS_Price_Performance"]
        == INF
    )
    ranked = fom.sort_values("AWS_Figure_Of_Merit")
    assert ranked.index[-1] == "us-east-1d" and ranked["AWS_Figure_Of_Merit"].iloc[0] < 1


def test_figure_of_merit_uses_the_matching_account_limit_and_is_inf_at_the_limit():
    block = _fom_block()
    block["aws_instance_limits"] = csv_fixture(
        "job_limits.csv"
    )  # no dedup: the HEPCloud_CMS row (MaxLimit 2) stays
    block["AWS_Occupancy"] = pd.DataFrame(
        [
            {
                "AccountName": "HEPCloud_CMS",
                "InstanceType": "m3.xlarge",
                "AvailabilityZone": "us-east-1a",
                "RunningVms": 2,
            }
        ]
    )
    fom = FigureOfMerit({}).transform(block)["AWS_Figure_Of_Merit"].set_index("AvailabilityZone")
    assert fom.loc["us-east-1a", "MaxLimit"] == 2
    assert fom.loc["us-east-1a", "AWS_Figure_Of_Merit"] == INF  # 2 running of 2 allowed
    assert fom.loc["us-east-1b", "MaxLimit"] == 20


def test_figure_of_merit_of_empty_inputs_is_empty():
    empty = {k: pd.DataFrame() for k in _fom_block()}
    empty["provisioner_resource_spot_prices"] = logic.spot_price_frame([])
    out = FigureOfMerit({}).transform(empty)
    assert out["AWS_Figure_Of_Merit"].empty and "AWS_Figure_Of_Merit" in out["AWS_Figure_Of_Merit"].columns


def test_aws_burn_rate_is_the_original_figure():
    occupancy = pd.DataFrame(
        {
            "AccountName": "FERMILAB",
            "AvailabilityZone": "us-east-1a",
            "InstanceType": ["c3.xlarge", "t2.micro"],
            "RunningVms": [10, 1],
        }
    )
    spot = pd.DataFrame(
        [
            {
                "AccountName": "CMS",
                "AvailabilityZone": "us-east-1c",
                "InstanceType": "m3.xlarge",
                "SpotPrice": 0.0644,
            },
            {
                "AccountName": "FERMILAB",
                "AvailabilityZone": "us-east-1a",
                "InstanceType": "c3.xlarge",
                "SpotPrice": 0.0682,
            },
            {
                "AccountName": "FERMILAB",
                "AvailabilityZone": "us-east-1a",
                "InstanceType": "t2.micro",
                "SpotPrice": 0.0635,
            },
        ]
    )
    out = AwsBurnRate({}).transform({"provisioner_resource_spot_prices": spot, "AWS_Occupancy": occupancy})
    assert out["AWS_Burn_Rate"]["BurnRate"].iloc[0] == pytest.approx(0.7455)
    empty = AwsBurnRate({}).transform(
        {"provisioner_resource_spot_prices": spot, "AWS_Occupancy": logic.occupancy_frame([])}
    )
    assert empty["AWS_Burn_Rate"].to_dict("records") == [{"BurnRate": 0.0}]
