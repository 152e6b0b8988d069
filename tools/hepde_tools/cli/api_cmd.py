"""``de api serve|openapi``: the operations REST API run locally, and its OpenAPI document.

``serve`` answers HTTP on 127.0.0.1 with the same resolver the API Lambda runs (each request becomes an
API Gateway REST event), against the stack the standard AWS credentials or ``AWS_ENDPOINT_URL`` point
at.  No IAM check happens locally.  ``openapi`` writes (or ``--check``s) ``docs/openapi.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hepde.errors import DEError
from hepde_tools.cli import support as clisupport


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="run the operations REST API locally, or write its OpenAPI document")
    psub = p.add_subparsers(dest="api_action", metavar="ACTION", required=True)
    s = psub.add_parser("serve", help="serve the API on 127.0.0.1 (no IAM check locally)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1")
    clisupport.add_stack(s)
    s.set_defaults(func=serve)
    o = psub.add_parser("openapi", help="write the OpenAPI document (default docs/openapi.json)")
    o.add_argument("--out", default="docs/openapi.json", help="file to write, or - for stdout")
    o.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the generated document"
    )
    o.set_defaults(func=openapi)


def document_text() -> str:
    from hepde.ops.rest import openapi_document

    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def openapi(args: argparse.Namespace) -> int:
    text = document_text()
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.out)
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(f"{path} is not current: run `de api openapi --out {path}`", file=sys.stderr)
            return 1
        print(f"{path} is current")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def serve(args: argparse.Namespace) -> int:
    try:
        from werkzeug.serving import run_simple
    except ImportError as exc:  # pragma: no cover - werkzeug comes with the local extra (moto)
        raise DEError("`de api serve` needs werkzeug: pip install 'hepde-serverless[local]'") from exc
    from hepde.ops.rest import make_app, openapi_document
    from hepde_tools.api_server import wsgi_app

    ctx = clisupport.context(args)  # fails early and clearly without credentials
    resolver = make_app(lambda: ctx)
    app = wsgi_app(lambda event, context: resolver.resolve(event, context), openapi_document)
    print(
        f"operations API of stack '{args.stack}' on http://{args.host}:{args.port}/ (OpenAPI: /openapi.json)",
        file=sys.stderr,
    )
    run_simple(args.host, args.port, app, use_reloader=False, threaded=False)
    return 0
