"""Original module paths of the HTCondor family → this project's classes."""

ALIASES: dict[str, str] = {
    "decisionengine_modules.htcondor.sources.job_q": "hepde.modules.htcondor.sources:JobQ",
    "decisionengine_modules.htcondor.sources.slots": "hepde.modules.htcondor.sources:StartdManifests",
}

ORIGINAL_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "decisionengine_modules.htcondor.sources.job_q": ("JobQ",),
    "decisionengine_modules.htcondor.sources.slots": ("StartdManifests",),
}
