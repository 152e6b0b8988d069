// The HTC pilot channel: pressure-based glidein provisioning, as HEPCloud runs it in production
// (contrib config template EL9, resource_request.jsonnet + job_classification.libsonnet), with the
// ORIGINAL module paths.  Inputs are the condor bridge's snapshots; here the bundled sample
// (de synth --jobs 3000 --slots 2000 --entries 40 --seed 7).  In AWS point snapshot_location at
// s3://<bucket>/snapshots and set snapshot_max_age (e.g. 900); publishers use advertise_via: 'bridge'.
//
// Differences from the production template, on purpose: one producer of Factory_Entries (the
// template's EmptySource stub and FactoryEntriesSource both produced it); the frontend description is
// a parameter of the glidein-request transform instead of a de_frontend_config file; source keys are
// prefixed htc_ (sources are shared by key across channels: the example channel owns jobs_manifests).
local snapshots = 'package://hepde/data/htc/snapshots';
local frontend = import 'htc_glideinwms.libsonnet';
local budget = import 'budget_rules.libsonnet';
local job_types = ['Production', 'Processing', 'Analysis', 'Merge'];
local regions = ['T1_US', 'T2_US', 'T2_DE', 'T2_IT', 'T2_FR', 'T2_UK', 'T2_CH', 'T2_ES', 'T3_US', 'T2_BR', 'T2_IN', 'T2_KR', 'T2_CN'];
local classes = [
  { job: 'RequestCpus == 1 and RequestGPUs == 0', site: 'GLIDEIN_CPUS >= 1', group: 'cms_main' },
  { job: 'RequestCpus > 1 and RequestCpus <= 4 and RequestGPUs == 0', site: 'GLIDEIN_CPUS >= 4', group: 'cms_multicore' },
  { job: 'RequestCpus == 8 and RequestGPUs == 0', site: 'GLIDEIN_CPUS >= 8', group: 'cms_multicore' },
  { job: 'RequestGPUs > 0', site: 'GLIDEIN_GPUs > 0', group: 'cms_gpu' },
];
{
  sources: {
    htc_jobs_manifests: {
      module: 'decisionengine_modules.htcondor.sources.job_q',
      parameters: {
        collector_host: 'pool.example.org',
        schedds: ['schedd%d@submit.example.org' % i for i in std.range(0, 7)],
        constraint: 'True',
        classad_attrs: ['ClusterId', 'ProcId', 'JobStatus', 'RequestCpus', 'RequestMemory', 'RequestGPUs', 'CMS_JobType',
                        'DESIRED_Sites', 'EnteredCurrentStatus', 'ServerTime', 'MaxWallTimeMins', 'x509userproxy',
                        'x509UserProxyFirstFQAN', 'RemoteHost', 'VO'],
        correction_map: { RequestGPUs: 0, RequestMemory: 0, x509userproxy: '', x509UserProxyFirstFQAN: '', CMS_JobType: '' },
        snapshot_location: snapshots,
        snapshot_max_age: null,
      },
      schedule: 60,
    },
    htc_startd_manifests: {
      module: 'decisionengine_modules.htcondor.sources.slots',
      parameters: {
        collector_host: 'pool.example.org',
        classad_attrs: ['Name', 'SlotType', 'Cpus', 'TotalCpus', 'GPUs', 'GLIDECLIENT_NAME', 'GLIDEIN_Entry_Name',
                        'GLIDEIN_ENTRY_NAME', 'GLIDEIN_FACTORY', 'GLIDEIN_Factory', 'GLIDEIN_Name', 'GLIDEIN_Schedd',
                        'GLIDEIN_Site', 'State', 'Activity', 'Memory', 'GLIDEIN_GridType', 'TotalSlots', 'TotalSlotCpus',
                        'GLIDEIN_CredentialIdentifier'],
        correction_map: { GPUs: 0, Memory: 0, TotalSlots: 0, TotalSlotCpus: 0 },
        snapshot_location: snapshots,
        snapshot_max_age: null,
      },
      schedule: 320,
    },
    htc_factory_entries: {
      module: 'decisionengine_modules.glideinwms.sources.factory_entries',
      parameters: {
        factories: [{ collector_host: 'factory.example.org', classad_attrs: [],
                      correction_map: { GLIDEIN_Resource_Slots: '', GLIDEIN_CMSSite: '', GLIDEIN_CPUS: 1, GLIDEIN_GPUs: 0 } }],
        max_retries: 3,
        retry_interval: 2,
        snapshot_location: snapshots,
        snapshot_max_age: null,
      },
      schedule: 120,
    },
    htc_factory_global: {
      module: 'decisionengine_modules.glideinwms.sources.factory_global',
      parameters: {
        factories: [{ collector_host: 'factory.example.org', classad_attrs: [] }],
        snapshot_location: snapshots,
        snapshot_max_age: null,
      },
      schedule: 300,
    },
    // the factory's glidefactoryclient ads: held/idle/running pilots per entry for this frontend (the
    // circuit breaker's input; the bundled sample has one entry holding 60 pilots)
    htc_factory_client: {
      module: 'decisionengine_modules.glideinwms.sources.factory_client',
      parameters: {
        collector_host: 'factory.example.org',
        snapshot_location: snapshots,
        snapshot_max_age: null,
      },
      schedule: 120,
    },
    // AWS spend from Cost Explorer (ce.get_cost_and_usage); offline the bundled recorded response, in AWS
    // drop response_file (the Lambda role needs ce:GetCostAndUsage)
    htc_aws_spend: {
      module: 'hepde.modules.cloud.aws.spend',
      name: 'AWSCostExplorerSpend',
      parameters: { response_file: 'package://hepde/data/cloud/cost_explorer_month.json' },
      schedule: 3600,
    },
    htc_aws_fom_stub: {
      module: 'decisionengine.framework.modules.EmptySource',
      parameters: { data_product_name: 'AWS_Figure_Of_Merit' },
    },
    htc_gce_fom_stub: {
      module: 'decisionengine.framework.modules.EmptySource',
      parameters: { data_product_name: 'GCE_Figure_Of_Merit' },
    },
    htc_nersc_fom_stub: {
      module: 'decisionengine.framework.modules.EmptySource',
      parameters: { data_product_name: 'Nersc_Figure_Of_Merit' },
    },
  },
  transforms: {
    t_job_categorization: {
      module: 'decisionengine_modules.glideinwms.transforms.job_clustering',
      parameters: {
        match_expressions: [
          {
            job_bucket_criteria_expr: "CMS_JobType == '%s' and %s" % [jt, c.job],
            site_bucket_criteria_expr: ["GLIDEIN_CMSSite.str.startswith('%s') and %s" % [r, c.site] for r in regions],
            frontend_group: c.group,
          }
          for jt in job_types
          for c in classes
        ],
        job_q_expr: 'JobStatus==1',
      },
    },
    GridFigureOfMerit: {
      module: 'decisionengine_modules.glideinwms.transforms.grid_figure_of_merit',
      parameters: { price_performance: 0.9 },
    },
    glideinwms_requests: {
      module: 'decisionengine_modules.glideinwms.transforms.glidein_requests',
      parameters: {
        accounting_group: 'cms',
        fe_config_group: 'cms_main',
        job_filter: 'ClusterId > 0',
        entry_types: ['LCF', 'Grid', 'GCE', 'AWS'],
        frontend: frontend,
        // decision policies (docs/channels-htc.md); defaults shown where they matter
        policies: {
          factory_client: true,  // the breaker reads factoryclient_manifests
          circuit_breaker: { min_failed: 5, failure_fraction: 0.5, cooldown_seconds: 1800, probe_pilots: 2 },
          scale_down: { mode: 'IDLE', hysteresis_cycles: 3, max_fraction_per_cycle: 0.1 },
          hold_steady: { max_seconds: 7200 },
        },
      },
    },
    // the budget guard: AWS requests stop when the month's spend reaches budget - reserve
    budget_guard: budget.guard([
      { provider: 'AWS', budget: 50000, reserve: 1000, spent: { product: 'AWS_Spend', column: 'Amount' }, burn_rate: null,
        period_start: '2026-12-01T00:00:00Z' },
    ]),
  },
  logicengines: {
    logicengine1: {
      module: 'decisionengine.framework.logicengine.LogicEngine',
      parameters: {
        facts: {
          // publish while there are jobs, or while a scale-down releases idle pilots (an empty queue too)
          publish_requests: '(glidein_request_summary["jobs"] > 0) or (glidein_request_summary["pilots_released"] > 0)',
          allow_grid: '(True)',
          allow_lcf: '(True)',
          // AWS requests are gated by the budget guard's product (no GCE rule: GCE requests stay 0)
          allow_aws: 'aws_budget_ok',
        },
        rules: {
          publish_glidein_requests: {
            expression: '(publish_requests)',
            actions: ['glideclientglobal_manifests', 'glideclient_manifests'],
            facts: [],
          },
          publish_grid_requests: { expression: '(allow_grid)', actions: [], facts: ['allow_grid_requests'] },
          publish_lcf_requests: { expression: '(allow_lcf)', actions: [], facts: ['allow_lcf_requests'] },
          publish_aws_requests: { expression: '(allow_aws)', actions: [], facts: ['allow_aws_requests'] },
        },
      },
    },
  },
  publishers: {
    glideclientglobal_manifests: {
      module: 'decisionengine_modules.glideinwms.publishers.glideclientglobal',
      parameters: { advertise_via: 'none' },
    },
    glideclient_manifests: {
      module: 'decisionengine_modules.glideinwms.publishers.fe_group_classads',
      parameters: { advertise_via: 'none' },
    },
  },
}
