"""``de-bridge`` — the on-prem condor bridge's command line.

```
de-bridge run      --config /etc/de-bridge/bridge.toml [--once] [--fake-condor]
de-bridge check    --config ...      # config, AWS identity and queues, schedds and collectors reachable
de-bridge snapshot --config ... [--kind job_queue]   # push snapshots now
de-bridge ledger   --config ... [--state acting|done|failed] [--limit N]
```

AWS credentials come from the standard chain (``AWS_PROFILE``, ``credential_process`` with IAM Roles
Anywhere, instance roles; ``AWS_ENDPOINT_URL`` for a local cloud); HTCondor from the host's
configuration (``CONDOR_CONFIG``, tokens).  ``run`` stops gracefully on SIGTERM/SIGINT: the message in
hand is finished, the others go back to the queue at once; a second signal exits immediately.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from hepde.errors import DEError
from hepde_bridge.config import BridgeConfig, BridgeConfigError, load_config


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "at": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc)


class CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at each record, not the one at set-up (a stream bound then
    may since have been closed or replaced: a test harness's capture, a daemon's redirection)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _session(config: BridgeConfig) -> Any:
    import boto3

    return boto3.session.Session(region_name=config.region or None)


def _clients(config: BridgeConfig) -> tuple[Any, Any]:
    session = _session(config)
    return session.client("sqs"), session.client("s3")


def build_bridge(
    config: BridgeConfig,
    *,
    sqs_client: Any,
    s3_client: Any = None,
    store: Any = None,
    schedds: Mapping[str, Any] | None = None,
    collectors: Mapping[str, Any] | None = None,
    clock: Any = time.time,
    **kwargs: Any,
) -> Any:
    """Wire a :class:`~hepde_bridge.service.Bridge` from its configuration and clients.

    ``schedds``/``collectors`` default to the real ``htcondor2`` ones the configuration names;
    ``store`` (results in the DataBlock) defaults to the DynamoDB store of ``config.table_name``.
    """
    from hepde.bridge_queue import SqsQueue
    from hepde.snapshots import SnapshotStore
    from hepde_bridge.ledger import Ledger
    from hepde_bridge.results import DataBlockResults, QueueResults
    from hepde_bridge.service import Bridge
    from hepde_bridge.snapshots import SnapshotPusher

    def queue(url: str, name: str) -> SqsQueue:
        return SqsQueue(sqs_client, url) if url else SqsQueue.by_name(sqs_client, name)

    if schedds is None:
        schedds = real_schedds(config)
    if collectors is None:
        collectors = real_collectors(config)
    sinks: list[Any] = []
    if "datablock" in config.results:
        if store is None:
            from hepde.datablock.dynamo import DynamoDataBlockStore

            store = DynamoDataBlockStore(
                config.table_name,
                config.bucket,
                region=config.region or None,
                host=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL"),
                s3_client=s3_client,
            )
        sinks.append(DataBlockResults(store))
    if "queue" in config.results:
        sinks.append(QueueResults(queue(config.results_queue_url, config.results_queue)))
    pusher = None
    if config.snapshots:
        pusher = SnapshotPusher(
            config.snapshots,
            schedds=schedds,
            collectors=collectors,
            store=SnapshotStore(config.snapshots_at, s3_client),
            producer=f"de-bridge:{config.bridge}",
            clock=clock,
        )
    if config.claims == "dynamodb" and "claims" not in kwargs:
        import boto3

        from hepde_bridge.claims import DynamoClaims

        kwargs["claims"] = DynamoClaims(
            boto3.client(
                "dynamodb",
                region_name=config.region or None,
                endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
                or os.environ.get("AWS_ENDPOINT_URL"),
            ),
            config.table_name,
            config.bridge,
        )
    return Bridge(
        config,
        queue=queue(config.actions_queue_url, config.actions_queue),
        dead_letters=queue(config.dead_letter_queue_url, config.dead_letter_queue),
        schedds=schedds,
        collectors=collectors,
        ledger=Ledger(config.ledger, clock=clock),
        results=sinks,
        snapshots=pusher,
        clock=clock,
        **kwargs,
    )


def real_schedds(config: BridgeConfig) -> dict[str, Any]:
    """The configured schedds over ``htcondor2``, each with its own settings (token directory)."""
    from hepde.condor.adapter import HTCondorSchedd

    return {
        k: HTCondorSchedd(k, name=v.name or None, pool=v.pool or None, settings=config.schedd_settings(k))
        for k, v in config.schedds.items()
    }


def real_collectors(config: BridgeConfig) -> dict[str, Any]:
    """The configured collectors over ``htcondor2``, each with its own settings (token, proxy)."""
    from hepde.condor.adapter import HTCondorCollector

    return {
        k: HTCondorCollector(k, host=v.host or None, settings=config.collector_settings(k))
        for k, v in config.collectors.items()
    }


def check_submitter(expected: str, seen: str) -> str | None:
    """Why the identity a schedd sees is wrong for submitting (``None``: it is right)."""
    user = seen.split("@", 1)[0]
    if user == "root":
        return "the schedd sees the bridge as root, and a schedd never lets root own a job: run the bridge as an ordinary user"
    if expected and seen != expected and user != expected:
        return f"the schedd sees the bridge as {seen!r}, the configuration expects submitter {expected!r}"
    return None


def _fake_condor(config: BridgeConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    from hepde.condor.fakes import FakeCollector, FakeSchedd

    return (
        {
            k: FakeSchedd(v.name or k, owner=(v.submitter or "bridge").split("@")[0])
            for k, v in config.schedds.items()
        },
        {k: FakeCollector(v.host or k) for k, v in config.collectors.items()},
    )


def cmd_run(args: argparse.Namespace, config: BridgeConfig) -> int:
    sqs, s3 = _clients(config)
    schedds, collectors = _fake_condor(config) if args.fake_condor else (None, None)
    cloudwatch = None
    if config.cloudwatch_metrics:
        from hepde_bridge.cloudwatch import CloudWatchMetrics

        cloudwatch = CloudWatchMetrics(_session(config).client("cloudwatch"), config.bridge)
    bridge = build_bridge(
        config, sqs_client=sqs, s3_client=s3, schedds=schedds, collectors=collectors, cloudwatch=cloudwatch
    )
    server = None
    if config.metrics_port:
        from hepde_bridge.health import HealthServer

        server = HealthServer(bridge.health, config.metrics_host, config.metrics_port).start()
    signals = {"n": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        signals["n"] += 1
        if signals["n"] > 1:
            logging.getLogger("de-bridge").warning("second signal: exiting now")
            os._exit(130)
        logging.getLogger("de-bridge").info("signal %d: finishing the message in hand, then stopping", signum)
        bridge.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if args.once:
            bridge.health.update(status="ok")
            bridge.run_once()
            bridge._write_health(force=True)
        else:
            bridge.run()
    finally:
        if server is not None:
            server.stop()
        bridge.ledger.close()
    return 0


def cmd_check(args: argparse.Namespace, config: BridgeConfig) -> int:
    problems = 0
    sqs, _ = _clients(config)
    try:
        import boto3

        ident = boto3.client("sts", region_name=config.region or None).get_caller_identity()
        print(f"AWS identity: {ident.get('Arn')}")
    except Exception as exc:  # noqa: BLE001 - a check reports, it does not fail on the first problem
        problems += 1
        print(f"AWS identity: FAILED: {exc}")
    from hepde.bridge_queue import SqsQueue

    for label, url, name in (
        ("actions queue", config.actions_queue_url, config.actions_queue),
        ("dead-letter queue", config.dead_letter_queue_url, config.dead_letter_queue),
    ):
        try:
            q = SqsQueue(sqs, url) if url else SqsQueue.by_name(sqs, name)
            print(f"{label}: {q.url} ({q.depth()} message(s) waiting)")
        except DEError as exc:
            problems += 1
            print(f"{label}: FAILED: {exc}")
    for k, schedd in real_schedds(config).items():
        try:
            schedd.query("false", ["ClusterId"])
            seen = schedd.whoami()
            wrong = check_submitter(config.schedds[k].submitter, seen)
            if wrong:
                problems += 1
                print(f"schedd {k}: FAILED: {wrong}")
            else:
                print(f"schedd {k}: reachable, submitting as {seen}")
        except DEError as exc:
            problems += 1
            print(f"schedd {k}: FAILED: {exc}")
    for k, collector in real_collectors(config).items():
        try:
            collector.query("any", "false")
            print(f"collector {k}: reachable")
        except DEError as exc:
            problems += 1
            print(f"collector {k}: FAILED: {exc}")
    print("OK" if not problems else f"{problems} problem(s)")
    return 1 if problems else 0


def cmd_snapshot(args: argparse.Namespace, config: BridgeConfig) -> int:
    from hepde.snapshots import SnapshotStore
    from hepde_bridge.snapshots import SnapshotPusher

    _, s3 = _clients(config)
    jobs = [j for j in config.snapshots if not args.kind or j.kind == args.kind]
    pusher = SnapshotPusher(
        jobs,
        schedds=real_schedds(config),
        collectors=real_collectors(config),
        store=SnapshotStore(config.snapshots_at, s3),
        producer=f"de-bridge:{config.bridge}",
    )
    failed = 0
    for outcome in pusher.run_due():
        print(json.dumps(outcome))
        failed += 0 if outcome["ok"] else 1
    return 1 if failed else 0


def cmd_ledger(args: argparse.Namespace, config: BridgeConfig) -> int:
    from hepde_bridge.ledger import Ledger

    ledger = Ledger(config.ledger)
    print(json.dumps(ledger.counts()))
    for e in ledger.entries(limit=args.limit, state=args.state):
        print(
            json.dumps(
                {
                    "key": e.key,
                    "kind": e.kind,
                    "state": e.state,
                    "attempts": e.attempts,
                    "tried": e.tried,
                    "reported": e.reported,
                    "last_error": e.last_error,
                    "result": e.result.model_dump(mode="json") if e.result else None,
                }
            )
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="de-bridge", description="On-prem condor bridge of the serverless Decision Engine"
    )
    p.add_argument("--log-level", default=os.environ.get("DE_BRIDGE_LOG_LEVEL", "INFO"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, helptext: str, func: Any) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("--config", required=True, help="bridge configuration (.toml or .json)")
        sp.set_defaults(func=func)
        return sp

    run = add("run", "run the service (long poll, act, report, snapshots)", cmd_run)
    run.add_argument("--once", action="store_true", help="one iteration, then exit")
    run.add_argument("--fake-condor", action="store_true", help="use the in-memory schedd/collector (demos)")
    add("check", "check configuration, AWS access and HTCondor daemons", cmd_check)
    snap = add("snapshot", "push the configured snapshots now", cmd_snapshot)
    snap.add_argument("--kind", default="", help="only snapshots of this kind")
    led = add("ledger", "show the ledger", cmd_ledger)
    led.add_argument("--state", default=None, choices=["acting", "done", "failed"])
    led.add_argument("--limit", type=int, default=50)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = CurrentStderrHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        config = load_config(args.config)
        return int(args.func(args, config) or 0)
    except BridgeConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except DEError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
