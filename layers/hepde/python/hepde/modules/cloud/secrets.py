"""References to secrets: never the secret itself in a channel configuration.

A :class:`SecretRef` is exactly one of

* ``{env: "NAME"}`` — the value of an environment variable (set on the Lambda from a secure store);
* ``{secrets_manager: "ARN or name", key?: "field"}`` — an AWS Secrets Manager secret (its
  ``SecretString``; with ``key``, one field of a JSON secret), read with the standard credential chain;
* ``{file: "/path"}`` — a file's content (the original's key files, for migration).

Values are fetched when first used, never when a module is constructed (``de validate`` builds modules).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from hepde.modules.cloud.common import CloudConfigError


class SecretsManagerAdapter:
    """The only place that talks to Secrets Manager; takes its boto3 client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def secret_string(self, secret_id: str) -> str:
        try:
            answer = self.client.get_secret_value(SecretId=secret_id)
        except Exception as exc:  # botocore ClientError, NoCredentialsError ...
            raise CloudConfigError(
                f"secret '{secret_id}' could not be read from Secrets Manager: {exc}"
            ) from exc
        value = answer.get("SecretString")
        if value is None:
            raise CloudConfigError(
                f"secret '{secret_id}' has no SecretString (binary secrets are not supported)"
            )
        return value

    @classmethod
    def default(cls) -> SecretsManagerAdapter:
        import boto3

        return cls(boto3.client("secretsmanager"))


class SecretRef(BaseModel):
    """Where a secret is: ``env``, ``secrets_manager`` (+ ``key``) or ``file`` — exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    secrets_manager: str | None = None
    key: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("env", "secrets_manager", "file") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "a secret reference is exactly one of {env: NAME}, {secrets_manager: ARN, key?: FIELD}, "
                f"{{file: PATH}}; got {', '.join(given) or 'none'}"
            )
        if self.key and not self.secrets_manager:
            raise ValueError("'key' is only meaningful with 'secrets_manager'")
        return self

    def describe(self) -> str:
        if self.env:
            return f"environment variable {self.env}"
        if self.secrets_manager:
            return f"Secrets Manager secret {self.secrets_manager}" + (
                f" (key {self.key})" if self.key else ""
            )
        return f"file {self.file}"

    def resolve(self, secrets_manager: SecretsManagerAdapter | None = None) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise CloudConfigError(
                    f"environment variable {self.env} is not set (it should hold a secret)"
                )
            return value
        if self.file:
            try:
                return Path(self.file).read_text()
            except OSError as exc:
                raise CloudConfigError(
                    f"secret file '{self.file}' cannot be read: {exc.strerror or exc}"
                ) from exc
        assert self.secrets_manager
        text = (secrets_manager or SecretsManagerAdapter.default()).secret_string(self.secrets_manager)
        if not self.key:
            return text
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CloudConfigError(
                f"secret '{self.secrets_manager}' is not JSON, so it has no key '{self.key}'"
            ) from exc
        if not isinstance(data, dict) or self.key not in data:
            raise CloudConfigError(f"secret '{self.secrets_manager}' has no key '{self.key}'")
        return str(data[self.key])
