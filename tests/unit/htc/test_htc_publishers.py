"""The glideclient publishers: fact gating, where ads go, and encryption with the factory key."""

from __future__ import annotations

import binascii

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from htc_helpers import fixture_block, frontend

from hepde.modules.glideinwms.crypto import OAEP, SymKey
from hepde.modules.glideinwms.entries import by_type
from hepde.modules.glideinwms.publishers import GlideClientGlobalManifests, GlideinWMSManifests
from hepde.modules.glideinwms.transforms import GlideinRequestManifests, GridFigureOfMerit, JobClustering

ALL = {
    "match_expressions": [
        {
            "job_bucket_criteria_expr": "ClusterId > 0",
            "site_bucket_criteria_expr": ["True"],
            "frontend_group": "main",
        }
    ],
    "job_q_expr": "JobStatus==1",
}


def decided(facts: dict[str, bool], block: dict | None = None) -> dict:
    block = block or fixture_block()
    block.update(JobClustering(ALL).transform(block))
    block.update(GridFigureOfMerit({}).transform(block))
    # the fixture's jobs all name Test_Site_1 in DESIRED_Sites; these tests are about gating, so both entries
    # are asked (site-aware matching is tested in test_htc_policies.py)
    params = {"frontend": frontend(), "policies": {"site_matching": {"enabled": False}}}
    block.update(GlideinRequestManifests(params).transform(block))
    block["de_logicengine_facts"] = pd.DataFrame(
        {"rule_name": ["r"] * len(facts), "fact_name": list(facts), "fact_value": list(facts.values())}
    )
    return block


def test_requests_of_an_allowed_type_are_published_as_computed():
    block = decided({"allow_grid_requests": True})
    result = GlideinWMSManifests({"advertise_via": "none"}).publish(block)
    rows = {r["entry"]: r for r in result.requested}
    assert [r["ReqIdleGlideins"] for r in rows.values()] == [1, 1]
    assert {"entry", "FOM", "idle_jobs_matched", "min_idle", "max_run", "limits_hit"} <= set(
        result.requested[0]
    )
    assert "not sent" in result.summary


def test_fact_gating_zeroes_idle_requests_but_keeps_max_running():
    block = decided({"allow_grid_requests": False})
    rows = GlideinWMSManifests({"advertise_via": "none"}).publish(block).requested
    assert [r["ReqIdleGlideins"] for r in rows] == [0, 0]
    assert [r["ReqMaxGlideins"] for r in rows] == [r["max_run"] for r in rows] != [0, 0]
    assert all("Gated" in r["limits_hit"] and "allow_grid_requests" in r["why"] for r in rows)
    # no fact at all counts as not allowed, as in the original
    block = decided({})
    assert [
        r["ReqIdleGlideins"] for r in GlideinWMSManifests({"advertise_via": "none"}).publish(block).requested
    ] == [0, 0]


def test_per_type_query_further_selects_requests():
    block = decided({"allow_grid_requests": True})
    pub = GlideinWMSManifests({"advertise_via": "none", "queries": {"Grid": "EntryName == 'TEST_SITE_2'"}})
    rows = {r["entry"].split("@")[0]: r["ReqIdleGlideins"] for r in pub.publish(block).requested}
    assert rows == {"TEST_SITE_1": 0, "TEST_SITE_2": 1}


def test_requests_for_entries_of_an_unknown_type_are_not_published():
    block = decided({"allow_grid_requests": True})
    block["Factory_Entries"] = by_type(
        pd.DataFrame({"Name": ["x@y@z"], "EntryName": ["x"], "GLIDEIN_GridType": ["ec2"]})
    )
    assert GlideinWMSManifests({"advertise_via": "none"}).publish(block).requested == []


def test_request_parameters_are_encrypted_with_the_factory_key():
    # Given a factory whose global ad carries our freshly made public key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    block = fixture_block()
    block["factoryglobal_manifests"]["PubKeyValue"] = pem.decode().replace("\n", "\\n")
    block = decided({"allow_grid_requests": True}, block)
    ad = block["glideclient_manifests"].iloc[0]
    # Then the factory can decrypt the symmetric key code and, with it, the parameters
    code = key.decrypt(binascii.a2b_hex(ad["ReqEncKeyCode"]), OAEP).decode()
    assert code.startswith("cypher:aes_256_cbc,key:")
    parts = dict(p.split(":", 1) for p in code.split(","))
    sym = SymKey(bytes.fromhex(parts["key"]), bytes.fromhex(parts["iv"]))
    assert sym.decrypt_hex(ad["ReqEncIdentity"]) == b"me@fermicloud122.fnal.gov"
    assert sym.decrypt_hex(ad["GlideinEncParamSecurityClass"]) == b"frontend"
    token = sym.decrypt_hex(ad["GlideinEncParamfrontend_scitoken"]).decode()
    assert token.startswith("[")  # the credential file's content (here the cq fixture)
    gad = block["glideclientglobal_manifests"].iloc[0]
    assert sym.decrypt_hex(gad["GlideinEncParamNumberOfCredentials"]) == b"1"


def test_ads_go_to_the_bridge_as_advertise_actions():
    from hepde.actions import parse_action
    from hepde.modules.context import FakeContext

    block = decided({"allow_grid_requests": True})
    ctx = FakeContext(channel="htc", generation=7)
    pub = GlideinWMSManifests({"advertise_via": "bridge"}, channel_name="htc").bind(ctx)
    result = pub.publish(block)
    queue = ctx.queue("default")  # the context's actions queue of the default bridge
    assert queue.name == "hepde-bridge-default-actions"
    action = parse_action(queue.bodies[0])
    assert action.kind == "advertise" and action.ad_type == "glideclient" and len(action.ads) == 2
    assert action.collector == "fermicloud122.fnal.gov" and action.generation == 7
    assert "sent 2 glideclient" in result.summary
    # the same decision gives the same idempotency key
    pub.publish(block)
    assert parse_action(queue.bodies[-1]).key == action.key
    g = GlideClientGlobalManifests({"advertise_via": "bridge"}, channel_name="htc").bind(ctx).publish(block)
    assert "glideclientglobal" in g.summary


def test_unknown_query_entry_type_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown entry type"):
        GlideinWMSManifests({"queries": {"Cloud": "x == 1"}})
