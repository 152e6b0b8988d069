"""When an EventBridge schedule fires next: ``rate(...)`` and ``cron(...)`` expressions (UTC).

EventBridge does not report a rule's next firing.  For ``cron`` the next matching minute is exact; for
``rate`` the phase is not observable, so the next run is estimated from the last scheduled cycle
(``approximate`` is then True).  ``L``, ``W`` and ``#`` in cron fields are not evaluated (None).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def rate_seconds(expression: str | None) -> float | None:
    m = _RATE.match((expression or "").strip())
    if not m:
        return None
    unit = m.group(2).rstrip("s")
    return int(m.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int] | None:
    """Values of one cron field; None for '?' / '*' (any); raises ValueError for what is not supported."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            x, y = part.split("-", 1)
            a, b = _value(x, names), _value(y, names)
        else:
            a = _value(part, names)
            b = hi if step > 1 else a
        if not (lo <= a <= hi and lo <= b <= hi) or step < 1:
            raise ValueError(part)
        values.update(range(a, b + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def next_cron(expression: str, after: float) -> float | None:
    """The first firing strictly after ``after`` (epoch s), within two years; None if not evaluable."""
    m = _CRON.match(expression.strip())
    if not m:
        return None
    fields = m.group(1).split()
    if len(fields) != 6:
        return None
    try:
        minutes = _field(fields[0], 0, 59)
        hours = _field(fields[1], 0, 23)
        dom = _field(fields[2], 1, 31)
        months = _field(fields[3], 1, 12, _MONTHS)
        dow = _field(fields[4], 1, 7, _DAYS)
        years = _field(fields[5], 1970, 2199)
    except ValueError:
        return None
    start = datetime.fromtimestamp(after, UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(2 * 366):
        aws_dow = (day.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
        if (
            (years is None or day.year in years)
            and (months is None or day.month in months)
            and (dom is None or day.day in dom)
            and (dow is None or aws_dow in dow)
        ):
            for h in sorted(hours) if hours is not None else range(24):
                for mi in sorted(minutes) if minutes is not None else range(60):
                    t = day.replace(hour=h, minute=mi)
                    if t >= start:
                        return t.timestamp()
        day += timedelta(days=1)
    return None


def next_run(
    expression: str | None, enabled: bool, now: float, last_scheduled: float | None
) -> dict[str, object]:
    """``{"at": epoch|None, "approximate": bool, "note": str}`` for a schedule."""
    if not expression:
        return {"at": None, "approximate": False, "note": "no schedule"}
    if not enabled:
        return {"at": None, "approximate": False, "note": "schedule disabled"}
    period = rate_seconds(expression)
    if period is not None:
        if last_scheduled is None:
            return {
                "at": None,
                "approximate": True,
                "note": f"every {period:.0f} s (phase unknown: no scheduled cycle yet)",
            }
        k = max(1, int((now - last_scheduled) // period) + 1)
        return {"at": last_scheduled + k * period, "approximate": True, "note": f"every {period:.0f} s"}
    at = next_cron(expression, now)
    if at is None:
        return {"at": None, "approximate": False, "note": f"cannot evaluate {expression}"}
    return {"at": at, "approximate": False, "note": expression}
