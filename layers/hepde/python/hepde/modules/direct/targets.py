"""Submission targets and the submit descriptions of their pilots.

Two kinds, each a typed model (unknown keys are errors):

* :class:`CETarget` (``kind: "htcondor_ce"``) — an HTCondor-CE such as FermiGrid's: one pilot is one
  grid job ``grid_resource = condor <ce> <ce>:<port>`` asking for ``cores_per_pilot`` cores (also as
  ``+xcount``), memory and ``+maxWallTime``, the attributes HTCondor-CE's job router reads.  Its
  credential is ``token_file``: the path, on the bridge host, of the SciToken (or WLCG token) the
  grid manager presents to the CE — the submit command ``scitokens_file``, stored in the job ad as
  ``ScitokensFile`` (what HTCondor-C uses to authenticate to the CE's schedd and delegates with
  the pilot).  An IDTOKEN is not a job attribute: it is the bridge schedd's own token
  (``token_directory`` in the bridge configuration);
* :class:`BatchTarget` (``kind: "batch"``) — an HPC login node reached over SSH by the grid universe
  ``batch`` type (``grid_resource = batch <system> <user>@<login>``): a pilot is one batch job of
  ``nodes`` whole nodes with ``batch_queue``, ``batch_project`` and ``batch_runtime``; the node
  geometry goes to blahp as ``+HostNumber`` (nodes), ``+SMPGranularity`` (cores per node),
  ``+NodeNumber`` (total cores) and ``+WholeNodes``.  Cobalt (ALCF Theta) has no blahp script
  upstream: the login node needs a site ``cobalt_submit.sh``/``cobalt_status.sh`` pair (see
  ``docs/hpc-modes.md``).

What a batch job runs depends on the route's mode:

* ``pilot`` — the target's ``executable``: the site's pilot (a GlideinWMS ``glidein_startup.sh``, a
  ``condor_master`` wrapper...), on the bridge's executable allow-list.  The project ships no pilot:
  a target used by a pilot route must name one;
* ``mpi`` — the *user's* MPI job itself (:meth:`BatchTarget.mpi_description`): the wrapper
  ``mpi_wrapper`` (``bridge/hepde_bridge/scripts/hepde-mpi-launch``) started by the batch system on
  the allocation's first node runs ``<launcher> <executable> <arguments>`` over ``nodes`` ×
  ``cores_per_node`` ranks (``srun``, ``mpiexec`` or ``aprun``), with the user's executable and input
  files transferred;
* ``lumberjack`` — the in-allocation pool (:meth:`BatchTarget.lumberjack_description`):
  ``lumberjack_executable`` (``bridge/hepde_bridge/scripts/hepde-lumberjack-pool``) runs a personal
  condor over the exported job queue on the allocation's nodes; the bridge adds the export
  directory and the spool path (``lumberjack_spool_dir``/<key>) it exported to.

The bridge stamps the action key, target and route on every job; ``+HepdeNodes`` is set here so the
planner can read a pilot's node count back from the queue snapshot.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from hepde.actions import NODES_ATTR
from hepde.condor.adapter import argument_words, arguments_command
from hepde.modules.base import ModuleParameters

_LOGIN = r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$"
_HOST = r"^[A-Za-z0-9.-]+$"
_ABS_OR_EMPTY = r"^(/[^\s]*)?$"
#: the launcher line of each MPI launcher: nodes, total ranks, ranks per node
MPI_LAUNCHERS = ("srun", "mpiexec", "aprun")


class _Target(ModuleParameters):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    enabled: bool = True
    #: the bridge's logical schedd that submits this target's pilots
    schedd: str = "pilots"
    #: the site's pilot for pilot routes: an absolute path on the bridge host, on its executable
    #: allow-list (the project ships no pilot; empty: this target serves MPI/Lumberjack routes only)
    executable: str = Field(default="", pattern=_ABS_OR_EMPTY)
    arguments: str = ""
    walltime_minutes: int = Field(default=2880, ge=10, le=60 * 24 * 14)
    #: pilots submitted to this target per cycle, at most
    max_submit_per_cycle: int = Field(default=20, ge=0)
    #: extra submit commands (``+DESIRED_Sites``, ``x509userproxy``...): no secrets, paths on the bridge host
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, str]) -> dict[str, str]:
        from hepde.actions import FORBIDDEN_SUBMIT_COMMANDS

        for k in v:
            if k.lower() in FORBIDDEN_SUBMIT_COMMANDS or k.lower() in (
                "universe",
                "grid_resource",
                "executable",
            ):
                raise ValueError(f"'{k}' cannot be set in 'extra'")
            if k.lower() in ("scitokens_file", "use_scitokens", "use_scitoken"):
                raise ValueError(f"'{k}' cannot be set in 'extra': give the target a 'token_file'")
        return v


class CETarget(_Target):
    kind: Literal["htcondor_ce"]
    ce: str = Field(pattern=_HOST)
    port: int = Field(default=9619, ge=1, le=65535)
    cores_per_pilot: int = Field(default=8, ge=1)
    memory_per_pilot_mb: int = Field(default=16000, ge=1)
    #: pilots waiting in the CE (idle) at once, at most
    max_idle_pilots: int = Field(default=50, ge=0)
    #: pilots (idle + running) at once, at most
    max_pilots: int = Field(default=500, ge=0)
    #: the SciToken/WLCG token file (absolute path on the bridge host) the CE is authenticated with:
    #: ``scitokens_file`` → ``ScitokensFile`` in the job ad.  Empty: the bridge host's own credentials
    token_file: str = Field(default="", pattern=r"^(/[^\s]*)?$")

    @property
    def nodes(self) -> int:
        return 1

    @property
    def pilot_cores(self) -> int:
        return self.cores_per_pilot

    @property
    def grid_resource(self) -> str:
        return f"condor {self.ce} {self.ce}:{self.port}"

    def description(self, nodes: int = 1) -> dict[str, str]:
        return {
            "universe": "grid",
            "grid_resource": self.grid_resource,
            "executable": self.executable,
            **({"arguments": self.arguments} if self.arguments else {}),
            "request_cpus": str(self.cores_per_pilot),
            "request_memory": str(self.memory_per_pilot_mb),
            "+xcount": str(self.cores_per_pilot),
            "+maxMemory": str(self.memory_per_pilot_mb),
            "+maxWallTime": str(self.walltime_minutes),
            f"+{NODES_ATTR}": "1",
            **({"scitokens_file": self.token_file} if self.token_file else {}),
            **self.extra,
        }


class BatchTarget(_Target):
    kind: Literal["batch"]
    batch_system: Literal["pbs", "slurm", "cobalt", "lsf", "sge"]
    #: ``user@login-host`` of the SSH (remote GAHP) connection; keys are the bridge host's, never here
    login: str = Field(pattern=_LOGIN)
    queue: str = Field(min_length=1)
    project: str = Field(min_length=1)
    cores_per_node: int = Field(ge=1)
    memory_per_node_mb: int = Field(default=0, ge=0)
    max_nodes_per_job: int = Field(default=1, ge=1)
    #: nodes of one pilot for ordinary (non-MPI) jobs
    nodes_per_pilot: int = Field(default=1, ge=1)
    mpi_capable: bool = False
    #: the allocation (row of ``hpc_allocations``) this target charges; default: the project
    allocation: str = ""
    #: node-hours of the allocation never spent by this channel
    allocation_reserve_node_hours: float = Field(default=0.0, ge=0)
    #: batch jobs waiting in the batch queue at once, at most
    max_queued_jobs: int = Field(default=10, ge=0)
    #: batch jobs (queued + running) at once, at most
    max_jobs: int = Field(default=50, ge=0)
    #: how an MPI job's ranks are started on the allocation's nodes
    mpi_launcher: Literal["srun", "mpiexec", "aprun"] = "srun"
    #: the wrapper that runs the launcher line (``hepde-mpi-launch``, installed on the bridge host)
    mpi_wrapper: str = Field(default="/usr/libexec/hepde/hepde-mpi-launch", pattern=_ABS_OR_EMPTY)
    #: the in-allocation pool's script (``hepde-lumberjack-pool``, installed on the bridge host)
    lumberjack_executable: str = Field(
        default="/usr/libexec/hepde/hepde-lumberjack-pool", pattern=_ABS_OR_EMPTY
    )
    #: where exported jobs run inside the allocation (a shared file system path); needed by
    #: Lumberjack routes: the bridge exports to ``<lumberjack_spool_dir>/<key>``
    lumberjack_spool_dir: str = Field(default="", pattern=_ABS_OR_EMPTY)

    @property
    def nodes(self) -> int:
        return self.nodes_per_pilot

    @property
    def pilot_cores(self) -> int:
        return self.cores_per_node * self.nodes_per_pilot

    @property
    def allocation_key(self) -> str:
        return self.allocation or self.project

    @property
    def grid_resource(self) -> str:
        return f"batch {self.batch_system} {self.login}"

    def node_hours(self, nodes: int) -> float:
        return nodes * self.walltime_minutes / 60.0

    def description(self, nodes: int = 0) -> dict[str, str]:
        nodes = nodes or self.nodes_per_pilot
        desc = {
            "universe": "grid",
            "grid_resource": self.grid_resource,
            "executable": self.executable,
            **({"arguments": self.arguments} if self.arguments else {}),
            "batch_queue": self.queue,
            "batch_project": self.project,
            "batch_runtime": str(self.walltime_minutes * 60),
            "+HostNumber": str(nodes),
            "+SMPGranularity": str(self.cores_per_node),
            "+NodeNumber": str(nodes * self.cores_per_node),
            "+WholeNodes": "true",
            f"+{NODES_ATTR}": str(nodes),
            "+maxWallTime": str(self.walltime_minutes),
        }
        if self.memory_per_node_mb:
            desc["request_memory"] = str(self.memory_per_node_mb)
        desc.update(self.extra)
        return desc

    def _batch(self, nodes: int) -> dict[str, str]:
        desc = self.description(nodes)
        desc.pop("arguments", None)
        return desc

    def mpi_description(self, job: Mapping[str, Any], nodes: int) -> dict[str, str]:
        """The batch job that runs the user's MPI job ``job`` (its ad: ``Cmd``, ``Args`` or
        ``Arguments``, ``TransferInput``, ``Iwd``) over ``nodes`` whole nodes: the wrapper gets the
        launcher, the geometry, the executable's name and the user's arguments; the executable and
        the input files are transferred (relative paths resolved against the job's ``Iwd``)."""
        cmd = str(job.get("Cmd") or "")
        if not cmd:
            raise ValueError("the MPI job has no Cmd (its executable) in the job queue snapshot")
        iwd = str(job.get("Iwd") or "")

        def where(path: str) -> str:
            path = path.strip()
            if posixpath.isabs(path) or not iwd:
                return path
            return posixpath.join(iwd, path)

        inputs = [where(cmd)] + [
            where(p) for p in str(job.get("TransferInput") or "").split(",") if p.strip()
        ]
        args = argument_words(
            str(job["Args"]) if job.get("Args") else None,
            str(job["Arguments"]) if job.get("Arguments") else None,
        )
        ranks_per_node = self.cores_per_node
        desc = self._batch(nodes)
        desc.update(
            {
                "executable": self.mpi_wrapper,
                "arguments": arguments_command(
                    [
                        self.mpi_launcher,
                        str(nodes),
                        str(ranks_per_node),
                        posixpath.basename(cmd),
                        *args,
                    ]
                ),
                "transfer_input_files": ",".join(inputs),
                "should_transfer_files": "YES",
                "when_to_transfer_output": "ON_EXIT",
            }
        )
        if job.get("TransferOutput"):
            desc["transfer_output_files"] = str(job["TransferOutput"])
        return desc

    def lumberjack_description(self, nodes: int) -> dict[str, str]:
        """The batch job of the in-allocation pool over ``nodes`` whole nodes; the bridge adds the
        export directory (``transfer_input_files``, ``initialdir``) and the spool path to the
        arguments (launcher, nodes, cores per node here)."""
        desc = self._batch(nodes)
        desc.update(
            {
                "executable": self.lumberjack_executable,
                "arguments": arguments_command([self.mpi_launcher, str(nodes), str(self.cores_per_node)]),
                "should_transfer_files": "YES",
                "when_to_transfer_output": "ON_EXIT_OR_EVICT",
                # the pool stops 10 minutes before the walltime so the queue gets back
                "environment": f'"HEPDE_LUMBERJACK_SECONDS={self.walltime_minutes * 60}"',
            }
        )
        return desc


Target = Annotated[CETarget | BatchTarget, Field(discriminator="kind")]
