"""``de deploy generate|local|localstack``: the SAM template from channel configs, and deploys of it.

* ``de deploy generate CHANNEL_CONFIG... [--out template.yaml] [--check]`` writes (or checks) the
  template; which channels are deployed is chosen by the configs given, never by editing the template.
* ``de deploy local [--channel CONFIG]`` deploys the real template into MiniStack (its own virtualenv,
  a free port on 127.0.0.1) with ``sam build`` + ``sam deploy`` and waits for the channel's
  EventBridge schedule to run a cycle there; ``--keep`` leaves MiniStack running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hepde.errors import DEError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="generate the SAM template; deploy it into a local cloud")
    dsub = p.add_subparsers(dest="deploy", metavar="WHAT")

    g = dsub.add_parser("generate", help="write template.yaml from channel configs (or --check it)")
    g.add_argument("configs", nargs="*", metavar="CHANNEL_CONFIG")
    g.add_argument(
        "--list", metavar="FILE", help="read the channel configs from FILE, one per line (# comments)"
    )
    g.add_argument("--out", default="template.yaml", help="template path (default template.yaml)")
    g.add_argument(
        "--check", action="store_true", help="fail if the committed template differs from the generated one"
    )
    g.add_argument(
        "--workflow",
        choices=["EXPRESS", "STANDARD"],
        default=None,
        help="state-machine type of every channel (default EXPRESS: see docs/adr)",
    )
    g.add_argument(
        "--standard",
        action="append",
        default=[],
        metavar="CHANNEL",
        help="deploy this channel as a STANDARD workflow (cycles over 5 min, execution history)",
    )
    g.add_argument(
        "--source-schedules",
        choices=["all", "shared", "none"],
        default="all",
        help="which sources get their own EventBridge schedule (default all)",
    )
    g.set_defaults(func=run_generate)

    loc = dsub.add_parser(
        "local", help="sam build + sam deploy into MiniStack, then wait for a scheduled cycle"
    )
    loc.add_argument(
        "--channel",
        default="channels/example.jsonnet",
        help="channel config whose scheduled cycle is awaited",
    )
    loc.add_argument("--template", default="template.yaml")
    loc.add_argument("--stack", default="hepde")
    loc.add_argument("--port", type=int, default=0, help="MiniStack port (default: a free one)")
    loc.add_argument(
        "--venv", default=".venv-ministack", help="MiniStack's own virtualenv (created if missing)"
    )
    loc.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the scheduled cycle")
    loc.add_argument(
        "--keep", action="store_true", help="leave MiniStack running (prints the endpoint to use)"
    )
    loc.add_argument(
        "--cycles", type=int, default=1, help="scheduled cycles of each channel to wait for (default 1)"
    )
    loc.add_argument(
        "--all-schedules",
        action="store_true",
        help="enable every channel's and source's schedule (default: only this channel's and its sources')",
    )
    loc.add_argument("--json", action="store_true", help="print the measured figures as JSON")
    loc.set_defaults(func=run_local)


def _root_relative(paths: list[str], root: Path) -> list[str]:
    out = []
    for p in paths:
        path = Path(p).resolve()
        try:
            out.append(str(path.relative_to(root)))
        except ValueError:
            out.append(str(path))
    return out


def context_for(
    configs: list[str],
    root: Path,
    workflow: str | None = None,
    standard: list[str] | None = None,
    source_schedules: str = "all",
):
    from hepde.runtime.channel import prepare
    from hepde_tools.deploy.template import DEFAULT_WORKFLOW, DeployContext

    channels = prepare(configs)
    return DeployContext(
        channels=channels,
        root=root,
        workflow=workflow or DEFAULT_WORKFLOW,
        workflow_overrides={name: "STANDARD" for name in (standard or [])},
        source_schedules=source_schedules,
        config_paths=sorted(_root_relative(configs, root)),
    )


def read_list(path: Path) -> list[str]:
    """Channel config paths listed in ``path`` (relative to the folder holding ``path``'s parent: the project)."""
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def run_generate(args: argparse.Namespace) -> int:
    from hepde_tools.deploy.template import generate

    out = Path(args.out)
    root = out.resolve().parent
    configs = list(args.configs)
    if args.list:
        configs += [str(root / p) for p in read_list(Path(args.list))]
    if not configs:
        raise DEError("no channel configs: give CHANNEL_CONFIG paths or --list FILE")
    args.configs = configs
    text = generate(context_for(configs, root, args.workflow, args.standard, args.source_schedules))
    if args.check:
        if not out.is_file() or out.read_text() != text:
            print(
                f"{out} is out of date: run `de deploy generate {' '.join(args.configs)}` and commit it",
                file=sys.stderr,
            )
            return 1
        return 0
    out.write_text(text)
    print(f"wrote {out}")
    return 0


def run_local(args: argparse.Namespace) -> int:
    from hepde_tools.deploy.local import LocalDeployError, deploy_and_run

    try:
        report = deploy_and_run(
            template=Path(args.template),
            channel_config=Path(args.channel),
            stack=args.stack,
            port=args.port or None,
            venv=Path(args.venv),
            timeout=args.timeout,
            keep=args.keep,
            cycles=args.cycles,
            all_schedules=args.all_schedules,
            progress=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    except LocalDeployError as exc:
        raise DEError(str(exc)) from exc
    print(report.render_json() if args.json else report.render())
    return 0 if report.ok else 1
