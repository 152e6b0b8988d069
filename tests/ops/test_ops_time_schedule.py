"""Times operators type, and when an EventBridge schedule fires next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hepde.ops.schedule import next_cron, next_run, rate_seconds
from hepde.ops.timeutil import TimeFormatError, fmt_age, fmt_time, parse_time

NOW = datetime(2026, 11, 25, 15, 7, 30, tzinfo=UTC).timestamp()  # a Wednesday


def at(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25 10:00:00", at(2026, 11, 25, 10, 0, 0)),  # the original de-query-tool's format, UTC
        ("2026-11-25", at(2026, 11, 25)),
        ("2026-11-25T12:00:00+02:00", at(2026, 11, 25, 10)),
        ("2026-11-25T10:00:00Z", at(2026, 11, 25, 10)),
        ("1795600000", 1795600000.0),
        ("now", NOW),
        ("2h", NOW - 7200),
        ("30 min ago", NOW - 1800),
        ("-1d", NOW - 86400),
        ("90s", NOW - 90),
    ],
)
def test_ops_parse_time(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_ops_unreadable_time_is_a_clear_error():
    with pytest.raises(TimeFormatError, match="cannot read the time 'last tuesday'"):
        parse_time("last tuesday", now=NOW)


def test_ops_time_rendering():
    assert fmt_time(at(2026, 11, 25, 10, 0, 5)) == "2026-11-25 10:00:05" and fmt_time(None) == "-"
    assert (fmt_age(5), fmt_age(600), fmt_age(7200 * 3), fmt_age(86400 * 3), fmt_age(-30)) == (
        "5 s",
        "10 min",
        "6.0 h",
        "3.0 d",
        "in 30 s",
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0/5 * * * ? *)", at(2026, 11, 25, 15, 10)),
        ("cron(0 12 * * ? *)", at(2026, 11, 26, 12, 0)),
        ("cron(15 10 ? * MON-FRI *)", at(2026, 11, 26, 10, 15)),
        ("cron(0 8 1 * ? *)", at(2026, 12, 1, 8, 0)),
        ("cron(0 0 ? * SUN *)", at(2026, 11, 29, 0, 0)),
        ("cron(30 9 1 JAN ? 2027)", at(2027, 1, 1, 9, 30)),
        ("cron(0 10 ? * 6L *)", None),  # "last Friday": not evaluated
        ("rate(5 minutes)", None),
    ],
)
def test_ops_next_cron(expression, expected):
    assert next_cron(expression, NOW) == expected


def test_ops_next_run_of_rates_and_disabled_schedules():
    assert (
        rate_seconds("rate(1 minute)") == 60
        and rate_seconds("rate(2 hours)") == 7200
        and rate_seconds("x") is None
    )
    r = next_run("rate(5 minutes)", True, NOW, last_scheduled=NOW - 420)
    assert r == {"at": NOW - 420 + 600, "approximate": True, "note": "every 300 s"}
    assert next_run("rate(5 minutes)", True, NOW, None)["at"] is None
    assert next_run("rate(5 minutes)", False, NOW, NOW)["note"] == "schedule disabled"
    assert next_run(None, True, NOW, NOW)["note"] == "no schedule"
    assert next_run("cron(0/5 * * * ? *)", True, NOW, None) == {
        "at": at(2026, 11, 25, 15, 10),
        "approximate": False,
        "note": "cron(0/5 * * * ? *)",
    }
