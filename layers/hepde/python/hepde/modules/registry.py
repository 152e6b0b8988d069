"""Module resolution: one alias table from the original's module paths to this project's.

A channel entry ``{module: PATH, name: CLASS?}`` resolves as follows:

1. ``PATH`` is looked up in :data:`ALIASES`; an alias is ``"our.module.path"`` or
   ``"our.module.path:DefaultClass"``.  Original paths that have no re-implementation yet are in
   :data:`NOT_YET_IMPLEMENTED` and give a clear error instead of an ``ImportError``.
2. Otherwise ``PATH`` is imported as it is: this project's own modules and third-party modules
   written against :mod:`hepde.modules.base` work by import path.
3. The class is ``name`` if given, else the alias's default class, else — as in the original — the
   only subclass of the kind's base class defined in that module.
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache
from types import ModuleType

from hepde.errors import ModuleResolutionError
from hepde.modules.base import LogicEngineBase, Module, Publisher, Source, Transform

KIND_BASES: dict[str, type[Module]] = {
    "source": Source,
    "transform": Transform,
    "logicengine": LogicEngineBase,
    "publisher": Publisher,
}

_ORIG_TESTS = "decisionengine.framework.tests"
_OUR_TESTS = "hepde.modules.testing.framework"

#: original module path -> this project's module path (optionally ``:DefaultClass``)
ALIASES: dict[str, str] = {
    "decisionengine.framework.logicengine.LogicEngine": "hepde.logicengine.engine:LogicEngine",
    "decisionengine.framework.modules.EmptySource": "hepde.modules.generic.empty_source:EmptySource",
    # the original's framework test modules, so its test channel configs run unchanged
    **{
        f"{_ORIG_TESTS}.{cls}": f"{_OUR_TESTS}:{cls}"
        for cls in (
            "SourceNOP",
            "TransformNOP",
            "PublisherNOP",
            "IntSource",
            "DynamicSource",
            "DynamicTransform",
            "DynamicPublisher",
            "ABTransform",
            "BATransform",
            "ErrorOnAcquire",
            "ErringPublisher",
            "FailingPublisher",
            "SourceWithMissingProduces",
            "TransformWithMissingProducesConsumes",
            "PublisherWithMissingConsumes",
            "WriteToDisk",
        )
    },
}

#: original module paths that exist in hepcloud-de-modules 2.0.6 but are not re-implemented yet
NOT_YET_IMPLEMENTED: frozenset[str] = frozenset(
    {
        "decisionengine_modules.htcondor.sources.job_q",
        "decisionengine_modules.htcondor.sources.slots",
        "decisionengine_modules.glideinwms.sources.factory_entries",
        "decisionengine_modules.glideinwms.sources.factory_global",
        "decisionengine_modules.glideinwms.sources.factory_client",
        "decisionengine_modules.glideinwms.transforms.job_clustering",
        "decisionengine_modules.glideinwms.transforms.grid_figure_of_merit",
        "decisionengine_modules.glideinwms.transforms.glidein_requests",
        "decisionengine_modules.glideinwms.publishers.fe_group_classads",
        "decisionengine_modules.glideinwms.publishers.glideclientglobal",
        "decisionengine_modules.glideinwms.publishers.job_clustering_publisher",
        "decisionengine_modules.AWS.sources.AWSSpotPriceWithSourceProxy",
        "decisionengine_modules.AWS.transforms.FigureOfMerit",
        "decisionengine_modules.GCE.transforms.GceFigureOfMerit",
        "decisionengine_modules.NERSC.transforms.NerscFigureOfMerit",
    }
)


#: original class names accepted in ``name:`` for an aliased path whose class name differs from the file name
ORIGINAL_CLASS_NAMES: dict[str, tuple[str, ...]] = {}

#: modules that contribute aliases of their own (one per module family, each owned by that family):
#: each defines ``ALIASES: dict[str, str]`` and may define ``ORIGINAL_CLASS_NAMES``
ALIAS_PROVIDERS = (
    "hepde.modules.glideinwms.aliases",
    "hepde.modules.htcondor.aliases",
    "hepde.modules.cloud.aliases",
    "hepde.modules.direct.aliases",
)


@lru_cache(maxsize=1)
def all_aliases() -> dict[str, str]:
    """The whole alias table: :data:`ALIASES` plus every installed alias provider's."""
    table = dict(ALIASES)
    for provider in ALIAS_PROVIDERS:
        try:
            mod = importlib.import_module(provider)
        except ModuleNotFoundError as exc:
            if exc.name and provider.startswith(exc.name):
                continue  # that module family is not there (yet)
            raise
        table.update(getattr(mod, "ALIASES", {}))
        ORIGINAL_CLASS_NAMES.update(getattr(mod, "ORIGINAL_CLASS_NAMES", {}))
    return table


def _import(path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        raise ModuleResolutionError(f"cannot import module '{path}': {exc}") from exc
    except Exception as exc:  # a module that fails at import is a user-visible config problem
        raise ModuleResolutionError(f"importing module '{path}' failed: {type(exc).__name__}: {exc}") from exc


def resolve(module_path: str, kind: str, class_name: str | None = None) -> type[Module]:
    """Return the module class for a channel entry, or raise :class:`ModuleResolutionError`."""
    base = KIND_BASES.get(kind)
    if base is None:
        raise ModuleResolutionError(f"unknown module kind '{kind}'")
    if not isinstance(module_path, str) or not module_path:
        raise ModuleResolutionError(f"'module' must be a non-empty string, got {module_path!r}")
    target, default_class = module_path, None
    aliases = all_aliases()
    if module_path in aliases:
        target, _, default_class = aliases[module_path].partition(":")
        default_class = default_class or None
    elif module_path in NOT_YET_IMPLEMENTED and module_path not in aliases:
        raise ModuleResolutionError(
            f"'{module_path}' is a module of the original Decision Engine that this project has not "
            "re-implemented yet (see hepde.modules.registry.NOT_YET_IMPLEMENTED)"
        )
    mod = _import(target)
    wanted = class_name or default_class
    if wanted:
        cls = getattr(mod, wanted, None)
        if cls is None and default_class and class_name:
            # the original's class name in an aliased module maps to the alias's class; any other name is a typo
            original_class = module_path.rsplit(".", 1)[-1]
            accepted = set(ORIGINAL_CLASS_NAMES.get(module_path, ())) | {original_class, default_class}
            if class_name in accepted:
                cls = getattr(mod, default_class, None)
        if not (inspect.isclass(cls) and issubclass(cls, base)):
            raise ModuleResolutionError(
                f"'{wanted}' in module '{module_path}' is not a decision-engine '{base.__name__}'"
            )
        return cls
    found = [
        obj
        for obj in vars(mod).values()
        if inspect.isclass(obj)
        and issubclass(obj, base)
        and obj.__module__ == mod.__name__
        and obj is not base
    ]
    if not found:
        raise ModuleResolutionError(
            f"Could not find a decision-engine '{base.__name__}' in the module '{module_path}'"
        )
    if len(found) > 1:
        names = ", ".join(sorted(c.__name__ for c in found))
        raise ModuleResolutionError(
            f"Found more than one decision-engine '{base.__name__}' in the module '{module_path}' ({names}). "
            "Specify which subclass you want via the configuration 'name: <subclass name>'."
        )
    return found[0]
