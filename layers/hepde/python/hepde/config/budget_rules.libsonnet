// Budget rules: stop new requests to a provider whose budget guard is not ok.
//
// The BudgetGuard transform (hepde.modules.cloud.budget) writes `Budget_Guard` and one boolean
// product per provider (`aws_budget_ok`, `gce_budget_ok`, `nersc_allocation_ok`).  These facts and
// rules turn them into the `allow_<type>_requests` facts that request publishers honour (AWS -> aws,
// GCE -> gce, NERSC -> lcf, as the original's fe_group_classads gating), keep each check as its own fact
// (so the decision record shows *why*), and run a report publisher when a provider is stopped (its
// summary carries the reason into the decision record).
//
//   local budget = import 'budget_rules.libsonnet';
//   {
//     transforms: { budget_guard: budget.guard([{ provider: 'AWS', budget: 50000, spent: 12000,
//                                                burn_rate: { product: 'AWS_Burn_Rate', column: 'BurnRate' },
//                                                target_burn_rate: 40 }]) },
//     logicengines: { le: budget.logicengine(['aws'], report='budget_report') },
//     publishers: { budget_report: budget.report },
//   }
//
// Do not produce `allow_<type>_requests` from another rule as well: any true row lets requests
// through.  Put other conditions in `when` (a fact expression ANDed with the budget fact).
{
  local lib = self,

  // provider key -> BudgetGuard provider name, its boolean product/fact, and the request type it gates
  providers:: {
    aws: { provider: 'AWS', fact: 'aws_budget_ok', request_type: 'aws' },
    gce: { provider: 'GCE', fact: 'gce_budget_ok', request_type: 'gce' },
    nersc: { provider: 'NERSC', fact: 'nersc_allocation_ok', request_type: 'lcf' },
  },

  local check(provider, column) = "Budget_Guard.query(\"Provider == '%s'\").%s.all()" % [provider, column],

  // facts: the guard's verdict per provider, and each of its checks
  facts(keys=['aws', 'gce', 'nersc'])::
    { [lib.providers[k].fact]: lib.providers[k].fact for k in keys }
    + { [k + '_hard_limit_ok']: check(lib.providers[k].provider, 'HardLimitOk') for k in keys }
    + { [k + '_burn_rate_ok']: check(lib.providers[k].provider, 'BurnRateOk') for k in keys }
    + { [k + '_forecast_ok']: check(lib.providers[k].provider, 'ForecastOk') for k in keys },

  // rules: `<key>_within_budget` produces allow_<type>_requests; false -> the report publisher runs
  rules(keys=['aws', 'gce', 'nersc'], report=null, when={})::
    {
      [k + '_within_budget']: {
        expression: if std.objectHas(when, k) then '(%s) and (%s)' % [lib.providers[k].fact, when[k]]
        else lib.providers[k].fact,
        facts: ['allow_' + lib.providers[k].request_type + '_requests'],
        false_actions: if report == null then [] else [report],
      }
      for k in keys
    },

  // a whole logic engine; `facts`/`rules` add the channel's own
  logicengine(keys=['aws', 'gce', 'nersc'], report=null, when={}, facts={}, rules={}):: {
    module: 'decisionengine.framework.logicengine.LogicEngine',
    parameters: { facts: lib.facts(keys) + facts, rules: lib.rules(keys, report, when) + rules },
  },

  // the transform and the report publisher
  guard(providers):: { module: 'hepde.modules.cloud.budget', name: 'BudgetGuard', parameters: { providers: providers } },
  report:: { module: 'hepde.modules.cloud.budget', name: 'BudgetReport', parameters: {} },
}
