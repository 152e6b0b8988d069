"""``de simulate SCENARIO``: the HTC pilot channel's decision code over many cycles of a simulated pool."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="run the HTC channel's real decisions cycle after cycle against a simulated pool and factory",
        description="Scenarios: steady, burst, black_hole, demand_drop, collector_outage, pinned_sites, "
        "or a TOML file (docs/simulate.md).",
    )
    p.add_argument("scenario", help="a bundled scenario name or a scenario TOML file")
    p.add_argument("--policies", default="original,default", help="comma-separated: original, default")
    p.add_argument("--cycles", type=int, default=None, help="cycles to run (default: the scenario's)")
    p.add_argument("--channel", default=None, help="the channel file (default: the scenario's)")
    p.add_argument("--json", action="store_true", help="print {policy: {metric: value}}")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="requests, pilots and demand over time")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hepde.errors import DEError
    from hepde_tools.simulate.decide import POLICIES
    from hepde_tools.simulate.run import check_targets, simulate
    from hepde_tools.simulate.scenario import load_scenario

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = [p for p in policies if p not in POLICIES]
    if not policies or unknown:
        raise DEError(f"--policies: unknown {unknown or 'empty'}; expected a list of {', '.join(POLICIES)}")
    if args.cycles is not None and not 1 <= args.cycles <= 2000:
        raise DEError("--cycles must be between 1 and 2000")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise DEError(f"--plot {args.plot}: expected a .png file name")
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise DEError(f"--plot {args.plot}: directory {Path(args.plot).resolve().parent} does not exist")
    scenario = load_scenario(args.scenario)
    if args.channel:
        scenario = scenario.model_copy(update={"channel": args.channel})
    results = simulate(scenario, policies, args.cycles)
    figures = {r.policy: r.metrics for r in results}
    if args.plot:
        plot(scenario.name, results, Path(args.plot))
    if args.json:
        print(json.dumps(figures, indent=1, sort_keys=False))
        return 0
    print(f"scenario {scenario.name}: {scenario.description}")
    print(render_figures(figures))
    targets = check_targets(scenario.name, figures)
    for t in targets:
        mark = "met" if t["met"] else "NOT met"
        print(f"target {t['metric']}: ours {t['ours']} vs original {t['original']} — {t['target']}: {mark}")
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


def render_figures(figures: dict[str, dict[str, Any]]) -> str:
    from hepde_tools.cli.render import table

    policies = list(figures)
    metrics = list(next(iter(figures.values())))
    rows = [[m, *(figures[p][m] if figures[p][m] is not None else "-" for p in policies)] for m in metrics]
    return table(rows, ["metric", *policies])


def plot(name: str, results: list[Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for r in results:
        s = r.series
        x = list(range(len(s.pilots)))
        axes[0].plot(x, s.requested_idle, label=r.policy)
        axes[1].plot(x, s.pilots, label=f"{r.policy} pilots")
        axes[1].plot(x, s.pilots_idle, linestyle=":", label=f"{r.policy} idle pilots")
        axes[2].plot(
            x, [a + b for a, b in zip(s.jobs_idle, s.jobs_running, strict=True)], label=f"{r.policy} jobs"
        )
        axes[2].plot(x, s.jobs_idle, linestyle=":", label=f"{r.policy} idle jobs")
    axes[0].set_ylabel("ReqIdleGlideins (sum)")
    axes[1].set_ylabel("pilots (registered)")
    axes[2].set_ylabel("demand (jobs)")
    axes[2].set_xlabel("cycle")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"de simulate {name}")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        from hepde.errors import DEError

        raise DEError(f"--plot {path}: cannot be written: {exc}") from exc
    finally:
        plt.close(fig)
