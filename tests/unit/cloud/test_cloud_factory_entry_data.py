"""Factory entries -> aws_instance_limits and spot_occupancy_config (the original's gwms_to_aws_data)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hepde.modules.cloud.aws.factory_entry_data import AWSFactoryEntryData, AWSFactoryEntryDataPublisher
from hepde.modules.cloud.aws.logic import account_regions
from hepde.modules.registry import resolve


def _entry(name, vos, itype, az, max_glideins, grid="ec2"):
    return {
        "EntryName": name,
        "GLIDEIN_GridType": grid,
        "GLIDEIN_Supported_VOs": vos,
        "INSTANCE_TYPE": itype,
        "AVAILABILITY_ZONE": az,
        "GlideinConfigPerEntryMaxGlideins": max_glideins,
    }


def _factory_entries(by_type: dict[str, list[dict]]) -> pd.DataFrame:
    """The original's shape: a 2-level index (entry type, row)."""
    return pd.concat({t: pd.DataFrame(rows) for t, rows in by_type.items()})


AWS_ENTRIES = [
    _entry("AWS_us-east-1a_m5", "CMS,FIFE", "m5.large", "us-east-1a", 100),
    _entry("AWS_us-east-1b_c5", "CMS", "c5.xlarge", "us-east-1b", 50),
    _entry("AWS_us-west-2a_m5", "FIFE", "m5.large", "us-west-2a", 30),
    _entry("AWS_us-west-2a_test", "CMS_TEST", "t3.micro", "us-west-2a", 5),
]


def test_cloud_gwms_to_aws_data_runs_on_pandas_2_and_later():
    """Regression (seed-system §4.9 #4): the original called DataFrame.append, removed in pandas 2."""
    out = AWSFactoryEntryData({}).transform(
        {
            "Factory_Entries": _factory_entries(
                {"Grid": [_entry("G1", "CMS", None, None, 10, grid="condor")], "AWS": AWS_ENTRIES}
            )
        }
    )
    limits = out["aws_instance_limits"]
    assert list(limits.columns) == ["InstanceType", "AvailabilityZone", "MaxLimit", "AWSProfile"]
    assert limits.to_dict("records") == [
        {"InstanceType": "m5.large", "AvailabilityZone": "us-east-1a", "MaxLimit": 100, "AWSProfile": "CMS"},
        {"InstanceType": "c5.xlarge", "AvailabilityZone": "us-east-1b", "MaxLimit": 50, "AWSProfile": "CMS"},
        {
            "InstanceType": "t3.micro",
            "AvailabilityZone": "us-west-2a",
            "MaxLimit": 5,
            "AWSProfile": "CMS_TEST",
        },
        {"InstanceType": "m5.large", "AvailabilityZone": "us-east-1a", "MaxLimit": 100, "AWSProfile": "FIFE"},
        {"InstanceType": "m5.large", "AvailabilityZone": "us-west-2a", "MaxLimit": 30, "AWSProfile": "FIFE"},
    ]
    config = out["spot_occupancy_config"]
    assert sorted(account_regions(config)) == [
        ("CMS", "us-east-1", ["m5.large", "c5.xlarge"]),
        ("CMS_TEST", "us-west-2", ["t3.micro"]),
        ("FIFE", "us-east-1", ["m5.large"]),
        ("FIFE", "us-west-2", ["m5.large"]),
    ]


def test_a_vo_matches_whole_names_not_substrings():
    # the original's str.contains("CMS") also picked the CMS_TEST entry for the CMS profile
    out = AWSFactoryEntryData({}).transform({"Factory_Entries": _factory_entries({"AWS": AWS_ENTRIES})})
    cms = out["aws_instance_limits"].query("AWSProfile == 'CMS'")
    assert "t3.micro" not in set(cms["InstanceType"])


@pytest.mark.parametrize(
    "entries",
    [
        _factory_entries({"Grid": [_entry("G1", "CMS", None, None, 10, grid="condor")]}),
        pd.DataFrame(),
    ],
)
def test_cloud_no_aws_entries_gives_empty_products_not_keyerror(entries):
    """Regression (seed-system §4.9 #14): Factory_Entries.xs('AWS') raised KeyError without AWS entries."""
    out = AWSFactoryEntryData({}).transform({"Factory_Entries": entries})
    assert out["aws_instance_limits"].empty and "MaxLimit" in out["aws_instance_limits"].columns
    assert out["spot_occupancy_config"].empty


def test_a_flat_factory_table_works_too():
    out = AWSFactoryEntryData({}).transform({"Factory_Entries": pd.DataFrame(AWS_ENTRIES)})
    assert len(out["aws_instance_limits"]) == 5


def test_the_publisher_writes_limits_csv_and_config_json(tmp_path):
    out = AWSFactoryEntryData({}).transform({"Factory_Entries": _factory_entries({"AWS": AWS_ENTRIES})})
    pub = AWSFactoryEntryDataPublisher(
        {
            "aws_instance_limits": str(tmp_path / "limits.csv"),
            "spot_occupancy_config": str(tmp_path / "config.json"),
        }
    )
    result = pub.publish(out)
    assert "5 AWS limit row(s)" in result.summary
    assert json.loads((tmp_path / "config.json").read_text())["FIFE"] == {
        "us-east-1": ["m5.large"],
        "us-west-2": ["m5.large"],
    }
    assert len(pd.read_csv(tmp_path / "limits.csv")) == 5


def test_the_original_paths_resolve():
    assert (
        resolve("decisionengine_modules.glideinwms.transforms.gwms_to_aws_data", "transform")
        is AWSFactoryEntryData
    )
    assert (
        resolve(
            "decisionengine_modules.glideinwms.publishers.gwms_to_aws_data",
            "publisher",
            "AWSFactoryEntryDataPublisher",
        )
        is AWSFactoryEntryDataPublisher
    )


def test_the_glideinwms_sources_factory_entries_shape_works():
    entries_mod = pytest.importorskip(
        "hepde.modules.glideinwms.entries", reason="the glideinwms modules are not there"
    )
    from hepde.datablock.codec import decode, encode
    from hepde.modules.cloud.gce.transforms import gce_figures

    flat = pd.DataFrame(AWS_ENTRIES + [_entry("G1", "CMS", "", "", 10, grid="condor")])
    frame = decode(*encode(entries_mod.by_type(flat)))  # as the HTC channel's source stores it
    out = AWSFactoryEntryData({}).transform({"Factory_Entries": frame})
    assert len(out["aws_instance_limits"]) == 5
    perf = pd.DataFrame(
        [
            {
                "EntryName": "x",
                "InstanceType": "n1",
                "AvailabilityZone": "z",
                "OnDemandPrice": 1.0,
                "PerfTtbarTotal": 1.0,
            }
        ]
    )
    _, fom = gce_figures(perf, frame, pd.DataFrame())  # no GCE rows: worst value, no KeyError
    assert fom["FigureOfMerit"].tolist() == [1.7976931348623157e308]
