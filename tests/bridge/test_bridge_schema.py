"""The action message schema (hepde.actions) and the bridge configuration."""

from __future__ import annotations

import json

import pytest

from hepde.actions import (
    AdvertiseAds,
    MalformedActionError,
    SubmitPilots,
    idempotency_key,
    key_of,
    parse_action,
    record_ident,
)
from hepde_bridge.config import BridgeConfigError, load_config, parse_config

SUBMIT = {
    "kind": "submit",
    "key": "de-0123456789abcdef",
    "channel": "c",
    "schedd": "pilots",
    "count": 2,
    "description": {"universe": "grid", "executable": "/x"},
}


def test_actions_round_trip_through_json_and_keys_are_deterministic():
    a = SubmitPilots.model_validate(SUBMIT)
    assert parse_action(a.model_dump_json()) == a
    assert (
        idempotency_key("c", 3, "t", 1) == idempotency_key("c", 3, "t", 1) != idempotency_key("c", 4, "t", 1)
    )
    assert key_of(a.model_dump_json()) == a.key and key_of("nope") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": {"universe": "grid", "queue": "5"}}, "'queue' is not allowed"),
        ({"description": {"+HepdeActionKey": '"x"'}}, "stamped by the bridge"),
        ({"description": {"MY.Owner": '"root"'}}, "is not allowed"),
        ({"description": {"bad key": "1"}}, "is not a submit command"),
        ({"count": 0}, "greater than or equal to 1"),
        ({"key": "short"}, "8-128 characters"),
        ({"schedd": "a b"}, "logical name"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_submit_actions_are_refused_with_a_reason(change, message):
    with pytest.raises(MalformedActionError, match=message):
        parse_action(json.dumps(SUBMIT | change))


def test_newer_schema_versions_are_refused_not_guessed():
    with pytest.raises(MalformedActionError, match="unsupported action schema_version 2"):
        parse_action(json.dumps(SUBMIT | {"schema_version": 2}))


def test_advertised_expressions_are_checked_with_classad2():
    ok = AdvertiseAds(
        key="de-0123456789abcdef",
        channel="c",
        collector="factory",
        ad_type="glideclient",
        ads=[{"Name": "a", "ReqIdleGlideins": 3, "Requirements": {"expr": "Cpus > 1"}}],
    )
    assert ok.ads[0]["Requirements"] == {"expr": "Cpus > 1"}
    with pytest.raises(ValueError, match="not a valid ClassAd expression"):
        AdvertiseAds(
            key="de-0123456789abcdef",
            channel="c",
            collector="factory",
            ad_type="glideclient",
            ads=[{"Name": "a", "Requirements": {"expr": "Cpus >"}}],
        )


def test_record_idents_sort_by_creation_time():
    assert record_ident(1.5, "b") < record_ident(2.0, "a") < record_ident(10.0, "a")


def test_bridge_config_names_queues_and_rejects_secrets(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text(
        'bridge = "fnal"\nbucket = "b"\n[schedds.pilots]\nexecutables = ["/usr/local/libexec/glidein_startup.sh"]\n'
        '[[snapshots]]\nkind = "job_queue"\nschedd = "pilots"\n'
    )
    config = load_config(path)
    assert (config.actions_queue, config.dead_letter_queue) == (
        "hepde-bridge-fnal-actions",
        "hepde-bridge-fnal-dlq",
    )
    assert config.snapshots_at == "s3://b/snapshots" and config.snapshots[0].origin_name == "pilots"
    with pytest.raises(BridgeConfigError, match="credentials do not belong in the bridge configuration"):
        parse_config({"bucket": "b", "aws_secret_access_key": "x"})
    with pytest.raises(BridgeConfigError, match="unknown schedd 'users'"):
        parse_config({"bucket": "b", "snapshots": [{"kind": "job_queue", "schedd": "users"}]})
    with pytest.raises(BridgeConfigError, match="must be an absolute path"):
        parse_config({"bucket": "b", "schedds": {"p": {"executables": ["pilot.sh"]}}})
    with pytest.raises(BridgeConfigError, match="a slots snapshot names a 'collector'"):
        parse_config({"bucket": "b", "schedds": {"p": {}}, "snapshots": [{"kind": "slots", "schedd": "p"}]})


def test_ads_are_chunked_to_fit_one_sqs_message_each():
    from hepde.actions import chunk_ads
    from hepde.bridge_queue import MAX_MESSAGE_BYTES

    ads = [
        {"Name": f"entry{i}@glidein@factory@fe.main", "GlideinEncParamSecurityClass": "x" * 3000}
        for i in range(300)
    ]
    chunks = chunk_ads(ads)
    assert sum(len(c) for c in chunks) == 300 and len(chunks) == 5
    for i, chunk in enumerate(chunks):
        body = AdvertiseAds(
            key=f"de-0123456789abcd{i}", channel="htc", collector="factory", ad_type="glideclient", ads=chunk
        ).model_dump_json()
        assert len(body.encode()) <= MAX_MESSAGE_BYTES
    with pytest.raises(ValueError, match="alone is"):
        chunk_ads([{"Name": "huge", "X": "y" * 300_000}])
