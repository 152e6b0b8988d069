// Example channel: cloud and HPC economics with budget guards, runnable offline (`de run`).
//
// Provider snapshots (spot prices, occupancy, factory entries, NERSC allocation) come from bundled
// files under hepde/data/cloud/; in production swap each for the live source named in the comment.
// The transforms are the original's AWS/GCE/NERSC figures of merit and burn rates (by their original
// module paths), plus the budget guard; the logic engine is the default budget rule set: a provider
// that crosses its limit gets allow_<type>_requests = false, and the budget report publisher puts the
// reason into the decision record.
local burn_rate_metric(product, provider) = {
  module: 'hepde.modules.generic.metrics',
  parameters: { product: product, metric: 'BurnRate', value_column: 'BurnRate', unit: 'None',
                dimensions: { provider: provider }, aggregate: 'last' },
};
local budget = import 'budget_rules.libsonnet';
local data = 'package://hepde/data/cloud/';
local table(file, product, schedule=300) = {
  module: 'hepde.modules.generic.table_file',
  parameters: { location: data + file, product: product },
  schedule: schedule,
};
local export(product) = { module: 'hepde.modules.generic.table_export', parameters: { product: product } };
{
  sources: {
    // live: decisionengine_modules.AWS.sources.AWSSpotPrice {spot_price_configuration: ...}
    aws_spot_prices: table('aws_spot_prices.csv', 'provisioner_resource_spot_prices'),
    // live: decisionengine_modules.AWS.sources.AWSOccupancy {occupancy_configuration: ...}
    aws_occupancy: table('aws_occupancy.csv', 'AWS_Occupancy'),
    aws_performance: {
      module: 'decisionengine_modules.AWS.sources.AWSInstancePerformance',
      parameters: { data_file: data + 'aws_instance_performance.csv' },
      schedule: 3600,
    },
    // live: the glideinwms factory entries source
    factory_entries: table('factory_entries.csv', 'Factory_Entries'),
    // live: decisionengine_modules.GCE.sources.GceOccupancy {project, credentials: {secrets_manager: ...}}
    gce_occupancy: table('gce_occupancy.csv', 'GCE_Occupancy'),
    gce_performance: {
      module: 'decisionengine_modules.GCE.sources.GCEInstancePerformance',
      parameters: { csv_file: data + 'gce_instance_performance.csv' },
      schedule: 3600,
    },
    // live: decisionengine_modules.NERSC.sources.NerscSFApi {accounts: {uscms: {client_id, private_key: {env: ...}}}}
    nersc_allocation: table('nersc_allocation.json', 'Nersc_Allocation_SFAPI', 3600),
    nersc_performance: {
      module: 'decisionengine_modules.NERSC.sources.NerscInstancePerformance',
      parameters: { csv_file: data + 'nersc_instance_performance.csv' },
      schedule: 3600,
    },
  },
  transforms: {
    aws_entry_data: { module: 'decisionengine_modules.glideinwms.transforms.gwms_to_aws_data', parameters: {} },
    aws_figure_of_merit: { module: 'decisionengine_modules.AWS.transforms.FigureOfMerit', parameters: {} },
    aws_burn_rate: { module: 'decisionengine_modules.AWS.transforms.AwsBurnRate', parameters: {} },
    gce_figure_of_merit: { module: 'decisionengine_modules.GCE.transforms.GceFigureOfMerit', parameters: {} },
    gce_burn_rate: { module: 'decisionengine_modules.GCE.transforms.GceBurnRate', parameters: {} },
    nersc_figure_of_merit: { module: 'decisionengine_modules.NERSC.transforms.NerscFigureOfMerit', parameters: {} },
    budget_guard: budget.guard([
      {
        provider: 'AWS',
        budget: 50000,
        spent: 12000,
        burn_rate: { product: 'AWS_Burn_Rate', column: 'BurnRate' },
        target_burn_rate: 40,
        min_hours_left: 168,
      },
      {
        provider: 'GCE',
        budget: 20000,
        spent: 1500,
        burn_rate: { product: 'GCE_Burn_Rate', column: 'BurnRate' },
        target_burn_rate: 10,
      },
      {
        provider: 'NERSC',
        unit: 'hours',
        budget: { product: 'Nersc_Allocation_SFAPI', where: { repo_name: 'm2612' }, column: 'project_hours_given' },
        spent: { product: 'Nersc_Allocation_SFAPI', where: { repo_name: 'm2612' }, column: 'project_hours_used' },
        burn_rate: 40,  // allocation hours per hour now being charged
        min_hours_left: 4000,  // keep requesting only while the allocation lasts ~half a year
      },
    ]),
  },
  logicengines: {
    logicengine1: budget.logicengine(
      ['aws', 'gce', 'nersc'],
      report='budget_report',
      facts={ foms_known: 'AWS_Figure_Of_Merit.shape[0] > 0' },
      rules={ publish_figures: { expression: 'foms_known',
                                 actions: ['aws_fom_export', 'budget_export', 'aws_burn_rate_metric', 'gce_burn_rate_metric'] } },
    ),
  },
  publishers: {
    aws_fom_export: export('AWS_Figure_Of_Merit'),
    budget_export: export('Budget_Guard'),
    budget_report: budget.report,
    // burn rates as CloudWatch metrics (EMF): the dashboard's "burn rate by provider" widget
    aws_burn_rate_metric: burn_rate_metric('AWS_Burn_Rate', 'AWS'),
    gce_burn_rate_metric: burn_rate_metric('GCE_Burn_Rate', 'GCE'),
  },
}
