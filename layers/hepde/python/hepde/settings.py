"""Runtime settings, read once from the environment (Lambda configuration or the local runner)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from hepde.errors import DEError


class SettingsError(DEError):
    """A required environment setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    region: str
    retention_days: float | None
    lock_seconds: float
    #: the deployment's prefix (the SAM stack name): derived resource names (:mod:`hepde.naming`)
    stack: str = "hepde"
    #: the default bridge's actions queue as deployed (``DE_BRIDGE_ACTIONS_QUEUE_URL``); empty: derive it
    bridge_actions_queue_url: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        missing = [k for k in ("DE_TABLE_NAME", "DE_BUCKET_NAME") if not env.get(k)]
        if missing:
            raise SettingsError(
                "missing environment setting(s) "
                + ", ".join(missing)
                + ": the DataBlock table and bucket names (set by the SAM template or by `de run`)"
            )
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise SettingsError("missing environment setting AWS_REGION (or AWS_DEFAULT_REGION)")

        def number(name: str, default: float | None) -> float | None:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return float(raw)
            except ValueError as exc:
                raise SettingsError(f"environment setting {name}={raw!r} is not a number") from exc

        retention = number("DE_RETENTION_DAYS", None)
        lock = number("DE_CYCLE_LOCK_SECONDS", 900.0)
        assert lock is not None
        return cls(
            table_name=env["DE_TABLE_NAME"],
            bucket_name=env["DE_BUCKET_NAME"],
            region=region,
            retention_days=retention,
            lock_seconds=lock,
            stack=env.get("DE_STACK") or "hepde",
            bridge_actions_queue_url=env.get("DE_BRIDGE_ACTIONS_QUEUE_URL", ""),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
