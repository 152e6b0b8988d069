"""The HTCondor contract: what the project relies on from a schedd and a collector.

Every test runs against two backends through the one adapter (:mod:`hepde.condor.adapter`):

* ``fake`` — :mod:`hepde.condor.fakes`, always;
* ``real`` — a real pool when ``HEPDE_TEST_POOL`` is its collector (``host:port``); the schedd is the
  local one, or ``HEPDE_TEST_SCHEDD`` located in that pool.  Then none of these tests skips: the
  pool needs a startd that runs vanilla ``/bin/sleep`` jobs, and the tests must run as an ordinary
  user (a schedd never lets root own a job — that case is checked instead when run as root).

The expected values are the ones measured on HTCondor 25.14 (issue 12's table, rows 1-15); a fake
that disagrees with them is a bug.  Jobs are tagged ``HepdeContract`` and removed, ads invalidated,
at the end of each test.
"""

from __future__ import annotations

import getpass
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hepde.condor.adapter import (
    COMPLETED,
    EXPORTED_QUEUE,
    HELD,
    IDLE,
    LUMBERJACK,
    MANAGED_EXTERNAL,
    REMOVED,
    RUNNING,
    Collector,
    CondorError,
    CondorInvalidError,
    CondorRefusedError,
    CondorUnavailableError,
    HTCondorCollector,
    HTCondorPool,
    HTCondorSchedd,
    Pool,
    Schedd,
    expr_literal,
    invalidation_ad,
)
from hepde.condor.fakes import (
    FakeCollector,
    FakePool,
    FakeSchedd,
    append_job_updates,
    read_job_queue_log,
)

pytestmark = pytest.mark.condor

POOL = os.environ.get("HEPDE_TEST_POOL", "")
TAG = "HepdeContract"


@dataclass
class Backend:
    kind: str
    schedd: Schedd
    collector: Collector
    unreachable: Collector
    pool: Pool
    #: what the schedd is asked to run: the fake runs nothing, the real pool runs it
    sleeper: str = "/bin/sleep"
    tag: str = field(default_factory=lambda: f"c{uuid.uuid4().hex[:12]}")
    ad_names: list[tuple[str, str]] = field(default_factory=list)

    # -- helpers ------------------------------------------------------------------------------
    def description(self, **commands: str) -> dict[str, str]:
        desc = {"universe": "vanilla", "executable": self.sleeper, "arguments": "600"}
        desc.update(commands)
        desc[f"MY.{TAG}"] = expr_literal(self.tag)
        return desc

    def mine(self, extra: str = "true") -> str:
        return f"({TAG} == {expr_literal(self.tag)}) && ({extra})"

    def jobs(self, cluster: int, *attrs: str) -> list[dict[str, Any]]:
        return self.schedd.query(self.mine(f"ClusterId == {cluster}"), list(attrs) or [])

    def job(self, cluster: int, *attrs: str) -> dict[str, Any]:
        found = self.jobs(cluster, *attrs)
        assert len(found) == 1, found
        return found[0]

    def start(self, cluster: int, timeout: float = 120.0) -> None:
        """The jobs of ``cluster`` are running (the fake: as a startd would; the real pool: waited for)."""
        if isinstance(self.schedd, FakeSchedd):
            self.schedd.set_status(f"ClusterId == {cluster}", RUNNING)
        eventually(
            lambda: all(j.get("JobStatus") == RUNNING for j in self.jobs(cluster, "JobStatus")), timeout
        )

    def finish(self, cluster: int, timeout: float = 120.0) -> None:
        if isinstance(self.schedd, FakeSchedd):
            self.schedd.set_status(f"ClusterId == {cluster}", COMPLETED, ExitCode=0)
        eventually(lambda: not self.jobs(cluster), timeout)

    def advertise(self, ads: list[dict[str, Any]]) -> None:
        for ad in ads:
            self.ad_names.append((str(ad.get("MyType", "")), str(ad.get("Name", ""))))
        self.collector.advertise([{**ad, TAG: self.tag} for ad in ads], "UPDATE_AD_GENERIC")

    def ids(self, cluster: int) -> list[str]:
        return [f"{j['ClusterId']}.{j['ProcId']}" for j in self.jobs(cluster, "ClusterId", "ProcId")]

    def cleanup(self) -> None:
        try:  # exported jobs cannot be removed until they are given back
            exported = self.schedd.query(
                self.mine(f"Managed == {expr_literal(MANAGED_EXTERNAL)}"), ["ClusterId", "ProcId"]
            )
            if exported:
                self.schedd.unexport_jobs([f"{j['ClusterId']}.{j['ProcId']}" for j in exported])
        except CondorError:
            pass
        try:
            self.schedd.act("remove", self.mine(), "contract test cleanup")
        except CondorRefusedError:
            pass
        for mytype in {t for t, _ in self.ad_names}:
            try:
                self.collector.advertise(
                    [invalidation_ad(mytype or "Generic", self.mine())], "INVALIDATE_ADS_GENERIC"
                )
            except (CondorRefusedError, CondorUnavailableError):
                pass


def eventually(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(every)


def _fake() -> Backend:
    schedd = FakeSchedd("schedd@fake.example", owner="hepde")
    collector = FakeCollector("fake.example:9618")
    collector.add_slot("slot1@wn1.fake.example", cpus=4, memory=8192)
    unreachable = FakeCollector("127.0.0.1:1")
    unreachable.down = True
    pool = FakePool([schedd], [collector], local_schedd=schedd.name)
    pool.collectors["fake.example:9618"] = collector
    return Backend("fake", schedd, collector, unreachable, pool)


def _real() -> Backend:
    if not POOL:
        pytest.skip("HEPDE_TEST_POOL is not set: no real pool (none can run on these machines)")
    schedd_name = os.environ.get("HEPDE_TEST_SCHEDD") or None
    schedd = HTCondorSchedd("real", name=schedd_name, pool=POOL)
    collector = HTCondorCollector("real", host=POOL)
    unreachable = HTCondorCollector("unreachable", host="127.0.0.1:1")
    return Backend("real", schedd, collector, unreachable, _RealPool(POOL, schedd_name))


class _RealPool(HTCondorPool):
    def __init__(self, pool: str, schedd: str | None) -> None:
        super().__init__()
        self._pool, self._schedd = pool, schedd

    def schedd(self, name: str | None, pool: str | None) -> HTCondorSchedd:
        return super().schedd(name or self._schedd, pool or self._pool)

    def collector(self, host: str | None) -> HTCondorCollector:
        return super().collector(host or self._pool)


@pytest.fixture(params=["fake", "real"])
def condor(request) -> Iterator[Backend]:
    backend = _fake() if request.param == "fake" else _real()
    try:
        yield backend
    finally:
        backend.cleanup()


# -- submit: attributes and status ------------------------------------------------------------------
def test_arguments_are_stored_as_args_and_new_syntax_quotes_are_removed(condor):
    plain = condor.schedd.submit(condor.description(arguments="600", hold="true"), 1)
    quoted = condor.schedd.submit(condor.description(arguments='"60 1"', hold="true"), 1)
    assert condor.job(plain.cluster, "Args", "Arguments", "Cmd", "JobUniverse") == {
        "Args": "600",
        "Cmd": condor.sleeper,
        "JobUniverse": 5,
    }
    assert condor.job(quoted.cluster, "Args", "Arguments")["Args"] == "60 1"


def test_hold_true_submits_the_job_held_with_code_15(condor):
    out = condor.schedd.submit(condor.description(hold="true"), 2)
    assert out.procs == 2
    for job in condor.jobs(out.cluster, "JobStatus", "HoldReasonCode", "HoldReason"):
        assert job == {
            "JobStatus": HELD,
            "HoldReasonCode": 15,
            "HoldReason": "submitted on hold at user's request",
        }


def test_batch_commands_set_nothing_on_a_vanilla_job_and_are_kept_on_a_batch_grid_job(condor):
    batch = {
        "batch_queue": "debug",
        "batch_project": "hep",
        "batch_runtime": "3600",
        "batch_extra_submit_args": "--qos=x",
        "hold": "true",
    }
    attrs = ("BatchQueue", "BatchProject", "BatchRuntime", "BatchExtraSubmitArgs")
    vanilla = condor.schedd.submit(condor.description(**batch), 1)
    assert condor.job(vanilla.cluster, *attrs) == {}
    grid = condor.schedd.submit(
        condor.description(universe="grid", grid_resource="batch pbs user@login.example", **batch), 1
    )
    assert condor.job(grid.cluster, *attrs) == {
        "BatchQueue": "debug",
        "BatchProject": "hep",
        "BatchRuntime": 3600,
        "BatchExtraSubmitArgs": "--qos=x",
    }


def test_notification_is_stored_as_an_integer(condor):
    never = condor.schedd.submit(condor.description(notification="never", hold="true"), 1)
    complete = condor.schedd.submit(condor.description(notification="Complete", hold="true"), 1)
    assert condor.job(never.cluster, "JobNotification") == {"JobNotification": 0}
    assert condor.job(complete.cluster, "JobNotification") == {"JobNotification": 2}


def test_accounting_group_without_a_user_leaves_the_user_empty(condor):
    attrs = ("AcctGroup", "AcctGroupUser", "AccountingGroup")
    bare = condor.schedd.submit(condor.description(accounting_group="group_x", hold="true"), 1)
    assert condor.job(bare.cluster, *attrs) == {
        "AcctGroup": "group_x",
        "AcctGroupUser": "",
        "AccountingGroup": "group_x.",
    }
    full = condor.schedd.submit(
        condor.description(accounting_group="group_x", accounting_group_user="hepde", hold="true"), 1
    )
    assert condor.job(full.cluster, *attrs) == {
        "AcctGroup": "group_x",
        "AcctGroupUser": "hepde",
        "AccountingGroup": "group_x.hepde",
    }


def test_owner_is_the_authenticated_submitter_and_root_is_refused(condor):
    identity = condor.schedd.whoami()
    user = identity.split("@", 1)[0]
    if user == "root" or (condor.kind == "real" and getpass.getuser() == "root"):
        with pytest.raises(CondorRefusedError, match="User record"):
            condor.schedd.submit(condor.description(hold="true"), 1)
        return
    out = condor.schedd.submit(condor.description(hold="true"), 1)
    assert condor.job(out.cluster, "Owner")["Owner"] == user
    if isinstance(condor.schedd, FakeSchedd):  # the fake's other face: a root submitter
        root = FakeSchedd("schedd@fake.example", owner="root")
        with pytest.raises(CondorRefusedError, match="Failed to create new User record"):
            root.submit(condor.description(hold="true"), 1)
        assert root.count() == 0


@pytest.mark.parametrize("grid_type", ["slurm", "nordugrid"])
def test_grid_types_the_schedd_does_not_know_are_refused(condor, grid_type):
    with pytest.raises(CondorInvalidError, match="Failed to create job ad"):
        condor.schedd.submit(
            condor.description(universe="grid", grid_resource=f"{grid_type} login.example", hold="true"), 1
        )
    assert condor.schedd.query(condor.mine(), ["ClusterId"]) == []


def test_pbs_is_a_grid_type_and_count_zero_submits_one_job(condor):
    out = condor.schedd.submit(
        condor.description(universe="grid", grid_resource="pbs login.example", hold="true"), 0
    )
    assert out.procs == 1
    assert condor.job(out.cluster, "GridResource", "JobUniverse") == {
        "GridResource": "pbs login.example",
        "JobUniverse": 9,
    }


def test_a_token_file_reaches_the_job_ad(condor, tmp_path):
    token = tmp_path / "ce.token"
    token.write_text("eyJ.fake.token\n")
    out = condor.schedd.submit(
        condor.description(
            universe="grid",
            grid_resource="condor ce.example ce.example:9619",
            scitokens_file=str(token),
            hold="true",
        ),
        1,
    )
    assert condor.job(out.cluster, "ScitokensFile") == {"ScitokensFile": str(token)}


# -- hold / release / remove, with reasons; queue → history ---------------------------------------------
def test_hold_release_and_remove_keep_their_reasons(condor):
    out = condor.schedd.submit(condor.description(), 1)
    assert condor.schedd.act("hold", condor.mine(f"ClusterId == {out.cluster}"), "held by the contract") == 1
    held = condor.job(out.cluster, "JobStatus", "HoldReason", "HoldReasonCode")
    assert held == {"JobStatus": HELD, "HoldReason": "held by the contract", "HoldReasonCode": 1}
    assert condor.schedd.act("hold", condor.mine(f"ClusterId == {out.cluster}"), "again") == 0
    assert condor.schedd.act("release", condor.mine(f"ClusterId == {out.cluster}"), "released") == 1
    assert condor.job(out.cluster, "JobStatus")["JobStatus"] in (IDLE, RUNNING)
    assert (
        condor.schedd.act("remove", condor.mine(f"ClusterId == {out.cluster}"), "removed by the contract")
        == 1
    )
    gone = eventually(
        lambda: condor.schedd.history(
            condor.mine(f"ClusterId == {out.cluster}"), ["JobStatus", "RemoveReason"]
        ),
        30,
    )
    assert gone == [{"JobStatus": REMOVED, "RemoveReason": "removed by the contract"}]


def test_a_removed_running_job_leaves_the_queue_as_removed_then_reaches_the_history(condor):
    out = condor.schedd.submit(condor.description(), 1)
    condor.start(out.cluster)
    assert condor.schedd.act("remove", condor.mine(f"ClusterId == {out.cluster}"), "stop") == 1
    for job in condor.jobs(out.cluster, "JobStatus"):  # still there while its shadow exits
        assert job["JobStatus"] == REMOVED
    eventually(lambda: not condor.jobs(out.cluster), 30)
    assert condor.schedd.history(condor.mine(f"ClusterId == {out.cluster}"), ["JobStatus"]) == [
        {"JobStatus": REMOVED}
    ]


def test_a_finished_job_moves_from_the_queue_to_the_history(condor):
    out = condor.schedd.submit(condor.description(executable="/bin/true", arguments=""), 1)
    condor.finish(out.cluster)
    found = eventually(
        lambda: condor.schedd.history(condor.mine(f"ClusterId == {out.cluster}"), ["JobStatus", "ExitCode"]),
        30,
    )
    assert found == [{"JobStatus": COMPLETED, "ExitCode": 0}]


# -- queries: constraints and projections -----------------------------------------------------------------
def test_queries_apply_constraints_with_three_valued_logic_and_project(condor):
    out = condor.schedd.submit(condor.description(hold="true", **{"+Flavour": '"a"'}), 3)
    assert len(condor.schedd.query(condor.mine(f"ClusterId == {out.cluster}"), ["ProcId"])) == 3
    assert condor.schedd.query(condor.mine("NoSuchAttr > 1"), ["ProcId"]) == []  # undefined: no match
    assert len(condor.schedd.query(condor.mine("NoSuchAttr =?= undefined"), ["ProcId"])) == 3
    assert condor.schedd.query(condor.mine(), ["ProcId", "Flavour"], limit=1) == [
        {"ProcId": 0, "Flavour": "a"}
    ]


# -- collector: advertise / invalidate, ad types -----------------------------------------------------------
def test_advertise_replaces_by_name_and_invalidate_removes_by_constraint(condor):
    condor.advertise([{"MyType": "glideclient", "Name": f"{condor.tag}-a", "ReqIdleGlideins": 1}])
    condor.advertise([{"MyType": "glideclient", "Name": f"{condor.tag}-a", "ReqIdleGlideins": 5}])
    query = lambda: condor.collector.query("any", condor.mine('MyType == "glideclient"'), ["ReqIdleGlideins"])  # noqa: E731
    assert eventually(query) == [{"ReqIdleGlideins": 5}]
    condor.collector.advertise(
        [invalidation_ad("glideclient", condor.mine(f'Name == "{condor.tag}-a"'))], "INVALIDATE_ADS_GENERIC"
    )
    eventually(lambda: query() == [])


def test_an_ad_without_name_is_dropped_and_one_without_mytype_is_kept(condor):
    condor.advertise([{"MyType": "Generic", "Note": "no name"}])
    condor.advertise([{"Name": f"{condor.tag}-untyped", "Note": "no type"}])
    kept = eventually(lambda: condor.collector.query("any", condor.mine(), ["Name", "Note", "MyType"]))
    assert kept == [{"Name": f"{condor.tag}-untyped", "Note": "no type"}]


def test_generic_queries_return_only_generic_ads(condor):
    condor.advertise(
        [
            {"MyType": "Generic", "Name": f"{condor.tag}-g"},
            {"MyType": "glideclient", "Name": f"{condor.tag}-c"},
        ]
    )
    everything = eventually(lambda: len(condor.collector.query("any", condor.mine(), ["Name"])) == 2)
    assert everything
    assert condor.collector.query("generic", condor.mine(), ["Name", "MyType"]) == [
        {"Name": f"{condor.tag}-g", "MyType": "Generic"}
    ]


def test_startd_ads_count_cpus_as_a_real_in_total_and_the_sources_give_integers(condor):
    slots = condor.collector.query("startd", "true", ["Name", "Cpus", "TotalCpus"])
    assert slots, "the pool has no startd"
    assert all(isinstance(s["Cpus"], int) and isinstance(s["TotalCpus"], float) for s in slots)
    from hepde.modules.htcondor.sources import JobQ, StartdManifests

    source = StartdManifests(
        {"collector_host": POOL or "fake.example:9618", "classad_attrs": ["Name", "Cpus", "TotalCpus"]}
    )
    source.condor_pool = condor.pool
    frame = source.acquire()["startd_manifests"]
    assert [type(v) for v in frame["TotalCpus"].tolist()] == [int] * len(slots)
    # the local schedd's jobs carry its Name (located through the collector), not None
    condor.schedd.submit(condor.description(hold="true"), 1)
    jobs = JobQ({"classad_attrs": ["ClusterId"], "constraint": condor.mine()})
    jobs.condor_pool = condor.pool
    names = jobs.acquire()["job_manifests"]["ScheddName"].tolist()
    assert names and all(isinstance(n, str) and n for n in names)


# -- errors: down, refused, bad input ---------------------------------------------------------------------
def test_an_unreachable_collector_is_unavailable(condor):
    with pytest.raises(CondorUnavailableError, match="Failed to advertise to collector"):
        condor.unreachable.advertise([{"MyType": "Generic", "Name": "x"}])
    with pytest.raises(CondorUnavailableError):
        condor.unreachable.query("any", "true", ["Name"])


def test_bad_input_is_invalid(condor):
    with pytest.raises(CondorInvalidError, match="Failed to create job ad"):
        condor.schedd.submit(condor.description(universe="no_such_universe"), 1)
    with pytest.raises(CondorInvalidError):
        condor.schedd.act("hold", "ClusterId ==== 1", "bad")
    with pytest.raises(CondorInvalidError):
        condor.collector.query("any", "Name ==== 1", ["Name"])
    with pytest.raises(CondorRefusedError):
        condor.schedd.query("ClusterId ==== 1", ["ClusterId"])


# -- Lumberjack: edit, export, import, unexport ------------------------------------------------------------
#: jobs that never match a slot stay idle on a real pool: what Lumberjack exports
NEVER_RUNS = {"requirements": "false"}


def test_edit_sets_a_literal_attribute_on_the_listed_jobs(condor):
    out = condor.schedd.submit(condor.description(**NEVER_RUNS), 2)
    ids = condor.ids(out.cluster)
    assert condor.schedd.edit(ids[:1], "HepdeActionKey", "de-key-1") == 1
    keys = {
        j["ProcId"]: j.get("HepdeActionKey") for j in condor.jobs(out.cluster, "ProcId", "HepdeActionKey")
    }
    assert keys == {0: "de-key-1", 1: None}


def test_export_writes_the_queue_log_and_marks_the_jobs_external(condor, tmp_path):
    out = condor.schedd.submit(condor.description(**NEVER_RUNS), 2)
    ids = condor.ids(out.cluster)
    export = tmp_path / "export"
    export.mkdir()
    condor.schedd.export_jobs(ids, str(export), "/hpc/allocation/spool")
    jobs = condor.jobs(out.cluster, "ProcId", "Managed", "ManagedManager", "JobStatus")
    assert [(j["Managed"], j["ManagedManager"], j["JobStatus"]) for j in jobs] == [
        (MANAGED_EXTERNAL, LUMBERJACK, IDLE)
    ] * 2
    logged = read_job_queue_log(str(export / EXPORTED_QUEUE))
    assert sorted(f"{c}.{p}" for c, p in logged) == sorted(ids)
    assert all(attrs["Iwd"] == '"/hpc/allocation/spool"' for attrs in logged.values())


def test_unexport_gives_the_jobs_back_to_the_schedd(condor, tmp_path):
    out = condor.schedd.submit(condor.description(**NEVER_RUNS), 1)
    ids = condor.ids(out.cluster)
    condor.schedd.export_jobs(ids, str(tmp_path), str(tmp_path / "spool"))
    condor.schedd.unexport_jobs(ids)
    job = condor.job(out.cluster, "Managed", "ManagedManager", "JobStatus")
    assert job.get("Managed") != MANAGED_EXTERNAL and job["JobStatus"] == IDLE


def test_import_takes_the_results_back_once(condor, tmp_path):
    out = condor.schedd.submit(condor.description(**NEVER_RUNS), 2)
    ids = condor.ids(out.cluster)
    condor.schedd.export_jobs(ids, str(tmp_path), str(tmp_path / "spool"))
    # what the schedd inside the allocation records: job 0 ran and finished, job 1 never started
    append_job_updates(
        str(tmp_path / EXPORTED_QUEUE),
        {(out.cluster, 0): {"JobStatus": COMPLETED, "ExitCode": 0, "HepdeRanIn": "allocation"}},
    )
    condor.schedd.import_exported_job_results(str(tmp_path))
    finished = eventually(
        lambda: condor.schedd.history(
            condor.mine(f"ClusterId == {out.cluster}"), ["ProcId", "ExitCode", "HepdeRanIn"]
        ),
        60,
    )
    assert finished == [{"ProcId": 0, "ExitCode": 0, "HepdeRanIn": "allocation"}]
    left = condor.job(out.cluster, "ProcId", "Managed", "JobStatus")
    assert left["ProcId"] == 1 and left["JobStatus"] == IDLE and left.get("Managed") != MANAGED_EXTERNAL
    # a second import of the same directory changes nothing
    try:
        condor.schedd.import_exported_job_results(str(tmp_path))
    except CondorRefusedError:
        pass
    assert condor.job(out.cluster, "ProcId", "JobStatus") == {"ProcId": 1, "JobStatus": IDLE}


def test_export_into_a_missing_directory_is_refused_and_exports_nothing(condor, tmp_path):
    out = condor.schedd.submit(condor.description(**NEVER_RUNS), 1)
    with pytest.raises(CondorError):
        condor.schedd.export_jobs(condor.ids(out.cluster), str(tmp_path / "missing"), "/spool")
    assert condor.job(out.cluster, "Managed").get("Managed") != MANAGED_EXTERNAL


def test_job_ids_that_are_not_cluster_dot_proc_are_invalid(condor):
    with pytest.raises(CondorInvalidError):
        condor.schedd.export_jobs(["12"], "/tmp", "/spool")
    with pytest.raises(CondorInvalidError):
        condor.schedd.unexport_jobs([])
