"""The direct-submission planner: routing with classad2, limits, allocations, MPI, in-flight actions."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import ValidationError

from hepde.config.validate import validate_paths
from hepde.modules.direct.planner import DirectSubmissionPlanner
from hepde.modules.direct.routing import Route, route_jobs

CE = {
    "name": "fermigrid",
    "kind": "htcondor_ce",
    "ce": "fermigridce01.fnal.gov",
    "cores_per_pilot": 8,
    "executable": "/opt/site/glidein_startup.sh",
    "max_idle_pilots": 20,
    "max_pilots": 100,
    "max_submit_per_cycle": 50,
}
HPC = {
    "name": "theta",
    "kind": "batch",
    "batch_system": "cobalt",
    "login": "hep@theta.alcf.anl.gov",
    "queue": "default",
    "project": "P",
    "cores_per_node": 64,
    "executable": "/opt/site/glidein_startup.sh",
    "max_nodes_per_job": 16,
    "walltime_minutes": 60,
    "mpi_capable": True,
    "max_queued_jobs": 10,
    "max_jobs": 20,
    "max_submit_per_cycle": 10,
}
SINGLE = {"name": "single", "jobs": "RequestCpus == 1", "targets": ["fermigrid", "theta"]}
MPI = {"name": "mpi", "jobs": "WantMPI =?= true", "targets": ["theta"], "mpi": True}
NOW = 1_800_000_000.0


def jobs(n: int, status: int = 1, **attrs) -> list[dict]:
    return [{"ClusterId": 1, "ProcId": i, "JobStatus": status, "RequestCpus": 1, **attrs} for i in range(n)]


def block(user_jobs, pilots=(), actions=(), left=1000.0, taken_at=NOW):
    return {
        "job_manifests": pd.DataFrame(list(user_jobs)),
        "pilot_manifests": pd.DataFrame(list(pilots)),
        "pilot_manifests_snapshot": {"taken_at": taken_at},
        "bridge_actions": pd.DataFrame(list(actions)),
        "hpc_allocations": pd.DataFrame({"allocation": ["P"], "node_hours_left": [left]}),
    }


def plan(params: dict, data: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = DirectSubmissionPlanner(params).transform(data)
    return out["pilot_submissions"], out["routed_demand"]


def pilots_by(frame: pd.DataFrame) -> dict:
    return {(r.route, r.target, r.nodes): r.pilots for r in frame.itertuples() if r.pilots}


def test_idle_single_core_jobs_become_ce_pilots_of_eight_cores():
    subs, demand = plan({"targets": [CE, HPC], "routes": [SINGLE]}, block(jobs(20)))
    assert pilots_by(subs) == {("single", "fermigrid", 1): 3}
    row = subs.iloc[0]
    desc = json.loads(row["submit"])
    assert desc["grid_resource"] == "condor fermigridce01.fnal.gov fermigridce01.fnal.gov:9619"
    assert desc["universe"] == "grid" and desc["request_cpus"] == "8" and desc["+xcount"] == "8"
    assert demand.set_index("route").loc["single", "unserved_jobs"] == 0


def test_limits_spill_to_the_next_target_and_say_which_bound():
    ce = {**CE, "max_idle_pilots": 2}
    subs, _ = plan({"targets": [ce, HPC], "routes": [SINGLE]}, block(jobs(100)))
    assert pilots_by(subs) == {("single", "fermigrid", 1): 2, ("single", "theta", 1): 2}
    by_target = subs.set_index("target")
    assert by_target.loc["fermigrid", "limited_by"] == "max_idle_pilots"
    desc = json.loads(by_target.loc["theta", "submit"])
    assert desc["grid_resource"] == "batch cobalt hep@theta.alcf.anl.gov"
    assert (desc["batch_queue"], desc["batch_project"], desc["batch_runtime"]) == ("default", "P", "3600")
    assert (desc["+HostNumber"], desc["+SMPGranularity"], desc["+NodeNumber"]) == ("1", "64", "64")


def test_never_beyond_the_allocation_hours_left():
    # 1-node, 1-hour pilots; 2.5 node-hours left: two pilots, not three
    subs, _ = plan(
        {"targets": [HPC], "routes": [{**SINGLE, "targets": ["theta"]}]}, block(jobs(64 * 5), left=2.5)
    )
    row = subs.iloc[0]
    assert row["pilots"] == 2 and "allocation" in row["limited_by"]
    # queued and running pilots already commit their walltime: none left
    running = [
        {
            "HepdeTarget": "theta",
            "HepdeRoute": "single",
            "HepdeNodes": 1,
            "JobStatus": 2,
            "EnteredCurrentStatus": NOW - 7200,
            "HepdeActionKey": "k1",
        }
    ] * 2
    subs, _ = plan(
        {"targets": [HPC], "routes": [{**SINGLE, "targets": ["theta"]}]},
        block(jobs(64 * 5), pilots=running, left=2.5),
    )
    assert subs.iloc[0]["pilots"] == 0
    # an unknown allocation submits nothing
    subs, _ = plan(
        {"targets": [{**HPC, "allocation": "other"}], "routes": [{**SINGLE, "targets": ["theta"]}]},
        block(jobs(10)),
    )
    assert subs.iloc[0]["pilots"] == 0 and subs.iloc[0]["limited_by"] == "allocation_unknown"


def test_mpi_jobs_become_one_multi_node_batch_job_each():
    mpi_jobs = [
        {
            "ClusterId": 9,
            "ProcId": p,
            "JobStatus": 1,
            "RequestCpus": 64,
            "WantMPI": True,
            "RequestNodes": n,
            "Cmd": "/home/lqcd/bin/milc",
        }
        for p, n in enumerate((8, 4, 32))
    ]
    subs, demand = plan({"targets": [HPC], "routes": [MPI]}, block(mpi_jobs))
    assert pilots_by(subs) == {("mpi", "theta", 8): 1, ("mpi", "theta", 4): 1}
    d = demand.set_index("route").loc["mpi"]
    assert d["unserved_jobs"] == 1 and "32 nodes > theta's max_nodes_per_job 16" in d["why_unserved"]
    desc = json.loads(subs.set_index("nodes").loc[8, "submit"])
    assert (desc["+HostNumber"], desc["+NodeNumber"], desc["+WholeNodes"]) == ("8", "512", "true")


def test_mpi_routes_only_to_mpi_capable_targets_is_a_config_error():
    with pytest.raises(ValidationError, match="MPI route 'mpi' may only use MPI-capable batch targets"):
        DirectSubmissionPlanner(
            {"targets": [CE, {**HPC, "mpi_capable": False}], "routes": [{**MPI, "targets": ["theta"]}]}
        )
    with pytest.raises(ValidationError, match="not MPI-capable: \\['fermigrid'\\]"):
        DirectSubmissionPlanner({"targets": [CE, HPC], "routes": [{**MPI, "targets": ["fermigrid"]}]})


def test_route_expressions_are_checked_when_the_channel_is_validated(tmp_path):
    config = {
        "sources": {
            "s": {
                "module": "hepde.modules.generic.table_file",
                "parameters": {"location": "x.csv", "product": "job_manifests"},
            }
        },
        "transforms": {
            "p": {
                "module": "hepde.modules.direct.planner",
                "name": "DirectSubmissionPlanner",
                "parameters": {
                    "targets": [CE],
                    "routes": [
                        {"name": "bad", "jobs": "RequestCpus >", "targets": ["fermigrid"]},
                        {"name": "r2", "jobs": "true", "targets": ["nowhere"]},
                    ],
                },
            }
        },
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    _, problems = validate_paths([str(path)])
    text = "\n".join(str(p) for p in problems)
    assert "transforms.p" in text and "'RequestCpus >' is not a valid ClassAd expression" in text


def test_routing_uses_classad_three_valued_logic():
    frame = pd.DataFrame(
        [{"Owner": "cms", "RequestCpus": 1}, {"Owner": "cms"}, {"Owner": "x", "RequestCpus": 8}]
    )
    routes = [
        Route(name="a", jobs="RequestCpus == 1", targets=["t"]),
        Route(name="b", jobs='RequestCpus >= 1 || Owner == "x"', targets=["t"]),
    ]
    # the second job has no RequestCpus: "undefined" matches nothing, not even `== 1`
    assert list(route_jobs(frame, routes)) == ["a", None, "b"]


def test_actions_in_flight_are_counted_until_a_later_snapshot_shows_them():
    action = {
        "key": "de-k1",
        "kind": "submit",
        "target": "fermigrid",
        "route": "single",
        "count": 2,
        "nodes": 1,
        "sent_at": NOW - 30,
        "expires_at": NOW + 870,
        "send_status": "sent",
        "result_status": None,
        "result_at": None,
    }
    params = {"targets": [CE], "routes": [{**SINGLE, "targets": ["fermigrid"]}]}
    # sent, not yet carried out: 16 cores provided for
    subs, _ = plan(params, block(jobs(20), actions=[action]))
    assert pilots_by(subs) == {("single", "fermigrid", 1): 1}
    # done after the snapshot was taken: still in flight
    done = {**action, "result_status": "done", "result_at": NOW + 10}
    assert pilots_by(plan(params, block(jobs(20), actions=[done]))[0]) == {("single", "fermigrid", 1): 1}
    # a snapshot taken well after the result is the truth (the pilots are not in it: gone)
    assert pilots_by(plan(params, block(jobs(20), actions=[done], taken_at=NOW + 600))[0]) == {
        ("single", "fermigrid", 1): 3
    }
    # failed, expired, dead-lettered, or never sent: no effect, not counted
    for status in ("failed", "expired", "dead_lettered"):
        gone = {**action, "result_status": status, "result_at": NOW}
        assert pilots_by(plan(params, block(jobs(20), actions=[gone]))[0]) == {("single", "fermigrid", 1): 3}
    unsent = {**action, "send_status": "send_failed"}
    assert pilots_by(plan(params, block(jobs(20), actions=[unsent]))[0]) == {("single", "fermigrid", 1): 3}
    # "unknown" (bridge gave up, schedd unreachable): counted until a later snapshot tells
    unknown = {**action, "result_status": "unknown", "result_at": NOW + 5}
    assert pilots_by(plan(params, block(jobs(20), actions=[unknown]))[0]) == {("single", "fermigrid", 1): 1}


def test_pilots_just_started_still_wait_for_their_jobs():
    started = [
        {
            "HepdeTarget": "fermigrid",
            "HepdeRoute": "single",
            "HepdeNodes": 1,
            "JobStatus": 2,
            "EnteredCurrentStatus": NOW - 60,
            "HepdeActionKey": "k",
        }
    ] * 3
    params = {"targets": [CE], "routes": [{**SINGLE, "targets": ["fermigrid"]}]}
    assert pilots_by(plan(params, block(jobs(24), pilots=started))[0]) == {}
    long_running = [dict(p, EnteredCurrentStatus=NOW - 3600) for p in started]
    assert pilots_by(plan(params, block(jobs(24), pilots=long_running))[0]) == {("single", "fermigrid", 1): 3}


def test_ramp_fraction_and_the_channel_cap():
    params = {
        "targets": [CE],
        "routes": [{**SINGLE, "targets": ["fermigrid"]}],
        "ramp_fraction": 0.34,
        "max_submit_per_cycle": 100,
    }
    assert pilots_by(plan(params, block(jobs(80)))[0]) == {("single", "fermigrid", 1): 4}
    capped = dict(params, ramp_fraction=1.0, max_submit_per_cycle=3)
    subs, _ = plan(capped, block(jobs(80)))
    assert subs.iloc[0]["pilots"] == 3 and subs.iloc[0]["limited_by"] == "channel_max_submit_per_cycle"


def test_unrouted_jobs_are_reported():
    _, demand = plan(
        {"targets": [CE], "routes": [{**SINGLE, "targets": ["fermigrid"]}]},
        block(jobs(3) + jobs(2, RequestCpus=4)),
    )
    row = demand.set_index("route").loc["(unrouted)"]
    assert row["idle_jobs"] == 2 and row["why_unserved"] == "no route's expression matches"


# -- MPI jobs submitted themselves, Lumberjack exports and imports ----------------------------------------
MPI_JOB = {
    "ClusterId": 21,
    "ProcId": 0,
    "JobStatus": 1,
    "RequestCpus": 64,
    "WantMPI": True,
    "RequestNodes": 4,
    "QDate": 1_799_000_000,
    "ScheddName": "schedd@users.example",
    "Cmd": "/home/lqcd/bin/su3_rhmd",
    "Arguments": "-i params.in 'a b'",
    "TransferInput": "params.in,/data/lat.cfg",
    "Iwd": "/home/lqcd/run",
}
LJ_HPC = {**HPC, "lumberjack_spool_dir": "/projects/P/lj", "nodes_per_pilot": 2, "mpi_launcher": "aprun"}
LJ = {"name": "lj", "jobs": "Lumberjack =?= true", "targets": ["theta"], "mode": "lumberjack"}


def test_an_mpi_job_is_submitted_itself_with_its_executable_arguments_inputs_and_geometry():
    params = {
        "targets": [{**HPC, "mpi_launcher": "mpiexec"}],
        "routes": [MPI],
        "user_schedds": {"schedd@users.example": "users"},
    }
    subs, _ = plan(params, block([MPI_JOB]))
    (row,) = subs[subs["pilots"] > 0].to_dict(orient="records")
    desc = json.loads(row["submit"])
    assert desc["executable"] == "/usr/libexec/hepde/hepde-mpi-launch"
    assert desc["arguments"] == "\"mpiexec 4 64 su3_rhmd -i params.in 'a b'\""
    assert desc["transfer_input_files"] == "/home/lqcd/bin/su3_rhmd,/home/lqcd/run/params.in,/data/lat.cfg"
    assert (desc["+HostNumber"], desc["+NodeNumber"], desc["batch_runtime"]) == ("4", "256", "3600")
    assert (row["action"], row["user_schedd"], json.loads(row["jobs"])) == ("submit", "users", ["21.0"])
    # the key is the user job's, not the cycle's: a later cycle would send the same one
    again, _ = plan(params, block([MPI_JOB], taken_at=NOW + 600))
    assert again[again["pilots"] > 0]["key"].tolist() == [row["key"]]


def test_jobs_held_by_an_external_manager_or_named_by_an_action_in_flight_are_not_demand():
    taken = {**MPI_JOB, "Managed": "External"}
    other = {**MPI_JOB, "ProcId": 1}
    in_flight = {
        "key": "de-mpi-000000001",
        "kind": "submit",
        "target": "theta",
        "route": "mpi",
        "count": 1,
        "nodes": 4,
        "send_status": "sent",
        "result_status": None,
        "result_at": None,
        "expires_at": NOW + 900,
        "job_ids": json.dumps(["21.1"]),
    }
    subs, demand = plan({"targets": [HPC], "routes": [MPI]}, block([taken, other], actions=[in_flight]))
    assert subs["pilots"].sum() == 0
    assert demand.set_index("route").loc["mpi", "idle_jobs"] == 0
    # the one in flight still counts against the allocation and the queue limits
    subs, _ = plan(
        {"targets": [{**HPC, "max_queued_jobs": 1}], "routes": [MPI]},
        block([{**MPI_JOB, "ProcId": 2}], actions=[in_flight]),
    )
    assert subs["pilots"].sum() == 0 and "max_queued_jobs" in subs.iloc[0]["limited_by"]


def test_lumberjack_groups_idle_jobs_into_exports_of_one_batch_job_each():
    user = [
        {
            "ClusterId": 30,
            "ProcId": i,
            "JobStatus": 1,
            "RequestCpus": 16,
            "Lumberjack": True,
            "ScheddName": "schedd@users.example",
        }
        for i in range(10)
    ]
    subs, demand = plan({"targets": [LJ_HPC], "routes": [LJ]}, block(user))
    rows = subs[subs["action"] == "export"].to_dict(orient="records")
    # 2 nodes x 64 cores = 128 cores: 8 jobs of 16 cores, then the other 2
    assert [len(json.loads(r["jobs"])) for r in rows] == [8, 2]
    assert sorted(j for r in rows for j in json.loads(r["jobs"])) == sorted(f"30.{i}" for i in range(10))
    assert all(r["pilots"] == 1 and r["nodes"] == 2 and r["spool_dir"] == "/projects/P/lj" for r in rows)
    desc = json.loads(rows[0]["submit"])
    assert desc["executable"] == "/usr/libexec/hepde/hepde-lumberjack-pool"
    assert desc["arguments"] == '"aprun 2 64"' and desc["+HostNumber"] == "2"
    assert demand.set_index("route").loc["lj", "unserved_jobs"] == 0
    # the limits bound the groups: one export this cycle, the rest wait
    subs, demand = plan({"targets": [{**LJ_HPC, "max_submit_per_cycle": 1}], "routes": [LJ]}, block(user))
    rows = subs[subs["action"] == "export"].to_dict(orient="records")
    assert len(rows) == 1 and "max_submit_per_cycle" in rows[0]["limited_by"]
    assert demand.set_index("route").loc["lj", "unserved_jobs"] == 2


def test_an_export_whose_batch_job_ended_is_imported_once():
    key = "de-export-00000001"
    exported = [
        {
            "ClusterId": 30,
            "ProcId": i,
            "JobStatus": 1,
            "Managed": "External",
            "HepdeManagedBy": key,
            "ScheddName": "schedd@users.example",
        }
        for i in range(3)
    ]
    done = {
        "key": key,
        "kind": "export",
        "target": "theta",
        "route": "lj",
        "count": 1,
        "nodes": 2,
        "send_status": "sent",
        "result_status": "done",
        "result_at": NOW - 3600,
        "expires_at": NOW - 3000,
        "job_ids": json.dumps([f"30.{i}" for i in range(3)]),
    }
    params = {"targets": [LJ_HPC], "routes": [LJ]}
    subs, _ = plan(params, block(exported, actions=[done]))
    (row,) = subs[subs["action"] == "import"].to_dict(orient="records")
    assert (row["export_key"], row["user_schedd"], row["actions"]) == (key, "users", 1)
    # the batch job still in the pilot schedd's queue: nothing to import yet
    pool_job = {
        "ClusterId": 5,
        "ProcId": 0,
        "JobStatus": 2,
        "HepdeTarget": "theta",
        "HepdeActionKey": key,
        "HepdeNodes": 2,
    }
    subs, _ = plan(params, block(exported, pilots=[pool_job], actions=[done]))
    assert not (subs["action"] == "import").any()
    # an import already sent is not sent again
    sent = {**done, "key": row["key"], "kind": "import", "result_status": None, "job_ids": ""}
    subs, _ = plan(params, block(exported, actions=[done, sent]))
    assert not (subs["action"] == "import").any()


def test_mode_needs_the_targets_it_uses():
    with pytest.raises(
        ValidationError,
        match="Lumberjack route 'lj' may only use batch targets with a 'lumberjack_spool_dir'",
    ):
        DirectSubmissionPlanner({"targets": [HPC], "routes": [LJ]})
    with pytest.raises(ValidationError, match=r"target\(s\) \['fermigrid'\] need an 'executable'"):
        DirectSubmissionPlanner(
            {"targets": [{**CE, "executable": ""}], "routes": [{**SINGLE, "targets": ["fermigrid"]}]}
        )
    # MPI and Lumberjack routes need no pilot executable
    DirectSubmissionPlanner({"targets": [{**LJ_HPC, "executable": ""}], "routes": [LJ, MPI]})


def test_a_user_job_given_back_by_the_bridge_gets_a_new_key():
    params = {"targets": [HPC], "routes": [MPI]}
    first, _ = plan(params, block([MPI_JOB]))
    again, _ = plan(params, block([{**MPI_JOB, "HepdeAttempts": 1}]))
    assert first[first["pilots"] > 0]["key"].tolist() != again[again["pilots"] > 0]["key"].tolist()
