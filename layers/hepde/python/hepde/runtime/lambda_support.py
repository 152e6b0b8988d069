"""Observability objects and cached clients shared by the Lambda handlers in ``functions/``.

Handlers stay wiring: parse the event, call a stage function from :mod:`hepde.runtime.stages`,
return its result.  This module holds what they share: Powertools Logger/Metrics/Tracer and the
DataBlock store, created once per Lambda container (lazily, so a test's moto mock is active first).
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from hepde.settings import settings

SERVICE = "decision-engine"
METRICS_NAMESPACE = "HEPCloudDE"

# stages that emit no metric of their own (transform, decide) flush nothing: that is expected, not a warning
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


@lru_cache(maxsize=1)
def store() -> Any:
    """The channel DataBlock (DynamoDB + S3) named by the function's environment."""
    from hepde.datablock.dynamo import DynamoDataBlockStore

    s = settings()
    host = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    retention = s.retention_days * 86400 if s.retention_days else None
    return DynamoDataBlockStore(
        s.table_name, s.bucket_name, region=s.region, host=host, retention_seconds=retention
    )


def reset() -> None:
    """Forget cached settings and clients (the local runner calls this between embedded clouds)."""
    store.cache_clear()
    settings.cache_clear()


def log_stage(stage: str, event: dict[str, Any], result: dict[str, Any]) -> None:
    """One INFO line per stage invocation, carrying the execution id as correlation id (``de logs`` finds it)."""
    summary = {k: v for k, v in result.items() if isinstance(v, str | int | float | bool) or v is None}
    raw_entry = event.get("entry")
    entry = raw_entry if isinstance(raw_entry, dict) else {}
    logger.info(
        f"{stage} done",
        extra={
            "channel": event.get("channel"),
            "generation": event.get("generation"),
            "module_key": entry.get("key"),
            "result": summary,
        },
    )


def record_cycle_result(channel: str, result: dict[str, Any]) -> None:
    """Cycle metrics, one dimension set per channel: failed and held cycles.

    Succeeded executions and durations come free from Step Functions (``AWS/States``); each custom
    metric costs $0.30 a month, so only what Step Functions cannot tell is emitted here.
    """
    metrics.add_dimension(name="channel", value=channel)
    status = str(result.get("status", "UNKNOWN"))
    metrics.add_metric(name="CyclesFailed", unit=MetricUnit.Count, value=1 if status == "FAILED" else 0)
    metrics.add_metric(name="CyclesHeld", unit=MetricUnit.Count, value=1 if status == "HELD" else 0)


def record_begin_result(channel: str, result: dict[str, Any]) -> None:
    """A start that found a cycle running and coalesced into it: counted, never a failure."""
    if result.get("outcome") == "coalesced":
        metrics.add_dimension(name="channel", value=channel)
        metrics.add_metric(name="CyclesCoalesced", unit=MetricUnit.Count, value=1)


def record_source_result(result: dict[str, Any]) -> None:
    """Source metric: acquisitions per source key (none for a whole product lifetime = stale).

    Failures are logged (``source acquire failed``) rather than counted, for the dashboard's log widget.
    """
    metrics.add_dimension(name="source", value=str(result.get("source", "unknown")))
    metrics.add_metric(
        name="SourceAcquisitions", unit=MetricUnit.Count, value=1 if result.get("acquired") else 0
    )
    if result.get("error"):
        logger.warning(
            "source acquire failed", extra={"source": result.get("source"), "error": result["error"]}
        )


def record_publish(channel: str, result: dict[str, Any]) -> None:
    metrics.add_dimension(name="channel", value=channel)
    metrics.add_metric(name="Publications", unit=MetricUnit.Count, value=1)
