"""What the operations' CLI commands share: the context from the environment, JSON output, progress."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from hepde.ops.context import OpsContext

_override: list[OpsContext] = []


def add_stack(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stack",
        default=os.environ.get("DE_STACK", "hepde"),
        help="deployment name prefix (default $DE_STACK or hepde)",
    )


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON (stable field names, see docs)"
    )


def context(args: argparse.Namespace) -> OpsContext:
    """The deployed stack through the standard AWS credential chain — or the context a test installed."""
    if _override:
        return _override[-1]
    return OpsContext.from_environment(getattr(args, "stack", "hepde"))


@contextlib.contextmanager
def use_context(ctx: OpsContext) -> Iterator[OpsContext]:
    """Run CLI commands against ``ctx`` (an embedded cloud in tests) instead of the environment."""
    _override.append(ctx)
    try:
        yield ctx
    finally:
        _override.pop()


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=1, default=str, sort_keys=False))


class Progress:
    """A one-line progress display on stderr for long operations; silent unless stderr is a terminal
    (or ``DE_PROGRESS=1``), so pipes and logs stay clean."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = os.environ.get("DE_PROGRESS") == "1" or (
                hasattr(self.stream, "isatty") and self.stream.isatty()
            )
        self.enabled = enabled
        self.started = time.time()
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int, what: str = "") -> None:
        if not self.enabled:
            return
        now = time.time()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        bar = ""
        if total:
            width = 24
            filled = int(width * done / total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        self.stream.write(f"\r{self.label}: {bar}{what[:40]:<40} {now - self.started:5.1f} s")
        self.stream.flush()
        self._shown = True

    def tick(self, elapsed: float, what: str = "") -> None:
        """An indeterminate step (waiting for an execution)."""
        if self.enabled:
            spin = "|/-\\"[int(elapsed * 4) % 4]
            self.stream.write(f"\r{self.label}: {spin} {what[:50]:<50} {elapsed:5.1f} s")
            self.stream.flush()
            self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
            self._shown = False
