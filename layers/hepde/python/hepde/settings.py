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
    #: the cycle lease of an Express channel: its execution's cap (300 s)
    lock_seconds: float
    #: the deployment's prefix (the SAM stack name): derived resource names (:mod:`hepde.naming`)
    stack: str = "hepde"
    #: the default bridge's actions queue as deployed (``DE_BRIDGE_ACTIONS_QUEUE_URL``); empty: derive it
    bridge_actions_queue_url: str = ""
    #: channels deployed as Standard workflows (``DE_STANDARD_CHANNELS``, comma-separated) and their lease
    standard_channels: tuple[str, ...] = ()
    standard_lock_seconds: float = 900.0

    def cycle_lease_seconds(self, channel: str) -> float:
        """How long channel ``channel``'s execution can run at most: its cycle lease."""
        return self.standard_lock_seconds if channel in self.standard_channels else self.lock_seconds

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
        lock = number("DE_CYCLE_LOCK_SECONDS", 300.0)
        standard_lock = number("DE_STANDARD_LOCK_SECONDS", 900.0)
        assert lock is not None and standard_lock is not None
        if lock <= 0 or standard_lock <= 0:
            raise SettingsError("DE_CYCLE_LOCK_SECONDS and DE_STANDARD_LOCK_SECONDS must be positive")
        return cls(
            table_name=env["DE_TABLE_NAME"],
            bucket_name=env["DE_BUCKET_NAME"],
            region=region,
            retention_days=retention,
            lock_seconds=lock,
            stack=env.get("DE_STACK") or "hepde",
            bridge_actions_queue_url=env.get("DE_BRIDGE_ACTIONS_QUEUE_URL", ""),
            standard_channels=tuple(
                c.strip() for c in env.get("DE_STANDARD_CHANNELS", "").split(",") if c.strip()
            ),
            standard_lock_seconds=standard_lock,
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
