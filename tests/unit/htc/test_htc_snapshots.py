"""The snapshot format the on-prem bridge writes and the HTCondor/GlideinWMS sources read."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from hepde.snapshots import (
    SnapshotError,
    SnapshotMissingError,
    SnapshotStaleError,
    SnapshotStore,
    origin_slug,
    read_latest,
    write_snapshot,
)

ADS = [
    {
        "Name": "e1@g@f",
        "GLIDEIN_CPUS": 8,
        "GLIDEIN_In_Downtime": "False",
        "Running": 3,
        "Ratio": 0.5,
        "Up": True,
    },
    {"Name": "e2@g@f", "GLIDEIN_CPUS": "auto", "Running": 4.5, "List": [1, "a"], "Up": False},
]


def test_ads_round_trip_exactly_with_mixed_types(tmp_path):
    # Given ads with mixed-type attributes (GLIDEIN_CPUS int and "auto") and a missing attribute
    manifest = write_snapshot(
        str(tmp_path), "factory_entries", "factory.example.org:9618", ADS, taken_at=1000.0
    )
    # When the newest snapshot is read back
    snap = read_latest(str(tmp_path), "factory_entries", "factory.example.org:9618", now=1001.0)
    # Then the ads are the same values, the manifest describes them
    assert snap.ads() == ADS
    assert manifest.rows == 2 and snap.manifest == manifest
    assert set(manifest.json_columns) == {"GLIDEIN_CPUS", "List"}
    assert list(snap.frame["Running"]) == [3.0, 4.5]


def test_layout_is_parquet_then_manifest_then_latest(tmp_path):
    write_snapshot(str(tmp_path), "job_queue", "schedd@host", [{"ClusterId": 1}], taken_at=0)
    files = sorted(p.name for p in (tmp_path / "job_queue" / origin_slug("schedd@host")).iterdir())
    assert files[-1] == "LATEST.json" and files[0].endswith(".json") and files[1].endswith(".parquet")
    latest = json.loads((tmp_path / "job_queue" / "schedd@host" / "LATEST.json").read_text())
    assert latest["schema_version"] == 1 and latest["kind"] == "job_queue" and latest["rows"] == 1


def test_stale_missing_and_corrupt_snapshots_are_errors(tmp_path):
    with pytest.raises(SnapshotMissingError, match="no slots snapshot"):
        read_latest(str(tmp_path), "slots", "collector")
    m = write_snapshot(str(tmp_path), "slots", "collector", [{"Name": "s"}], taken_at=100.0)
    with pytest.raises(SnapshotStaleError, match="more than the 60 s accepted"):
        read_latest(str(tmp_path), "slots", "collector", max_age=60, now=1000.0)
    (tmp_path / "slots" / "collector" / m.data).write_bytes(b"garbage")
    with pytest.raises(SnapshotError, match="checksum"):
        read_latest(str(tmp_path), "slots", "collector")
    with pytest.raises(SnapshotError, match="unknown snapshot kind"):
        write_snapshot(str(tmp_path), "nope", "x", [])


def test_a_newer_schema_version_is_refused(tmp_path):
    write_snapshot(str(tmp_path), "slots", "c", [{"Name": "s"}])
    latest = tmp_path / "slots" / "c" / "LATEST.json"
    latest.write_text(json.dumps({**json.loads(latest.read_text()), "schema_version": 99}))
    with pytest.raises(SnapshotError, match="newer than this reader"):
        read_latest(str(tmp_path), "slots", "c")


def test_s3_store_round_trip():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="snaps")
        store = SnapshotStore("s3://snaps/htc", s3_client=s3)
        write_snapshot(store, "factory_global", "factory", [{"Name": "v1@f", "PubKeyValue": "k"}])
        assert read_latest(store, "factory_global", "factory").ads() == [{"Name": "v1@f", "PubKeyValue": "k"}]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="snaps")["Contents"]]
        assert "htc/factory_global/factory/LATEST.json" in keys
        with pytest.raises(SnapshotMissingError):
            read_latest(store, "factory_global", "other")
