"""THE snapshot format: HTCondor ads taken on-prem, uploaded to S3, read by the channel's sources.

A Lambda in AWS cannot query an on-prem schedd or collector.  The on-prem condor bridge queries
them on a schedule and uploads a *snapshot*; the HTCondor and GlideinWMS sources read the newest
snapshot instead of querying.  Both sides use this module, so the format is defined once.

One snapshot = two objects under ``<root>/<kind>/<origin>/``:

``<stamp>-<id>.parquet``
    the ads, one row per ad, one column per attribute (the union of the ads' attributes; a missing
    attribute is null).  Column types: ``bool``, ``int64``, ``float64`` or ``string`` when every
    non-null value of the attribute has that type (ints and floats mixed → ``float64``); any other
    mix (``GLIDEIN_CPUS`` = ``8`` in one ad and ``"auto"`` in another, lists, nested ads) is a
    ``string`` column holding one JSON document per cell, listed in the manifest's
    ``json_columns`` and decoded back to the original Python values on read.
``<stamp>-<id>.json``
    the manifest (:class:`Manifest`): ``schema_version``, ``kind``, ``origin``, ``taken_at`` (Unix
    seconds, UTC), ``rows``, ``columns``, ``json_columns``, ``data`` (the Parquet object's name),
    ``sha256`` of the Parquet bytes, ``producer`` and the ``query`` that produced the ads.

and ``<root>/<kind>/<origin>/LATEST.json``, a copy of the newest manifest.  A writer puts the
Parquet object first, then its manifest, then ``LATEST.json``: a reader that finds a manifest always
finds complete data, and a checksum or row-count mismatch is an error, never silently wrong data.

``root`` is ``s3://bucket/prefix``, a local directory, or ``package://pkg/path`` (read only; the
bundled sample data).  ``kind`` is one of :data:`KINDS`; ``origin`` is the schedd or collector the
ads came from (any string; it is made path-safe with :func:`origin_slug`).

Readers check freshness: :func:`read_latest` with ``max_age`` raises :class:`SnapshotStaleError`
when the newest snapshot is older, :class:`SnapshotMissingError` when there is none.  A source
that raises is recorded by the runtime, which keeps deciding on the last good products while they
are fresh and holds the cycle when they expire — an outage never turns into "zero jobs".
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hepde.errors import DEError

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "Manifest",
    "Snapshot",
    "SnapshotError",
    "SnapshotMissingError",
    "SnapshotStaleError",
    "SnapshotStore",
    "ads_to_table",
    "origin_slug",
    "read_latest",
    "table_to_frame",
    "write_snapshot",
]

SCHEMA_VERSION = 1
#: what a snapshot holds: schedd job ads, startd (slot) ads, and the GlideinWMS factory's ads
KINDS = ("job_queue", "slots", "factory_entries", "factory_global", "factory_client")
Kind = Literal["job_queue", "slots", "factory_entries", "factory_global", "factory_client"]
LATEST = "LATEST.json"


class SnapshotError(DEError):
    """A snapshot cannot be written or read, or is inconsistent."""


class SnapshotMissingError(SnapshotError):
    """No snapshot of that kind and origin exists."""


class SnapshotStaleError(SnapshotError):
    """The newest snapshot is older than the reader accepts."""


class Manifest(BaseModel):
    """The small JSON document describing one snapshot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    kind: Kind
    origin: str = Field(min_length=1)
    taken_at: float
    rows: int = Field(ge=0)
    columns: list[str]
    json_columns: list[str] = Field(default_factory=list)
    data: str
    sha256: str
    producer: str = "hepde"
    query: dict[str, Any] = Field(default_factory=dict)

    @property
    def taken_at_iso(self) -> str:
        return datetime.fromtimestamp(self.taken_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.taken_at


@dataclass(frozen=True)
class Snapshot:
    manifest: Manifest
    frame: pd.DataFrame

    def ads(self) -> list[dict[str, Any]]:
        """The ads as dicts, nulls (attributes an ad did not have) left out."""
        out = []
        for rec in self.frame.to_dict(orient="records"):
            out.append({k: v for k, v in rec.items() if not _is_null(v)})
        return out


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def origin_slug(origin: str) -> str:
    """A path-safe, readable name for an origin (``schedd@host:9618`` → ``schedd@host_9618``)."""
    slug = re.sub(r"[^A-Za-z0-9@._-]+", "_", origin).strip("_.")
    if not slug:
        raise SnapshotError(f"origin {origin!r} has no usable characters")
    return slug


# -- ads <-> table -----------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """numpy scalars → Python, bytes → latin-1 text (classad encoding, modules #263/#282)."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _column_type(values: list[Any]) -> str:
    kinds = {type(v) for v in values if not _is_null(v)}
    if not kinds:
        return "string"
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int64"
    if kinds <= {int, float}:
        return "float64"
    if kinds == {str}:
        return "string"
    return "json"


def ads_to_table(ads: Iterable[Mapping[str, Any]]) -> tuple[pa.Table, list[str]]:
    """A list of ads (dicts) → an Arrow table and the names of its JSON-encoded columns."""
    rows = [{k: _plain(v) for k, v in ad.items()} for ad in ads]
    names: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                names.append(key)
    arrays, json_columns = [], []
    for name in names:
        values = [row.get(name) for row in rows]
        kind = _column_type(values)
        clean = [None if _is_null(v) else v for v in values]
        if kind == "json":
            json_columns.append(name)
            arrays.append(
                pa.array([None if v is None else json.dumps(v, allow_nan=True) for v in clean], pa.string())
            )
        elif kind == "float64":
            arrays.append(pa.array([None if v is None else float(v) for v in clean], pa.float64()))
        else:
            arrays.append(
                pa.array(clean, {"bool": pa.bool_(), "int64": pa.int64(), "string": pa.string()}[kind])
            )
    return pa.Table.from_arrays(arrays, names=names), json_columns


def table_to_frame(table: pa.Table, json_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Arrow table → DataFrame with the original Python values (ints with nulls become floats)."""
    frame = table.to_pandas(types_mapper=None)
    for name in json_columns:
        if name in frame.columns:
            frame[name] = pd.Series(
                [None if _is_null(v) else json.loads(v) for v in frame[name]], index=frame.index, dtype=object
            )
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]) and name not in json_columns:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


# -- storage -------------------------------------------------------------------------------------
class SnapshotStore:
    """Where snapshots live: ``s3://bucket/prefix``, a directory, or ``package://pkg/dir`` (read only)."""

    def __init__(self, root: str, s3_client: Any = None) -> None:
        if not root:
            raise SnapshotError(
                "a snapshot location is required (s3://bucket/prefix, a directory or package://)"
            )
        self.root = root.rstrip("/")
        self._s3 = s3_client

    def __repr__(self) -> str:
        return f"SnapshotStore({self.root!r})"

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def _client(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def _bucket_key(self, rel: str) -> tuple[str, str]:
        bucket, _, prefix = self.root[5:].partition("/")
        return bucket, f"{prefix}/{rel}" if prefix else rel

    def read(self, rel: str) -> bytes | None:
        """The object's bytes, or ``None`` if it does not exist."""
        try:
            if self.is_s3:
                bucket, key = self._bucket_key(rel)
                client = self._client()
                try:
                    return client.get_object(Bucket=bucket, Key=key)["Body"].read()
                except client.exceptions.NoSuchKey:
                    return None
            if self.root.startswith("package://"):
                from importlib import resources

                package, _, base = self.root[len("package://") :].partition("/")
                node = resources.files(package).joinpath(f"{base}/{rel}" if base else rel)
                return node.read_bytes() if node.is_file() else None
            path = Path(self.root) / rel
            return path.read_bytes() if path.is_file() else None
        except SnapshotError:
            raise
        except Exception as exc:
            raise SnapshotError(
                f"cannot read snapshot object '{self.root}/{rel}': {type(exc).__name__}: {exc}"
            ) from exc

    def write(self, rel: str, data: bytes, content_type: str) -> None:
        try:
            if self.is_s3:
                bucket, key = self._bucket_key(rel)
                self._client().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
                return
            if self.root.startswith("package://"):
                raise SnapshotError(f"'{self.root}' is read only")
            path = Path(self.root) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except SnapshotError:
            raise
        except Exception as exc:
            raise SnapshotError(
                f"cannot write snapshot object '{self.root}/{rel}': {type(exc).__name__}: {exc}"
            ) from exc


def _manifest_from(data: bytes, where: str) -> Manifest:
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise SnapshotError(f"{where}: manifest is not JSON: {exc}") from exc
    if isinstance(raw, dict) and raw.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
        raise SnapshotError(
            f"{where}: snapshot schema version {raw['schema_version']} is newer than this reader's ({SCHEMA_VERSION})"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise SnapshotError(f"{where}: invalid manifest: {loc}: {first['msg']}") from exc


def write_snapshot(
    store: SnapshotStore | str,
    kind: str,
    origin: str,
    ads: Iterable[Mapping[str, Any]] | pd.DataFrame,
    *,
    taken_at: float | None = None,
    producer: str = "hepde",
    query: Mapping[str, Any] | None = None,
) -> Manifest:
    """Upload one snapshot (Parquet, manifest, ``LATEST.json``, in that order); return its manifest."""
    if kind not in KINDS:
        raise SnapshotError(f"unknown snapshot kind {kind!r}; expected one of {', '.join(KINDS)}")
    store = store if isinstance(store, SnapshotStore) else SnapshotStore(store)
    taken_at = time.time() if taken_at is None else float(taken_at)
    if isinstance(ads, pd.DataFrame):
        records = ads.to_dict(orient="records")
        ads = [{k: v for k, v in r.items() if not _is_null(v)} for r in records]
    table, json_columns = ads_to_table(ads)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    data = buf.getvalue()
    stamp = datetime.fromtimestamp(taken_at, UTC).strftime("%Y%m%dT%H%M%S") + f"{taken_at % 1:.3f}"[1:] + "Z"
    stem = f"{stamp}-{uuid.uuid4().hex[:8]}"
    base = f"{kind}/{origin_slug(origin)}"
    manifest = Manifest(
        kind=cast(Kind, kind),
        origin=origin,
        taken_at=taken_at,
        rows=table.num_rows,
        columns=table.column_names,
        json_columns=json_columns,
        data=f"{stem}.parquet",
        sha256=hashlib.sha256(data).hexdigest(),
        producer=producer,
        query=dict(query or {}),
    )
    text = manifest.model_dump_json(indent=1).encode()
    store.write(f"{base}/{stem}.parquet", data, "application/vnd.apache.parquet")
    store.write(f"{base}/{stem}.json", text, "application/json")
    store.write(f"{base}/{LATEST}", text, "application/json")
    return manifest


def read_latest(
    store: SnapshotStore | str,
    kind: str,
    origin: str,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> Snapshot:
    """The newest snapshot of ``kind`` from ``origin``; checks freshness, checksum and row count."""
    if kind not in KINDS:
        raise SnapshotError(f"unknown snapshot kind {kind!r}; expected one of {', '.join(KINDS)}")
    store = store if isinstance(store, SnapshotStore) else SnapshotStore(store)
    base = f"{kind}/{origin_slug(origin)}"
    where = f"{store.root}/{base}"
    raw = store.read(f"{base}/{LATEST}")
    if raw is None:
        raise SnapshotMissingError(f"no {kind} snapshot from '{origin}' at {where}")
    manifest = _manifest_from(raw, f"{where}/{LATEST}")
    if manifest.kind != kind:
        raise SnapshotError(f"{where}/{LATEST}: manifest is of kind {manifest.kind!r}, expected {kind!r}")
    if max_age is not None and manifest.age(now) > max_age:
        raise SnapshotStaleError(
            f"newest {kind} snapshot from '{origin}' was taken {manifest.taken_at_iso} "
            f"({manifest.age(now):.0f} s ago, more than the {max_age:.0f} s accepted)"
        )
    data = store.read(f"{base}/{manifest.data}")
    if data is None:
        raise SnapshotError(f"{where}: manifest names '{manifest.data}', which does not exist")
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise SnapshotError(f"{where}/{manifest.data}: checksum does not match its manifest")
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:
        raise SnapshotError(f"{where}/{manifest.data}: not a readable Parquet file: {exc}") from exc
    if table.num_rows != manifest.rows:
        raise SnapshotError(f"{where}/{manifest.data}: {table.num_rows} rows, manifest says {manifest.rows}")
    return Snapshot(manifest, table_to_frame(table, manifest.json_columns))
