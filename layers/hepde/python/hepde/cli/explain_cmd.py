"""``de explain --channel C [--cycle N] [--json]``: why a cycle decided what it decided."""

from __future__ import annotations

import argparse
import json
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="the decision record of a channel's last (or N-th) cycle")
    p.add_argument("--channel", required=True)
    p.add_argument("--cycle", type=int, help="cycle (generation) number; default: the last")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--stack", default="hepde", help="deployment name prefix (default hepde)")
    p.set_defaults(func=run)


def deployed_store(stack: str):  # noqa: ANN201 - a DataBlockStore
    """The deployed DataBlock: table/bucket from DE_TABLE_NAME/DE_BUCKET_NAME, else named after the stack."""
    from hepde.datablock.dynamo import DynamoDataBlockStore
    from hepde.naming import table_name

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    host = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    return DynamoDataBlockStore(os.environ.get("DE_TABLE_NAME") or table_name(stack),
                                os.environ.get("DE_BUCKET_NAME") or f"{stack}-products", region=region, host=host)


def run(args: argparse.Namespace, store=None) -> int:  # noqa: ANN001
    from hepde.runtime.explain import explain_text, explanation

    e = explanation(store or deployed_store(args.stack), args.channel, args.cycle)
    print(json.dumps(e, indent=1, default=str) if args.json else explain_text(e), end="" if not args.json else "\n")
    return 0
