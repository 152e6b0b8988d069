"""Channel combination with de_std.libsonnet (sources_from, transforms_from, publishers_from)."""

from __future__ import annotations

import json

import _jsonnet
import pytest
from cfg_helpers import FRAMEWORK_CONFIGS, channel, entry

from hepde.config.loader import CONFIG_DIR, evaluate_file, load_channel
from hepde.config.validate import validate_paths
from hepde.errors import ConfigError
from hepde.modules.registry import ALIASES

A1 = channel(
    sources={"s1_a1": entry("IntSource", {"int_value": 1}), "s2_a1": entry("IntSource", {"int_value": 2})},
    transforms={"t_a1": entry("DynamicTransform", {"consumes": ["int_value"], "data_product_name": "x"})},
    publishers={"p_a1": entry("PublisherNOP")},
)
A2 = channel(sources={"s_a2": entry("SourceNOP")}, publishers={"p_a2": entry("PublisherNOP")})
PROXY = channel(sources={"proxy": entry("DynamicSource", {"source_channel": "A1", "data_product_name": "y"})})


def evaluate(snippet: str, **libs: dict) -> dict:
    """Evaluate a Jsonnet snippet that may import de_std and the given libraries (as JSON)."""

    def import_callback(directory: str, rel: str) -> tuple[str, bytes]:
        if rel in libs:
            return rel, json.dumps(libs[rel]).encode()
        path = CONFIG_DIR / rel
        if path.is_file():
            return str(path), path.read_bytes()
        raise RuntimeError(f"file not found: {rel}")

    return json.loads(_jsonnet.evaluate_snippet("test", snippet, import_callback=import_callback))


def test_sections_of_several_channels_are_combined_in_one():
    """Given two channels with distinct keys, when combined, then every section holds both channels' entries."""
    cfg = evaluate(
        """
        local de_std = import 'de_std.libsonnet';
        local channels = [import 'A1.libsonnet', import 'A2.libsonnet'];
        { sources: de_std.sources_from(channels), transforms: de_std.transforms_from(channels),
          publishers: de_std.publishers_from(channels) }
        """,
        **{"A1.libsonnet": A1, "A2.libsonnet": A2},
    )

    assert cfg["sources"] == {**A1["sources"], **A2["sources"]}
    assert cfg["transforms"] == A1["transforms"]
    assert cfg["publishers"] == {**A1["publishers"], **A2["publishers"]}


def test_sources_with_a_source_channel_parameter_are_skipped():
    """Given a 1.x SourceProxy entry (parameters.source_channel), when sources are combined, then it is left out."""
    cfg = evaluate(
        """
        local de_std = import 'de_std.libsonnet';
        de_std.sources_from([import 'A1.libsonnet', import 'proxy.libsonnet'])
        """,
        **{"A1.libsonnet": A1, "proxy.libsonnet": PROXY},
    )

    assert sorted(cfg) == ["s1_a1", "s2_a1"]


def test_the_same_key_with_equal_entries_is_merged_once():
    """Given the same channel twice, when combined, then each key appears once (a shared module)."""
    cfg = evaluate(
        """
        local de_std = import 'de_std.libsonnet';
        de_std.sources_from([import 'A1.libsonnet', import 'A1.libsonnet'])
        """,
        **{"A1.libsonnet": A1},
    )

    assert cfg == A1["sources"]


def test_the_same_key_with_different_entries_is_an_error_naming_the_keys():
    """Given a key configured differently by two channels, when combined, then Jsonnet fails naming the key."""
    conflicting = json.loads(json.dumps(A1))
    conflicting["sources"]["s1_a1"]["parameters"]["int_value"] = 99

    with pytest.raises(RuntimeError) as excinfo:
        evaluate(
            """
            local de_std = import 'de_std.libsonnet';
            de_std.sources_from([import 'A1.libsonnet', import 'A1c.libsonnet'])
            """,
            **{"A1.libsonnet": A1, "A1c.libsonnet": conflicting},
        )

    assert (
        "An error occurred while combining configurations.\n"
        'The following keys have conflicting values: ["s1_a1"]' in str(excinfo.value)
    )


def test_a_configuration_without_the_section_contributes_nothing():
    """Given a channel with no transforms key, when transforms are combined, then the others still combine."""
    cfg = evaluate(
        """
        local de_std = import 'de_std.libsonnet';
        de_std.transforms_from([{ sources: {} }, import 'A1.libsonnet'])
        """,
        **{"A1.libsonnet": A1},
    )

    assert cfg == A1["transforms"]


def test_a_conflict_in_a_channel_file_is_one_problem_of_that_file(write_channel):
    """Given a channel file combining conflicting libraries, when loaded, then the jsonnet error is its problem."""
    write_channel("a.libsonnet", channel(sources={"s": entry("IntSource", {"int_value": 1})}))
    write_channel("b.libsonnet", channel(sources={"s": entry("IntSource", {"int_value": 2})}))
    path = write_channel(
        "combined.jsonnet",
        """
        local de_std = import 'de_std.libsonnet';
        local channels = [import 'a.libsonnet', import 'b.libsonnet'];
        { sources: de_std.sources_from(channels), transforms: {}, publishers: {} }
        """,
    )

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    [problem] = excinfo.value.problems
    assert problem.file == str(path)
    assert problem.message.startswith(
        "RUNTIME ERROR: An error occurred while combining configurations.\n"
        'The following keys have conflicting values: ["s"]'
    )


# -- the original's three-generation combination ----------------------------------------------------
def test_the_three_generation_combination_gathers_every_generation():
    """Given test-combined-channels-3g/last.jsonnet, when loaded, then it holds all four ancestors' modules once."""
    config = load_channel(FRAMEWORK_CONFIGS / "test-combined-channels-3g" / "last.jsonnet")

    assert sorted(config.sources) == [
        "first_source",
        "last_source_A",
        "last_source_B",
        "second_source_A",
        "second_source_B",
        "second_source_C",
    ]
    assert sorted(config.transforms) == [
        "first_transform",
        "last_transform_A",
        "last_transform_B",
        "second_transform_A",
        "second_transform_B",
    ]
    assert sorted(config.publishers) == [
        "last_publisher",
        "pub",
        "second_publisher_A",
        "second_publisher_B",
        "second_publisher_C",
        "write_to_disk",
    ]
    assert config.sources["first_source"].schedule == 10.0
    assert config.sources["first_source"].parameters == {"data_product_name": "_a"}


def test_a_middle_generation_libsonnet_evaluates_on_its_own():
    """Given secondA.libsonnet (itself a de_std combination), when evaluated, then it includes first's modules."""
    cfg = evaluate_file(FRAMEWORK_CONFIGS / "test-combined-channels-3g" / "secondA.libsonnet")

    assert sorted(cfg["sources"]) == ["first_source", "second_source_A"]
    assert sorted(cfg["publishers"]) == ["second_publisher_A"]  # publishers are not inherited there


@pytest.mark.skipif(
    "decisionengine.framework.tests.WriteToDisk" not in ALIASES,
    reason="the registry has no alias for the original's WriteToDisk yet (hepde.modules.testing.framework.WriteToDisk)",
)
def test_the_three_generation_channel_validates_cleanly():
    """Given test-combined-channels-3g/last.jsonnet, when validated, then there is no problem."""
    configs, problems = validate_paths([FRAMEWORK_CONFIGS / "test-combined-channels-3g" / "last.jsonnet"])

    assert problems == []
    assert [c.name for c in configs] == ["last"]
