"""GCE: occupancy from recorded Compute API answers, the original's FOM and burn-rate figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cloud_test_support import RecordedTransport, csv_fixture, rsa_private_key_pem, verify_rs256

from hepde.modules.base import check_declared_types
from hepde.modules.cloud.common import INF, CloudConfigError, ProviderError
from hepde.modules.cloud.gce.sources import GCEInstancePerformance, GceOccupancy
from hepde.modules.cloud.gce.transforms import GceBurnRate, GceFigureOfMerit
from hepde.modules.cloud.http import clear_token_cache

API = "https://compute.googleapis.com/compute/v1/projects/hepcloud-fnal/aggregated/instances"
TOKEN = "https://oauth2.googleapis.com/token"
ENTRY = "FNAL_HEPCLOUD_GOOGLE_us-central1-a_n1-standard-1"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def service_account(tmp_path, monkeypatch):
    pem, public = rsa_private_key_pem()
    key = {
        "type": "service_account",
        "project_id": "hepcloud-fnal",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "de-monitor@hepcloud-fnal.iam.gserviceaccount.com",
        "token_uri": TOKEN,
    }
    monkeypatch.setenv("GCE_KEY_JSON", json.dumps(key))
    return public


def _source(transport, **params) -> GceOccupancy:
    source = GceOccupancy({"credentials": {"env": "GCE_KEY_JSON"}, "retry_timeout": 0, **params})
    source.transport = transport
    return source


def test_occupancy_reproduces_the_original(service_account):
    transport = RecordedTransport(
        {("POST", TOKEN): ["gce_token.json"], ("GET", API): ["GceOccupancy.input.fixture.json"]}
    )
    source = _source(transport)
    out = source.acquire()
    assert not check_declared_types(source.declared_produces(), out)
    assert out["GCE_Occupancy"].equals(csv_fixture("GceOccupancy.output.fixture.csv"))
    # the token request is a signed service-account assertion; the API call carries the token
    (_, _, _, form), (_, url, headers, _) = transport.calls
    claims = verify_rs256(form["assertion"], service_account)
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert claims["iss"].startswith("de-monitor@") and claims["aud"] == TOKEN and "compute" in claims["scope"]
    assert headers["Authorization"] == "Bearer ya29.c.b0AXv0zTRecordedFakeToken0001"


def test_occupancy_reads_every_page(service_account):
    transport = RecordedTransport(
        {
            ("POST", TOKEN): ["gce_token.json"],
            ("GET", API): ["gce_aggregated_page1.json", "gce_aggregated_page2.json"],
        }
    )
    frame = _source(transport).acquire()["GCE_Occupancy"]
    assert frame.to_dict("records") == [
        {"AvailabilityZone": "us-central1-a", "InstanceType": "n1-standard-1", "Occupancy": 10},
        {"AvailabilityZone": "us-central1-b", "InstanceType": "n1-standard-2", "Occupancy": 2},
    ]
    assert "pageToken=Cg5wYWdlLXRva2VuLTAwMQ" in transport.calls[-1][1]
    assert sum(1 for c in transport.calls if c[0] == "POST") == 1  # the token is reused


def test_a_static_access_token_and_retries_on_server_errors(monkeypatch):
    monkeypatch.setenv("GCE_TOKEN", "tok-123\n")
    transport = RecordedTransport(
        {("GET", API): [(503, {"error": "busy"}), "GceOccupancy.input.fixture.json"]}
    )
    source = GceOccupancy(
        {"project": "hepcloud-fnal", "access_token": {"env": "GCE_TOKEN"}, "retry_timeout": 0}
    )
    source.transport = transport
    assert source.acquire()["GCE_Occupancy"]["Occupancy"].tolist() == [10]
    assert [c[2]["Authorization"] for c in transport.calls] == ["Bearer tok-123"] * 2


def test_errors_are_clear(monkeypatch):
    transport = RecordedTransport(
        {("GET", API): [(403, {"error": {"message": "Required 'compute.instances.list'"}})]}
    )
    monkeypatch.setenv("GCE_TOKEN", "t")
    source = GceOccupancy({"project": "hepcloud-fnal", "access_token": {"env": "GCE_TOKEN"}})
    source.transport = transport
    with pytest.raises(ProviderError, match="HTTP 403.*compute.instances.list"):
        source.acquire()
    with pytest.raises(CloudConfigError, match="environment variable NOPE is not set"):
        GceOccupancy({"project": "p", "access_token": {"env": "NOPE"}}).acquire()
    with pytest.raises(CloudConfigError, match="set 'credentials'"):
        GceOccupancy({"project": "p"}).acquire()
    with pytest.raises(ValueError, match="exactly one of"):
        GceOccupancy({"project": "p", "credentials": {"env": "A", "file": "/x"}})


def _factory_entries(rows, key="GCE"):
    return pd.concat({key: pd.DataFrame(rows)})


PERF = pd.DataFrame(
    [
        {
            "EntryName": ENTRY,
            "InstanceType": "n1-standard-1",
            "AvailabilityZone": "us-central1-a",
            "OnDemandPrice": 0.0475,
            "PreemptiblePrice": 0.01,
            "PerfTtbarTotal": 0.0317,
        }
    ]
)
LIMITS = {
    "EntryName": ENTRY,
    "GlideinConfigPerEntryMaxIdle": 100,
    "GlideinMonitorTotalStatusIdle": 10,
    "GlideinConfigPerEntryMaxGlideins": 200,
    "GlideinMonitorTotalStatusRunning": 100,
}


def test_gce_figure_of_merit_is_the_original_figure():
    block = {
        "GCE_Instance_Performance": PERF.copy(),
        "Factory_Entries": _factory_entries([LIMITS]),
        "GCE_Occupancy": csv_fixture("GceOccupancy.output.fixture.csv"),
    }
    module = GceFigureOfMerit({})
    out = module.transform(block)
    assert not check_declared_types(module.declared_produces(), out)
    assert np.isclose(out["GCE_Price_Performance"]["PricePerformance"].iloc[0], 1.498423)
    assert np.isclose(out["GCE_Figure_Of_Merit"]["FigureOfMerit"].iloc[0], 0.08241324921135648)
    assert "PricePerformance" not in block["GCE_Instance_Performance"]  # the input is not modified


def test_cloud_gce_fom_without_gce_entries_is_worst_not_keyerror():
    """Regression (seed-system §4.9 #14): Factory_Entries.xs('GCE') raised KeyError without GCE entries."""
    block = {
        "GCE_Instance_Performance": PERF.copy(),
        "Factory_Entries": _factory_entries([LIMITS], key="Grid"),
        "GCE_Occupancy": csv_fixture("GceOccupancy.output.fixture.csv"),
    }
    out = GceFigureOfMerit({}).transform(block)
    assert out["GCE_Figure_Of_Merit"]["FigureOfMerit"].tolist() == [INF]


def test_gce_burn_rate_is_the_original_figure():
    out = GceBurnRate({}).transform(
        {"GCE_Instance_Performance": PERF, "GCE_Occupancy": csv_fixture("GceOccupancy.output.fixture.csv")}
    )
    assert np.isclose(out["GCE_Burn_Rate"]["BurnRate"].iloc[0], 0.1)


def test_gce_performance_csv():
    from cloud_test_support import fixture

    out = GCEInstancePerformance({"csv_file": str(fixture("instance_performance_google.csv"))}).acquire()
    assert out["GCE_Instance_Performance"].equals(pd.read_csv(fixture("instance_performance_google.csv")))
