"""NERSC: allocations through the Superfacility API (recorded answers), the original's FOM figures."""

from __future__ import annotations

import base64

import boto3
import pandas as pd
import pytest
from cloud_test_support import RecordedTransport, fixture, rsa_private_key_pem, verify_rs256
from moto import mock_aws

from hepde.modules.base import check_declared_types
from hepde.modules.cloud.common import CloudConfigError, ProviderError
from hepde.modules.cloud.http import clear_token_cache
from hepde.modules.cloud.nersc.sources import NerscInstancePerformance, NerscSFApi
from hepde.modules.cloud.nersc.transforms import NerscFigureOfMerit

TOKEN = "https://oidc.nersc.gov/c2id/token"
PROJECTS = "https://api.nersc.gov/api/v1.2/account/projects"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def keys(monkeypatch):
    pem, public = rsa_private_key_pem()
    monkeypatch.setenv("NERSC_USCMS_KEY", pem)
    return public


def _recorded(*projects: str) -> RecordedTransport:
    return RecordedTransport({("POST", TOKEN): ["nersc_token.json"], ("GET", PROJECTS): list(projects)})


def test_allocations_with_private_key_jwt(keys):
    source = NerscSFApi(
        {"accounts": {"uscms": {"client_id": "abcd1234efgh", "private_key": {"env": "NERSC_USCMS_KEY"}}}}
    )
    source.transport = transport = _recorded("nersc_projects_uscms.json")
    out = source.acquire()
    assert not check_declared_types(source.declared_produces(), out)
    assert out["Nersc_Allocation_SFAPI"].to_dict("records") == [
        {
            "hours_given": 600000.0,
            "hours_used": 473490.0,
            "id": 54807,
            "project_hours_given": 600000.0,
            "project_hours_used": 473946.0,
            "repo_name": "m2612",
            "real_name": "uscms",
        }
    ]
    (_, _, _, form), (_, _, headers, _) = transport.calls
    assert form["grant_type"] == "client_credentials" and form["client_id"] == "abcd1234efgh"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    claims = verify_rs256(form["client_assertion"], keys)
    assert claims["iss"] == claims["sub"] == "abcd1234efgh" and claims["aud"] == TOKEN
    assert headers["Authorization"].startswith("Bearer eyJ")
    source.acquire()  # the token is cached
    assert [c[0] for c in transport.calls] == ["POST", "GET", "GET"]


def test_the_originals_constraints_layout_is_accepted(keys, tmp_path, monkeypatch):
    import os

    (tmp_path / "uscms.pem").write_text(os.environ["NERSC_USCMS_KEY"])
    (tmp_path / "fife.pem").write_text(os.environ["NERSC_USCMS_KEY"])
    (tmp_path / "uscms_id.txt").write_text("uscms-client\n")
    (tmp_path / "fife_id.txt").write_text("fife-client\n")
    constraints = {"usernames": ["uscms", "fife"], "token_url": TOKEN, "query_url": PROJECTS}
    for user in ("uscms", "fife"):
        constraints[user] = {
            "private_key": str(tmp_path / f"{user}.pem"),
            "client_id_file": str(tmp_path / f"{user}_id.txt"),
            "rawfile": "/tmp/x.token",
        }
    source = NerscSFApi({"constraints": constraints})
    source.transport = _recorded("nersc_projects_uscms.json", "nersc_projects_fife.json")
    frame = source.acquire()["Nersc_Allocation_SFAPI"]
    assert frame[["repo_name", "real_name"]].values.tolist() == [["m2612", "uscms"], ["m4599", "fife"]]


def test_client_secret_from_secrets_manager(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="hepde/nersc", SecretString='{"client_secret": "s3cr3t"}'
        )["ARN"]
        source = NerscSFApi(
            {
                "accounts": {
                    "uscms": {
                        "client_id": "cid",
                        "auth_method": "client_secret_basic",
                        "client_secret": {"secrets_manager": arn, "key": "client_secret"},
                    }
                }
            }
        )
        source.transport = transport = _recorded("nersc_projects_uscms.json")
        assert len(source.acquire()["Nersc_Allocation_SFAPI"]) == 1
    auth = transport.calls[0][2]["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "cid:s3cr3t"


def test_errors_are_clear(keys):
    with pytest.raises(ValueError, match="needs 'private_key'"):
        NerscSFApi({"accounts": {"uscms": {"client_id": "c"}}})
    with pytest.raises(CloudConfigError, match="at least one account"):
        NerscSFApi({"accounts": {}})
    source = NerscSFApi(
        {
            "accounts": {"uscms": {"client_id": "c", "private_key": {"env": "NERSC_USCMS_KEY"}}},
            "retry_timeout": 0,
            "max_retries": 1,
        }
    )
    source.transport = RecordedTransport({("POST", TOKEN): [(401, {"error": "invalid_client"})]})
    with pytest.raises(ProviderError, match="HTTP 401.*invalid_client"):
        source.acquire()
    source = NerscSFApi(
        {
            "accounts": {"uscms": {"client_id": "c", "private_key": {"env": "NERSC_USCMS_KEY"}}},
            "retry_timeout": 0,
            "max_retries": 1,
        }
    )
    source.transport = RecordedTransport(
        {("POST", TOKEN): ["nersc_token.json"], ("GET", PROJECTS): [(502, b"bad gateway")]}
    )
    with pytest.raises(ProviderError, match="HTTP 502.*after 2 attempts"):
        source.acquire()


FACTORY = pd.concat(
    {
        "LCF": pd.DataFrame(
            [
                {
                    "EntryName": "CMSHTPC_T3_US_NERSC_Cori",
                    "GlideinConfigPerEntryMaxGlideins": 200,
                    "GlideinMonitorTotalStatusRunning": 99,
                    "GlideinConfigPerEntryMaxIdle": 10,
                    "GlideinMonitorTotalStatusIdle": 9,
                }
            ]
        )
    }
)
PERF = pd.DataFrame(
    [
        {
            "EntryName": "CMSHTPC_T3_US_NERSC_Cori",
            "InstanceType": "haswell",
            "AvailabilityZone": "cori",
            "OnDemandPrice": 0.576,
            "PerfTtbarTotal": 0.96,
        }
    ]
)


def test_nersc_figure_of_merit_is_the_original_figure():
    module = NerscFigureOfMerit({})
    out = module.transform({"Nersc_Instance_Performance": PERF, "Factory_Entries": FACTORY})
    assert not check_declared_types(module.declared_produces(), out)
    assert out["Nersc_Price_Performance"].equals(
        pd.DataFrame([{"EntryName": "CMSHTPC_T3_US_NERSC_Cori", "PricePerformance": 0.6}])
    )
    assert out["Nersc_Figure_Of_Merit"].equals(
        pd.DataFrame([{"EntryName": "CMSHTPC_T3_US_NERSC_Cori", "FigureOfMerit": 0.3}])
    )


def test_cloud_nersc_fom_without_lcf_entries_is_empty_not_keyerror():
    """Regression (seed-system §4.9 #14): Factory_Entries.xs('LCF') raised KeyError without LCF entries."""
    grid_only = pd.concat({"Grid": FACTORY.xs("LCF")})
    out = NerscFigureOfMerit({}).transform({"Nersc_Instance_Performance": PERF, "Factory_Entries": grid_only})
    assert out["Nersc_Figure_Of_Merit"].empty
    assert list(out["Nersc_Figure_Of_Merit"].columns) == ["EntryName", "FigureOfMerit"]


def test_nersc_performance_csv():
    out = NerscInstancePerformance({"csv_file": str(fixture("instance_performance_nersc.csv"))}).acquire()
    assert len(out["Nersc_Instance_Performance"]) == 5
