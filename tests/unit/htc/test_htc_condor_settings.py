"""CondorSettings.config_file applied to the real bindings' configuration for a call, then restored."""

from __future__ import annotations

import pytest

from hepde.condor.adapter import CondorInvalidError, CondorSettings, bindings_scope, config_file_params

htcondor2 = pytest.importorskip("htcondor2")


def test_a_config_file_applies_for_the_call_and_is_restored(tmp_path):
    conf = tmp_path / "condor_config"
    conf.write_text(
        "# the bridge's pool\nCOLLECTOR_HOST = cm.example.org:9618\n"
        "HEPDE_TEST_LIST = a, \\\n  b\nHEPDE_TEST_MACRO = $(COLLECTOR_HOST)/x\n"
    )
    assert htcondor2.param.get("HEPDE_TEST_LIST") is None
    with bindings_scope(CondorSettings(config_file=str(conf))) as h:
        assert h.param.get("COLLECTOR_HOST") == "cm.example.org:9618"
        assert h.param.get("HEPDE_TEST_LIST") == "a,  b"
        assert h.param.get("HEPDE_TEST_MACRO") == "cm.example.org:9618/x"  # HTCondor expands the macro
    assert htcondor2.param.get("HEPDE_TEST_LIST") is None
    assert htcondor2.param.get("HEPDE_TEST_MACRO") is None


def test_a_config_file_the_reader_cannot_apply_whole_is_refused_with_file_and_line(tmp_path):
    conf = tmp_path / "condor_config"
    conf.write_text("A = 1\ninclude : /etc/condor/other\n")
    with pytest.raises(CondorInvalidError, match=r"condor_config:2: 'include' is not supported"):
        config_file_params(str(conf))
    conf.write_text("this is not a setting\n")
    with pytest.raises(CondorInvalidError, match=r"condor_config:1: expected NAME = value"):
        with bindings_scope(CondorSettings(config_file=str(conf))):
            pass
    with pytest.raises(CondorInvalidError, match="cannot read the HTCondor configuration"):
        config_file_params(str(tmp_path / "missing"))
