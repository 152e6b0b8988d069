"""``de replay --channel C --from TIME --to TIME --config NEW.jsonnet``: the recorded inputs of past cycles
through a changed channel config, in the embedded local AWS, and the decision diff (table, PNG, HTML).

The recording comes from the deployed DataBlock (``--stack``, standard AWS credentials or
``AWS_ENDPOINT_URL``) — or, with ``--record OLD.jsonnet --cycles N``, from N cycles of OLD run first in
the embedded cloud (to try a config change with no deployment at all).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hepde.errors import DEError
from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay", help="replay recorded cycles through a changed channel config; diff the decisions"
    )
    p.add_argument("--channel", help="the recorded channel (default with --record: that config's channel)")
    p.add_argument(
        "--from",
        dest="since",
        default="0",
        help="first cycle start: 'YYYY-mm-dd HH:MM:SS' (UTC), ISO, "
        "epoch, or '2h' (ago); default: the first recorded",
    )
    p.add_argument("--to", dest="until", default="now", help="last cycle start (same formats; default now)")
    p.add_argument(
        "--config", required=True, metavar="NEW", help="the changed channel config (.jsonnet/.json)"
    )
    p.add_argument("--out", metavar="DIR", help="write replay-<channel>.html, .png and .json there")
    p.add_argument(
        "--max-cycles", type=int, default=500, help="replay at most the last N cycles of the range"
    )
    p.add_argument(
        "--record", metavar="OLD", help="first record --cycles cycles of OLD in the embedded cloud"
    )
    p.add_argument("--cycles", type=int, default=3, help="with --record: cycles to record (default 3)")
    clisupport.add_stack(p)
    clisupport.add_json(p)
    p.set_defaults(func=run)


def _record_locally(old: str, cycles: int, progress: clisupport.Progress):  # noqa: ANN202
    import uuid

    from hepde.runtime.channel import prepare
    from hepde_tools.local.embedded import EmbeddedAWS
    from hepde_tools.replay import load_recording

    (ch,) = prepare([old])
    with EmbeddedAWS() as cloud:
        arn = cloud.deploy_channel(ch.name, ch.definition)
        for i in range(cycles):
            progress(i, cycles, f"recording cycle {i + 1} of {ch.name}")
            cloud.wait(cloud.start(arn, {"trigger": "schedule"}, name=str(uuid.uuid4())))
        return ch.name, load_recording(cloud.store(), ch.name, 0, float("inf"))


def run(args: argparse.Namespace) -> int:
    from hepde.ops.timeutil import parse_time
    from hepde_tools.cli.replay_report import diff_text, html_report, plot_png
    from hepde_tools.replay import decision_diff, load_recording, replay

    since, until = parse_time(args.since), parse_time(args.until)
    if not Path(args.config).exists():
        raise DEError(f"no such channel config: {args.config}")
    progress = clisupport.Progress("replay")
    try:
        if args.record:
            if args.cycles < 1:
                raise DEError("--cycles must be at least 1")
            channel, recording = _record_locally(args.record, args.cycles, progress)
            if args.channel and args.channel != channel:
                raise DEError(
                    f"--channel {args.channel} does not match the recorded config's channel '{channel}'"
                )
        else:
            if not args.channel:
                raise DEError("--channel is required (the deployed channel whose cycles to replay)")
            ctx = clisupport.context(args)
            recording = load_recording(
                ctx.store, args.channel, since, until, max_cycles=args.max_cycles, progress=progress
            )
        replayed = replay(recording, args.config, progress=progress)
    finally:
        progress.close()
    diff = decision_diff(recording, replayed)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        png = plot_png(diff)
        stem = f"replay-{diff['channel']}"
        (out / f"{stem}.png").write_bytes(png)
        (out / f"{stem}.html").write_text(html_report(diff, png, str(args.config)))
        (out / f"{stem}.json").write_text(json.dumps(diff, indent=1, default=str))
        print(f"wrote {out / stem}.html, .png and .json", file=sys.stderr)
    if args.json:
        clisupport.print_json(diff)
    else:
        print(diff_text(diff), end="")
    return 0
