"""The direct-submission channel's modules: pilots submitted straight to CEs and HPC batch systems.

No GlideinWMS factory in the path: the channel decides how many pilots to submit where, from the job
queue and the targets' state, and publishes submit actions that the on-prem condor bridge carries
out through the grid universe of its schedd:

* FermiGrid-style HTCondor-CEs: ``grid_resource = condor <ce> <ce>:9619``;
* Theta-class HPC: ``grid_resource = batch <pbs|slurm|cobalt|...> <user>@<login>`` (SSH), with nodes,
  walltime, queue and project, never beyond the allocation hours left; MPI requests as one
  multi-node batch job, only to MPI-capable targets.

* :mod:`~hepde.modules.direct.targets` — target configuration and submit descriptions;
* :mod:`~hepde.modules.direct.routing` — job routes: ClassAd expressions evaluated with ``classad2``;
* :mod:`~hepde.modules.direct.planner` — ``DirectSubmissionPlanner`` (the decision);
* :mod:`~hepde.modules.direct.sources` — ``QueueSnapshot`` (bridge snapshots), ``BridgeActionLog``;
* :mod:`~hepde.modules.direct.publishers` — ``BridgeSubmitPublisher`` (actions on the bridge's queue).
"""
