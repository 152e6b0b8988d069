"""The bindings adapters (schedd/collector queries, advertising) against a stand-in ``htcondor2``."""

from __future__ import annotations

import sys
import types

import pytest

from hepde.modules.glideinwms.publishers import GlideinWMSManifests
from hepde.modules.htcondor.query import BindingsAdSource, QueryError
from hepde.modules.htcondor.sources import JobQ, StartdManifests


class FakeCondor(types.ModuleType):
    """Records calls; answers queries from ``ads``; ``fail`` makes every daemon call raise."""

    def __init__(self, ads, fail=False):
        super().__init__("htcondor2")
        self.calls, self.ads, self.fail, self.advertised = [], ads, fail, []
        outer = self

        class DaemonType:
            Schedd = "Schedd"

        class AdType:
            Startd, Any = "Startd", "Any"

        class Collector:
            def __init__(self, pool=None):
                outer.calls.append(("Collector", pool))

            def locate(self, kind, name):
                outer.calls.append(("locate", kind, name))
                return {"Name": name}

            def query(self, ad_type, constraint, projection):
                if outer.fail:
                    raise RuntimeError("collector down")
                outer.calls.append(("query", ad_type, constraint, tuple(projection)))
                return outer.ads

            def advertise(self, ads, command, use_tcp):
                outer.advertised.append((command, [dict(a) for a in ads]))

        class Schedd:
            def __init__(self, location=None):
                outer.calls.append(("Schedd", location))

            def query(self, constraint, projection):
                if outer.fail:
                    raise RuntimeError("schedd down")
                return outer.ads

        self.DaemonType, self.AdType, self.Collector, self.Schedd = DaemonType, AdType, Collector, Schedd

    def reload_config(self):
        self.calls.append(("reload_config",))


def test_schedd_queries_go_through_the_collector_locate(monkeypatch):
    fake = FakeCondor([{"ClusterId": 1, "JobStatus": 1}])
    monkeypatch.setitem(sys.modules, "htcondor2", fake)
    jobs = JobQ(
        {"collector_host": "pool", "schedds": ["s1"], "classad_attrs": ["ClusterId", "JobStatus", "X"]}
    ).acquire()
    assert jobs["job_manifests"].to_dict("records") == [
        {"ClusterId": 1, "JobStatus": 1, "X": None, "ScheddName": "s1", "CollectorHost": "pool"}
    ]
    assert ("locate", "Schedd", "s1") in fake.calls and ("Collector", "pool") in fake.calls


def test_collector_queries_and_failures(monkeypatch):
    fake = FakeCondor([{"Name": "slot1", "Cpus": 1, "State": "Claimed", "Activity": "Busy", "Memory": 10}])
    monkeypatch.setitem(sys.modules, "htcondor2", fake)
    slots = StartdManifests({"collector_host": "pool", "constraint": "Cpus > 0"}).acquire()[
        "startd_manifests"
    ]
    assert slots["Name"].tolist() == ["slot1"] and slots["CollectorHost"].tolist() == ["pool"]
    assert any(c[0] == "query" and c[2] == "Cpus > 0" for c in fake.calls)
    fake.fail = True
    with pytest.raises(QueryError, match="collector down"):
        BindingsAdSource().collector_ads("pool", "Startd", "True", None, snapshot_kind="slots")
    with pytest.raises(QueryError, match="1 of 1 schedd"):
        JobQ({"schedds": [None]}).acquire()


def test_ads_are_advertised_to_each_collector_through_the_bindings(monkeypatch):
    fake = FakeCondor([])
    monkeypatch.setitem(sys.modules, "htcondor2", fake)

    class FakeAd(dict):
        pass

    monkeypatch.setitem(sys.modules, "classad2", types.SimpleNamespace(ClassAd=FakeAd))
    pub = GlideinWMSManifests({})
    summary = pub.advertise(
        [
            {"Name": "a", "CollectorHost": "f1", "ReqIdleGlideins": 1},
            {"Name": "b", "CollectorHost": "f2", "ReqIdleGlideins": 0},
        ]
    )
    assert summary == "advertised 2 glideclient ad(s) to 2 collector(s)"
    assert [(cmd, [a["Name"] for a in ads]) for cmd, ads in fake.advertised] == [
        ("UPDATE_AD_GENERIC", ["a"]),
        ("UPDATE_AD_GENERIC", ["b"]),
    ]
