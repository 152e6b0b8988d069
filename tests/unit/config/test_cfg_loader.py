"""Loading channel files: formats, names, structure checks (hepde.config.loader)."""

from __future__ import annotations

import pytest
from cfg_helpers import FRAMEWORK_CONFIGS, channel, entry

from hepde.config.loader import channel_files, load_channel, load_channels, parse_channel
from hepde.config.model import DEFAULT_SOURCE_SCHEDULE
from hepde.errors import ConfigError


def problems_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.key: p.message for p in excinfo.value.problems}


# -- formats and names ------------------------------------------------------------------------------
def test_the_original_test_channel_loads_with_its_basename_as_channel_name():
    """Given the original's test_channel.jsonnet, when it is loaded, then every module entry is typed."""
    config = load_channel(FRAMEWORK_CONFIGS / "test_channel.jsonnet")

    assert config.name == "test_channel"
    assert config.path == str(FRAMEWORK_CONFIGS / "test_channel.jsonnet")
    assert list(config.sources) == ["source1"]
    source = config.sources["source1"]
    assert (source.kind, source.module, source.schedule, source.parameters) == (
        "source",
        "decisionengine.framework.tests.SourceNOP",
        1.0,
        {},
    )
    assert config.transforms["transform1"].kind == "transform"
    assert config.publishers["publisher1"].kind == "publisher"
    assert config.logicengine is None


def test_a_json_channel_loads_like_a_jsonnet_one(write_channel):
    """Given a .json channel, when it is loaded, then it gives the same model as Jsonnet would."""
    path = write_channel("plain.json", channel(sources={"s": entry("IntSource", {"int_value": 3})}))

    config = load_channel(path)

    assert config.name == "plain"
    assert config.sources["s"].parameters == {"int_value": 3}
    assert config.sources["s"].effective_schedule == DEFAULT_SOURCE_SCHEDULE


def test_a_top_level_channel_name_overrides_the_file_name(write_channel):
    """Given channel_name in the file, when it is loaded, then the channel takes that name."""
    path = write_channel("file_name.jsonnet", channel(channel_name="other_name"))

    assert load_channel(path).name == "other_name"


def test_a_jsonnet_channel_can_import_de_std_and_files_next_to_it(write_channel):
    """Given a channel importing de_std and a sibling libsonnet, when loaded, then both imports resolve."""
    write_channel("part.libsonnet", channel(sources={"s": entry("IntSource", {"int_value": 1})}))
    path = write_channel(
        "whole.jsonnet",
        """
        local de_std = import 'de_std.libsonnet';
        local parts = [import 'part.libsonnet'];
        { sources: de_std.sources_from(parts), transforms: {}, publishers: {} }
        """,
    )

    assert list(load_channel(path).sources) == ["s"]


def test_an_unsupported_extension_is_refused(write_channel):
    """Given a file named .conf, when it is loaded, then the problem names the extension."""
    path = write_channel("legacy.conf", channel())

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    [problem] = excinfo.value.problems
    assert problem.file == str(path)
    assert "unsupported file extension '.conf'" in problem.message


def test_a_jsonnet_error_is_one_problem_with_the_jsonnet_message(write_channel):
    """Given a Jsonnet file with a syntax error, when loaded, then one problem carries Jsonnet's message."""
    path = write_channel("broken.jsonnet", "{ sources: { ")

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    [problem] = excinfo.value.problems
    assert problem.file == str(path)
    assert problem.key == ""
    assert problem.message.startswith("STATIC ERROR:")
    assert "Traceback" not in problem.message


def test_an_empty_file_and_a_missing_file_are_reported(write_channel, tmp_path):
    """Given an empty file and a path that does not exist, when loaded, then each is one clear problem."""
    empty = write_channel("empty.jsonnet", "  \n")

    with pytest.raises(ConfigError) as empty_info:
        load_channel(empty)
    with pytest.raises(ConfigError) as missing_info:
        load_channel(tmp_path / "nope.jsonnet")

    assert [p.message for p in empty_info.value.problems] == ["empty configuration file"]
    assert [p.message for p in missing_info.value.problems] == ["no such file"]


# -- structure --------------------------------------------------------------------------------------
def test_unknown_top_level_and_entry_keys_are_all_rejected_at_once(write_channel):
    """Given typos at top level and in two entries, when loaded, then every unknown key is a problem."""
    document = channel(
        sources={"s": entry("IntSource", {"int_value": 1}, schedul=5)},
        publishers={"p": entry("DynamicPublisher", {"consumes": ["int_value"], "expects": 1}, retries=3)},
        transfroms={},
    )
    path = write_channel("typos.json", document)

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    found = problems_of(excinfo)
    assert set(found) == {"transfroms", "sources.s.schedul", "publishers.p.retries"}
    assert found["sources.s.schedul"].startswith(
        "unknown key (allowed: lifetime, module, name, parameters, schedule)"
    )
    assert "unknown top-level key" in found["transfroms"]
    assert all(p.file == str(path) for p in excinfo.value.problems)


def test_mandatory_sections_and_entry_keys_are_required(write_channel):
    """Given no publishers section and an entry without module or parameters, when loaded, then each is named."""
    path = write_channel(
        "missing.json",
        {"sources": {"s": {"schedule": 10}}, "transforms": {"t": {"module": "x"}}},
    )

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    assert problems_of(excinfo) == {
        "publishers": "missing mandatory key (use {} for none)",
        "sources.s.module": "missing mandatory key",
        "sources.s.parameters": "missing mandatory key",
        "transforms.t.parameters": "missing mandatory key",
    }


def test_wrongly_typed_sections_entries_and_fields_are_reported(write_channel):
    """Given a list section, a string entry and non-object parameters, when loaded, then each type is named."""
    path = write_channel(
        "types.json",
        {
            "sources": ["not", "an", "object"],
            "transforms": {"t": "decisionengine.framework.tests.TransformNOP"},
            "publishers": {"p": {"module": "m", "parameters": [], "name": 7}},
            "channel_name": "",
        },
    )

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    found = problems_of(excinfo)
    assert found["sources"] == "must be an object mapping module keys to module entries, got array"
    assert found["transforms.t"] == "a module entry must be an object, got string"
    assert found["publishers.p.parameters"] == "must be an object, got array"
    assert found["publishers.p.name"].startswith("must be a non-empty string")
    assert found["channel_name"].startswith("must be a non-empty string")


@pytest.mark.parametrize("bad", [0, -5, "60", True, None])
def test_schedules_and_lifetimes_must_be_positive_numbers(write_channel, bad):
    """Given a zero, negative or non-number schedule/lifetime, when loaded, then it is a problem."""
    source = entry("IntSource", {"int_value": 1}, schedule=bad, lifetime=bad)
    path = write_channel("sched.json", channel(sources={"s": source}, schedule=bad))

    if bad is None:  # null means "not set": the defaults apply
        config = load_channel(path)
        assert config.sources["s"].schedule is None and config.schedule is None
        return
    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    found = problems_of(excinfo)
    assert set(found) == {"schedule", "sources.s.schedule", "sources.s.lifetime"}
    assert all("must be a number of seconds > 0" in m for m in found.values())


def test_lifetime_is_for_sources_only(write_channel):
    """Given a lifetime on a transform, when loaded, then the problem says only sources have one."""
    path = write_channel("lt.json", channel(transforms={"t": entry("TransformNOP", lifetime=60)}))

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    assert problems_of(excinfo) == {
        "transforms.t.lifetime": "only sources have a lifetime (seconds a product stays fresh)"
    }


def test_a_channel_has_at_most_one_logic_engine(write_channel):
    """Given two logic engines, when loaded, then one problem lists both."""
    le = {
        "module": "decisionengine.framework.logicengine.LogicEngine",
        "parameters": {"facts": {}, "rules": {}},
    }
    path = write_channel("two_les.json", channel(logicengines={"le1": le, "le2": le}))

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    assert problems_of(excinfo) == {
        "logicengines": "a channel has at most one logic engine, found 2: le1, le2"
    }


def test_an_empty_logicengines_section_means_the_implied_pass_through(write_channel):
    """Given logicengines: {}, when loaded, then the channel has no configured logic engine."""
    path = write_channel("no_le.json", channel(logicengines={}))

    assert load_channel(path).logicengine is None


def test_a_module_key_may_not_be_reused_in_another_section(write_channel):
    """Given a source and a publisher with the same key, when loaded, then the second use is a problem."""
    path = write_channel(
        "dup_key.json",
        channel(sources={"x": entry("SourceNOP")}, publishers={"x": entry("PublisherNOP")}),
    )

    with pytest.raises(ConfigError) as excinfo:
        load_channel(path)

    assert problems_of(excinfo) == {
        "publishers.x": "the module key 'x' is also used in 'sources'; module keys must be unique across sections"
    }


def test_a_document_that_is_not_an_object_is_refused():
    """Given a JSON array as a channel document, when parsed, then the problem names its type."""
    with pytest.raises(ConfigError) as excinfo:
        parse_channel([1, 2], "list.json")

    assert problems_of(excinfo) == {"": "a channel configuration must be an object, got array"}


# -- directories ------------------------------------------------------------------------------------
def test_a_directory_gives_its_channel_files_sorted_and_skips_other_extensions():
    """Given the original's bad-channel directory, when expanded, then .jsonet and other files are skipped."""
    files, problems = channel_files([FRAMEWORK_CONFIGS / "test-bad-channel"])

    assert problems == []
    assert [f.name for f in files] == [
        "test_bad_publisher.jsonnet",
        "test_bad_source.jsonnet",
        "test_bad_transform.jsonnet",
        "test_missing_product.jsonnet",
        "test_product_circularity.jsonnet",
    ]


def test_load_channels_reports_every_file_problem_together(write_channel, tmp_path):
    """Given a good file, a broken file and a missing path, when loaded together, then all problems are raised."""
    write_channel("dir/good.json", channel())
    write_channel("dir/bad.json", "{ not json")

    with pytest.raises(ConfigError) as excinfo:
        load_channels([tmp_path / "dir", tmp_path / "absent"])

    by_file = {p.file: p.message for p in excinfo.value.problems}
    assert set(by_file) == {str(tmp_path / "dir" / "bad.json"), str(tmp_path / "absent")}
    assert by_file[str(tmp_path / "absent")] == "no such file or directory"
    assert by_file[str(tmp_path / "dir" / "bad.json")].startswith("invalid JSON:")


def test_load_channels_returns_channels_in_file_order(write_channel, tmp_path):
    """Given two good files in a directory, when loaded, then channels come back sorted by file name."""
    write_channel("d/b.json", channel())
    write_channel("d/a.jsonnet", channel())

    assert [c.name for c in load_channels([tmp_path / "d"])] == ["a", "b"]


def test_an_empty_directory_is_a_problem(tmp_path):
    """Given a directory without channel files, when expanded, then the user is told nothing was found."""
    (tmp_path / "empty").mkdir()

    files, problems = channel_files([tmp_path / "empty"])

    assert files == []
    assert [p.message for p in problems] == [
        "no channel configuration files (*.jsonnet, *.json) in this directory"
    ]
