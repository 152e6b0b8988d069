// Direct submission: pilots straight to a FermiGrid HTCondor-CE and a Theta-class HPC system (no
// GlideinWMS factory). The channel decides in AWS; the on-prem condor bridge (de-bridge) submits
// through its schedd's grid universe and uploads the queue snapshots this channel reads.
//
// `de run channels/direct_submission.jsonnet` runs it on the bundled sample data (snapshots taken
// once, hence `max_age: null`). In a deployment, point `snapshots` at 's3://{bucket}/snapshots' (the
// products bucket, where the bridge uploads), set `max_age` (e.g. 600 s for a bridge pushing every
// 60 s), and drop `create_queue_if_missing`. See docs/bridge.md and docs/hpc-modes.md.
local snapshots = 'package://hepde/data/direct/snapshots';
local pilot_schedd = 'schedd@bridge.example';

local targets = [
  {
    name: 'fermigrid',
    kind: 'htcondor_ce',  // grid_resource = condor <ce> <ce>:9619
    ce: 'fermigridce01.fnal.gov',
    // the site's pilot (the project ships none): on the bridge schedd's executable allow-list
    executable: '/usr/local/libexec/glidein_startup.sh',
    cores_per_pilot: 8,
    memory_per_pilot_mb: 16000,
    walltime_minutes: 2880,
    max_idle_pilots: 20,
    max_pilots: 200,
    max_submit_per_cycle: 10,
  },
  {
    name: 'theta',
    kind: 'batch',  // grid_resource = batch cobalt <user>@<login>, over SSH
    batch_system: 'cobalt',
    login: 'hepcloud@thetalogin.alcf.anl.gov',
    executable: '/usr/local/libexec/glidein_startup.sh',  // pilots of the multicore/single_core routes
    // MPI jobs run themselves under this launcher (hepde-mpi-launch); Lumberjack routes would export
    // into lumberjack_spool_dir (see docs/hpc-modes.md)
    mpi_launcher: 'aprun',
    lumberjack_spool_dir: '/projects/HEPCloud_Theta/lumberjack',
    queue: 'default',
    project: 'HEPCloud_Theta',
    cores_per_node: 64,
    memory_per_node_mb: 192000,
    max_nodes_per_job: 128,
    walltime_minutes: 360,
    mpi_capable: true,
    allocation_reserve_node_hours: 4,
    max_queued_jobs: 4,
    max_jobs: 8,
    max_submit_per_cycle: 4,
  },
];

// Which jobs may go where: ClassAd expressions (classad2), tried in order; checked by `de validate`.
local routes = [
  // MPI jobs are submitted themselves (executable, arguments, inputs, nodes) as one batch job each
  { name: 'mpi', jobs: 'WantMPI =?= true', targets: ['theta'], mode: 'mpi' },
  { name: 'multicore', jobs: 'RequestCpus > 1 && RequestCpus <= 8', targets: ['fermigrid', 'theta'] },
  { name: 'single_core', jobs: 'RequestCpus == 1 && member(Owner, {"cms", "dune", "nova"})', targets: ['fermigrid', 'theta'] },
];

{
  schedule: 60,  // a cycle a minute
  sources: {
    direct_user_jobs: {
      module: 'hepde.modules.direct.sources',
      name: 'QueueSnapshot',
      parameters: { origins: ['schedd@users.example'], product: 'job_manifests', location: snapshots, max_age: null },
      schedule: 30,
    },
    direct_pilot_jobs: {
      module: 'hepde.modules.direct.sources',
      name: 'QueueSnapshot',
      parameters: { origins: [pilot_schedd], product: 'pilot_manifests', location: snapshots, max_age: null },
      schedule: 30,
    },
    // what this channel already asked the bridge for: read at every cycle (a schedule shorter than any
    // cycle), so a cycle
    // never submits again what the previous one requested
    direct_submission_actions: {
      module: 'hepde.modules.direct.sources',
      name: 'BridgeActionLog',
      parameters: { channel: 'direct_submission' },
      schedule: 0.001,
    },
    direct_hpc_allocations: {
      module: 'hepde.modules.generic.table_file',
      parameters: { location: 'package://hepde/data/direct/allocations.csv', product: 'hpc_allocations' },
      schedule: 3600,
    },
  },
  transforms: {
    planner: {
      module: 'hepde.modules.direct.planner',
      name: 'DirectSubmissionPlanner',
      parameters: { targets: targets, routes: routes, ramp_fraction: 1.0, max_submit_per_cycle: 20 },
    },
  },
  logicengines: {
    logicengine1: {
      module: 'decisionengine.framework.logicengine.LogicEngine',
      parameters: {
        facts: {
          allow_direct_submission: 'True',
          pilots_wanted: 'pilot_submissions.actions.sum() > 0',
        },
        rules: {
          submit_pilots: { expression: 'allow_direct_submission and pilots_wanted', actions: ['bridge_submit'] },
        },
      },
    },
  },
  publishers: {
    bridge_submit: {
      module: 'hepde.modules.direct.publishers',
      name: 'BridgeSubmitPublisher',
      parameters: { action_ttl: 900, create_queue_if_missing: true },
    },
  },
}
