"""Health and metrics of the bridge: counters, a JSON health document, and an optional HTTP endpoint.

* ``health_file`` — the health document (JSON), rewritten atomically after every loop iteration: a
  systemd watchdog, a Nagios check or a node exporter's textfile collector can read it;
* ``/healthz`` (200 healthy / 503 not) and ``/metrics`` (Prometheus text format) on
  ``metrics_host:metrics_port`` when a port is configured (loopback by default).

Healthy means: the last SQS poll succeeded recently, the ledger is writable, and the bridge is not
stopping.  Each counter is exported as ``de_bridge_<name>_total``, each gauge as ``de_bridge_<name>``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COUNTERS = (
    "messages_received",
    "actions_done",
    "actions_already_done",
    "duplicates_absorbed",
    "actions_failed",
    "actions_unknown",
    "actions_expired",
    "dead_lettered",
    "retries",
    "sqs_errors",
    "report_errors",
    "snapshots_pushed",
    "snapshot_failures",
    "jobs_submitted",
    "jobs_changed",
    "ads_advertised",
    "key_conflicts",
)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
        self.gauges: dict[str, float] = {}
        self.started_at = time.time()

    def inc(self, name: str, value: float = 1.0) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0.0) + value

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = float(value)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": dict(self.counters), "gauges": dict(self.gauges)}

    def prometheus(self, healthy: bool) -> str:
        snap = self.snapshot()
        lines = ["# TYPE de_bridge_up gauge", f"de_bridge_up {1 if healthy else 0}"]
        for name, value in sorted(snap["counters"].items()):
            lines += [f"# TYPE de_bridge_{name}_total counter", f"de_bridge_{name}_total {value:g}"]
        for name, value in sorted(snap["gauges"].items()):
            lines += [f"# TYPE de_bridge_{name} gauge", f"de_bridge_{name} {value:g}"]
        return "\n".join(lines) + "\n"


class Health:
    """The health state the service updates and the endpoint/file publish."""

    def __init__(self, metrics: Metrics, *, stale_after: float = 90.0) -> None:
        self.metrics = metrics
        self.stale_after = stale_after
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {
            "status": "starting",
            "last_poll_ok": None,
            "last_error": None,
            "ledger_writable": True,
            "snapshots": {},
            "ledger": {},
        }

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.state.update(fields)

    def healthy(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            last = self.state.get("last_poll_ok")
            return (
                self.state.get("status") in ("ok", "starting")
                and bool(self.state.get("ledger_writable"))
                and (last is None or now - last <= self.stale_after)
            )

    def document(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        with self._lock:
            doc = dict(self.state)
        doc.update(healthy=self.healthy(now), at=now, pid=os.getpid(), **self.metrics.snapshot())
        return doc

    def write(self, path: str) -> None:
        if not path:
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.document(), default=str, indent=1))
        tmp.replace(target)


class HealthServer:
    """``/healthz`` and ``/metrics`` over HTTP on a background thread."""

    def __init__(self, health: Health, host: str = "127.0.0.1", port: int = 0) -> None:
        self.health = health
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/healthz"):
                    ok = outer.health.healthy()
                    body = json.dumps(outer.health.document(), default=str).encode()
                    self._send(200 if ok else 503, body, "application/json")
                elif self.path.startswith("/metrics"):
                    text = outer.health.metrics.prometheus(outer.health.healthy()).encode()
                    self._send(200, text, "text/plain; version=0.0.4")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="de-bridge-health", daemon=True)

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
