"""The generated SAM template: in step with the generator, least-privilege, complete per channel."""

from __future__ import annotations

import json
import re
import sys
import tomllib
import types
from pathlib import Path

import pytest
import yaml

from hepde.runtime.asl import placeholders
from hepde.runtime.stages import SourceRequest
from hepde_tools.cli.deploy_cmd import context_for, read_list
from hepde_tools.cli.main import main
from hepde_tools.deploy import yamlout
from hepde_tools.deploy.channels_part import channel_id, source_id
from hepde_tools.deploy.template import (
    PARTS,
    DeployError,
    build,
    generate,
    logical_id,
    part_modules,
    rate_expression,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EXAMPLE = ROOT / "channels" / "example.jsonnet"


DEPLOYED = ROOT / "infra" / "deployed-channels.txt"


def committed_configs() -> list[str]:
    """The deployed channels (infra/deployed-channels.txt: `make template` generates from it)."""
    return [str(ROOT / p) for p in read_list(DEPLOYED)]


@pytest.fixture(scope="module")
def ctx():
    return context_for(committed_configs(), ROOT)


@pytest.fixture(scope="module")
def doc(ctx) -> dict:
    return build(ctx).doc


def resources(doc: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in doc["Resources"].items() if v["Type"] == type_}


def test_deploy_committed_template_matches_the_generator(ctx):
    assert TEMPLATE.read_text() == generate(ctx), (
        "template.yaml is out of date: run `make template` (de deploy generate --list infra/deployed-channels.txt) "
        "and commit it"
    )


def test_deploy_generate_check_fails_on_a_stale_template(tmp_path, capsys):
    out = tmp_path / "template.yaml"
    (tmp_path / "statemachines").symlink_to(ROOT / "statemachines")
    out.write_text("stale\n")
    assert main(["deploy", "generate", str(EXAMPLE), "--out", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["deploy", "generate", str(EXAMPLE), "--out", str(out)]) == 0
    assert main(["deploy", "generate", str(EXAMPLE), "--out", str(out), "--check"]) == 0


def test_deploy_the_template_deploys_the_listed_channels():
    deployed = yaml.safe_load(TEMPLATE.read_text())["Metadata"]["hepde"]["channels"]
    assert deployed == sorted(str(Path(p).relative_to(ROOT)) for p in committed_configs())
    assert "channels/example.jsonnet" in deployed  # `make local-deploy` runs it


def test_deploy_every_channel_is_deployed_or_its_exclusion_explained():
    listed = set(read_list(DEPLOYED))
    text = DEPLOYED.read_text()
    for path in sorted((ROOT / "channels").glob("*.jsonnet")):
        rel = str(path.relative_to(ROOT))
        assert rel in listed or f"# {rel}" in text, f"{rel}: add it to {DEPLOYED.name} or say why not there"


def test_deploy_yaml_writer_round_trips_the_template(doc):
    parsed = yaml.safe_load(yamlout.dump(doc))
    assert parsed == json.loads(json.dumps({k: v for k, v in doc.items() if v}))


@pytest.mark.parametrize(
    "value",
    [
        "true",
        "No",
        "1.5",
        "a: b",
        "x #y",
        "{a}",
        "${AWS::StackName}-x",
        "- a",
        "",
        " lead",
        "trail ",
        "multi\nline\n",
        'quote"s',
        "tab\tbed",
        "null",
        "@at",
        "o'k",
    ],
)
def test_deploy_yaml_writer_keeps_awkward_strings(value):
    assert yaml.safe_load(yamlout.dump({"k": value, "l": [value], "m": {"Fn::Sub": value}})) == {
        "k": value,
        "l": [value],
        "m": {"Fn::Sub": value},
    }


def _allow_actions(statements: list[dict]) -> list[str]:
    actions = []
    for st in statements:
        if st.get("Effect") == "Allow":
            a = st["Action"]
            actions += [a] if isinstance(a, str) else a
    return actions


def _policy_statements(doc: dict) -> dict[str, list[dict]]:
    """Every inline statement of every function, state machine and role, by resource."""
    found: dict[str, list[dict]] = {}
    for name, res in doc["Resources"].items():
        props = res.get("Properties", {})
        for pol in props.get("Policies", []) if isinstance(props.get("Policies"), list) else []:
            if "Statement" in pol:
                found.setdefault(name, []).extend(pol["Statement"])
            elif "PolicyDocument" in pol:
                found.setdefault(name, []).extend(pol["PolicyDocument"]["Statement"])
    return found


def test_deploy_no_iam_action_is_a_wildcard(doc):
    for name, statements in _policy_statements(doc).items():
        for action in _allow_actions(statements):
            assert "*" not in action, f"{name} allows {action}"
        for st in statements:
            if st.get("Resource") == "*":  # only the log-delivery actions take no resource ARN
                assert all(a.startswith("logs:") for a in _allow_actions([st])), (name, st)


def test_deploy_each_function_gets_only_what_its_stage_does(doc):
    pols = _policy_statements(doc)
    cycle = set(_allow_actions(pols["CycleFunction"]))
    assert not any(a.startswith("s3:") for a in cycle), "the cycle stage never touches product values"
    assert "dynamodb:BatchWriteItem" not in cycle
    publish = set(_allow_actions(pols["PublishFunction"]))
    assert "sqs:SendMessage" in publish and not any(
        a.startswith("sqs:") for a in set(_allow_actions(pols["DecideFunction"]))
    )
    for fn in ("CycleFunction", "SourceFunction", "TransformFunction", "DecideFunction", "PublishFunction"):
        for st in pols[fn]:
            assert st["Resource"] != "*", fn


def test_deploy_source_and_publisher_s3_locations_are_granted_per_bucket(tmp_path):
    cfg = json.loads(
        json.dumps(
            {
                "transforms": {},
                "sources": {
                    "snap": {
                        "module": "hepde.modules.generic.table_file",
                        "schedule": 60,
                        "parameters": {
                            "location": "s3://onprem-drop/queues/latest.csv",
                            "product": "job_manifests",
                        },
                    }
                },
                "publishers": {
                    "out": {
                        "module": "hepde.modules.generic.table_export",
                        "parameters": {
                            "product": "job_manifests",
                            "location": "s3://exports-bkt/{channel}/x.csv",
                        },
                    }
                },
            }
        )
    )
    path = tmp_path / "s3chan.json"
    path.write_text(json.dumps(cfg))
    (tmp_path / "statemachines").mkdir()
    (tmp_path / "statemachines" / "s3chan.asl.json").write_text("{}")
    doc = build(context_for([str(path)], tmp_path)).doc
    pols = _policy_statements(doc)
    src = {s["Sid"]: s for s in pols["SourceFunction"]}
    assert src["SourceLocations"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::onprem-drop/queues/latest.csv*"}
    ]
    pub = {s["Sid"]: s for s in pols["PublishFunction"]}
    assert pub["PublisherLocations"]["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::exports-bkt/*"}]
    assert not any(s.get("Sid") == "ModuleSecrets" for st in pols.values() for s in st)


def test_deploy_secrets_manager_references_are_granted_per_secret():
    from hepde_tools.deploy.core_part import _secret_arns, secret_refs

    params = {
        "credentials": {"secrets_manager": "gce/sa-key", "key": "json"},
        "accounts": [
            {"private_key": {"secrets_manager": "arn:aws:secretsmanager:us-east-1:1:secret:nersc-AbCdEf"}}
        ],
    }
    assert _secret_arns(secret_refs(params)) == [
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:gce/sa-key-??????",
        "arn:aws:secretsmanager:us-east-1:1:secret:nersc-AbCdEf",
    ]


def test_deploy_datablock_table_has_ttl_pitr_and_encryption(doc):
    table = doc["Resources"]["DataBlockTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_deploy_bucket_is_encrypted_private_and_expires_history(doc):
    bucket = doc["Resources"]["ProductsBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert (
        all(bucket["PublicAccessBlockConfiguration"].values())
        and len(bucket["PublicAccessBlockConfiguration"]) == 4
    )
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "RetentionDays"}


def test_deploy_every_queue_has_a_dead_letter_queue_and_an_alarm(doc):
    queues = resources(doc, "AWS::SQS::Queue")
    mains = {k: v for k, v in queues.items() if "DeadLetter" not in k}
    assert set(mains) == {"BridgeActionsQueue", "BridgeResultsQueue", "TriggerQueue"}
    alarms = resources(doc, "AWS::CloudWatch::Alarm")
    for q in mains.values():
        dlq = q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"].split(".")[0]
        assert dlq in queues
        assert any(
            a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": f"{dlq}.QueueName"}
            for a in alarms.values()
        )


def test_deploy_each_channel_has_its_state_machine_schedule_and_alarms(ctx, doc):
    res = doc["Resources"]
    for ch in ctx.channels:
        cid = channel_id(ch.name)
        sm = res[f"{cid}StateMachine"]["Properties"]
        asl = json.loads((ROOT / sm["DefinitionUri"]).read_text())
        assert set(sm["DefinitionSubstitutions"]) == placeholders(asl)
        for arn in sm["DefinitionSubstitutions"].values():
            assert arn["Fn::GetAtt"].split(".")[0] in res
        assert sm["Type"] == "EXPRESS"
        rule = res[f"{cid}Schedule"]["Properties"]
        assert rule["ScheduleExpression"] == rate_expression(ch.config.cycle_schedule)
        assert rule["Name"] == {"Fn::Sub": "${AWS::StackName}-cycle-" + ch.name}
        assert (
            rule["Targets"][0]["Arn"] == {"Ref": f"{cid}StateMachine"} and rule["Targets"][0]["Input"] == "{}"
        )
        for what in ("CyclesFailed", "CyclesHeld", "NotCycling"):
            assert res[f"{cid}{what}Alarm"]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_deploy_each_source_runs_on_its_own_schedule_with_the_source_stage_event(ctx, doc):
    res = doc["Resources"]
    assert ctx.scheduled_sources(), "the example channel's sources are scheduled"
    for src in ctx.scheduled_sources():
        sid = source_id(src.key)
        rule = res[f"{sid}Schedule"]["Properties"]
        assert rule["ScheduleExpression"] == rate_expression(src.entry.effective_schedule)
        event = json.loads(rule["Targets"][0]["Input"])
        assert (
            event["mode"] == "force"
            and event["execution_id"] == "schedule"
            and event["channel"] in src.channels
        )
        assert SourceRequest.model_validate(event).entry == src.entry.to_json()
        assert res[f"{sid}Permission"]["Properties"]["SourceArn"] == {"Fn::GetAtt": f"{sid}Schedule.Arn"}
        assert f"{sid}StaleAlarm" in res


def test_deploy_dashboard_body_is_json_with_a_row_per_channel(ctx, doc):
    body = doc["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for ref in set(re.findall(r"\$\{([^}]+)\}", body)):
        assert ref.startswith("AWS::") or ref.split(".")[0] in doc["Resources"], ref
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))["widgets"]
    titles = [w["properties"].get("title", "") for w in widgets]
    for ch in ctx.channels:
        assert {
            f"{ch.name}: cycles",
            f"{ch.name}: cycle duration (ms)",
            f"{ch.name}: requests by entry and provider",
            f"{ch.name}: burn rate ($/h) by provider",
        } <= set(titles)
    assert "bridge: queue depth" in titles and "bridge: action latency (s)" in titles


def test_deploy_a_part_module_extends_the_template_and_a_missing_one_is_skipped(ctx, monkeypatch):
    part = types.ModuleType("hepde_tools.deploy.api_part")

    def contribute(c, t):
        t.resource("RestApi", "AWS::Serverless::Api", {"StageName": {"Ref": "Stage"}})
        t.output("RestApiId", {"Ref": "RestApi"}, "the REST API")

    part.contribute = contribute
    monkeypatch.setitem(sys.modules, "hepde_tools.deploy.api_part", part)
    doc = build(ctx, PARTS + ("hepde_tools.deploy.not_written_yet",)).doc
    assert "RestApi" in doc["Resources"] and "RestApiId" in doc["Outputs"]
    assert "hepde_tools.deploy.api_part" in doc["Metadata"]["hepde"]["parts"]
    assert "hepde_tools.deploy.not_written_yet" not in [
        m.__name__ for m in part_modules(PARTS + ("hepde_tools.deploy.not_written_yet",))
    ]


def test_deploy_two_parts_defining_one_resource_is_an_error(ctx, monkeypatch):
    part = types.ModuleType("hepde_tools.deploy.clash_part")
    part.contribute = lambda c, t: t.resource("DataBlockTable", "AWS::DynamoDB::Table", {})
    monkeypatch.setitem(sys.modules, "hepde_tools.deploy.clash_part", part)
    with pytest.raises(DeployError, match="defined twice"):
        build(ctx, PARTS + ("hepde_tools.deploy.clash_part",))


def test_deploy_standard_workflow_per_channel_and_rates(ctx):
    c = context_for(committed_configs(), ROOT, standard=[ctx.channels[0].name])
    sm = build(c).doc["Resources"][f"{channel_id(ctx.channels[0].name)}StateMachine"]["Properties"]
    assert sm["Type"] == "STANDARD"
    assert rate_expression(30) == "rate(1 minute)" and rate_expression(120) == "rate(2 minutes)"
    assert logical_id("my-chan_2") == "MyChan2"


def test_deploy_a_channel_without_a_committed_state_machine_is_refused(tmp_path):
    cfg = tmp_path / "lonely.json"
    cfg.write_text(json.dumps({"sources": {}, "transforms": {}, "publishers": {}}))
    with pytest.raises(DeployError, match="de asl"):
        build(context_for([str(cfg)], tmp_path))


def test_deploy_layer_requirements_follow_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {d for d in pyproject["project"]["dependencies"] if not d.startswith(("boto3", "jsonnet"))}
    wanted |= set(pyproject["project"]["optional-dependencies"]["bridge"])  # classad2 in the direct modules
    lines = (ROOT / "layers" / "hepde" / "requirements.txt").read_text().splitlines()
    have = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert have == wanted


def test_deploy_snapshots_and_source_products_reach_the_trigger_function(ctx, doc):
    """The event path of docs/adr/0014: bucket → EventBridge → one queue → the trigger function, which may
    start only the channels' state machines; the source function announces its scheduled products."""
    from hepde.runtime.triggers import Routes

    res = doc["Resources"]
    assert res["ProductsBucket"]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    snap = res["SnapshotUploadedRule"]["Properties"]
    assert snap["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "snapshots/"}]
    assert snap["EventPattern"]["detail"]["bucket"]["name"] == [{"Ref": "ProductsBucket"}]
    for rule in ("SnapshotUploadedRule", "SourceProductsRule"):
        assert res[rule]["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": "TriggerQueue.Arn"}
    fn = res["TriggerFunction"]["Properties"]
    assert fn["CodeUri"] == "functions/trigger/" and (ROOT / "functions" / "trigger" / "app.py").is_file()
    assert fn["Events"]["Inputs"]["Type"] == "SQS"
    routes = Routes.model_validate_json(fn["Environment"]["Variables"]["DE_TRIGGER_ROUTES"])
    assert routes == Routes.from_channels(ctx.channels) and "htc_pilot" in routes.snapshots
    (start,) = [s for s in fn["Policies"][0]["Statement"] if s["Sid"] == "StartCycles"]
    assert start["Action"] == ["states:StartExecution"] and len(start["Resource"]) == len(ctx.channels)
    src = res["SourceFunction"]["Properties"]
    assert src["Environment"]["Variables"]["DE_EVENT_BUS"] == "default"
    assert any(s["Sid"] == "AnnounceProducts" for s in src["Policies"][0]["Statement"])


def test_deploy_the_cycle_lease_is_as_long_as_an_execution_can_run(doc):
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["DE_CYCLE_LOCK_SECONDS"] == "300"  # Express: AWS ends the execution after 5 minutes
    assert env["DE_STANDARD_LOCK_SECONDS"] == "900"  # Standard: the state machine's TimeoutSeconds
    assert env["DE_STANDARD_CHANNELS"] == ""  # every committed channel is Express
