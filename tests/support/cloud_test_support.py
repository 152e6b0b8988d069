"""Helpers for the cloud economics tests (tests/unit/cloud): fixtures, recorded HTTP, fake EC2."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hepde.modules.cloud.common import parse_literal
from hepde.modules.cloud.http import HttpResponse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cloud"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "fixtures"


def fixture(name: str) -> Path:
    return FIXTURES / name


def literal_fixture(name: str) -> Any:
    """The original's Python-literal fixtures (``datetime.datetime(...)`` allowed), read without eval."""
    return parse_literal(fixture(name).read_text(), where=name, calls={"datetime.datetime": dt.datetime})


def json_fixture(name: str) -> Any:
    return json.loads(fixture(name).read_text())


def csv_fixture(name: str) -> pd.DataFrame:
    return pd.read_csv(fixture(name))


def fmt_column(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The original tests' comparison: the value column as ``%f`` strings."""
    out = frame.copy()
    out[column] = [f"{v:f}" for v in frame[column]]
    return out


class RecordedTransport:
    """Serves recorded answers: ``routes[(METHOD, url prefix)] = [answer, ...]`` (each used in turn; the last repeats).

    An answer is a fixture file name (JSON body, status 200), or ``(status, body)``.  Every request is
    kept in ``calls`` as ``(method, url, headers, form)``.
    """

    def __init__(self, routes: Mapping[tuple[str, str], list[Any]]) -> None:
        self.routes = {k: list(v) for k, v in routes.items()}
        self.calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse:
        form = dict(urllib.parse.parse_qsl(body.decode())) if body else {}
        self.calls.append((method, url, dict(headers), form))
        for (m, prefix), answers in self.routes.items():
            if m == method and url.startswith(prefix):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if isinstance(answer, tuple):
                    status, payload = answer
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    return HttpResponse(status, data, {}, url)
                return HttpResponse(
                    200, fixture(answer).read_bytes(), {"Content-Type": "application/json"}, url
                )
        return HttpResponse(404, b'{"error": "no recorded answer"}', {}, url)


def rsa_private_key_pem() -> tuple[str, Any]:
    """A fresh RSA key (PEM, public key object) for signing tests."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def verify_rs256(token: str, public_key: Any) -> dict[str, Any]:
    """Check a compact RS256 JWT's signature; return its claims."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    head, payload, sig = token.split(".")

    def unb64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    public_key.verify(unb64(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    assert json.loads(unb64(head))["alg"] == "RS256"
    return json.loads(unb64(payload))


class FakeEC2Adapter:
    """Stands in for EC2Adapter: fixed spot price records and instances, remembers the queries."""

    def __init__(
        self, records: list[dict[str, Any]] | None = None, instances: list[dict[str, Any]] | None = None
    ):
        self.records = records or []
        self._instances = instances or []
        self.queries: list[list[str]] = []

    def spot_price_history(self, instance_types, **_kw) -> list[dict[str, Any]]:
        self.queries.append(list(instance_types))
        return [dict(r) for r in self.records]

    def instances(self) -> list[dict[str, Any]]:
        return list(self._instances)
