"""The operations API through its own test client: every route, its errors, and the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

from hepde.ops.rest import openapi_document

ROOT = Path(__file__).resolve().parents[2]


def get(client, url):
    r = client.get(url)
    return r.status_code, json.loads(r.get_data(as_text=True))


def test_api_openapi_document_is_current():
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), "docs/openapi.json is stale: run `de api openapi`"


def test_api_status_and_history(api):
    client, _, _ = api
    code, s = get(client, "/status")
    assert code == 200
    (ch,) = s["channels"]
    assert ch["channel"] == "example" and ch["schedule"]["expression"] == "cron(0/5 * * * ? *)"
    assert ch["next_run"]["at"] is not None and not ch["next_run"]["approximate"]
    assert int(ch["next_run"]["at"]) % 300 == 0
    assert {x["source"] for x in s["sources"]} == {"jobs_manifests", "startd_manifests"}
    code, h = get(client, "/channels/example/history?limit=1")
    assert code == 200 and len(h["cycles"]) == 1 and h["cycles"][0]["status"] == "SUCCEEDED"
    code, e = get(client, "/channels/nope/history")
    assert code == 404 and e["error"] == "not_found" and "nope" in e["message"]
    code, e = get(client, "/channels/example/history?limit=0")
    assert code == 422


def test_api_explain_and_logs(api):
    client, _, _ = api
    code, e = get(client, "/channels/example/explain?cycle=1")
    assert code == 200 and e["cycle"] == 1
    assert [r["entry"] for r in e["requests"]["pilot_requests_export"]] == ["1", "4", "8"]
    code, e = get(client, "/channels/example/explain?cycle=99")
    assert code == 404 and "no cycle 99" in e["message"]
    code, logs = get(client, "/channels/example/logs")
    assert code == 200 and logs["cycle"] == 2 and logs["execution_id"].startswith("arn:aws:states:")


def test_api_products(api):
    client, _, _ = api
    code, body = get(client, "/products/pilot_requests?columns=cores,requested_pilots&query=cores%20%3E%201")
    assert code == 200
    (res,) = body["results"]
    assert res["channel"] == "example" and res["columns"] == ["cores", "requested_pilots"]
    assert [r["cores"] for r in res["rows"]] == [4, 8]
    code, body = get(client, "/products/pilot_requests/history?since=1%20hour%20ago")
    assert code == 200 and body["columns"][:2] == ["channel", "generation"] and len(body["rows"]) == 6
    code, body = get(client, "/products")
    assert code == 200 and body["channels"][0]["channel"] == "example"
    code, e = get(client, "/products/pilot_requests?query=__import__('os')")
    assert code == 400 and e["error"] == "bad_request" and "bad query" in e["message"]
    code, e = get(client, "/products/pilot_requests/history?since=whenever")
    assert code == 400 and "cannot read the time" in e["message"]
    code, e = get(client, "/products/unknown_thing")
    assert code == 404


def test_api_control(api):
    client, cloud, _ = api
    events = cloud.client("events")
    r = client.post("/channels/example/stop")
    assert r.status_code == 200 and json.loads(r.get_data())["schedule"]["enabled"] is False
    assert events.describe_rule(Name="hepde-cycle-example")["State"] == "DISABLED"
    r = client.post("/channels/example/start")
    assert r.status_code == 200 and events.describe_rule(Name="hepde-cycle-example")["State"] == "ENABLED"
    r = client.post("/channels/example/run-now")
    body = json.loads(r.get_data())
    assert r.status_code == 202 and body["caller"] == "local"
    assert cloud.wait(body["execution_arn"])["status"] == "SUCCEEDED"
    assert client.post("/channels/nope/run-now").status_code == 404
    assert client.get("/no/such/route").status_code == 404


def test_api_lambda_handler_serves_the_deployed_stack_from_its_environment(api, monkeypatch):
    """functions/api/app.py as Lambda runs it: context from the environment the template sets."""
    import importlib.util
    import io

    from hepde.ops import rest
    from hepde_tools.api_server import LambdaContextStub, event_from_environ

    _, cloud, _ = api
    arn = cloud.client("stepfunctions").list_state_machines()["stateMachines"][0]["stateMachineArn"]
    monkeypatch.setenv("DE_CHANNELS", json.dumps({"example": arn}))
    monkeypatch.setenv("DE_SOURCES", "jobs_manifests,startd_manifests")
    monkeypatch.setattr(rest, "_deployed", {})
    spec = importlib.util.spec_from_file_location("hepde_function_api", ROOT / "functions" / "api" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = event_from_environ(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/status", "QUERY_STRING": "", "wsgi.input": io.BytesIO()}
    )
    out = module.lambda_handler(event, LambdaContextStub())
    assert out["statusCode"] == 200
    body = json.loads(out["body"])
    assert [c["channel"] for c in body["channels"]] == ["example"]
    assert {s["source"] for s in body["sources"]} == {"jobs_manifests", "startd_manifests"}
