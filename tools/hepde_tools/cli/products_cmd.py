"""``de products print|query|list``: data products of channels' cycles (the original de-client
``--print-product`` and de-query-tool, with their options and output formats)."""

from __future__ import annotations

import argparse

from hepde.ops.products import FORMATS
from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("products", help="print or query data products")
    psub = p.add_subparsers(dest="products_action", metavar="ACTION", required=True)

    pr = psub.add_parser("print", help="a product as the last completed cycle of each channel saw it")
    pr.add_argument("name", metavar="NAME")
    pr.add_argument(
        "--channel", action="append", help="only this channel (repeatable; default: every channel)"
    )
    pr.add_argument("--columns", help="comma-separated columns to show, in that order")
    pr.add_argument(
        "--query",
        help='pandas query selecting rows, e.g. "idle_jobs > 0 and cores == 8" '
        "(checked by the safe expression checker first)",
    )
    pr.add_argument("--types", action="store_true", help="add a <column>.type column after each column")
    pr.add_argument("--format", choices=FORMATS, default="table")
    clisupport.add_stack(pr)
    pr.set_defaults(func=run_print)

    q = psub.add_parser(
        "query", help="a product across the cycles since a time, with channel and generation columns"
    )
    q.add_argument("name", metavar="NAME")
    q.add_argument(
        "--since", required=True, help="'YYYY-mm-dd HH:MM:SS' (UTC), ISO 8601, epoch, or '2h' (ago)"
    )
    q.add_argument("--until", help="same formats; default now")
    q.add_argument("--channel", action="append", help="only this channel (repeatable)")
    q.add_argument("--columns", help="comma-separated columns (channel and generation always come first)")
    q.add_argument("--query", help="pandas query selecting rows (checked first)")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("--max-cycles", type=int, default=1000, help="cycles looked at per channel (default 1000)")
    clisupport.add_stack(q)
    q.set_defaults(func=run_query)

    ls = psub.add_parser("list", help="the products of each channel's last completed cycle")
    ls.add_argument("--channel", action="append")
    clisupport.add_stack(ls)
    clisupport.add_json(ls)
    ls.set_defaults(func=run_list)


def _columns(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _channels(ctx, args) -> list[str]:  # noqa: ANN001
    if args.channel:
        return list(args.channel)
    from hepde.ops.status import channel_names

    return channel_names(ctx)


def run_print(args: argparse.Namespace) -> int:
    from hepde.ops.products import print_product
    from hepde_tools.cli.render import print_text

    ctx = clisupport.context(args)
    results = print_product(
        ctx.store,
        _channels(ctx, args),
        args.name,
        columns=_columns(args.columns),
        query=args.query,
        types=args.types,
    )
    print(print_text(args.name, results, args.format), end="")
    return 0


def run_query(args: argparse.Namespace) -> int:
    from hepde.ops.products import query_product
    from hepde.ops.timeutil import parse_time
    from hepde_tools.cli.render import render

    since = parse_time(args.since)
    until = parse_time(args.until) if args.until else None
    ctx = clisupport.context(args)
    channels = _channels(ctx, args)
    progress = clisupport.Progress(f"querying {args.name}")
    try:
        frame = query_product(
            ctx.store,
            channels,
            args.name,
            since,
            until=until,
            columns=_columns(args.columns),
            query=args.query,
            max_cycles=args.max_cycles,
            progress=progress,
        )
    finally:
        progress.close()
    print(
        f"Product {args.name}: "
        + "".join(f" Found in channel {c}\n" for c in sorted(set(frame["channel"])))
        + render(frame, args.format),
        end="",
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    from hepde.ops.products import list_products
    from hepde_tools.cli.render import table

    ctx = clisupport.context(args)
    listing = list_products(ctx.store, _channels(ctx, args))
    if args.json:
        clisupport.print_json(listing)
        return 0
    rows = [[c["channel"], c["cycle"], p["product"], p["from"]] for c in listing for p in c["products"]]
    print(table(rows, ["channel", "cycle", "product", "from"]))
    return 0
