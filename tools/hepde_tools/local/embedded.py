"""The embedded local AWS: moto in process, with real ASL execution and real handlers.

``de run`` and the functional tests use it.  What is real: the generated ASL definition, executed by
moto's Step Functions interpreter (Task/Parallel/Choice/Retry/Catch); the Lambda handlers in
``functions/`` with their Powertools decorators; DynamoDB and S3 semantics (moto).  What is
replaced: moto would run Lambda code in Docker; :class:`InProcessLambdaRunner` instead imports the
function's handler file and calls it, returning Lambda's error shape (``errorType`` = exception class
name) so ``Retry``/``Catch`` on the project's error names behave as in AWS.

This patches ``moto.awslambda.models.LambdaFunction._invoke_lambda``, a moto internal: moto is pinned
to an exact version in ``pyproject.toml`` for that reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

STAGES = ("cycle", "source", "transform", "decide", "publish")
SUBSTITUTION_OF = {
    "cycle": "CycleFunctionArn",
    "source": "SourceFunctionArn",
    "transform": "TransformFunctionArn",
    "decide": "DecideFunctionArn",
    "publish": "PublishFunctionArn",
}
REGION = "us-east-1"
ACCOUNT = "123456789012"


def functions_dir() -> Path:
    """Where the Lambda handler folders are: ``$DE_FUNCTIONS_DIR``, the source tree, or ``./functions``."""
    env = os.environ.get("DE_FUNCTIONS_DIR")
    candidates = [Path(env)] if env else []
    # tools/hepde_tools/local/embedded.py -> the repository root is five levels up
    candidates += [Path(__file__).resolve().parents[3] / "functions"]
    # an installed wheel: the handlers travel as package data of hepde_tools.bundle
    candidates += [Path(__file__).resolve().parents[1] / "bundle" / "functions", Path.cwd() / "functions"]
    for c in candidates:
        if (c / "cycle" / "app.py").is_file():
            return c
    raise FileNotFoundError(
        "cannot find the Lambda handlers (functions/<stage>/app.py); set DE_FUNCTIONS_DIR to the project's functions/ folder"
    )


@dataclass
class LambdaContextStub:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.time() + 300)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


class LogSink(io.TextIOBase):
    """Collects what handlers print (Powertools JSON logs and EMF metrics), per function."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.current = "-"

    def write(self, s: str) -> int:
        for line in s.splitlines():
            if line.strip():
                self.lines.append((self.current, line))
        return len(s)


class InProcessLambdaRunner:
    """Runs a Lambda function's real handler file in this process, one invocation at a time."""

    def __init__(self, functions: Path, sink: LogSink) -> None:
        self.functions = functions
        self.sink = sink
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.stage_of: dict[str, str] = {}
        self.invocations: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def register(self, function_name: str, stage: str) -> None:
        self.stage_of[function_name] = stage

    def _handler(self, stage: str) -> Callable[..., Any]:
        if stage not in self.handlers:
            path = self.functions / stage / "app.py"
            spec = importlib.util.spec_from_file_location(f"hepde_function_{stage}", path)
            assert spec is not None and spec.loader is not None
            module: ModuleType = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.handlers[stage] = module.lambda_handler
        return self.handlers[stage]

    def invoke(self, function_name: str, arn: str, event: Any) -> tuple[str, bool, str]:
        stage = self.stage_of.get(function_name)
        if stage is None:
            return (
                json.dumps(
                    {"errorMessage": f"no handler for {function_name}", "errorType": "ResourceNotFound"}
                ),
                True,
                "",
            )
        if isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        context = LambdaContextStub(function_name=function_name, invoked_function_arn=arn)
        with self._lock:
            started = time.perf_counter()
            before = len(self.sink.lines)
            self.sink.current = function_name
            try:
                with contextlib.redirect_stdout(self.sink):
                    result = self._handler(stage)(event, context)
                payload, errored = json.dumps(result, default=str), False
            except Exception as exc:  # the Lambda runtime's error shape
                payload = json.dumps(
                    {
                        "errorMessage": str(exc),
                        "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
                    }
                )
                errored = True
            finally:
                self.invocations.append((function_name, time.perf_counter() - started))
            logs = "\n".join(line for _, line in self.sink.lines[before:])
        return payload, errored, logs


class EmbeddedAWS:
    """An in-process AWS (moto) with the project's functions deployed; use as a context manager."""

    def __init__(
        self,
        *,
        table_name: str = "hepde-datablock",
        bucket_name: str = "hepde-products",
        retention_days: float | None = 14.0,
    ) -> None:
        self.table_name = table_name
        self.bucket_name = bucket_name
        self.retention_days = retention_days
        self.sink = LogSink()
        self.runner = InProcessLambdaRunner(functions_dir(), self.sink)
        self.substitutions: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}
        self._mock: Any = None
        self._saved_invoke: Any = None
        self._clients: dict[str, Any] = {}
        self._saved_stream: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def _set_env(self, **values: str | None) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> EmbeddedAWS:
        from moto import mock_aws
        from moto.awslambda.models import LambdaFunction

        self._set_env(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_SECURITY_TOKEN="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL=None,
            AWS_ENDPOINT_URL_DYNAMODB=None,
            AWS_PROFILE=None,
            AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
            MOTO_ACCOUNT_ID=ACCOUNT,
            DE_TABLE_NAME=self.table_name,
            DE_BUCKET_NAME=self.bucket_name,
            DE_RETENTION_DAYS=str(self.retention_days) if self.retention_days else None,
            POWERTOOLS_SERVICE_NAME="decision-engine",
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
        )
        for noisy in ("moto", "botocore", "werkzeug"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        runner = self.runner
        self._saved_invoke = LambdaFunction._invoke_lambda

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return runner.invoke(fn.function_name, fn.function_arn, event)

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        from hepde.runtime import lambda_support

        lambda_support.reset()
        # the handlers' Powertools logger writes to the stream it was created with: send it to the sink
        # (assigned, not setStream(): that flushes the old stream, which a test harness may have closed)
        handler = lambda_support.logger.registered_handler
        self._saved_stream = getattr(handler, "stream", None)
        if self._saved_stream is not None:
            setattr(handler, "stream", self.sink)  # noqa: B010 - Powertools types its handler as logging.Handler
        with contextlib.redirect_stdout(self.sink):
            self._provision()
        return self

    def __exit__(self, *exc: Any) -> None:
        from moto.awslambda.models import LambdaFunction

        from hepde.runtime import lambda_support

        try:
            self._wait_idle()
        finally:
            LambdaFunction._invoke_lambda = self._saved_invoke  # type: ignore[method-assign]
            self._mock.stop()
            lambda_support.reset()
            if self._saved_stream is not None:
                setattr(lambda_support.logger.registered_handler, "stream", self._saved_stream)  # noqa: B010
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env.clear()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]

    def _provision(self) -> None:
        from hepde.naming import function_name
        from hepde.runtime.lambda_support import store

        store().create_table()
        self.client("s3").create_bucket(Bucket=self.bucket_name)
        role = self.client("iam").create_role(
            RoleName="hepde-local",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        self.role_arn = role
        for stage in STAGES:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.write(self.runner.functions / stage / "app.py", "app.py")
            name = function_name(stage)
            arn = self.client("lambda").create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": buf.getvalue()},
                Timeout=300,
                MemorySize=512,
                Environment={
                    "Variables": {"DE_TABLE_NAME": self.table_name, "DE_BUCKET_NAME": self.bucket_name}
                },
            )["FunctionArn"]
            self.runner.register(name, stage)
            self.substitutions[SUBSTITUTION_OF[stage]] = arn

    def store(self) -> Any:
        from hepde.runtime.lambda_support import store

        return store()

    # -- event-driven cycles (the template's triggers part, in moto) -------------------------------
    def enable_triggers(self, channels: list[Any]) -> str:
        """Wire what the template's triggers part deploys: the bucket's events to EventBridge, the two
        rules into one SQS queue, the queue into the trigger function (real handler), which starts the
        channels' state machines.  Returns the queue's URL."""
        from hepde.naming import SNAPSHOT_PREFIX, function_name
        from hepde.runtime import triggers

        self._set_env(
            **{
                triggers.ROUTES_ENV: triggers.Routes.from_channels(channels).to_env(),
                triggers.ARN_PREFIX_ENV: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:",
                triggers.EVENT_BUS_ENV: "default",
                "DE_STACK": "hepde",
            }
        )
        sqs, events, lam = self.client("sqs"), self.client("events"), self.client("lambda")
        url = sqs.create_queue(QueueName="hepde-trigger")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        patterns = {
            "hepde-snapshot-uploaded": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [self.bucket_name]},
                    "object": {"key": [{"prefix": f"{SNAPSHOT_PREFIX}/"}]},
                },
            },
            "hepde-source-products": {
                "source": [triggers.EVENT_SOURCE],
                "detail-type": [triggers.SOURCE_PRODUCTS_WRITTEN],
            },
        }
        for name, pattern in patterns.items():
            events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=name, Targets=[{"Id": "trigger-queue", "Arn": queue_arn}])
        self.client("s3").put_bucket_notification_configuration(
            Bucket=self.bucket_name,
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.write(self.runner.functions / "trigger" / "app.py", "app.py")
        name = function_name("trigger")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role_arn,
            Handler="app.lambda_handler",
            Code={"ZipFile": buf.getvalue()},
            Timeout=60,
            MemorySize=256,
        )
        self.runner.register(name, "trigger")
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=10)
        return url

    # -- channels ------------------------------------------------------------------------------
    def deploy_channel(self, name: str, definition: dict[str, Any]) -> str:
        """Create (or update) the channel's state machine from its generated ASL; return its ARN."""
        from hepde.runtime.asl import substitute

        sfn = self.client("stepfunctions")
        text = substitute(definition, self.substitutions)
        from hepde.naming import state_machine_name

        sm_name = state_machine_name(name)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{sm_name}"
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            sfn.update_state_machine(stateMachineArn=arn, definition=text)
        except sfn.exceptions.StateMachineDoesNotExist:
            arn = sfn.create_state_machine(name=sm_name, definition=text, roleArn=self.role_arn)[
                "stateMachineArn"
            ]
        return arn

    def start(
        self, state_machine_arn: str, input_: dict[str, Any] | None = None, name: str | None = None
    ) -> str:
        # always name executions: moto gives unnamed ones an ARN ending ':None'
        name = name or f"cycle-{uuid.uuid4().hex[:12]}"
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(input_ or {})
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.time() + timeout
        delay = 0.002
        while True:
            desc = sfn.describe_execution(executionArn=execution_arn)
            if desc["status"] != "RUNNING":
                return desc
            if time.time() > deadline:
                raise TimeoutError(f"execution {execution_arn} still RUNNING after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]

    def _wait_idle(self) -> None:
        """Let running executions finish before the mock stops (they run in background threads)."""
        try:
            sfn = self.client("stepfunctions")
            for sm in sfn.list_state_machines()["stateMachines"]:
                for ex in sfn.list_executions(stateMachineArn=sm["stateMachineArn"], statusFilter="RUNNING")[
                    "executions"
                ]:
                    with contextlib.suppress(Exception):
                        self.wait(ex["executionArn"], timeout=30)
        except Exception:  # noqa: BLE001 - best effort during teardown
            pass
