"""Run the operations API locally: a WSGI app that turns each HTTP request into the API Gateway REST
(v1 proxy) event the Lambda receives and calls the same resolver (``de api serve``; schemathesis tests).

There is no IAM check locally: the request's identity is ``local``.  ``GET /openapi.json`` returns the
OpenAPI document.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl


def event_from_environ(environ: dict[str, Any]) -> dict[str, Any]:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO") or "/"
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        multi.setdefault(k, []).append(v)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        text, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "apiId": "local",
            "accountId": "000000000000",
            "identity": {
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userArn": "local",
                "caller": "local",
            },
        },
        "body": text or None,
        "isBase64Encoded": b64,
    }


class LambdaContextStub:
    function_name = "hepde-api-local"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:hepde-api-local"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def wsgi_app(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], openapi: Callable[[], dict[str, Any]]
) -> Callable[..., Iterable[bytes]]:
    """A WSGI application over a Lambda ``handler`` (event, context) -> API Gateway proxy response."""
    from http import HTTPStatus

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/openapi.json" and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps(openapi(), indent=1).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        out = handler(event_from_environ(environ), LambdaContextStub())
        status = int(out.get("statusCode", 500))
        headers = dict(out.get("headers") or {})
        for k, vs in (out.get("multiValueHeaders") or {}).items():
            headers.setdefault(k, ", ".join(vs))
        raw = out.get("body") or ""
        data = base64.b64decode(raw) if out.get("isBase64Encoded") else raw.encode("utf-8")
        headers["Content-Length"] = str(len(data))
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        start_response(f"{status} {phrase}", list(headers.items()))
        return [data]

    return app
