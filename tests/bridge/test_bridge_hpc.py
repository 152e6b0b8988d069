"""The bridge's HPC modes against the fake schedds: Lumberjack export/import, MPI takeover and mirroring."""

from __future__ import annotations

import os

import pytest

from hepde.actions import KEY_ATTR, ExportJobs, ImportResults, SubmitPilots, UserJob
from hepde.condor.adapter import (
    COMPLETED,
    EXPORTED_QUEUE,
    IDLE,
    REMOVED,
    RUNNING,
    CondorRefusedError,
    expr_literal,
)
from hepde.condor.fakes import FakeSchedd, append_job_updates
from hepde_bridge.hpc import HpcBridge, HpcImpossibleError

KEY = "de-export-test-0001"


def stamp(desc, action):
    return {**desc, f"MY.{KEY_ATTR}": expr_literal(action.key)}


@pytest.fixture
def site(tmp_path):
    users = FakeSchedd("schedd@users", owner="alice", remove_linger=0)
    pilots = FakeSchedd("schedd@bridge", owner="hepde", first_cluster=500, remove_linger=0)
    hpc = HpcBridge({"users": users, "pilots": pilots}, {"users": str(tmp_path)}, stamp=stamp, max_attempts=3)
    return users, pilots, hpc, tmp_path


def user_jobs(users: FakeSchedd, n: int, **attrs) -> list[str]:
    out = users.submit({"executable": "/home/alice/sim", "universe": "vanilla", **attrs}, n)
    return [f"{out.cluster}.{p}" for p in range(n)]


def export_action(ids, **kw) -> ExportJobs:
    return ExportJobs(
        key=kw.pop("key", KEY),
        channel="direct",
        schedd="users",
        jobs=ids,
        pool_schedd="pilots",
        spool_dir="/projects/P/lj",
        description={
            "universe": "grid",
            "grid_resource": "batch slurm hep@login.example",
            "executable": "/usr/libexec/hepde/hepde-lumberjack-pool",
            "arguments": '"srun 2 64"',
        },
        nodes=2,
        **kw,
    )


def test_an_export_exports_the_idle_jobs_and_submits_the_pool_once(site):
    users, pilots, hpc, root = site
    ids = user_jobs(users, 3)
    users.set_status(f"ClusterId == {ids[0].split('.')[0]} && ProcId == 2", RUNNING)
    tried = []
    status, detail, fields = hpc.export(export_action(ids), 1, lambda: tried.append(1))
    assert status == "done" and fields["jobs"] == 2, detail
    assert os.path.exists(root / KEY / EXPORTED_QUEUE)
    (pool,) = pilots.query(
        f"{KEY_ATTR} == {expr_literal(KEY)}", ["Iwd", "TransferInput", "Arguments", "Args"]
    )
    assert pool["Iwd"] == str(root / KEY) and pool["TransferInput"] == str(root / KEY)
    assert pool["Args"] == f"srun 2 64 /projects/P/lj/{KEY} {KEY}"
    # the running job was not exported; a redelivery submits nothing again
    assert [j["ProcId"] for j in users.query('Managed == "External"', ["ProcId"])] == [0, 1]
    status, _, _ = hpc.export(export_action(ids), 2, lambda: None)
    assert status == "already_done" and pilots.submit_calls == 1


def test_a_pool_that_cannot_be_submitted_gives_the_jobs_back(site):
    users, pilots, hpc, _ = site
    ids = user_jobs(users, 2)
    pilots.refuse = -1
    with pytest.raises(CondorRefusedError):
        hpc.export(export_action(ids), 1, lambda: None)  # retried later by the bridge
    assert len(users.query('Managed == "External"')) == 2
    status, detail, _ = hpc.export(export_action(ids), 3, lambda: None)
    assert status == "failed" and "given back" in detail
    assert users.query('Managed == "External"') == [] and len(users.query(f"JobStatus == {IDLE}")) == 2


def test_the_results_come_back_once_the_pool_has_ended(site):
    users, pilots, hpc, root = site
    ids = user_jobs(users, 2)
    hpc.export(export_action(ids), 1, lambda: None)
    imp = ImportResults(key="de-import-test-0001", channel="direct", schedd="users", export_key=KEY)
    status, detail, _ = hpc.import_results(imp, False, lambda: None)
    assert status == "failed" and "still in the queue" in detail
    cluster = int(ids[0].split(".")[0])
    append_job_updates(
        str(root / KEY / EXPORTED_QUEUE), {(cluster, 0): {"JobStatus": COMPLETED, "ExitCode": 0}}
    )
    pilots.set_status(f"{KEY_ATTR} == {expr_literal(KEY)}", COMPLETED, ExitCode=0)
    status, detail, _ = hpc.import_results(imp, False, lambda: None)
    assert status == "done", detail
    assert users.history("true", ["ProcId", "ExitCode"]) == [{"ProcId": 0, "ExitCode": 0}]
    assert users.query("true", ["ProcId", "JobStatus", "Managed"]) == [
        {"ProcId": 1, "JobStatus": IDLE, "Managed": "ScheddDone"}
    ]
    status, _, _ = hpc.import_results(imp, True, lambda: None)
    assert status == "already_done"


def mpi_action(job: str, cmd: str = "/home/alice/sim") -> SubmitPilots:
    return SubmitPilots(
        key="de-mpi-test-000001",
        channel="direct",
        schedd="pilots",
        count=1,
        description={
            "universe": "grid",
            "grid_resource": "batch slurm hep@login.example",
            "executable": "/usr/libexec/hepde/hepde-mpi-launch",
            "transfer_input_files": f"{cmd},in.dat",
        },
        user_job=UserJob(schedd="users", job=job),
    )


def test_an_mpi_user_job_is_taken_over_and_mirrors_its_batch_job(site):
    users, pilots, hpc, _ = site
    (job,) = user_jobs(users, 1)
    with pytest.raises(HpcImpossibleError, match="does not run user job"):
        hpc.take_over(mpi_action(job, cmd="/bin/evil"), lambda: None)
    action = mpi_action(job)
    assert hpc.take_over(action, lambda: None) is None
    assert users.query("true", ["Managed", "ManagedManager"]) == [
        {"Managed": "External", "ManagedManager": "hepde"}
    ]
    pilots.submit(hpc.stamp_user_job(action, stamp(dict(action.description), action)), 1)
    pilots.set_status("true", RUNNING)
    assert hpc.mirror() == 1 and users.query("true", ["JobStatus"]) == [{"JobStatus": RUNNING}]
    pilots.set_status("true", COMPLETED, ExitCode=3)
    hpc.mirror()
    assert users.query() == [] and users.history("true", ["JobStatus", "ExitCode"]) == [
        {"JobStatus": COMPLETED, "ExitCode": 3}
    ]


def test_a_removed_batch_job_gives_the_user_job_back_idle(site):
    users, pilots, hpc, _ = site
    (job,) = user_jobs(users, 1)
    action = mpi_action(job)
    hpc.take_over(action, lambda: None)
    pilots.submit(stamp(dict(action.description), action), 1)
    pilots.set_status("true", REMOVED)
    hpc.mirror()
    assert users.query("true", ["JobStatus", "Managed", "HepdeAttempts"]) == [
        {"JobStatus": IDLE, "Managed": "ScheddDone", "HepdeAttempts": 1}
    ]
    # a user job already running elsewhere is not taken over
    users.set_status("true", RUNNING)
    status, detail, _ = hpc.take_over(mpi_action(job), lambda: None)
    assert status == "failed" and "not idle" in detail
