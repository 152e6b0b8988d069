"""``de asl CHANNEL_CONFIG... [--out DIR] [--check]``: write (or check) the channels' ASL definitions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hepde.runtime.asl import render
from hepde.runtime.channel import prepare


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("asl", help="generate statemachines/<channel>.asl.json from channel configs")
    p.add_argument("configs", nargs="+", metavar="CHANNEL_CONFIG")
    p.add_argument("--out", default="statemachines", help="output folder (default statemachines/)")
    p.add_argument(
        "--check", action="store_true", help="fail if a committed file differs from the generated one"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    stale = []
    for ch in prepare(args.configs):
        path = out / f"{ch.name}.asl.json"
        text = render(ch.definition)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print("out of date (run `de asl` to regenerate): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0
