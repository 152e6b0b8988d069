"""Deploy the real template into MiniStack (a local cloud, no Docker) and watch a scheduled cycle run.

One call, :func:`deploy_and_run`: create MiniStack's own virtualenv if missing (it pins botocore and
runs the Lambdas on its own interpreter), start it on 127.0.0.1 on a free port, ``sam build`` (layers
built for that interpreter: ``LAYER_TARGET=local``), ``sam deploy`` with ``AWS_ENDPOINT_URL``, then
wait until the channel's EventBridge schedule has started a cycle that succeeded, and count the
source function's invocations that came from the sources' own schedules.  MiniStack is stopped at
the end (``keep=True`` leaves it running).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hepde.errors import DEError

#: what MiniStack's virtualenv gets: the emulator and the SAM transform (CloudFormation needs it)
MINISTACK_PACKAGES = ("ministack>=1.5,<1.6", "aws-sam-translator>=1.90")
REGION = "us-east-1"


class LocalDeployError(DEError):
    """The local cloud could not be installed, started, built into or deployed to."""


class MiniStackUnavailableError(LocalDeployError):
    """MiniStack cannot be installed here (no registry, no wheel): the local deploy cannot run."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    what: str,
    timeout: float = 900,
) -> str:
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalDeployError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise LocalDeployError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def ensure_ministack(venv: Path) -> Path:
    """MiniStack's interpreter, installing MiniStack into ``venv`` first if needed."""
    python = venv / "bin" / "python"
    if python.is_file():
        probe = subprocess.run(
            [str(python), "-c", "import ministack, samtranslator"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return python
    try:
        if not python.is_file():
            _run([sys.executable, "-m", "venv", str(venv)], what=f"creating {venv}", timeout=300)
        _run(
            [str(python), "-m", "pip", "install", "--quiet", *MINISTACK_PACKAGES],
            what=f"pip install {' '.join(MINISTACK_PACKAGES)} into {venv}",
            timeout=900,
        )
    except LocalDeployError as exc:
        raise MiniStackUnavailableError(str(exc)) from exc
    return python


@dataclass
class MiniStack:
    """A MiniStack server this process started (stopped by its process group id, never by name)."""

    python: Path
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            GATEWAY_PORT=str(self.port), BIND_HOST="127.0.0.1", MINISTACK_REGION=REGION, LOG_LEVEL="INFO"
        )
        started = time.perf_counter()
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(self.python), "-m", "ministack"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise LocalDeployError(
                    f"MiniStack exited at start (status {self.process.returncode}); see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise LocalDeployError(
            f"MiniStack did not answer on {self.endpoint} within {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # its Lambda workers are in its process group
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def aws_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            SAM_CLI_TELEMETRY="0",
        )
        return env

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]  # the service name is a plain str here
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def sam_executable() -> str:
    beside = Path(sys.executable).parent / "sam"
    if beside.is_file():
        return str(beside)
    import shutil

    found = shutil.which("sam")
    if not found:
        raise LocalDeployError("the SAM CLI is not installed: pip install -e '.[deploy]'")
    return found


@dataclass
class LocalReport:
    endpoint: str
    stack: str
    channel: str
    ministack_start_seconds: float = 0.0
    build_seconds: float = 0.0
    deploy_seconds: float = 0.0
    first_scheduled_start_seconds: float | None = None  # deploy finished → first scheduled execution started
    executions: list[dict[str, Any]] = field(default_factory=list)
    source_schedule_invocations: int = 0
    resources: int = 0
    enabled_rules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [e for e in self.executions if e["status"] == "SUCCEEDED"]

    @property
    def ok(self) -> bool:
        return bool(self.succeeded) and self.source_schedule_invocations > 0 and not self.problems

    def render_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=2, default=str)

    def render(self) -> str:
        lines = [
            f"MiniStack at {self.endpoint}: stack '{self.stack}' ({self.resources} resources)",
            f"  MiniStack start      {self.ministack_start_seconds:6.1f} s",
            f"  sam build            {self.build_seconds:6.1f} s",
            f"  sam deploy           {self.deploy_seconds:6.1f} s",
        ]
        if self.enabled_rules:
            lines.append(f"  schedules enabled    {', '.join(self.enabled_rules)}")
        if self.first_scheduled_start_seconds is not None:
            lines.append(
                f"  first scheduled cycle started {self.first_scheduled_start_seconds:.1f} s after the deploy"
            )
        for e in self.executions:
            dur = f"{e['seconds']:.2f} s" if e.get("seconds") is not None else "-"
            lines.append(f"  cycle {e['name']}: {e['status']} in {dur} {e.get('error') or ''}".rstrip())
        lines.append(
            f"  source function invocations from the sources' own schedules: {self.source_schedule_invocations}"
        )
        lines += [f"  problem: {p}" for p in self.problems]
        lines.append("OK: deployed, and the EventBridge schedules ran the channel" if self.ok else "NOT OK")
        return "\n".join(lines)


def _executions(sfn: Any, arn: str) -> list[dict[str, Any]]:
    out = []
    for e in sfn.list_executions(stateMachineArn=arn, maxResults=100).get("executions", []):
        d = sfn.describe_execution(executionArn=e["executionArn"])
        start, stop = d.get("startDate"), d.get("stopDate")
        out.append(
            {
                "name": e["name"],
                "status": d["status"],
                "start": start.timestamp() if start else None,
                "seconds": (stop - start).total_seconds() if start and stop else None,
                "error": d.get("error"),
            }
        )
    return sorted(out, key=lambda e: e["start"] or 0)


def _report_lines(logs: Any, group: str) -> int:
    count = 0
    try:
        streams = logs.describe_log_streams(logGroupName=group).get("logStreams", [])
    except Exception:  # noqa: BLE001 - no group yet: no invocations
        return 0
    for s in streams:
        for ev in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"]).get("events", []):
            if ev["message"].startswith("REPORT RequestId"):
                count += 1
    return count


def deploy_and_run(
    *,
    template: Path,
    channel_config: Path,
    stack: str = "hepde",
    port: int | None = None,
    venv: Path = Path(".venv-ministack"),
    timeout: float = 240.0,
    keep: bool = False,
    workdir: Path | None = None,
    cycles: int = 2,
    all_schedules: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
) -> LocalReport:
    """Deploy ``template`` into a fresh MiniStack and wait for ``cycles`` scheduled cycles of the channel.

    The stack is deployed with ``SchedulesEnabled=false``; then the channel's rule and its sources'
    rules are enabled (every rule with ``all_schedules``), so a 2-core machine is not asked to
    cold-start every channel's Lambdas at once.
    """
    from hepde import naming
    from hepde.runtime.channel import prepare

    template = template.resolve()
    (channel,) = prepare([channel_config])
    workdir = (workdir or template.parent / ".aws-sam" / "local").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    progress(f"MiniStack: virtualenv {venv}")
    python = ensure_ministack(venv.resolve())
    cloud = MiniStack(python, port or free_port(), workdir / "ministack.log")
    report = LocalReport(cloud.endpoint, stack, channel.name)
    report.ministack_start_seconds = cloud.start()
    progress(f"MiniStack: listening on {cloud.endpoint} (log {cloud.log_path})")
    try:
        env = cloud.aws_env()
        build_dir = workdir / "build"
        t0 = time.perf_counter()
        progress("sam build (layers for MiniStack's interpreter) ...")
        _run(
            [sam_executable(), "build", "--template-file", str(template), "--build-dir", str(build_dir)],
            env={**env, "LAYER_TARGET": "local", "LAYER_PYTHON": str(python)},
            cwd=template.parent,
            what="sam build",
        )
        report.build_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        progress("sam deploy ...")
        _run(
            [
                sam_executable(),
                "deploy",
                "--template-file",
                str(build_dir / "template.yaml"),
                "--stack-name",
                stack,
                "--resolve-s3",
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_AUTO_EXPAND",
                "--no-confirm-changeset",
                "--no-fail-on-empty-changeset",
                "--region",
                REGION,
                "--parameter-overrides",
                f"SchedulesEnabled={'true' if all_schedules else 'false'}",
            ],
            env=env,
            cwd=build_dir,
            what="sam deploy",
        )
        report.deploy_seconds = time.perf_counter() - t0
        if not all_schedules:
            events = cloud.client("events")
            rules = [naming.channel_schedule_rule(channel.name, stack)]
            rules += [naming.source_schedule_rule(key, stack) for key in channel.config.sources]
            existing = {r["Name"] for r in events.list_rules(NamePrefix=f"{stack}-").get("Rules", [])}
            for rule in rules:
                if rule in existing:
                    events.enable_rule(Name=rule)
            report.enabled_rules = [r for r in rules if r in existing]
        deployed_at = time.time()
        cfn = cloud.client("cloudformation")
        report.resources = len(cfn.list_stack_resources(StackName=stack).get("StackResourceSummaries", []))
        sfn, logs = cloud.client("stepfunctions"), cloud.client("logs")
        wanted = naming.state_machine_name(channel.name, stack)
        arns = [
            m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == wanted
        ]
        if not arns:
            raise LocalDeployError(f"the deploy created no state machine '{wanted}'")
        progress(f"waiting (up to {timeout:.0f} s) for {cycles} scheduled cycle(s) of '{channel.name}' ...")
        deadline = time.time() + timeout
        while time.time() < deadline:
            report.executions = _executions(sfn, arns[0])
            running = [e for e in report.executions if e["status"] == "RUNNING"]
            # refused starts (a cycle still running) end at once: wait for successes, or for nothing running
            if len(report.succeeded) >= cycles or (
                report.executions and not running and len(report.executions) >= cycles
            ):
                break
            time.sleep(2)
        if report.executions and report.executions[0]["start"]:
            report.first_scheduled_start_seconds = report.executions[0]["start"] - deployed_at
        n_sources = len(channel.config.sources)
        from_cycles = n_sources * len([e for e in report.executions if e["status"] != "RUNNING"])
        time.sleep(1)  # let the last invocations' logs land
        report.source_schedule_invocations = max(
            0, _report_lines(logs, naming.log_group("source", stack)) - from_cycles
        )
        if not report.succeeded:
            report.problems.append(f"no scheduled cycle of '{channel.name}' succeeded within {timeout:.0f} s")
        for e in report.executions:
            if e["status"] not in ("SUCCEEDED", "RUNNING"):
                report.problems.append(
                    f"cycle {e['name']} ended {e['status']} {e.get('error') or ''}".rstrip()
                )
        return report
    finally:
        if keep:
            progress(
                f"MiniStack left running at {cloud.endpoint} (pid {cloud.process.pid if cloud.process else '?'}); "
                f"use AWS_ENDPOINT_URL={cloud.endpoint}"
            )
        else:
            cloud.stop()
