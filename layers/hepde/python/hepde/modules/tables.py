"""Reading and writing tables at a location: a local path, ``s3://bucket/key`` or ``package://pkg/path``.

CSV, Parquet and JSON (a list of objects) by extension.  Used by the file/S3 sources and the export
publisher, and by ``de module run`` for its ``--product`` inputs.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from hepde.errors import DEError

TABLE_EXTENSIONS = (".csv", ".parquet", ".json")


class LocationError(DEError):
    """A location cannot be read or written, or has an unsupported extension."""


def _ext(location: str) -> str:
    for ext in TABLE_EXTENSIONS:
        if location.lower().endswith(ext):
            return ext
    raise LocationError(
        f"'{location}': unsupported table format; expected one of {', '.join(TABLE_EXTENSIONS)}"
    )


def read_bytes(location: str, s3_client: Any = None) -> bytes:
    try:
        if location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
            if s3_client is None:
                import boto3

                s3_client = boto3.client("s3")
            return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if location.startswith("package://"):
            package, _, rel = location[len("package://") :].partition("/")
            return resources.files(package).joinpath(rel).read_bytes()
        return Path(location).read_bytes()
    except DEError:
        raise
    except Exception as exc:
        raise LocationError(f"cannot read '{location}': {type(exc).__name__}: {exc}") from exc


def write_bytes(
    location: str, data: bytes, s3_client: Any = None, content_type: str = "application/octet-stream"
) -> None:
    try:
        if location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
            if s3_client is None:
                import boto3

                s3_client = boto3.client("s3")
            s3_client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
            return
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except Exception as exc:
        raise LocationError(f"cannot write '{location}': {type(exc).__name__}: {exc}") from exc


def parse_table(data: bytes, ext: str, location: str = "<data>") -> pd.DataFrame:
    try:
        if ext == ".csv":
            return pd.read_csv(io.BytesIO(data))
        if ext == ".parquet":
            return pd.read_parquet(io.BytesIO(data))
        value = json.loads(data)
    except Exception as exc:
        raise LocationError(f"'{location}' is not a valid {ext[1:]} table: {exc}") from exc
    if not (isinstance(value, list) and all(isinstance(r, dict) for r in value)):
        raise LocationError(f"'{location}': a JSON table must be a list of objects")
    return pd.DataFrame.from_records(value)


def read_table(location: str, s3_client: Any = None) -> pd.DataFrame:
    ext = _ext(location)
    return parse_table(read_bytes(location, s3_client), ext, location)


def table_bytes(frame: pd.DataFrame, ext: str) -> bytes:
    if ext == ".csv":
        return frame.to_csv(index=False).encode()
    if ext == ".parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    return frame.to_json(orient="records", indent=1).encode()


def write_table(location: str, frame: pd.DataFrame, s3_client: Any = None) -> None:
    write_bytes(location, table_bytes(frame, _ext(location)), s3_client)
