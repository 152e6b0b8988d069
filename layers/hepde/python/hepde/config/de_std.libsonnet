// de_std: combine the module sections of several channel configurations.
//
// Same contract as the original Decision Engine's de_std.libsonnet, so its configurations work
// unchanged.  Typical use, a channel that reuses the whole pipeline of another one:
//
//   local de_std = import 'de_std.libsonnet';
//   local channels = [import 'job_classification.libsonnet'];
//   {
//     sources: de_std.sources_from(channels) { my_source: { ... } },
//     transforms: de_std.transforms_from(channels) { ... },
//     publishers: de_std.publishers_from(channels) { ... },
//   }
//
// Rules:
// * the same key in several configurations is fine when the entries are equal (they describe the
//   same module, which then runs once and is shared);
// * the same key with different entries is an error naming the conflicting keys;
// * sources_from leaves out sources whose `parameters` hold `source_channel` (the 1.x SourceProxy
//   entries, which the shared-source model replaces);
// * a configuration without the section contributes nothing.

local has_param(entry, param) =
  std.isObject(entry)
  && std.objectHas(entry, 'parameters')
  && std.isObject(entry.parameters)
  && std.objectHas(entry.parameters, param);

// Entries of `section` that are kept (all of them unless `skip_param` names a parameter to drop on).
local kept(section, skip_param) = {
  [key]: section[key]
  for key in std.objectFields(section)
  if skip_param == null || !has_param(section[key], skip_param)
};

// Add the kept entries of `section` to the accumulated `combined` object, refusing conflicts.
local add(combined, section, skip_param) =
  local incoming = kept(section, skip_param);
  local conflicting = [
    key
    for key in std.objectFields(incoming)
    if std.objectHas(combined, key) && combined[key] != incoming[key]
  ];
  if std.length(conflicting) > 0 then
    error 'An error occurred while combining configurations.\n'
          + 'The following keys have conflicting values: ' + std.toString(conflicting)
  else
    combined + incoming;

local combine(configs, field, skip_param=null) =
  std.foldl(
    function(combined, config)
      add(combined, if std.objectHas(config, field) then config[field] else {}, skip_param),
    configs,
    {}
  );

{
  // The `sources` of every configuration in `arr`, without SourceProxy entries.
  sources_from(arr):: combine(arr, 'sources', skip_param='source_channel'),
  // The `transforms` of every configuration in `arr`.
  transforms_from(arr):: combine(arr, 'transforms'),
  // The `publishers` of every configuration in `arr`.
  publishers_from(arr):: combine(arr, 'publishers'),
}
