"""The bridge's configuration: one TOML (or JSON) file, validated; unknown keys are errors.

It names things, never secrets: AWS credentials come from the standard credential chain (on an
on-prem host: IAM Roles Anywhere with the host certificate, see ``docs/bridge.md``), HTCondor
authentication from the host's HTCondor configuration and tokens.  A key that looks like a secret is
rejected with that explanation.

```toml
bridge = "fnal"                      # queue names derive from it (hepde.naming)
stack = "hepde"
bucket = "hepde-products-123"        # the products bucket (snapshots go under snapshots/)
ledger = "/var/lib/de-bridge/ledger.sqlite"

[schedds.pilots]                     # logical name used by actions
name = "schedd@bridge.fnal.gov"      # omit for the local schedd
pool = "cm.fnal.gov"
executables = ["/usr/local/libexec/glidein_startup.sh", "/usr/libexec/hepde/hepde-mpi-launch"]
submitter = "hepde@fnal.gov"         # the identity jobs are owned by (never root)
token_directory = "/etc/de-bridge/tokens.d"   # its IDTOKEN (a path, not the token)

[collectors.factory]
host = "gfactory.fnal.gov"
proxy_file = "/etc/de-bridge/frontend-proxy.pem"

[[snapshots]]
kind = "job_queue"
schedd = "pilots"
every = 60
```
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hepde.bridge_queue import actions_queue_address
from hepde.errors import DEError
from hepde.naming import (
    SNAPSHOT_PREFIX,
    bridge_dead_letter_queue,
    bridge_results_queue,
    table_name,
)

_SECRETISH = re.compile(r"secret|password|passwd|token|private[_-]?key|access[_-]?key|credential", re.I)


#: keys that name WHERE a credential is (an absolute path on the bridge host), never the credential
_CREDENTIAL_PATHS = frozenset({"token_directory", "token_file", "proxy_file"})


class BridgeConfigError(DEError):
    """The bridge configuration file is invalid."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheddConfig(_Model):
    #: the schedd's ``Name`` to locate in ``pool``; empty: the host's local schedd
    name: str = ""
    pool: str = ""
    #: the identity the bridge submits as here (``user`` or ``user@domain``): a job's ``Owner`` is the
    #: authenticated submitter, never what the description says, and a schedd never lets root own a
    #: job.  ``de-bridge check`` verifies the schedd sees this identity; the user part is set as
    #: ``accounting_group_user`` when a submission names an ``accounting_group`` without one (the
    #: bindings, unlike ``condor_submit``, leave it empty).  Empty: whoever the bridge runs as.
    submitter: str = ""
    #: a ``tokens.d`` directory with the submitter's IDTOKEN, used for this schedd's calls only
    #: (``SEC_TOKEN_DIRECTORY``); empty: the Unix user's own tokens / FS authentication
    token_directory: str = ""
    #: executables a submit action may name (absolute paths on this host); the cloud cannot run anything else
    executables: list[str] = Field(default_factory=list)
    #: universes a submit action may use; the default keeps the bridge host itself out of reach
    universes: list[str] = Field(default_factory=lambda: ["grid"])
    #: add ``log = <dir>/<key>.log`` to submissions that have no log (empty: no log)
    job_log_dir: str = ""
    #: Lumberjack: exports of this (user) schedd's jobs go to ``<export_dir>/<key>``; it must be
    #: writable by the jobs' owners (the schedd writes the exported queue as them).  Empty: no exports
    export_dir: str = Field(default="", pattern=r"^(/\S*)?$")

    @field_validator("executables")
    @classmethod
    def _abs(cls, v: list[str]) -> list[str]:
        for path in v:
            if not path.startswith("/"):
                raise ValueError(f"executable {path!r} must be an absolute path")
        return v


class CollectorConfig(_Model):
    #: collector host(s) (``host[:port]``, comma-separated for several); empty: the host's COLLECTOR_HOST
    host: str = ""
    #: a file holding the IDTOKEN/SciToken to present to this collector (a path: the token never
    #: appears in this configuration)
    token_file: str = ""
    #: an X.509 proxy to authenticate to this collector with (SSL), e.g. a factory collector
    proxy_file: str = ""
    #: ad types the cloud may advertise or invalidate here
    ad_types: list[Literal["glideclient", "glideclientglobal", "glideclientmonitor"]] = Field(
        default=["glideclient", "glideclientglobal"]
    )


class SnapshotConfig(_Model):
    kind: Literal["job_queue", "slots", "factory_entries", "factory_global", "factory_client"]
    schedd: str = ""
    collector: str = ""
    #: the snapshot's origin (its S3 path): default the schedd's or collector's real name
    origin: str = ""
    every: float = Field(default=60.0, gt=0)
    constraint: str = "true"
    #: attributes to keep (all if empty)
    attributes: list[str] = Field(default_factory=list)
    #: add ``ScheddName`` (job queues) / ``CollectorHost`` (collector ads) when missing
    add_origin_columns: bool = True
    #: set by :class:`BridgeConfig` from the schedd/collector config
    origin_name: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> SnapshotConfig:
        if self.kind == "job_queue" and (not self.schedd or self.collector):
            raise ValueError("a job_queue snapshot names a 'schedd' (and no collector)")
        if self.kind != "job_queue" and (not self.collector or self.schedd):
            raise ValueError(f"a {self.kind} snapshot names a 'collector' (and no schedd)")
        from hepde.actions import check_classad_expression

        check_classad_expression(self.constraint, "constraint")
        return self


class PollConfig(_Model):
    wait_seconds: int = Field(default=20, ge=0, le=20)
    max_messages: int = Field(default=10, ge=1, le=10)
    #: how long a received message stays invisible while the bridge works on it
    visibility_timeout: int = Field(default=300, ge=10, le=43200)


class RetryConfig(_Model):
    #: attempts per action before the bridge gives up and dead-letters it with the reason; keep the
    #: actions queue's redrive ``maxReceiveCount`` well above (SQS dead-letters without a reason)
    max_attempts: int = Field(default=4, ge=1, le=100)
    base_delay: float = Field(default=10.0, gt=0)
    max_delay: float = Field(default=900.0, gt=0)
    #: backoff of the poll loop while SQS or the DataBlock is unreachable
    poll_base_delay: float = Field(default=1.0, gt=0)
    poll_max_delay: float = Field(default=60.0, gt=0)


class BridgeConfig(_Model):
    bridge: str = "default"
    stack: str = "hepde"
    region: str = ""
    #: queue URLs override the names derived from ``stack`` and ``bridge``
    actions_queue_url: str = ""
    dead_letter_queue_url: str = ""
    results_queue_url: str = ""
    #: where results go: the DataBlock (default) and/or the reply queue
    results: list[Literal["datablock", "queue"]] = Field(default=["datablock"])
    table: str = ""
    bucket: str = ""
    #: snapshot root; default ``s3://<bucket>/snapshots``
    snapshot_root: str = ""
    ledger: str = "/var/lib/de-bridge/ledger.sqlite"
    ledger_retention_days: float = Field(default=15.0, ge=14.5)
    health_file: str = ""
    #: serve /healthz and /metrics on 127.0.0.1:<port> (0: off)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    #: send BridgeActionLatency / BridgeActionFailures to CloudWatch (the deployment's dashboard)
    cloudwatch_metrics: bool = False
    schedds: dict[str, ScheddConfig] = Field(default_factory=dict)
    collectors: dict[str, CollectorConfig] = Field(default_factory=dict)
    snapshots: list[SnapshotConfig] = Field(default_factory=list)
    #: which instance acts on an action when two bridges read one queue (ADR 0010): "local" (a lone
    #: bridge) or "dynamodb" (a conditional write per key in the DataBlock table, shared by the pair)
    claims: Literal["local", "dynamodb"] = "local"
    #: how long a claim holds without its claimant finishing (then another instance may take over)
    claim_seconds: float = Field(default=600.0, ge=30.0, le=43200.0)
    #: this instance's name in claims (default host:pid:random)
    instance: str = ""
    poll: PollConfig = Field(default_factory=PollConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        def walk(node: Any, path: str) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    if isinstance(k, str) and k in _CREDENTIAL_PATHS:
                        if v and not (isinstance(v, str) and v.startswith("/")):
                            raise ValueError(
                                f"'{path}{k}': the path of a file on this host (absolute), never the credential itself"
                            )
                        continue
                    if isinstance(k, str) and _SECRETISH.search(k):
                        raise ValueError(
                            f"'{path}{k}': credentials do not belong in the bridge configuration — AWS credentials "
                            "come from the standard chain (IAM Roles Anywhere with the host certificate), HTCondor "
                            "authentication from the host's HTCondor configuration and tokens"
                        )
                    walk(v, f"{path}{k}.")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{path}{i}.")

        walk(data, "")
        return data

    @model_validator(mode="after")
    def _references(self) -> BridgeConfig:
        fixed = []
        for i, snap in enumerate(self.snapshots):
            if snap.schedd and snap.schedd not in self.schedds:
                raise ValueError(
                    f"snapshots.{i}: unknown schedd {snap.schedd!r} (configured: {sorted(self.schedds)})"
                )
            if snap.collector and snap.collector not in self.collectors:
                raise ValueError(
                    f"snapshots.{i}: unknown collector {snap.collector!r} (configured: {sorted(self.collectors)})"
                )
            origin = snap.origin or (
                (self.schedds[snap.schedd].name or snap.schedd)
                if snap.schedd
                else (self.collectors[snap.collector].host or snap.collector)
            )
            fixed.append(snap.model_copy(update={"origin_name": origin}))
        object.__setattr__(self, "snapshots", fixed)
        if self.snapshots and not (self.snapshot_root or self.bucket):
            raise ValueError("snapshots need 'bucket' (or 'snapshot_root')")
        if "datablock" in self.results and not self.bucket:
            raise ValueError("results in the DataBlock need 'bucket' (the DataBlock's large-products bucket)")
        return self

    # -- derived names ---------------------------------------------------------------------------
    # -- HTCondor clients ------------------------------------------------------------------------
    def schedd_settings(self, name: str) -> Any:
        from hepde.condor.adapter import CondorSettings

        conf = self.schedds[name]
        return CondorSettings(token_directory=conf.token_directory or None)

    def collector_settings(self, name: str) -> Any:
        from hepde.condor.adapter import CondorSettings

        conf = self.collectors[name]
        return CondorSettings(token_file=conf.token_file or None, proxy_file=conf.proxy_file or None)

    @property
    def actions_queue(self) -> str:
        # the one resolution the publishers use too (they add the deployed URL / a ``queue`` override)
        return actions_queue_address(self.bridge, stack=self.stack)

    @property
    def dead_letter_queue(self) -> str:
        return bridge_dead_letter_queue(self.bridge, self.stack)

    @property
    def results_queue(self) -> str:
        return bridge_results_queue(self.bridge, self.stack)

    @property
    def table_name(self) -> str:
        return self.table or table_name(self.stack)

    @property
    def snapshots_at(self) -> str:
        return self.snapshot_root or f"s3://{self.bucket}/{SNAPSHOT_PREFIX}"


def load_config(path: str | Path) -> BridgeConfig:
    """Read and validate a bridge configuration file (``.toml`` or ``.json``)."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise BridgeConfigError(f"{p}: cannot read: {exc}") from exc
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text.decode())
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise BridgeConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}") from exc
    return parse_config(data, str(p))


def parse_config(data: dict[str, Any], where: str = "<config>") -> BridgeConfig:
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"{where}: {loc}: {err['msg']}")
        raise BridgeConfigError("\n".join(lines)) from None
