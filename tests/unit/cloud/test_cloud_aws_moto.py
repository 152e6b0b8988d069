"""AWS sources against moto's EC2 (spot price history, instances) and a stubbed paginated answer."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import ANY, Stubber
from cloud_test_support import fixture
from moto import mock_aws

from hepde.modules.base import check_declared_types
from hepde.modules.cloud.aws.adapter import EC2Adapter
from hepde.modules.cloud.aws.sources import AWSOccupancy, AWSSpotPrice
from hepde.modules.cloud.common import CloudConfigError, ProviderError


@pytest.fixture
def ec2(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_spot_price_source_reads_ec2(ec2):
    source = AWSSpotPrice({"accounts": {"hepcloud": {"us-west-2": ["m5.large", "c5.xlarge"]}}})
    out = source.acquire()
    assert not check_declared_types(source.declared_produces(), out)
    frame = out["provisioner_resource_spot_prices"]
    assert set(frame["InstanceType"]) == {"m5.large", "c5.xlarge"}
    assert set(frame["AccountName"]) == {"hepcloud"}
    assert frame["AvailabilityZone"].str.startswith("us-west-2").all()
    assert not frame.duplicated(["AvailabilityZone", "InstanceType"]).any()
    assert frame["SpotPrice"].dtype == "float64"


def test_spot_price_source_reads_the_originals_literal_config_file(ec2):
    source = AWSSpotPrice({"spot_price_configuration": str(fixture("spot_price_config_sample.fixture"))})
    frame = source.acquire()["provisioner_resource_spot_prices"]
    assert set(frame["AccountName"]) == {"default"}
    east = frame[frame["AvailabilityZone"].str.startswith("us-east-1")]
    assert set(east["InstanceType"]) == {"m3.2xlarge", "c3.2xlarge"}
    assert frame["AvailabilityZone"].str.startswith("us-west-2").any()  # [] = every type


def test_a_config_file_with_code_in_it_is_refused_with_file_and_line(tmp_path):
    bad = tmp_path / "spot.py"
    bad.write_text('{"default": {"us-east-1": __import__("os").listdir("/")}}')
    with pytest.raises(CloudConfigError, match=r"spot.py: line 1: only literals are allowed"):
        AWSSpotPrice({"spot_price_configuration": str(bad)}).acquire()
    with pytest.raises(CloudConfigError, match="cannot read"):
        AWSSpotPrice({"spot_price_configuration": str(tmp_path / "missing.json")}).acquire()


def test_cloud_occupancy_source_runs_instead_of_crashing(ec2):
    """Regression (seed-system §4.9 #2): the original source raised AttributeError on every acquire."""
    client = boto3.client("ec2", region_name="us-east-1")
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    client.run_instances(
        ImageId=image,
        MinCount=3,
        MaxCount=3,
        InstanceType="m5.large",
        Placement={"AvailabilityZone": "us-east-1a"},
    )
    stopped = client.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        Placement={"AvailabilityZone": "us-east-1a"},
    )["Instances"][0]["InstanceId"]
    client.stop_instances(InstanceIds=[stopped])
    client.run_instances(
        ImageId=image,
        MinCount=2,
        MaxCount=2,
        InstanceType="c5.xlarge",
        Placement={"AvailabilityZone": "us-east-1b"},
    )
    source = AWSOccupancy({"accounts": {"hepcloud": ["us-east-1"]}})
    out = source.acquire()
    assert not check_declared_types(source.declared_produces(), out)
    got = {
        (r["AvailabilityZone"], r["InstanceType"]): r["RunningVms"]
        for r in out["AWS_Occupancy"].to_dict("records")
    }
    assert got == {("us-east-1a", "m5.large"): 3, ("us-east-1b", "c5.xlarge"): 2}
    assert list(out["AWS_Occupancy"].columns) == [
        "AccountName",
        "InstanceType",
        "AvailabilityZone",
        "RunningVms",
    ]


def test_spot_price_history_reads_every_page():
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    t = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)

    def rec(az, itype, price, minutes):
        return {
            "AvailabilityZone": az,
            "InstanceType": itype,
            "ProductDescription": "Linux/UNIX",
            "SpotPrice": price,
            "Timestamp": t - dt.timedelta(minutes=minutes),
        }

    expected = {
        "StartTime": ANY,
        "EndTime": ANY,
        "ProductDescriptions": ["Linux/UNIX"],
        "InstanceTypes": ["m5.large"],
        "MaxResults": 2,
    }
    with Stubber(client) as stub:
        stub.add_response(
            "describe_spot_price_history",
            {
                "SpotPriceHistory": [
                    rec("us-east-1a", "m5.large", "0.0350", 0),
                    rec("us-east-1b", "m5.large", "0.0360", 5),
                ],
                "NextToken": "p2",
            },
            expected,
        )
        stub.add_response(
            "describe_spot_price_history",
            {
                "SpotPriceHistory": [
                    rec("us-east-1a", "m5.large", "0.0310", 40),
                    rec("us-east-1c", "m5.large", "0.0370", 50),
                ],
                "NextToken": "",
            },
            {**expected, "NextToken": "p2"},
        )
        records = EC2Adapter(client, account="a").spot_price_history(["m5.large"], page_size=2)
    assert len(records) == 4
    from hepde.modules.cloud.aws.logic import spot_price_summary

    summary = {r["AvailabilityZone"]: r["SpotPrice"] for r in spot_price_summary(records, "a")}
    assert summary == {"us-east-1a": 0.035, "us-east-1b": 0.036, "us-east-1c": 0.037}


def test_an_ec2_error_names_the_account_and_region():
    client = boto3.client("ec2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("describe_instances", "UnauthorizedOperation", "not allowed")
        with pytest.raises(
            ProviderError, match=r"describe_instances \(account cms, region eu-west-1\).*not allowed"
        ):
            EC2Adapter(client, account="cms").instances()
