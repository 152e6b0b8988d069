"""The operations REST API: the CLI's read operations plus start/stop/run-now, over HTTP.

Powertools' ``APIGatewayRestResolver`` (ADR 0007) routes API Gateway REST (v1 proxy) events to the
functions of :mod:`hepde.ops`; the OpenAPI document (``docs/openapi.json``) is generated from these
routes by :func:`openapi_document`.  Authentication is API Gateway's ``AWS_IAM`` authorizer: only
SigV4-signed requests of principals allowed ``execute-api:Invoke`` reach the function; the caller's ARN
is logged with every control action.

Errors are JSON ``{"error": <kind>, "message": <text>}``: 400 bad input (query, time, columns), 404
unknown channel/product/cycle, 409 a cycle already running, 502 an AWS call failed, 503 the DataBlock
was unavailable; parameter validation failures are Powertools' 422.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from hepde import __version__
from hepde.errors import (
    ChannelNotFoundError,
    CycleInProgressError,
    DataBlockUnavailableError,
    DEError,
    ProductNotFoundError,
)
from hepde.ops.context import OpsContext

log = logging.getLogger("hepde.ops.rest")

TITLE = "HEPCloud Decision Engine operations API"
DESCRIPTION = (
    "Status, products, history, decision explanations and logs of the serverless Decision Engine, and "
    "start/stop/run-now of its channels. Requests are signed with AWS SigV4 (API Gateway AWS_IAM auth). "
    "The same operations as the `de` CLI (docs/operations-cli.md); field names are those of `de ... --json`."
)

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def _err(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}


def _ok(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


E400 = _err(
    "bad input: a query that is not allowed or does not evaluate, an unreadable time, an unknown column"
)
E404 = _err("unknown channel, product or cycle")
E409 = _err("a cycle of the channel is already running")
E502 = _err("an AWS call failed (permissions, throttling, endpoint)")
E503 = _err("the DataBlock (DynamoDB/S3) is unavailable; retry")
#: API Gateway's own answer to an unsigned request or a principal without execute-api:Invoke
E403: OpenAPIResponse = {
    "description": "API Gateway (AWS_IAM auth): missing or invalid SigV4 signature, or not allowed",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
READ = {400: E400, 403: E403, 404: E404, 502: E502, 503: E503}
QUERY = READ


SUMMARIES = {
    "start": "Enable the channel's schedule",
    "stop": "Disable the channel's schedule (a running cycle finishes)",
    "run-now": "Start a cycle now",
}


def _channels(ctx: OpsContext, channel: str | None) -> list[str]:
    if channel:
        return [c.strip() for c in channel.split(",") if c.strip()]
    from hepde.ops.status import channel_names

    return channel_names(ctx)


def _columns(columns: str | None) -> list[str] | None:
    return [c.strip() for c in columns.split(",") if c.strip()] if columns else None


def _error(status: int, kind: str, exc: BaseException) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": kind, "message": str(exc)}),
    )


def make_app(context: Callable[[], OpsContext]) -> APIGatewayRestResolver:
    """The API, reading and driving what ``context()`` returns (built per request, cheap)."""
    from hepde.ops import control
    from hepde.ops.aws import AWSAccessError
    from hepde.ops.history import history
    from hepde.ops.logs import cycle_logs
    from hepde.ops.products import (
        BadQueryError,
        UnknownColumnError,
        list_products,
        print_product,
        query_product,
        records,
    )
    from hepde.ops.status import status
    from hepde.ops.timeutil import TimeFormatError, parse_time
    from hepde.runtime.explain import CycleNotFoundError, explanation

    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler([ChannelNotFoundError, ProductNotFoundError, CycleNotFoundError])
    def _not_found(exc: Exception) -> Response:
        return _error(404, "not_found", exc)

    @app.exception_handler([BadQueryError, UnknownColumnError, TimeFormatError])
    def _bad(exc: Exception) -> Response:
        return _error(400, "bad_request", exc)

    @app.exception_handler(CycleInProgressError)
    def _conflict(exc: Exception) -> Response:
        return _error(409, "conflict", exc)

    @app.exception_handler(AWSAccessError)
    def _aws(exc: Exception) -> Response:
        return _error(502, "aws_error", exc)

    @app.exception_handler(DataBlockUnavailableError)
    def _unavailable(exc: Exception) -> Response:
        return _error(503, "unavailable", exc)

    @app.exception_handler(DEError)
    def _other(exc: Exception) -> Response:
        return _error(400, "bad_request", exc)

    @app.not_found
    def _no_route(exc: Exception) -> Response:
        return Response(
            status_code=404,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps({"error": "not_found", "message": f"no route {app.current_event.path}"}),
        )

    def caller() -> str:
        try:
            ident = app.current_event.request_context.identity
            return ident.user_arn or ident.caller or "unknown"
        except Exception:  # noqa: BLE001 - a local request has no identity
            return "unknown"

    @app.get(
        "/status",
        operation_id="get_status",
        summary="Every channel and shared source",
        tags=["status"],
        responses={200: _ok("status"), **READ},
    )
    def get_status(
        channel: Annotated[
            str | None, Query(description="comma-separated channel names; default all")
        ] = None,
    ) -> dict[str, Any]:
        ctx = context()
        return status(ctx, _channels(ctx, channel) if channel else None)

    @app.get(
        "/channels/<channel>/history",
        operation_id="get_history",
        summary="Recent cycles of a channel",
        tags=["channels"],
        responses={200: _ok("cycles, newest first"), **READ},
    )
    def get_history(
        channel: Annotated[str, Path()], limit: Annotated[int, Query(ge=1, le=1000)] = 20
    ) -> dict[str, Any]:
        return history(context().store, channel, limit)

    @app.get(
        "/channels/<channel>/explain",
        operation_id="get_explain",
        summary="The decision record of a cycle",
        tags=["channels"],
        responses={
            200: _ok("facts, rules, publishers and their typed requests per entry (RequestRow)"),
            **READ,
        },
    )
    def get_explain(
        channel: Annotated[str, Path()],
        cycle: Annotated[int | None, Query(ge=1, description="default: the last")] = None,
    ) -> dict[str, Any]:
        return explanation(context().store, channel, cycle)

    @app.get(
        "/channels/<channel>/logs",
        operation_id="get_logs",
        summary="A cycle's logs from CloudWatch Logs",
        tags=["channels"],
        responses={200: _ok("log events"), **READ},
    )
    def get_logs(
        channel: Annotated[str, Path()],
        cycle: Annotated[int | None, Query(ge=1)] = None,
        level: Annotated[str | None, Query(max_length=16)] = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> dict[str, Any]:
        return cycle_logs(context(), channel, cycle, level=level, limit=limit)

    def control_route(action: str, fn: Callable[[OpsContext, str], dict[str, Any]], status_code: int) -> None:
        @app.post(
            f"/channels/<channel>/{action}",
            summary=SUMMARIES[action],
            tags=["control"],
            operation_id=f"post_channel_{action.replace('-', '_')}",
            responses={status_code: _ok(action), **READ, **({409: E409} if action == "run-now" else {})},
        )
        def handler(channel: Annotated[str, Path()]) -> Response[dict[str, Any]]:
            result = fn(context(), channel)
            log.info("channel %s: %s by %s", channel, action, caller())
            return Response(
                status_code=status_code,
                content_type=content_types.APPLICATION_JSON,
                body=json.loads(json.dumps({**result, "caller": caller()}, default=str)),
            )

    control_route("start", control.start, 200)
    control_route("stop", control.stop, 200)
    control_route("run-now", control.run_now, 202)

    @app.get(
        "/products",
        operation_id="get_products",
        summary="Products of each channel's last completed cycle",
        tags=["products"],
        responses={200: _ok("products per channel"), **READ},
    )
    def get_products(channel: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        ctx = context()
        return {"channels": list_products(ctx.store, _channels(ctx, channel))}

    @app.get(
        "/products/<name>",
        operation_id="get_product",
        summary="A product as each channel's last completed cycle saw it",
        tags=["products"],
        responses={200: _ok("rows per channel"), **QUERY},
    )
    def get_product(
        name: Annotated[str, Path()],
        channel: Annotated[str | None, Query()] = None,
        columns: Annotated[str | None, Query(description="comma-separated")] = None,
        query: Annotated[
            str | None, Query(max_length=2000, description="pandas query, checked first")
        ] = None,
        types: Annotated[bool, Query()] = False,
    ) -> dict[str, Any]:
        ctx = context()
        results = print_product(
            ctx.store, _channels(ctx, channel), name, columns=_columns(columns), query=query, types=types
        )
        return {
            "product": name,
            "results": [
                {
                    "channel": f.channel,
                    "cycle": f.cycle,
                    "stored_as": f.ref.to_json(),
                    "columns": [str(c) for c in frame.columns],
                    "rows": records(frame),
                }
                for f, frame in results
            ],
        }

    @app.get(
        "/products/<name>/history",
        operation_id="get_product_history",
        summary="A product across the cycles since a time",
        tags=["products"],
        responses={200: _ok("rows with channel and generation"), **QUERY},
    )
    def get_product_history(
        name: Annotated[str, Path()],
        since: Annotated[str, Query(description="YYYY-mm-dd HH:MM:SS (UTC), ISO 8601, epoch, or 2h")],
        until: Annotated[str | None, Query()] = None,
        channel: Annotated[str | None, Query()] = None,
        columns: Annotated[str | None, Query()] = None,
        query: Annotated[str | None, Query(max_length=2000)] = None,
        max_cycles: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> dict[str, Any]:
        ctx = context()
        frame = query_product(
            ctx.store,
            _channels(ctx, channel),
            name,
            parse_time(since),
            until=parse_time(until) if until else None,
            columns=_columns(columns),
            query=query,
            max_cycles=max_cycles,
        )
        return {"product": name, "columns": [str(c) for c in frame.columns], "rows": records(frame)}

    return app


def openapi_document(app: APIGatewayRestResolver | None = None) -> dict[str, Any]:
    """The OpenAPI document of the API (what ``docs/openapi.json`` holds)."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    app = app or make_app(lambda: None)  # type: ignore[arg-type, return-value]
    text = app.get_openapi_json_schema(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        servers=[Server(url="/")],
        security_schemes={
            "sigv4": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",  # type: ignore[dict-item]
                "description": "AWS SigV4 (API Gateway AWS_IAM authorization)",
            }
        },
        security=[{"sigv4": []}],
    )
    return json.loads(text)


_deployed: dict[str, Any] = {}


def deployed_context() -> OpsContext:
    """The Lambda's context: the stack named by ``DE_STACK`` (default ``hepde``), created once per container."""
    import os

    if "ctx" not in _deployed:
        _deployed["ctx"] = OpsContext.from_environment(os.environ.get("DE_STACK", "hepde"))
    ctx: OpsContext = _deployed["ctx"]
    ctx.executions._machines = None  # channels may be deployed between requests
    return ctx


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The deployed API: resolve one API Gateway event against the deployed stack."""
    if "app" not in _deployed:
        _deployed["app"] = make_app(deployed_context)
    return _deployed["app"].resolve(event, context)
