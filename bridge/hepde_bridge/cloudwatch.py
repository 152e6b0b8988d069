"""The bridge's metrics in CloudWatch, for the deployment's dashboard and alarms.

The dashboard's bridge row reads ``BridgeActionLatency`` (seconds from the action's creation in the
cloud to its result on-prem) and ``BridgeActionFailures`` (results ``failed``, ``unknown`` or
``dead_lettered``), namespace ``HEPCloudDE``, dimensions ``bridge`` and ``service``.  Observations are
buffered and sent once a minute (``PutMetricData``, statistic sets); a failure to send is logged and
the buffer kept (bounded), never allowed to stop the bridge.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from hepde.naming import METRICS_NAMESPACE

log = logging.getLogger("de-bridge.cloudwatch")
SERVICE = "decision-engine"


class CloudWatchMetrics:
    def __init__(
        self, client: Any, bridge: str, *, namespace: str = METRICS_NAMESPACE, max_buffer: int = 10000
    ) -> None:
        self.client = client
        self.dims = [{"Name": "bridge", "Value": bridge}, {"Name": "service", "Value": SERVICE}]
        self.namespace = namespace
        self.max_buffer = max_buffer
        self._latencies: list[float] = []
        self._failures = 0
        self._lock = threading.Lock()

    def observe(self, latency: float, failed: bool) -> None:
        with self._lock:
            if len(self._latencies) < self.max_buffer:
                self._latencies.append(max(0.0, float(latency)))
            self._failures += 1 if failed else 0

    def flush(self) -> bool:
        with self._lock:
            latencies, failures = list(self._latencies), self._failures
        if not latencies and not failures:
            return True
        data: list[dict[str, Any]] = [
            {
                "MetricName": "BridgeActionFailures",
                "Dimensions": self.dims,
                "Value": float(failures),
                "Unit": "Count",
            }
        ]
        if latencies:
            data.append(
                {
                    "MetricName": "BridgeActionLatency",
                    "Dimensions": self.dims,
                    "Unit": "Seconds",
                    "StatisticValues": {
                        "SampleCount": float(len(latencies)),
                        "Sum": sum(latencies),
                        "Minimum": min(latencies),
                        "Maximum": max(latencies),
                    },
                }
            )
        try:
            self.client.put_metric_data(Namespace=self.namespace, MetricData=data)
        except Exception as exc:  # noqa: BLE001 - metrics never stop the bridge
            log.warning("cannot send metrics to CloudWatch (kept for the next try): %s", exc)
            return False
        with self._lock:
            del self._latencies[: len(latencies)]
            self._failures -= failures
        return True
