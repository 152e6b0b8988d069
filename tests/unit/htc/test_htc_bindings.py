"""The sources and the glideclient publisher reach HTCondor through the one adapter (hepde.condor):
here through its fakes (FakePool), the same interface the htcondor2 implementation has."""

from __future__ import annotations

import pytest

from hepde.condor.adapter import CondorSettings, HTCondorCollector, HTCondorPool, HTCondorSchedd
from hepde.condor.fakes import FakeCollector, FakePool, FakeSchedd
from hepde.modules.glideinwms.publishers import AdvertiseError, GlideinWMSManifests
from hepde.modules.glideinwms.sources import FactoryEntries
from hepde.modules.htcondor.query import BindingsAdSource, QueryError
from hepde.modules.htcondor.sources import JobQ, StartdManifests


def _jobq(pool, params):
    source = JobQ(params)
    source.condor_pool = pool
    return source


def test_schedd_queries_name_the_schedd_and_the_local_one_by_its_located_name():
    s1, local = FakeSchedd("s1"), FakeSchedd("schedd@local.example")
    s1.add_jobs([{"ClusterId": 1, "JobStatus": 1}])
    local.add_jobs([{"ClusterId": 7, "JobStatus": 2}])
    pool = FakePool([s1, local], local_schedd="schedd@local.example")
    jobs = _jobq(
        pool, {"collector_host": "pool", "schedds": ["s1"], "classad_attrs": ["ClusterId", "JobStatus", "X"]}
    ).acquire()
    assert jobs["job_manifests"].to_dict("records") == [
        {"ClusterId": 1, "JobStatus": 1, "X": None, "ScheddName": "s1", "CollectorHost": "pool"}
    ]
    # the local schedd (schedds: [None]): its Name comes from where it was located, not None
    jobs = _jobq(pool, {"classad_attrs": ["ClusterId"]}).acquire()["job_manifests"]
    assert jobs.to_dict("records") == [
        {"ClusterId": 7, "ScheddName": "schedd@local.example", "CollectorHost": None}
    ]


def test_slot_counts_are_integers_whatever_the_startd_publishes():
    collector = FakeCollector("pool")
    collector.add_slot("slot1@wn1", cpus=4, memory=8000)
    collector.add_slot("slot2@wn1", cpus=2, total_cpus=6, state="Claimed", activity="Busy")
    assert collector.query("startd", "true", ["TotalCpus"])[0] == {"TotalCpus": 4.0}  # as the startd says
    source = StartdManifests({"collector_host": "pool", "constraint": "Cpus > 0"})
    source.condor_pool = FakePool(collectors=[collector])
    slots = source.acquire()["startd_manifests"]
    assert slots["Name"].tolist() == ["slot1@wn1", "slot2@wn1"]
    assert slots["TotalCpus"].tolist() == [4, 6] and str(slots["TotalCpus"].dtype) == "int64"
    assert slots["CollectorHost"].tolist() == ["pool", "pool"]


def test_unreachable_daemons_are_query_errors_naming_them():
    pool = FakePool([FakeSchedd("s1")])  # no collector at all: "pool" is unreachable
    with pytest.raises(QueryError, match="Failed communication with collector"):
        BindingsAdSource(pool=pool).collector_ads("pool", "Startd", "True", None, snapshot_kind="slots")
    pool.schedds["s1"].down = True
    with pytest.raises(QueryError, match="1 of 1 schedd"):
        _jobq(pool, {"schedds": ["s1"]}).acquire()
    with pytest.raises(QueryError, match="Unable to locate"):
        _jobq(pool, {"schedds": ["nope"]}).acquire()


def test_factory_source_retries_an_unreachable_collector_a_bounded_number_of_times(monkeypatch):
    slept = []
    monkeypatch.setattr("hepde.modules.glideinwms.sources._sleep", slept.append)
    pool = FakePool()
    source = FactoryEntries(
        {
            "factories": [{"collector_host": "f1"}],
            "max_retries": 3,
            "retry_interval": 1,
            "max_retry_seconds": 5,
        }
    )
    source.condor_pool = pool
    with pytest.raises(QueryError, match="no factory collector"):
        source.acquire()
    assert slept == [1, 2]  # 1 + 2 + 4 would exceed max_retry_seconds: it stops waiting
    factory = FakeCollector("f1")
    factory.advertise([{"MyType": "glidefactory", "Name": "e1@f", "glideinmytype": "glidefactory"}])
    pool.collectors["f1"] = factory
    assert source.load_all()["Name"].tolist() == ["e1@f"]


def test_ads_are_advertised_to_each_collector_through_the_adapter():
    f1, f2 = FakeCollector("f1"), FakeCollector("f2")
    pub = GlideinWMSManifests({"max_retries": 2})
    pub.condor_pool = FakePool(collectors=[f1, f2])
    summary = pub.advertise(
        [
            {"MyType": "glideclient", "Name": "a", "CollectorHost": "f1", "ReqIdleGlideins": 1},
            {"MyType": "glideclient", "Name": "b", "CollectorHost": "f2", "ReqIdleGlideins": 0},
        ]
    )
    assert summary == "advertised 2 glideclient ad(s) to 2 collector(s)"
    assert (f1.names("glideclient"), f2.names("glideclient")) == (["a"], ["b"])
    f2.down = True
    with pytest.raises(AdvertiseError, match="to f2 failed: .*Failed to advertise to collector"):
        pub.advertise([{"MyType": "glideclient", "Name": "b", "CollectorHost": "f2"}])
    assert f2.advertise_calls == 1 + 3  # the first publication, then 1 + max_retries attempts


def test_the_bindings_clients_take_their_configuration_explicitly(tmp_path, monkeypatch):
    import os

    before = dict(os.environ)
    token = tmp_path / "token"
    token.write_text("eyJhbGciOi.fake.token\n")
    settings = CondorSettings(
        proxy_file="/tmp/x509up_u1", token_directory=str(tmp_path), token_file=str(token)
    )
    assert settings.overrides() == {
        "AUTH_SSL_CLIENT_CERTFILE": "/tmp/x509up_u1",
        "AUTH_SSL_CLIENT_KEYFILE": "/tmp/x509up_u1",
        "SEC_TOKEN_DIRECTORY": str(tmp_path),
    }
    assert settings.token() == "eyJhbGciOi.fake.token"
    pool = HTCondorPool(settings)
    assert isinstance(pool.schedd("s", "cm"), HTCondorSchedd) and isinstance(
        pool.collector("c"), HTCondorCollector
    )
    assert pool.collector("c").settings is settings
    assert dict(os.environ) == before


def test_only_the_adapter_imports_the_bindings():
    """One HTCondor adapter: htcondor2 is imported in hepde.condor and nowhere else."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    offenders = []
    for base in (
        root / "layers/hepde/python/hepde",
        root / "bridge/hepde_bridge",
        root / "tools/hepde_tools",
    ):
        for path in base.rglob("*.py"):
            if "condor" in path.relative_to(base).parts[:1]:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(n.split(".")[0] in ("htcondor", "htcondor2") for n in names):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
