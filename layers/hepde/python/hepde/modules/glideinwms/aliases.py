"""Original module paths of the GlideinWMS family → this project's classes."""

_M = "decisionengine_modules.glideinwms"
_H = "hepde.modules.glideinwms"

ALIASES: dict[str, str] = {
    f"{_M}.sources.factory_entries": f"{_H}.sources:FactoryEntries",
    f"{_M}.sources.factory_global": f"{_H}.sources:FactoryGlobalManifests",
    f"{_M}.sources.factory_client": f"{_H}.sources:FactoryClientManifests",
    f"{_M}.transforms.job_clustering": f"{_H}.transforms:JobClustering",
    f"{_M}.transforms.grid_figure_of_merit": f"{_H}.transforms:GridFigureOfMerit",
    f"{_M}.transforms.glidein_requests": f"{_H}.transforms:GlideinRequestManifests",
    f"{_M}.publishers.fe_group_classads": f"{_H}.publishers:GlideinWMSManifests",
    f"{_M}.publishers.glideclientglobal": f"{_H}.publishers:GlideClientGlobalManifests",
}

ORIGINAL_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    f"{_M}.sources.factory_entries": ("FactoryEntries",),
    f"{_M}.sources.factory_global": ("FactoryGlobalManifests",),
    f"{_M}.sources.factory_client": ("FactoryClientManifests",),
    f"{_M}.transforms.job_clustering": ("JobClustering",),
    f"{_M}.transforms.grid_figure_of_merit": ("GridFigureOfMerit",),
    f"{_M}.transforms.glidein_requests": ("GlideinRequestManifests",),
    f"{_M}.publishers.fe_group_classads": ("GlideinWMSManifests",),
    f"{_M}.publishers.glideclientglobal": ("GlideClientGlobalManifests",),
}
