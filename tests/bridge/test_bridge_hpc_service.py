"""The bridge service carrying the HPC actions end to end: SQS message → ledger → schedds → result."""

from __future__ import annotations

import pytest
from bridge_harness import PILOT, World, sqs_client

from hepde.actions import KEY_ATTR, ExportJobs, ImportResults, SubmitPilots, UserJob
from hepde.condor.adapter import COMPLETED, EXPORTED_QUEUE, IDLE, RUNNING, expr_literal
from hepde.condor.fakes import FakeSchedd, append_job_updates
from hepde_bridge.main import build_bridge

POOL = "/usr/libexec/hepde/hepde-lumberjack-pool"
MPI = "/usr/libexec/hepde/hepde-mpi-launch"
GRID = {"universe": "grid", "grid_resource": "batch slurm hep@login.example"}


@pytest.fixture
def site(aws, tmp_path):
    export_root = tmp_path / "exports"
    export_root.mkdir()
    schedds = {
        "pilots": {"name": "schedd@bridge.example", "executables": [PILOT, POOL, MPI]},
        "users": {"name": "schedd@users.example", "export_dir": str(export_root)},
    }
    world = World(tmp_path, sqs_client(), overrides={"schedds": schedds})
    users = FakeSchedd("schedd@users.example", owner="alice", remove_linger=0)

    def bridge():
        b = build_bridge(
            world.config,
            sqs_client=world.sqs,
            schedds={"pilots": world.schedd, "users": users},
            collectors={"factory": world.collector},
            rng=lambda: 0.0,
        )
        b.results.append(world.results)
        return b

    return world, users, bridge, export_root


def test_an_export_message_exports_submits_the_pool_once_and_an_import_brings_results_back(site):
    world, users, bridge, root = site
    out = users.submit({"executable": "/home/alice/sim", "universe": "vanilla"}, 2)
    ids = [f"{out.cluster}.{p}" for p in range(2)]
    export = ExportJobs(
        key="de-export-service-01",
        channel="direct",
        schedd="users",
        jobs=ids,
        pool_schedd="pilots",
        spool_dir="/projects/P/lj",
        description={**GRID, "executable": POOL, "arguments": '"srun 1 64"'},
        target="theta",
        route="lj",
    )
    world.send(export, export)  # delivered twice
    b = bridge()
    b.run_once()
    b.run_once()
    statuses = [r.status for r in world.results.results]
    assert statuses[0] == "done" and len(world.schedd.query(f"{KEY_ATTR} == {expr_literal(export.key)}")) == 1
    assert len(users.query('Managed == "External"')) == 2
    # the pool ran: one job finished, the other never started; the batch job left the queue
    append_job_updates(str(root / export.key / EXPORTED_QUEUE), {(out.cluster, 0): {"JobStatus": COMPLETED}})
    world.schedd.set_status("true", COMPLETED)
    world.send(
        ImportResults(key="de-import-service-01", channel="direct", schedd="users", export_key=export.key)
    )
    b.run_once()
    assert world.results.results[-1].status == "done", world.results.results[-1].detail
    assert [j["ProcId"] for j in users.history("true", ["ProcId"])] == [0]
    assert users.query("true", ["ProcId", "JobStatus", "Managed"]) == [
        {"ProcId": 1, "JobStatus": IDLE, "Managed": "ScheddDone"}
    ]


def test_an_export_from_a_schedd_without_export_dir_is_dead_lettered(site):
    world, users, bridge, _ = site
    export = ExportJobs(
        key="de-export-service-02",
        channel="direct",
        schedd="pilots",
        jobs=["1.0"],
        pool_schedd="pilots",
        spool_dir="/p",
        description={**GRID, "executable": POOL},
    )
    world.send(export)
    bridge().run_once()
    (dead,) = world.dead_letters()
    assert "no 'export_dir'" in dead["reason"]


def test_an_mpi_submit_takes_the_user_job_over_and_the_loop_mirrors_its_batch_job(site):
    world, users, bridge, _ = site
    out = users.submit({"executable": "/home/alice/lqcd", "universe": "vanilla"}, 1)
    action = SubmitPilots(
        key="de-mpi-service-0001",
        channel="direct",
        schedd="pilots",
        count=1,
        description={**GRID, "executable": MPI, "transfer_input_files": "/home/alice/lqcd"},
        user_job=UserJob(schedd="users", job=f"{out.cluster}.0"),
        target="theta",
        route="mpi",
    )
    world.send(action)
    b = bridge()
    b.run_once()
    assert world.results.results[-1].status == "done"
    (batch,) = world.schedd.query(f"{KEY_ATTR} == {expr_literal(action.key)}", ["HepdeUserJob"])
    assert batch["HepdeUserJob"] == f"users#{out.cluster}.0"
    assert users.query("true", ["Managed", "ManagedManager"]) == [
        {"Managed": "External", "ManagedManager": "hepde"}
    ]
    world.schedd.set_status("true", RUNNING)
    b.run_once()
    assert users.query("true", ["JobStatus"]) == [{"JobStatus": RUNNING}]
    world.schedd.set_status("true", COMPLETED, ExitCode=0)
    b.run_once()
    assert users.query() == [] and users.history("true", ["ExitCode"]) == [{"ExitCode": 0}]
