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
    #: per awaited channel: its executions (name, status, outcome, seconds, error)
    executions: list[dict[str, Any]] = field(default_factory=list)
    #: per source with its own schedule: acquisitions its rule made (from the source function's log)
    source_schedule_runs: dict[str, int] = field(default_factory=dict)
    resources: int = 0
    enabled_rules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        """Executions that ran a cycle to the end (started, then SUCCEEDED or HELD)."""
        return [e for e in self.executions if e["status"] == "SUCCEEDED" and e.get("outcome") == "started"]

    @property
    def skipped(self) -> list[dict[str, Any]]:
        """Ticks that arrived while a cycle ran and coalesced into it: reported, never a failure."""
        return [e for e in self.executions if e["status"] == "SUCCEEDED" and e.get("outcome") == "coalesced"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [e for e in self.executions if e["status"] not in ("SUCCEEDED", "RUNNING")]

    @property
    def source_schedule_invocations(self) -> int:
        return sum(self.source_schedule_runs.values())

    def channels_done(self, cycles: int) -> bool:
        return all(len([e for e in self.succeeded if e["channel"] == ch]) >= cycles for ch in self.channels)

    @property
    def ok(self) -> bool:
        return (
            self.channels_done(1)
            and all(n > 0 for n in self.source_schedule_runs.values())
            and not self.failed
            and not self.problems
        )

    def render_json(self) -> str:
        return json.dumps(
            {
                **asdict(self),
                "source_schedule_invocations": self.source_schedule_invocations,
                "skipped_ticks": len(self.skipped),
                "ok": self.ok,
            },
            indent=2,
            default=str,
        )

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
            if e.get("outcome") == "coalesced":
                continue
            dur = f"{e['seconds']:.2f} s" if e.get("seconds") is not None else "-"
            lines.append(
                f"  cycle {e['channel']} {e['name']}: {e['status']} in {dur} {e.get('error') or ''}".rstrip()
            )
        lines.append(f"  skipped ticks (a cycle was running; coalesced, not failures): {len(self.skipped)}")
        for key, n in sorted(self.source_schedule_runs.items()):
            lines.append(f"  source {key}: {n} acquisition(s) by its own schedule")
        lines += [f"  problem: {p}" for p in self.problems]
        lines.append("OK: deployed, and the EventBridge schedules ran the channel" if self.ok else "NOT OK")
        return "\n".join(lines)


def _executions(sfn: Any, arn: str, channel: str, known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The state machine's executions; finished ones are described once (``known`` caches them)."""
    out = []
    for e in sfn.list_executions(stateMachineArn=arn, maxResults=100).get("executions", []):
        cached = known.get(e["executionArn"])
        if cached is not None:
            out.append(cached)
            continue
        d = sfn.describe_execution(executionArn=e["executionArn"])
        start, stop = d.get("startDate"), d.get("stopDate")
        outcome = None
        try:
            outcome = (json.loads(d.get("output") or "{}").get("cycle") or {}).get("outcome")
        except (ValueError, AttributeError):
            outcome = None
        item = {
            "channel": channel,
            "name": e["name"],
            "status": d["status"],
            "outcome": outcome,
            "start": start.timestamp() if start else None,
            "seconds": (stop - start).total_seconds() if start and stop else None,
            "error": d.get("error"),
        }
        if d["status"] != "RUNNING":
            known[e["executionArn"]] = item
        out.append(item)
    return out


def _schedule_runs(logs: Any, group: str, keys: list[str]) -> dict[str, int]:
    from hepde import naming

    """Acquisitions by the sources' own rules: the source function's ``source done`` log lines whose
    correlation id is ``schedule`` (the rule's input; a cycle's carry the execution's ARN)."""
    counts = dict.fromkeys(keys, 0)
    try:
        streams = logs.describe_log_streams(logGroupName=group).get("logStreams", [])
    except Exception:  # noqa: BLE001 - no group yet: no invocations
        return counts
    for s in streams:
        for ev in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"]).get("events", []):
            try:
                line = json.loads(ev["message"])
            except ValueError:
                continue
            if (
                isinstance(line, dict)
                and line.get("message") == "source done"
                and line.get("correlation_id") == "schedule"
                and naming.safe(str(line.get("module_key"))) in counts
            ):
                counts[naming.safe(str(line["module_key"]))] += 1
    return counts


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
    cycles: int = 1,
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
        events = cloud.client("events")
        if not all_schedules:
            rules = [naming.channel_schedule_rule(channel.name, stack)]
            rules += [naming.source_schedule_rule(key, stack) for key in channel.config.sources]
            existing = {r["Name"] for r in events.list_rules(NamePrefix=f"{stack}-").get("Rules", [])}
            for rule in rules:
                if rule in existing:
                    events.enable_rule(Name=rule)
            report.enabled_rules = [r for r in rules if r in existing]
        deployed_at = time.time()
        cfn = cloud.client("cloudformation")
        report.resources = sum(
            len(page.get("StackResourceSummaries", []))
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        )
        sfn, logs = cloud.client("stepfunctions"), cloud.client("logs")
        prefix = naming.state_machine_name("", stack)
        machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
        if all_schedules:
            arns = {
                name.removeprefix(prefix): arn for name, arn in machines.items() if name.startswith(prefix)
            }
            rules = events.list_rules(NamePrefix=naming.source_schedule_rule("", stack)).get("Rules", [])
            source_keys = sorted(
                r["Name"].removeprefix(naming.source_schedule_rule("", stack)) for r in rules
            )
        else:
            wanted = naming.state_machine_name(channel.name, stack)
            if wanted not in machines:
                raise LocalDeployError(f"the deploy created no state machine '{wanted}'")
            arns = {channel.name: machines[wanted]}
            source_keys = sorted(
                naming.safe(k)
                for k in channel.config.sources
                if naming.source_schedule_rule(k, stack) in report.enabled_rules
            )
        awaited = sorted(arns)
        report.channels = awaited
        progress(
            f"waiting (up to {timeout:.0f} s) for {cycles} scheduled cycle(s) of {', '.join(awaited)}"
            + (f" and a scheduled acquisition of {', '.join(source_keys)}" if source_keys else "")
            + " ..."
        )
        known: dict[str, dict[str, Any]] = {}
        deadline = time.time() + timeout
        while True:
            report.executions = sorted(
                (e for name, arn in arns.items() for e in _executions(sfn, arn, name, known)),
                key=lambda e: e["start"] or 0,
            )
            report.source_schedule_runs = _schedule_runs(logs, naming.log_group("source", stack), source_keys)
            if report.channels_done(cycles) and all(n > 0 for n in report.source_schedule_runs.values()):
                break
            if report.failed or time.time() > deadline:
                break
            time.sleep(3)
        if report.executions and report.executions[0]["start"]:
            report.first_scheduled_start_seconds = report.executions[0]["start"] - deployed_at
        for name in awaited:
            if not [e for e in report.succeeded if e["channel"] == name]:
                report.problems.append(f"no scheduled cycle of '{name}' succeeded within {timeout:.0f} s")
        for key, n in report.source_schedule_runs.items():
            if n == 0:
                report.problems.append(f"source {key}'s own schedule acquired nothing within {timeout:.0f} s")
        for e in report.failed:
            report.problems.append(
                f"cycle {e['channel']} {e['name']} ended {e['status']} {e.get('error') or ''}".rstrip()
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
