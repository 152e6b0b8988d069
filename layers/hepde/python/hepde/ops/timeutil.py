"""Times operators type and read: UTC, ``YYYY-mm-dd HH:MM:SS`` (the original de-query-tool's format)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from hepde.errors import DEError

FORMAT = "%Y-%m-%d %H:%M:%S"
_RELATIVE = re.compile(
    r"^\s*-?\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)"
    r"(?:\s+ago)?\s*$",
    re.IGNORECASE,
)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class TimeFormatError(DEError):
    """A time given on the command line or to the API cannot be read."""


def parse_time(text: str | float | int, now: float | None = None) -> float:
    """Epoch seconds from ``YYYY-mm-dd[ HH:MM[:SS]]`` (UTC), ISO 8601 (with offset), epoch seconds,
    ``now``, or a relative ``2h`` / ``30 min ago`` / ``-1d`` (before now)."""
    now = time.time() if now is None else now
    if isinstance(text, int | float):
        return float(text)
    raw = str(text).strip()
    if raw.lower() == "now":
        return now
    m = _RELATIVE.match(raw)
    if m:
        unit = m.group(2).lower()
        return now - float(m.group(1)) * _UNIT[unit[0]]
    try:
        return float(raw)
    except ValueError:
        pass
    for fmt in (FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise TimeFormatError(
            f"cannot read the time {raw!r}: use 'YYYY-mm-dd HH:MM:SS' (UTC), ISO 8601, epoch seconds, "
            "or a relative time such as '2h' or '30 min ago'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def fmt_time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(float(epoch), UTC).strftime(FORMAT)


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = abs(float(seconds))
    if s < 120:
        text = f"{s:.0f} s"
    elif s < 7200:
        text = f"{s / 60:.0f} min"
    elif s < 172800:
        text = f"{s / 3600:.1f} h"
    else:
        text = f"{s / 86400:.1f} d"
    return text if seconds >= 0 else f"in {text}"
