"""HTCondor and factory sources over the snapshot adapter (and the bindings adapter's clear errors)."""

from __future__ import annotations

import pandas as pd
import pytest
from htc_helpers import fixture

from hepde.modules.glideinwms.sources import FactoryClientManifests, FactoryEntries, FactoryGlobalManifests
from hepde.modules.htcondor.query import BindingsAdSource, QueryError, evaluate_ads, split_collector_host
from hepde.modules.htcondor.sources import JobQ, StartdManifests
from hepde.snapshots import write_snapshot


@pytest.fixture
def snaps(tmp_path):
    loc = str(tmp_path)
    write_snapshot(loc, "job_queue", "schedd1", fixture("cq.fixture"))
    write_snapshot(loc, "slots", "pool.example.org", fixture("cs.fixture"))
    write_snapshot(loc, "factory_entries", "factory.example.org", fixture("factory_entries.cs.fixture"))
    write_snapshot(loc, "factory_global", "factory.example.org", fixture("factory_global.cs.fixture"))
    write_snapshot(loc, "factory_client", "factory.example.org", fixture("factory_client.cs.fixture"))
    return loc


def test_fix_empty_job_queue_when_correction_map_is_absent(snaps):
    # Given the original's test configuration: no correction_map (2.0.6 crashed on None.items() and
    # returned an empty queue every cycle)
    q = JobQ(
        {
            "collector_host": "pool.example.org",
            "schedds": ["schedd1"],
            "classad_attrs": ["ClusterId", "ProcId", "JobStatus"],
            "snapshot_location": snaps,
            "snapshot_max_age": None,
        }
    )
    jobs = q.acquire()["job_manifests"]
    # Then the jobs are there, with the requested attributes, the schedd and the collector
    assert len(jobs) == 4 and {"ClusterId", "ProcId", "JobStatus", "ScheddName", "CollectorHost"} <= set(
        jobs.columns
    )
    assert jobs["ScheddName"].unique().tolist() == ["schedd1"] and jobs[
        "CollectorHost"
    ].unique().tolist() == ["pool.example.org"]


def test_correction_map_fills_missing_attributes(snaps):
    q = JobQ(
        {
            "collector_host": "pool.example.org",
            "schedds": ["schedd1"],
            "classad_attrs": ["ClusterId", "Nope"],
            "correction_map": {"Nope": 0},
            "snapshot_location": snaps,
            "snapshot_max_age": None,
        }
    )
    assert q.acquire()["job_manifests"]["Nope"].tolist() == [0, 0, 0, 0]


def test_a_failing_schedd_fails_the_source_instead_of_returning_no_jobs(snaps):
    # the original returned an empty queue on a query error: requests dropped to zero during an outage
    q = JobQ({"schedds": ["schedd1", "schedd2"], "snapshot_location": snaps, "snapshot_max_age": None})
    with pytest.raises(QueryError, match="1 of 2 schedd"):
        q.acquire()
    partial = JobQ(
        {
            "schedds": ["schedd1", "schedd2"],
            "allow_partial": True,
            "snapshot_location": snaps,
            "snapshot_max_age": None,
        }
    )
    assert len(partial.acquire()["job_manifests"]) == 4


def test_stale_snapshots_fail_the_source(snaps):
    q = JobQ({"schedds": ["schedd1"], "snapshot_location": snaps, "snapshot_max_age": 1e-6})
    with pytest.raises(QueryError, match="more than"):
        q.acquire()


def test_slots_source_adds_collector_columns(snaps):
    s = StartdManifests(
        {"collector_host": "pool.example.org, b2 a1", "snapshot_location": snaps, "snapshot_max_age": None}
    ).acquire()["startd_manifests"]
    assert len(s) == 2 and s["CollectorHosts"].unique().tolist() == ["pool.example.org,a1,b2"]
    assert s.loc[s["Activity"] == "Busy", "Cpus"].sum() == 1


def test_factory_entries_are_indexed_by_type(snaps):
    fe = FactoryEntries(
        {
            "factories": [{"collector_host": "factory.example.org", "correction_map": {"GLIDEIN_CPUS": 1}}],
            "snapshot_location": snaps,
            "snapshot_max_age": None,
        }
    ).acquire()["Factory_Entries"]
    assert fe.xs("Grid")["EntryName"].tolist() == ["TEST_SITE_1", "TEST_SITE_2"]
    assert fe.xs("Grid")["GLIDEIN_CPUS"].tolist() == [1, 2]
    assert fe.xs("Grid")["CollectorHost"].unique().tolist() == ["factory.example.org"]


def test_fix_factory_global_returning_nothing_does_not_take_the_channel_down(snaps):
    # no factory configured: an empty table (2.0.6 returned None → type error → source ERROR → channel offline)
    out = FactoryGlobalManifests({"factories": [], "snapshot_location": snaps})
    assert isinstance(out.acquire()["factoryglobal_manifests"], pd.DataFrame)
    # every factory failing: the source raises; the runtime records it and keeps the last good ads while fresh
    bad = FactoryGlobalManifests(
        {
            "factories": [{"collector_host": "nowhere"}],
            "snapshot_location": snaps,
            "max_retries": 2,
            "retry_interval": 0,
        }
    )
    with pytest.raises(QueryError, match="no factory collector could be queried"):
        bad.acquire()
    good = FactoryGlobalManifests(
        {
            "factories": [{"collector_host": "factory.example.org"}, {"collector_host": "nowhere"}],
            "snapshot_location": snaps,
            "snapshot_max_age": None,
        }
    )
    assert good.acquire()["factoryglobal_manifests"]["PubKeyID"].tolist() == [
        "cd110c774f97d0259f8476600b161fb3"
    ]


def test_factory_client_source(snaps):
    out = FactoryClientManifests(
        {"collector_host": "factory.example.org", "snapshot_location": snaps, "snapshot_max_age": None}
    ).acquire()["factoryclient_manifests"]
    assert len(out) == 2


def test_without_bindings_or_snapshots_the_error_says_what_to_do(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_condor(name, *args, **kwargs):
        if name in ("htcondor", "htcondor2"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_condor)
    with pytest.raises(QueryError, match="snapshot_location"):
        BindingsAdSource().schedd_ads(None, None, "True", None)


def test_ads_are_evaluated_as_the_original():
    class Expr:
        def __init__(self, v):
            self.v = v

        def eval(self):
            return self.v

    Expr.__name__ = "ExprTree"
    ads = evaluate_ads([{"A": 1, "Requirements": "x", "B": Expr(5), "C": Expr("Undefined")}], ["A", "D"])
    assert ads == [{"A": 1, "D": None, "B": 5}]
    assert split_collector_host("a, c b") == ("a", "b,c")


def test_slot_counts_read_from_a_bridge_snapshot_are_integers(tmp_path):
    # a startd publishes TotalCpus as a real (4.0): the bridge stores what it saw, the source gives ints
    loc = str(tmp_path)
    write_snapshot(
        loc,
        "slots",
        "pool.example.org",
        [
            {"Name": "slot1@wn1", "Cpus": 4, "TotalCpus": 4.0, "Memory": 8192, "State": "Unclaimed"},
            {"Name": "slot1@wn2", "Cpus": 2, "TotalCpus": 2.0, "Memory": 4096, "State": "Claimed"},
        ],
    )
    s = StartdManifests(
        {"collector_host": "pool.example.org", "snapshot_location": loc, "snapshot_max_age": None}
    ).acquire()["startd_manifests"]
    assert [type(v) for v in s["TotalCpus"].tolist()] == [int, int]
    assert s["TotalCpus"].tolist() == [4, 2]
