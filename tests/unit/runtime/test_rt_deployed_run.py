"""``de run --deployed`` goes through the one Step Functions adapter (``hepde.ops.aws.Executions``), which
waits differently on Standard and Express state machines."""

from __future__ import annotations

from hepde.ops.aws import Executions


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


def test_express_cycles_run_synchronously_without_describe_execution():
    sfn = FakeSfn("EXPRESS")
    executions = Executions(sfn, "s")
    arn = executions.run("arn:sm", name="c1")
    assert executions.wait(arn) == {
        "execution_arn": "arn:express:c1",
        "status": "SUCCEEDED",
        "started_at": None,
        "stopped_at": None,
        "error": None,
        "cause": None,
    }
    assert "describe_execution" not in sfn.calls and "start_sync_execution" in sfn.calls


def test_standard_cycles_are_started_and_polled():
    sfn = FakeSfn("STANDARD")
    executions = Executions(sfn, "s")
    arn = executions.run("arn:sm", name="c1")
    assert executions.wait(arn)["status"] == "SUCCEEDED"
    assert sfn.calls == ["describe_state_machine", "start_execution", "describe_execution"]
    executions.run("arn:sm", name="c2")
    assert sfn.calls.count("describe_state_machine") == 1  # the type is asked once per state machine
