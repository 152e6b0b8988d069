"""Test harness of the bridge: moto SQS queues, the in-memory schedd/collector, action builders and the
lost/duplicated accounting every fault test reports."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from hepde.actions import (
    KEY_ATTR,
    NO_EFFECT,
    ActOnPilots,
    AdvertiseAds,
    InvalidateAds,
    SubmitPilots,
    idempotency_key,
)
from hepde.bridge_queue import SqsQueue
from hepde.condor.fakes import FakeCollector, FakeSchedd
from hepde_bridge.config import parse_config
from hepde_bridge.main import build_bridge
from hepde_bridge.results import MemoryResults

REGION = "us-east-1"
PILOT = "/usr/local/libexec/glidein_startup.sh"


def submit_action(
    n: int,
    count: int = 2,
    *,
    channel: str = "direct",
    target: str = "fermigrid",
    expires_at: float | None = None,
    **desc: str,
) -> SubmitPilots:
    description = {
        "universe": "grid",
        "grid_resource": "condor ce.fnal.gov ce.fnal.gov:9619",
        "executable": PILOT,
        "request_cpus": "8",
        **desc,
    }
    return SubmitPilots(
        key=idempotency_key(channel, n, target),
        channel=channel,
        generation=n,
        schedd="pilots",
        count=count,
        description=description,
        target=target,
        route="single_core",
        expires_at=expires_at,
    )


def advertise_action(n: int, names: list[str], *, channel: str = "htc") -> AdvertiseAds:
    ads = [
        {"Name": name, "ClientName": "fe.main", "GlideinMyType": "glideclient", "ReqIdleGlideins": 3}
        for name in names
    ]
    return AdvertiseAds(
        key=idempotency_key(channel, n, "advertise"),
        channel=channel,
        generation=n,
        collector="factory",
        ad_type="glideclient",
        ads=ads,
    )


def invalidate_action(n: int, constraint: str, *, channel: str = "htc") -> InvalidateAds:
    return InvalidateAds(
        key=idempotency_key(channel, n, "invalidate"),
        channel=channel,
        generation=n,
        collector="factory",
        ad_type="glideclient",
        constraint=constraint,
    )


def act_action(
    n: int, kind: str, constraint: str, max_jobs: int = 100, *, channel: str = "direct"
) -> ActOnPilots:
    return ActOnPilots(
        key=idempotency_key(channel, n, kind),
        channel=channel,
        generation=n,
        kind=kind,
        schedd="pilots",
        constraint=constraint,
        max_jobs=max_jobs,
    )


class Killed(BaseException):
    """The bridge process dies here (not an Exception: nothing in the bridge catches it)."""


@dataclass
class World:
    """SQS (moto) + an in-memory schedd and collector + a ledger file: one site with its bridge."""

    tmp: Path
    sqs: Any
    overrides: dict[str, Any] = field(default_factory=dict)
    schedd: FakeSchedd = field(default_factory=lambda: FakeSchedd("schedd@bridge.example"))
    collector: FakeCollector = field(default_factory=lambda: FakeCollector("factory.example"))
    results: MemoryResults = field(default_factory=MemoryResults)
    sent: list[Any] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        dlq = self.sqs.create_queue(QueueName="hepde-bridge-test-dlq")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.sqs.create_queue(
            QueueName="hepde-bridge-test-actions",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "50"})},
        )
        self.queue = SqsQueue.by_name(self.sqs, "hepde-bridge-test-actions")
        self.dlq = SqsQueue.by_name(self.sqs, "hepde-bridge-test-dlq")
        self.config = parse_config(
            {
                "bridge": "test",
                "ledger": str(self.tmp / "ledger.sqlite"),
                "results": [],
                "schedds": {"pilots": {"name": "schedd@bridge.example", "executables": [PILOT]}},
                "collectors": {"factory": {"host": "factory.example"}},
                "snapshots": [
                    {"kind": "job_queue", "schedd": "pilots", "every": 3600},
                    {"kind": "factory_client", "collector": "factory", "every": 3600},
                ],
                "snapshot_root": str(self.tmp / "snapshots"),
                "poll": {"wait_seconds": 0, "visibility_timeout": 30},
                "retry": {
                    "max_attempts": 4,
                    "base_delay": 0.001,
                    "max_delay": 0.001,
                    "poll_base_delay": 0.01,
                    "poll_max_delay": 0.08,
                },
                **self.overrides,
            }
        )

    def bridge(self, sqs_client: Any = None, *, ledger: str = "", **kwargs: Any) -> Any:
        """A (new) bridge process: same ledger file, same daemons — a restart.

        ``ledger``: another ledger file (a second instance on another host); ``kwargs`` go to the
        bridge (``claims``, ``instance``, ``clock``).
        """
        config = self.config.model_copy(update={"ledger": ledger}) if ledger else self.config
        b = build_bridge(
            config,
            sqs_client=sqs_client or self.sqs,
            schedds={"pilots": self.schedd},
            collectors={"factory": self.collector},
            rng=lambda: 0.0,
            **kwargs,
        )
        b.results.append(self.results)
        receive = b.queue.receive

        def recording_receive(*args: Any, **kwargs: Any) -> Any:
            msgs = receive(*args, **kwargs)
            self.receipts += [m.receipt for m in msgs]
            return msgs

        b.queue.receive = recording_receive
        return b

    def send(self, *actions: Any) -> None:
        for a in actions:
            self.queue.send(a.model_dump_json(), {"kind": a.kind, "key": a.key})
            self.sent.append(a)

    def send_raw(self, body: str) -> None:
        self.queue.send(body)

    def visible_again(self) -> None:
        """What the visibility timeout does: every message received and not deleted becomes receivable again."""
        for receipt in self.receipts:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue.url, ReceiptHandle=receipt, VisibilityTimeout=0
                )
            except Exception:  # noqa: BLE001 - deleted meanwhile
                pass
        self.receipts.clear()

    def drain(self, bridge: Any, rounds: int = 50) -> None:
        """Run the bridge until the queue is empty (making retried messages visible between rounds)."""
        for _ in range(rounds):
            delay = bridge.run_once()
            if delay:
                time.sleep(min(delay, 0.1))
            if self.queue.depth() == 0 and not self._in_flight():
                return
            self.visible_again()
        raise AssertionError("the queue did not drain")

    def _in_flight(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue.url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[dict[str, Any]]:
        out = []
        while True:
            msgs = self.dlq.receive(10, 0, 30)
            if not msgs:
                return out
            out += [json.loads(m.body) for m in msgs]

    def jobs_with_key(self, key: str) -> list[dict[str, Any]]:
        c = f'{KEY_ATTR} == "{key}"'
        return self.schedd.query(c, ["ClusterId", "ProcId"]) + self.schedd.history(c, ["ClusterId", "ProcId"])

    def accounting(self) -> dict[str, int]:
        """Lost and duplicated submissions over every submit action sent.

        *duplicated*: jobs beyond the action's count, or a second cluster for one key.
        *lost*: an action whose jobs are missing although it was reported done, or that was silently
        dropped (no jobs and no result saying it had no effect).
        """
        results = self.results.by_key()
        lost = duplicated = 0
        for action in {a.key: a for a in self.sent if isinstance(a, SubmitPilots)}.values():
            jobs = self.jobs_with_key(action.key)
            clusters = {j["ClusterId"] for j in jobs}
            duplicated += max(0, len(jobs) - action.count) + max(0, len(clusters) - 1)
            result = results.get(action.key)
            if len(jobs) < action.count and not (
                result is not None and result.status in NO_EFFECT and not jobs
            ):
                lost += action.count - len(jobs)
        return {"lost": lost, "duplicated": duplicated}


def sqs_client() -> Any:
    return boto3.client("sqs", region_name=REGION)
