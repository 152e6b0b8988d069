"""Small, real transforms of the example channel: idle demand, idle capacity, pilots needed.

They are a deliberately simple pressure model (the full GlideinWMS request computation is its own
module set): idle jobs per (cores) class, idle slots per cores, and the pilots needed to cover the
idle jobs that no idle slot of at least that many cores can take.
"""

from __future__ import annotations

import pandas as pd

from hepde.modules.base import ModuleParameters, Transform

IDLE, RUNNING = 1, 2


@Transform.consumes(job_manifests=pd.DataFrame)
@Transform.produces(job_demand=pd.DataFrame)
class IdleJobDemand(Transform):
    """Idle jobs (``JobStatus == 1``) counted per ``RequestCpus``; also running jobs for context."""

    params: Parameters

    class Parameters(ModuleParameters):
        cores_column: str = "RequestCpus"

    def transform(self, data_block):
        jobs = data_block["job_manifests"]
        col = self.params.cores_column
        if jobs.empty:
            return {
                "job_demand": pd.DataFrame(
                    {
                        "cores": pd.Series(dtype="int64"),
                        "idle_jobs": pd.Series(dtype="int64"),
                        "running_jobs": pd.Series(dtype="int64"),
                    }
                )
            }
        cores = jobs[col].fillna(1).astype("int64")
        status = jobs["JobStatus"].astype("int64")
        demand = (
            pd.DataFrame(
                {
                    "cores": cores,
                    "idle_jobs": (status == IDLE).astype("int64"),
                    "running_jobs": (status == RUNNING).astype("int64"),
                }
            )
            .groupby("cores", as_index=False)
            .sum()
            .sort_values("cores", ignore_index=True)
        )
        return {"job_demand": demand}


@Transform.consumes(startd_manifests=pd.DataFrame)
@Transform.produces(slot_capacity=pd.DataFrame)
class IdleSlotCapacity(Transform):
    """Unclaimed (``State == 'Unclaimed'``) slots counted per ``Cpus``."""

    params: Parameters

    class Parameters(ModuleParameters):
        cores_column: str = "Cpus"

    def transform(self, data_block):
        slots = data_block["startd_manifests"]
        idle = slots[slots["State"] == "Unclaimed"] if not slots.empty else slots
        if idle.empty:
            return {
                "slot_capacity": pd.DataFrame(
                    {"cores": pd.Series(dtype="int64"), "idle_slots": pd.Series(dtype="int64")}
                )
            }
        cap = (
            pd.DataFrame({"cores": idle[self.params.cores_column].astype("int64")})
            .value_counts()
            .rename("idle_slots")
            .reset_index()
            .sort_values("cores", ignore_index=True)
        )
        return {"slot_capacity": cap}


@Transform.consumes(job_demand=pd.DataFrame, slot_capacity=pd.DataFrame)
@Transform.produces(pilot_requests=pd.DataFrame)
class PilotEstimate(Transform):
    """Pilots needed per cores class: idle jobs minus idle slots that fit, largest jobs first, capped."""

    params: Parameters

    class Parameters(ModuleParameters):
        max_pilots_per_class: int = 100
        #: the original's 1/3 ramp attenuation, as configuration
        ramp_fraction: float = 1.0

    def transform(self, data_block):
        demand = data_block["job_demand"].sort_values("cores", ascending=False)
        free = dict(
            zip(data_block["slot_capacity"]["cores"], data_block["slot_capacity"]["idle_slots"], strict=True)
        )
        rows = []
        for cores, idle in zip(demand["cores"], demand["idle_jobs"], strict=True):
            covered = 0
            for size in sorted(s for s in free if s >= cores):
                take = min(free[size], idle - covered)
                free[size] -= take
                covered += take
            uncovered = int(idle - covered)
            wanted = min(
                self.params.max_pilots_per_class, int(uncovered * self.params.ramp_fraction + 0.999999)
            )
            rows.append(
                {
                    "cores": int(cores),
                    "idle_jobs": int(idle),
                    "covered_by_idle_slots": int(covered),
                    "requested_pilots": wanted,
                    "limited_by": "max_pilots_per_class"
                    if wanted < uncovered * self.params.ramp_fraction
                    else "",
                }
            )
        frame = pd.DataFrame(
            rows, columns=["cores", "idle_jobs", "covered_by_idle_slots", "requested_pilots", "limited_by"]
        )
        return {"pilot_requests": frame.sort_values("cores", ignore_index=True)}
