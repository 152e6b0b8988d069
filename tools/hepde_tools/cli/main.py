"""``de`` — the command line of the serverless Decision Engine.

Sub-commands register themselves (``register(subparsers)`` in each ``hepde_tools.cli.*`` module).  User
mistakes end with a clear message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from hepde import __version__
from hepde.errors import ConfigError, DEError


def command_modules() -> list[str]:
    """Every ``hepde_tools.cli`` module that defines a sub-command: ``validate`` and each ``*_cmd`` module."""
    import hepde_tools.cli

    names = sorted(m.name for m in pkgutil.iter_modules(hepde_tools.cli.__path__) if m.name.endswith("_cmd"))
    return ["hepde_tools.cli.validate"] + [f"hepde_tools.cli.{n}" for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="de", description="HEPCloud Decision Engine on Step Functions, Lambda and DynamoDB"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found; nothing was run", file=sys.stderr)
        return 1
    except DEError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
