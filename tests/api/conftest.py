"""API tests: the operations API (Powertools resolver) over a deployment in the embedded local AWS,
called through the WSGI adapter that turns HTTP requests into API Gateway REST events."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from hepde import naming
from hepde.ops.context import OpsContext
from hepde.ops.rest import make_app, openapi_document
from hepde.runtime.channel import prepare
from hepde_tools.api_server import wsgi_app
from hepde_tools.local.embedded import EmbeddedAWS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api():
    """``(werkzeug test client, cloud, wsgi app)`` with the example channel deployed and two cycles run."""
    from werkzeug.test import Client

    with EmbeddedAWS() as cloud:
        (ch,) = prepare([ROOT / "channels" / "example.jsonnet"])
        arn = cloud.deploy_channel(ch.name, ch.definition)
        events = cloud.client("events")
        rule = naming.channel_schedule_rule(ch.name)
        events.put_rule(Name=rule, ScheduleExpression="cron(0/5 * * * ? *)", State="ENABLED")
        events.put_targets(
            Rule=rule,
            Targets=[
                {
                    "Id": "cycle",
                    "Arn": arn,
                    "RoleArn": cloud.role_arn,
                    "Input": json.dumps({"trigger": "schedule"}),
                }
            ],
        )
        for _ in range(2):
            assert cloud.wait(cloud.start(arn, name=str(uuid.uuid4())))["status"] == "SUCCEEDED"
        ctx = OpsContext.for_embedded(cloud)

        def context() -> OpsContext:
            ctx.executions._machines = None
            return ctx

        resolver = make_app(context)
        app = wsgi_app(lambda event, lctx: resolver.resolve(event, lctx), openapi_document)
        yield Client(app), cloud, app
