// Example channel: HTCondor-shaped job and slot tables in, pilot requests out.
// Exercises every part of a channel: two sources (independent schedules), two independent
// transforms (run in parallel) feeding a third, a logic engine with facts and rules, and two
// publishers of which the rules select one, both, or none.
local data = 'package://hepde/data/example/';
{
  sources: {
    jobs_manifests: {
      module: 'hepde.modules.generic.table_file',
      parameters: { location: data + 'jobs.csv', product: 'job_manifests' },
      schedule: 60,
    },
    startd_manifests: {
      module: 'hepde.modules.generic.table_file',
      parameters: { location: data + 'slots.csv', product: 'startd_manifests' },
      schedule: 120,
    },
  },
  transforms: {
    job_demand: { module: 'hepde.modules.example.transforms', name: 'IdleJobDemand', parameters: {} },
    slot_capacity: { module: 'hepde.modules.example.transforms', name: 'IdleSlotCapacity', parameters: {} },
    pilot_estimate: {
      module: 'hepde.modules.example.transforms',
      name: 'PilotEstimate',
      parameters: { max_pilots_per_class: 20 },
    },
  },
  logicengines: {
    logicengine1: {
      module: 'decisionengine.framework.logicengine.LogicEngine',
      parameters: {
        facts: {
          queue_seen: 'job_manifests.shape[0] > 0',
          pilots_wanted: 'pilot_requests.requested_pilots.sum() > 0',
          allow_grid: 'True',
        },
        rules: {
          request_pilots: {
            expression: 'queue_seen and pilots_wanted',
            actions: ['pilot_requests_export'],
            facts: ['allow_grid_requests'],
          },
          report_demand: { expression: 'queue_seen', actions: ['demand_export'] },
        },
      },
    },
  },
  publishers: {
    pilot_requests_export: {
      module: 'hepde.modules.generic.table_export',
      parameters: {
        product: 'pilot_requests',
        // a request table: its rows become the decision record's requests per entry (de explain)
        requests: { entry: 'cores', idle: 'requested_pilots', limits: 'limited_by', detail: ['idle_jobs', 'covered_by_idle_slots'] },
      },
    },
    demand_export: { module: 'hepde.modules.generic.table_export', parameters: { product: 'job_demand' } },
  },
}
