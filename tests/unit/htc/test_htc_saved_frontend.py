"""The original's de_frontend_config (FrontendConfiguration.save(): a Python-literal dict) read safely."""

from __future__ import annotations

import pprint

import pytest
from htc_helpers import fixture_block, frontend
from test_htc_requests import run

from hepde.modules.glideinwms.frontend import Frontend, FrontendConfigError
from hepde_tools.bench.htc import original_frontend_config


def _saved(tmp_path, cfg) -> str:
    path = tmp_path / "de_frontend_config"
    path.write_text(pprint.pformat(cfg))  # what the original's save() wrote
    return str(path)


def test_saved_file_gives_the_same_group_settings_as_the_description(tmp_path):
    desc = frontend()
    saved = _saved(tmp_path, original_frontend_config(desc))
    assert Frontend.from_value(saved).group("main") == Frontend.from_value(desc).group("main")


def test_saved_file_gives_exactly_the_requests_of_the_description(tmp_path):
    saved = _saved(tmp_path, original_frontend_config(frontend()))
    for compat in (True, False):
        a = run(fixture_block(), compat_original=compat)["glideclient_manifests"]
        b = run(fixture_block(), compat_original=compat, frontend=None, de_frontend_config=saved)[
            "glideclient_manifests"
        ]
        cols = ["ReqName", "ReqIdleGlideins", "ReqMaxGlideins"]
        assert len(a) > 0
        assert a[cols].equals(b[cols])


def test_tuples_strings_and_original_credential_defaults(tmp_path):
    cfg = original_frontend_config(frontend())
    group = cfg["group"]["main"]
    group["max_running"] = "40000"  # GlideinWMS leaves these two as strings
    group["min_running"] = "0"
    group["proxies"].append("/etc/gwms-frontend/proxies/other")
    settings = Frontend.from_value(_saved(tmp_path, cfg)).group("main")
    assert settings.max_running == 40000
    extra = settings.credentials[-1]
    assert (extra.type, extra.trust_domain, extra.security_class) == (
        "Unknown",
        "None",
        str(len(group["proxies"]) - 1),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("__import__('os').system('touch /tmp/x')", "neither JSON nor the Python-literal dict"),
        ("(1, 2)", "expected the original's dict"),
        ("{'frontend': {'frontend_name': 'x'}, 'group': {'g': 5}}", "group.g: expected a dict"),
        ("(" * 100 + ")" * 100, "nested deeper"),
    ],
)
def test_anything_else_is_a_clear_error_and_never_runs(tmp_path, text, expected):
    path = tmp_path / "de_frontend_config"
    path.write_text(text)
    with pytest.raises(FrontendConfigError, match=expected):
        Frontend.from_value(str(path))
