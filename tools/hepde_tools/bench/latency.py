"""``de bench latency``: demand → request, event-driven, in the embedded local cloud.

The HTC pilot channel runs on the bundled sample snapshots, copied to the products bucket under
``snapshots/`` (where the condor bridge uploads them), with its publishers sending to the bridge's actions
queue and the template's trigger path wired in moto (S3 → EventBridge → SQS → the trigger function →
StartExecution; :meth:`EmbeddedAWS.enable_triggers`).  After one warm cycle, each round adds idle jobs to
one schedd's job-queue snapshot (a new ``LATEST.json``, as the bridge writes it) and measures the time
until a cycle started by that upload has its requests in the decision record *and* its advertisement on
the bridge's queue.  Nothing but the upload starts that cycle: the channel's schedule does not fire here.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hepde.config.loader import evaluate_file
from hepde.errors import DEError
from hepde.runtime.triggers import DEBOUNCE_SECONDS

CHANNEL = "htc_pilot"
#: the product that counts the jobs a cycle decided on
SUMMARY = "glidein_request_summary"


@dataclass
class LatencyReport:
    rounds: list[float] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    #: idle jobs the triggered cycle decided on (the new snapshot's, added jobs included)
    requested: list[int] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)


def _config(root: Path, bucket: str) -> dict[str, Any]:
    path = root / "channels" / f"{CHANNEL}.jsonnet"
    if not path.is_file():
        raise DEError(f"{path}: the HTC pilot channel file is missing")
    config = evaluate_file(path)
    for source in config["sources"].values():
        if "snapshot_location" in source.get("parameters", {}):
            source["parameters"]["snapshot_location"] = f"s3://{bucket}/snapshots"
    for publisher in config["publishers"].values():
        if "advertise_via" in publisher.get("parameters", {}):
            publisher["parameters"]["advertise_via"] = "bridge"
    return config


def _copy_samples(bucket: str) -> list[tuple[str, str]]:
    """The bundled sample snapshots, written to ``s3://bucket/snapshots`` as the bridge would."""
    from hepde.snapshots import KINDS, read_latest, write_snapshot

    sample = resources.files("hepde").joinpath("data/htc/snapshots")
    origins = []
    for kind in KINDS:
        folder = sample.joinpath(kind)
        if not folder.is_dir():
            continue
        for origin_dir in sorted(folder.iterdir(), key=lambda p: p.name):
            snap = read_latest("package://hepde/data/htc/snapshots", kind, origin_dir.name)
            write_snapshot(f"s3://{bucket}/snapshots", kind, snap.manifest.origin, snap.frame)
            origins.append((kind, snap.manifest.origin))
    return origins


def run(root: Path, rounds: int = 3, extra_jobs: int = 200, timeout: float = 120.0) -> LatencyReport:
    from hepde.naming import bridge_actions_queue
    from hepde.records import cycle_records, read_decision
    from hepde.runtime.channel import prepare
    from hepde.runtime.records import cycle_report
    from hepde.snapshots import read_latest, write_snapshot
    from hepde_tools.local.embedded import EmbeddedAWS

    report = LatencyReport()
    with EmbeddedAWS() as cloud:
        bucket = cloud.bucket_name
        work = Path(cloud.runner.functions).parent / ".aws-sam" / "bench-latency"
        work.mkdir(parents=True, exist_ok=True)
        cfg_path = work / f"{CHANNEL}.json"
        cfg_path.write_text(json.dumps(_config(root, bucket)))
        sqs = cloud.client("sqs")
        queue_url = sqs.create_queue(QueueName=bridge_actions_queue())["QueueUrl"]
        origins = _copy_samples(bucket)
        (ch,) = prepare([cfg_path])
        arn = cloud.deploy_channel(ch.name, ch.definition)
        warm = cloud.wait(cloud.start(arn, {"trigger": "bench warm-up"}), timeout=timeout)
        if warm["status"] != "SUCCEEDED":
            raise DEError(f"the warm-up cycle ended {warm['status']}: {warm.get('cause')}")
        cloud.enable_triggers([ch])
        store = cloud.store()
        schedd = next(origin for kind, origin in origins if kind == "job_queue")
        for i in range(rounds):
            last = max((r.generation for r in cycle_records(store, ch.name, 5)), default=0)
            idle_before = int(
                store.get_product(cycle_report(store, ch.name, last).products[SUMMARY])["idle_jobs"]
            )
            queued_before = _messages(sqs, queue_url)
            snap = read_latest(f"s3://{bucket}/snapshots", "job_queue", schedd)
            frame = snap.frame
            idle = frame[frame["JobStatus"] == 1] if "JobStatus" in frame else frame
            more = idle.head(1).loc[idle.head(1).index.repeat(extra_jobs)].copy()
            if "ClusterId" in more:
                more["ClusterId"] = [10_000_000 + i * extra_jobs + n for n in range(extra_jobs)]
            import pandas as pd

            t0 = time.perf_counter()
            write_snapshot(f"s3://{bucket}/snapshots", "job_queue", schedd, pd.concat([frame, more]))
            deadline = time.time() + timeout
            while True:
                newer = [r for r in cycle_records(store, ch.name, 5) if r.generation > last]
                done = [r for r in newer if r.status in ("SUCCEEDED", "HELD", "FAILED")]
                if done:
                    record = done[0]
                    decision = read_decision(store, ch.name, record.generation)
                    if record.status != "SUCCEEDED" or decision is None:
                        raise DEError(f"the triggered cycle {record.generation} ended {record.status}")
                    if _messages(sqs, queue_url) > queued_before:
                        elapsed = time.perf_counter() - t0
                        break
                if time.time() > deadline:
                    raise DEError(f"no cycle decided within {timeout:.0f} s of the snapshot upload")
                time.sleep(0.05)
            summary = store.get_product(cycle_report(store, ch.name, record.generation).products[SUMMARY])
            requested = int(summary["idle_jobs"])
            if requested < idle_before + extra_jobs:
                raise DEError(
                    f"the triggered cycle {record.generation} saw {requested} idle job(s), not the "
                    f"{idle_before + extra_jobs} of the new snapshot"
                )
            report.rounds.append(elapsed)
            report.cycles.append(record.generation)
            report.requested.append(requested)
            report.triggers.append(str(record.trigger))
            time.sleep(DEBOUNCE_SECONDS)  # the next upload is a new burst, not part of this one
    return report


def _messages(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
