// The GlideinWMS frontend description of the HTC pilot channel: the content of the original's
// glideinwms.libsonnet (contrib config template EL9), typed and validated by the glidein-request
// transform.  Credentials are references (a path, s3:// or package:// location), never secrets.
// Values may be strings, as GlideinWMS writes them, or numbers.
{
  frontend_name: 'hepcloud-de',
  config: {
    idle_vms_total: { curb: '4000', max: '20000' },
    idle_vms_total_global: { curb: '4000', max: '20000' },
    running_glideins_total: { curb: '180000', max: '200000' },
    running_glideins_total_global: { curb: '180000', max: '200000' },
  },
  match: {
    factory: {
      collectors: [
        {
          DN: '/DC=org/DC=example/CN=factory.example.org',
          factory_identity: 'gfactory@factory.example.org',
          my_identity: 'decisionengine_service@factory.example.org',
          node: 'factory.example.org',
        },
      ],
    },
  },
  security: {
    proxy_selection_plugin: 'ProxyAll',
    security_name: 'decisionengine_service',
    sym_key: 'aes_256_cbc',
    credentials: [
      {
        absfname: 'package://hepde/data/htc/credentials/frontend.scitoken',
        security_class: 'frontend',
        trust_domain: 'grid',
        type: 'scitoken',
      },
    ],
  },
  stage: { web_base_url: 'https://de.example.org/vofrontend/stage' },
  attrs: {
    GLIDECLIENT_Rank: { value: '1', type: 'string', parameter: 'True', glidein_publish: 'False', job_publish: 'False' },
    USE_MATCH_AUTH: { value: 'True', type: 'string', parameter: 'True', glidein_publish: 'False', job_publish: 'False' },
  },
  local group(extra={}, limits={}) = {
    enabled: 'True',
    config: limits + {
      idle_glideins_per_entry: { max: '100', reserve: '5' },
      idle_vms_per_entry: { curb: '5', max: '100' },
      idle_vms_total: { curb: '2000', max: '10000' } + std.get(limits, 'idle_vms_total', {}),
      running_glideins_per_entry: { max: '10000', min: '0', relative_to_queue: '1.15' },
      running_glideins_total: { curb: '90000', max: '100000' },
      // new in this project (defaults shown): ramp-up, per-cycle caps, what an idle slot is
      decision_engine: {
        ramp_up_attenuation: 3,
        max_new_idle_per_entry: null,
        max_new_idle_per_group: null,
        usable_idle_slots: 'fits_queued_jobs',
        usable_slot_min_memory_mb: 0,
      } + extra,
    },
  },
  groups: {
    // the sample pool's small groups: a low idle curb and a per-cycle cap show limits being hit
    cms_main: group(limits={ idle_vms_total: { curb: '20', max: '10000' } }),
    cms_multicore: group({ max_new_idle_per_group: 8 }),
    cms_gpu: group({ max_new_idle_per_entry: 10 }),
    cms_hpc: group(),
  },
}
