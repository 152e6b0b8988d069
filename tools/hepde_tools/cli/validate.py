"""``de validate PATH...``: check channel configurations and report every problem at once.

Each path is a channel file (``.jsonnet``, ``.libsonnet``, ``.json``) or a directory (its
``*.jsonnet``/``*.json`` files).  Channels given together are also checked against each other
(shared sources must be configured identically).  Each problem is printed on its own line as
``FILE: KEY: MESSAGE`` on stderr, followed by a summary; a clean run prints
``OK <n> channel(s): name1, name2``.  Exit status 0 when clean, 1 when any problem was found.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from hepde.config.validate import validate_paths
from hepde.errors import Problem

__all__ = ["format_problem", "register", "run"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``validate`` sub-command to the ``de`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="check channel configurations (files or directories) and report every problem",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="channel file or directory of channel files")
    parser.set_defaults(func=run)
    return parser


def format_problem(problem: Problem) -> str:
    """``FILE: KEY: MESSAGE``; continuation lines of a multi-line message are indented."""
    first, *rest = str(problem).splitlines() or [""]
    return "\n".join([first, *(f"    {line}" for line in rest)])


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Validate ``args.paths``; print problems (stderr) or the OK line (stdout); return the exit status."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    configs, problems = validate_paths(args.paths)
    if problems:
        for problem in problems:
            print(format_problem(problem), file=err)
        files = len({p.file for p in problems})
        print(
            f"{len(problems)} problem(s) in {files} file(s); {len(configs)} channel(s) read",
            file=err,
        )
        return 1
    names = ", ".join(c.name for c in configs)
    print(f"OK {len(configs)} channel(s): {names}", file=out)
    return 0
