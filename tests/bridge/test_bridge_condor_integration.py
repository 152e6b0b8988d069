"""The bridge against a real HTCondor schedd (and collector), when one is reachable.

No HTCondor daemons can run on the machines this project is built on (the ``htcondor`` wheel has
the bindings, no daemons, and no distribution package is available): there, these tests are skipped
and say why.  On a host with HTCondor (``condor_q`` works for this user), they submit a held vanilla
job through the bridge, check that a redelivered action is found by its key and not submitted again,
and remove it; with ``HEPDE_TEST_COLLECTOR`` set they advertise and invalidate a generic ad.
"""

from __future__ import annotations

import os

import pytest

from hepde.actions import KEY_ATTR, AdvertiseAds, InvalidateAds, SubmitPilots, idempotency_key
from hepde.condor.adapter import CondorError, HTCondorCollector, HTCondorSchedd
from hepde_bridge.ledger import Ledger
from hepde_bridge.results import MemoryResults

pytestmark = pytest.mark.integration


def _schedd_or_skip() -> HTCondorSchedd:
    try:
        import htcondor2  # noqa: F401
    except ImportError as exc:  # pragma: no cover - dev installs the bridge extra
        pytest.skip(f"the htcondor bindings are not installed: {exc}")
    schedd = HTCondorSchedd(
        "real",
        name=os.environ.get("HEPDE_TEST_SCHEDD") or None,
        pool=os.environ.get("HEPDE_TEST_POOL") or None,
    )
    try:
        schedd.query("false", ["ClusterId"])
    except CondorError as exc:
        pytest.skip(
            f"no HTCondor schedd is reachable from this host ({exc}); "
            "these machines have the bindings but no HTCondor daemons — run on a host where condor_q works"
        )
    return schedd


class _Queue:
    """Just enough of SqsQueue for Bridge.handle (no AWS needed here)."""

    url = name = "local"

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.sent: list[str] = []

    def delete(self, m):
        self.deleted.append(m.message_id)

    def change_visibility(self, m, s):
        return None

    def send(self, body, attributes=None):
        self.sent.append(body)
        return "x"


def _bridge(tmp_path, schedd, collector=None):
    from hepde_bridge.config import parse_config
    from hepde_bridge.service import Bridge

    config = parse_config(
        {
            "bridge": "itest",
            "results": [],
            "ledger": str(tmp_path / "l.sqlite"),
            "schedds": {"real": {"executables": ["/bin/sleep"], "universes": ["vanilla"]}},
            "collectors": {"real": {"host": os.environ.get("HEPDE_TEST_COLLECTOR", "")}},
        }
    )
    results = MemoryResults()
    bridge = Bridge(
        config,
        queue=_Queue(),
        dead_letters=_Queue(),
        schedds={"real": schedd},
        collectors={"real": collector} if collector else {},
        ledger=Ledger(config.ledger),
        results=[results],
    )
    return bridge, results


def _message(action, n=1):
    from hepde.bridge_queue import Message

    return Message(f"m{n}", f"r{n}", action.model_dump_json(), n)


def test_real_schedd_submit_is_stamped_found_again_and_removed(tmp_path):
    schedd = _schedd_or_skip()
    bridge, results = _bridge(tmp_path, schedd)
    key = idempotency_key("itest", os.getpid(), "submit")
    action = SubmitPilots(
        key=key,
        channel="itest",
        schedd="real",
        count=2,
        description={
            "universe": "vanilla",
            "executable": "/bin/sleep",
            "arguments": "600",
            "hold": "true",
            "request_memory": "16",
        },
    )
    try:
        assert bridge.handle(_message(action)) == "done"
        jobs = schedd.query(f'{KEY_ATTR} == "{key}"', ["ClusterId", "ProcId", KEY_ATTR])
        assert len(jobs) == 2
        # a second delivery with the ledger lost: found on the schedd by its key, not submitted again
        bridge.ledger.close()
        bridge2, results2 = _bridge(tmp_path / "fresh", schedd)
        assert bridge2.handle(_message(action, 2)) == "already_done"
        assert len(schedd.query(f'{KEY_ATTR} == "{key}"', ["ClusterId"])) == 2
    finally:
        schedd.act("remove", f'{KEY_ATTR} == "{key}"', "hepde integration test cleanup")


def test_real_collector_advertise_and_invalidate(tmp_path):
    host = os.environ.get("HEPDE_TEST_COLLECTOR")
    if not host:
        pytest.skip(
            "HEPDE_TEST_COLLECTOR is not set: no collector to advertise to (none can run on these machines)"
        )
    collector = HTCondorCollector("real", host=host)
    bridge, _ = _bridge(tmp_path, _schedd_or_skip(), collector)
    name = f"hepde-itest-{os.getpid()}"
    adv = AdvertiseAds(
        key=idempotency_key("itest", os.getpid(), "adv"),
        channel="itest",
        collector="real",
        ad_type="glideclient",
        ads=[{"Name": name, "GlideinMyType": "glideclient"}],
    )
    assert bridge.handle(_message(adv)) == "done"
    assert [a["Name"] for a in collector.query("any", f'Name == "{name}"', ["Name"])] == [name]
    inv = InvalidateAds(
        key=idempotency_key("itest", os.getpid(), "inv"),
        channel="itest",
        collector="real",
        ad_type="glideclient",
        constraint=f'Name == "{name}"',
    )
    assert bridge.handle(_message(inv, 2)) == "done"
    assert collector.query("any", f'Name == "{name}"', ["Name"]) == []
