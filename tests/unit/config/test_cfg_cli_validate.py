"""``de validate``: output format and exit status (hepde_tools.cli.validate)."""

from __future__ import annotations

import argparse

from cfg_helpers import FRAMEWORK_CONFIGS, channel, entry

from hepde_tools.cli import validate as validate_cmd


def parse(*argv: str) -> argparse.Namespace:
    """Parse a command line the way the ``de`` dispatcher does, with only ``validate`` registered."""
    parser = argparse.ArgumentParser(prog="de")
    validate_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_a_clean_channel_prints_ok_with_its_name_and_exits_zero(capsys):
    """Given the original test channel, when `de validate` runs, then it prints OK and exits 0."""
    args = parse("validate", str(FRAMEWORK_CONFIGS / "test_channel.jsonnet"))

    status = args.func(args)

    out, err = capsys.readouterr()
    assert status == 0
    assert out == "OK 1 channel(s): test_channel\n"
    assert err == ""


def test_each_problem_is_one_line_file_key_message_then_a_summary(capsys):
    """Given the bad-channel directory, when `de validate` runs, then each problem is `FILE: KEY: MESSAGE` and it exits 1."""
    directory = FRAMEWORK_CONFIGS / "test-bad-channel"
    args = parse("validate", str(directory))

    status = validate_cmd.run(args)

    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert status == 1
    assert out == ""
    assert (
        f"{directory / 'test_missing_product.jsonnet'}: transforms.a_uses_b: "
        "The following products are required but not produced: ['B']"
    ) in lines
    assert (
        f"{directory / 'test_bad_source.jsonnet'}: sources.source1: module is missing '@produces' declarations "
        "(SourceWithMissingProduces declares no products)"
    ) in lines
    assert lines[-1] == "6 problem(s) in 5 file(s); 5 channel(s) read"
    assert len(lines) == 7
    assert "Traceback" not in err


def test_several_files_and_directories_are_validated_together(write_channel, tmp_path, capsys):
    """Given a directory of two good channels and one more file, when validated, then all three are named."""
    write_channel("dir/one.json", channel(sources={"s": entry("IntSource", {"int_value": 1})}))
    write_channel("dir/two.jsonnet", channel())
    third = write_channel("three.json", channel(sources={"s": entry("IntSource", {"int_value": 1})}))

    status = validate_cmd.run(parse("validate", str(tmp_path / "dir"), str(third)))

    assert status == 0
    assert capsys.readouterr().out == "OK 3 channel(s): one, two, three\n"


def test_a_jsonnet_error_is_reported_without_a_traceback(write_channel, capsys):
    """Given a Jsonnet file with an error, when validated, then the message is printed with indented continuations."""
    path = write_channel("bad.jsonnet", "{ sources: error 'boom' }")

    status = validate_cmd.run(parse("validate", str(path)))

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"{path}: RUNTIME ERROR: boom\n    ")
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "1 problem(s) in 1 file(s); 0 channel(s) read"


def test_a_path_that_does_not_exist_is_a_problem_not_a_crash(tmp_path, capsys):
    """Given a missing path, when validated, then it is reported and the exit status is 1."""
    missing = tmp_path / "nowhere.jsonnet"

    status = validate_cmd.run(parse("validate", str(missing)))

    assert status == 1
    assert capsys.readouterr().err.splitlines()[0] == f"{missing}: no such file or directory"
