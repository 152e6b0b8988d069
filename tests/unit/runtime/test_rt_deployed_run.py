"""``de run --deployed`` waits differently on Standard and Express state machines."""

from __future__ import annotations

from hepde_tools.cli.run_cmd import DeployedAWS


class FakeSfn:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.calls: list[str] = []

    def describe_state_machine(self, stateMachineArn):  # noqa: N803 - boto3 names
        self.calls.append("describe_state_machine")
        return {"type": self.kind}

    def start_sync_execution(self, stateMachineArn, name, input):  # noqa: N803, A002
        self.calls.append("start_sync_execution")
        return {"executionArn": f"arn:express:{name}", "status": "SUCCEEDED"}

    def start_execution(self, stateMachineArn, name, input):  # noqa: N803, A002
        self.calls.append("start_execution")
        return {"executionArn": f"arn:standard:{name}"}

    def describe_execution(self, executionArn):  # noqa: N803
        self.calls.append("describe_execution")
        return {"executionArn": executionArn, "status": "SUCCEEDED"}


def _cloud(kind: str) -> tuple[DeployedAWS, FakeSfn]:
    cloud = DeployedAWS.__new__(DeployedAWS)
    cloud.stack, cloud.sfn, cloud._types, cloud._sync, cloud._store = "s", FakeSfn(kind), {}, {}, None
    return cloud, cloud.sfn


def test_express_cycles_run_synchronously_without_describe_execution():
    cloud, sfn = _cloud("EXPRESS")
    arn = cloud.start("arn:sm", name="c1")
    assert cloud.wait(arn)["status"] == "SUCCEEDED"
    assert "describe_execution" not in sfn.calls and "start_sync_execution" in sfn.calls


def test_standard_cycles_are_started_and_polled():
    cloud, sfn = _cloud("STANDARD")
    arn = cloud.start("arn:sm", name="c1")
    assert cloud.wait(arn)["status"] == "SUCCEEDED"
    assert sfn.calls == ["describe_state_machine", "start_execution", "describe_execution"]
