"""Module resolution through the alias table."""

from __future__ import annotations

import pytest

from hepde.errors import ModuleResolutionError
from hepde.logicengine.engine import LogicEngine
from hepde.modules.registry import resolve
from hepde.modules.testing.framework import SourceNOP


def test_original_path_resolves_to_the_reimplementation():
    assert resolve("decisionengine.framework.logicengine.LogicEngine", "logicengine") is LogicEngine


def test_original_class_name_of_an_aliased_path_is_accepted():
    assert resolve("decisionengine.framework.tests.SourceNOP", "source", "SourceNOP") is SourceNOP


def test_a_misspelt_class_name_on_an_aliased_path_is_an_error():
    with pytest.raises(ModuleResolutionError, match="'SourceNPO'"):
        resolve("decisionengine.framework.tests.SourceNOP", "source", "SourceNPO")


def test_an_original_module_not_reimplemented_yet_says_so(monkeypatch):
    from hepde.modules import registry

    missing = "decisionengine_modules.Rigetti.sources.RigettiQPU"
    monkeypatch.setattr(registry, "NOT_YET_IMPLEMENTED", registry.NOT_YET_IMPLEMENTED | {missing})
    with pytest.raises(ModuleResolutionError, match="not re-implemented yet"):
        resolve(missing, "transform")


def test_a_third_party_module_resolves_by_import_path_and_class_inference():
    cls = resolve("hepde.modules.generic.table_file", "source")
    assert cls.__name__ == "TableFileSource"


def test_a_module_path_that_does_not_import_names_it():
    with pytest.raises(ModuleResolutionError, match="cannot import module 'no.such.module'"):
        resolve("no.such.module", "transform")


def test_a_module_with_several_candidates_asks_for_a_name():
    with pytest.raises(ModuleResolutionError, match="Found more than one decision-engine 'Transform'"):
        resolve("hepde.modules.example.transforms", "transform")
