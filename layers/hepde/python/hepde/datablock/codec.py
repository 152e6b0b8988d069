"""Language-neutral encoding of data-product values (never pickle).

``encode(value) -> (encoding, data)`` and ``decode(encoding, data) -> value``.  The encoding name
says what the bytes are and what Python type they decode to:

=====================  ===========================================  ==============================
encoding               bytes                                        decodes to
=====================  ===========================================  ==============================
``json``               compact UTF-8 JSON                           dict / list / str / int / ...
``json+zlib``          zlib-compressed compact JSON (> 4 KiB)       dict / list / str / int / ...
``parquet/dataframe``  Parquet file, zstd                           ``pandas.DataFrame``
``parquet/series``     Parquet file, zstd, one column               ``pandas.Series``
``arrow/ndarray``      Arrow IPC stream, zstd, one column           ``numpy.ndarray``
=====================  ===========================================  ==============================

Every format is readable without Python: Parquet and Arrow files by any Arrow/Parquet reader,
JSON by anything.  What pandas needs to rebuild the exact object is kept in the file's schema
metadata: pyarrow's standard ``pandas`` key (dtypes, index) and this project's ``hepde`` key, a
JSON object with

* ``kind``: ``"dataframe"``, ``"series"`` or ``"ndarray"``;
* ``columns`` (only when the column labels are not unique strings): the original labels,
  JSON-encoded (tuples as ``{"tuple": [...]}``); the Parquet field names are then ``str(label)``
  made unique.  Non-string labels are therefore *stringified in the file, restored on decode*;
* ``object_columns``: field names of columns that had pandas ``object`` dtype (restored as object);
* ``json_columns``: field names of ``object`` columns whose values were not all ``str``/``bytes``
  (mixed types such as ``[0.1, 2, "Test"]``, ``None`` mixed with strings, lists, dicts ...).  Such a
  column is stored as a string column holding one JSON document per cell and decoded value by value;
* ``series_name`` (series only) and ``shape``/``dtype`` (ndarray only).

DataFrame index: pyarrow's ``preserve_index=None`` rule — a ``RangeIndex`` is not stored as data
(only its start/stop/step in the ``pandas`` metadata), any other index is stored as column(s).

JSON values: ``dict`` (``str`` keys only), ``list``/``tuple`` (tuples decode as lists), ``str``,
``int``, ``float``, ``bool``, ``None``, nested freely; numpy scalars (``np.int64``, ``np.float32``,
``np.bool_``...) are converted to the Python equivalent.  Non-finite floats are written as the
``NaN``/``Infinity`` tokens (accepted by Python, JavaScript's JSON5, Jackson with an option ...).

Anything else raises :class:`hepde.errors.ProductEncodingError` naming the type and the supported
types.
"""

from __future__ import annotations

import io
import json
import math
import zlib
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import infer_dtype, is_object_dtype

from hepde.errors import ProductEncodingError

__all__ = [
    "ARROW_NDARRAY",
    "ENCODINGS",
    "JSON",
    "JSON_DATAFRAME",
    "JSON_ZLIB",
    "PARQUET_DATAFRAME",
    "PARQUET_SERIES",
    "SUPPORTED_TYPES",
    "decode",
    "encode",
    "to_json_text",
]

JSON: Final = "json"
JSON_ZLIB: Final = "json+zlib"
PARQUET_DATAFRAME: Final = "parquet/dataframe"
PARQUET_SERIES: Final = "parquet/series"
ARROW_NDARRAY: Final = "arrow/ndarray"
JSON_DATAFRAME: Final = "json/dataframe"
ENCODINGS: Final = (JSON, JSON_ZLIB, PARQUET_DATAFRAME, PARQUET_SERIES, ARROW_NDARRAY, JSON_DATAFRAME)

#: DataFrames of at most this many cells with plain columns are stored as column-wise JSON: a Parquet
#: file's footer and pandas metadata make a 3x3 table ~3 KB (3 DynamoDB write units), JSON ~0.2 KB
SMALL_FRAME_CELLS: Final = 2000
_SMALL_FRAME_DTYPES: Final = frozenset({"int64", "int32", "float64", "float32", "bool", "object", "str"})

SUPPORTED_TYPES: Final = (
    "pandas.DataFrame, pandas.Series, numpy.ndarray, and JSON values: dict (str keys), list, tuple, "
    "str, int, float, bool, None (nested; numpy scalars allowed)"
)

#: JSON documents larger than this are zlib-compressed.
JSON_COMPRESS_THRESHOLD: Final = 4096
#: Parquet / Arrow compression codec and level.
COMPRESSION: Final = "zstd"
COMPRESSION_LEVEL: Final = 3

_META_KEY: Final = b"hepde"
_SERIES_FIELD: Final = "series"
_NDARRAY_FIELD: Final = "values"


# -- public API ------------------------------------------------------------------------------


def encode(value: Any) -> tuple[str, bytes]:
    """Encode ``value``; returns ``(encoding name, bytes)``.

    Raises :class:`ProductEncodingError` for unsupported types (the message names the type and
    lists the supported ones) or for values of a supported type that cannot be represented
    (e.g. a dict with non-string keys).
    """
    if isinstance(value, pd.DataFrame):
        small = _encode_small_frame(value)
        if small is not None:
            return JSON_DATAFRAME, small
        return PARQUET_DATAFRAME, _encode_frame(value, {"kind": "dataframe"})
    if isinstance(value, pd.Series):
        frame = value.to_frame(name=_SERIES_FIELD)
        extra = {"kind": "series", "series_name": _encode_label(value.name, "the Series name")}
        return PARQUET_SERIES, _encode_frame(frame, extra)
    if isinstance(value, np.ndarray):
        return ARROW_NDARRAY, _encode_ndarray(value)
    data = to_json_text(value).encode("utf-8")
    if len(data) > JSON_COMPRESS_THRESHOLD:
        return JSON_ZLIB, zlib.compress(data, 6)
    return JSON, data


def to_json_text(value: Any) -> str:
    """``value`` (JSON values; numpy scalars converted) as compact JSON text, or ProductEncodingError."""
    native = _to_json_native(value, "$")
    return json.dumps(native, separators=(",", ":"), ensure_ascii=False, allow_nan=True, check_circular=False)


def decode(encoding: str, data: bytes) -> Any:
    """Decode bytes produced by :func:`encode` with the given encoding name."""
    decoder = _DECODERS.get(encoding)
    if decoder is None:
        raise ProductEncodingError(f"unknown product encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
    try:
        return decoder(bytes(data))
    except ProductEncodingError:
        raise
    except Exception as exc:  # corrupt data: any reader error
        raise ProductEncodingError(
            f"cannot decode a {encoding!r} product ({len(data)} bytes): {type(exc).__name__}: {exc}"
        ) from exc


# -- JSON values -----------------------------------------------------------------------------


def _unsupported(value: Any, where: str) -> ProductEncodingError:
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__
    at = "" if where == "$" else f" at {where}"
    return ProductEncodingError(f"cannot store a value of type {name}{at}; supported: {SUPPORTED_TYPES}")


def _to_json_native(value: Any, where: str) -> Any:
    """``value`` as plain JSON-able Python objects (numpy scalars converted), or raise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # str subclasses (np.str_) become plain str
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        raise _unsupported(value, where)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProductEncodingError(
                    f"dict keys must be str to be stored as JSON; found {type(key).__name__} key {key!r}"
                    f"{'' if where == '$' else ' at ' + where}"
                )
            out[str(key)] = _to_json_native(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_to_json_native(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise _unsupported(value, where)


def _json_cell(value: Any) -> str:
    return json.dumps(_to_json_native(value, "$"), separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def _decode_json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _decode_json_zlib(data: bytes) -> Any:
    return json.loads(zlib.decompress(data).decode("utf-8"))


# -- labels (column names, series names) -------------------------------------------------------


def _encode_label(label: Any, what: str) -> Any:
    if isinstance(label, tuple):
        return {"tuple": [_encode_label(part, what) for part in label]}
    try:
        return _to_json_native(label, "$")
    except ProductEncodingError as exc:
        raise ProductEncodingError(f"{what} {label!r} cannot be stored: {exc}") from exc


def _decode_label(label: Any) -> Any:
    if isinstance(label, dict) and set(label) == {"tuple"}:
        return tuple(_decode_label(part) for part in label["tuple"])
    return label


# -- DataFrame / Series --------------------------------------------------------------------------


def _encode_small_frame(frame: pd.DataFrame) -> bytes | None:
    """Column-wise JSON for a small frame of plain columns (default index, unique str names), else None."""
    if frame.size > SMALL_FRAME_CELLS or not isinstance(frame.index, pd.RangeIndex):
        return None
    if frame.index.start != 0 or frame.index.step != 1 or frame.index.name is not None:
        return None
    labels = list(frame.columns)
    if (
        not labels
        or frame.columns.name is not None
        or not isinstance(frame.columns, pd.Index)
        or isinstance(frame.columns, pd.MultiIndex)
    ):
        return None
    if not all(type(c) is str for c in labels) or len(set(labels)) != len(labels):
        return None
    dtypes = [str(dt) for dt in frame.dtypes]
    if not all(dt in _SMALL_FRAME_DTYPES for dt in dtypes):
        return None
    data = []
    for name, dt in zip(labels, dtypes, strict=True):
        column = frame[name]
        if dt == "object" and infer_dtype(column, skipna=False) not in ("string", "empty"):
            return None
        if dt == "str" and column.isna().any():
            return None
        data.append(column.tolist())
    doc = {"columns": labels, "dtypes": dtypes, "data": data}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode("utf-8")


def _decode_small_frame(data: bytes) -> pd.DataFrame:
    doc = json.loads(data)
    columns = {
        name: pd.Series(values, dtype=dtype)
        for name, dtype, values in zip(doc["columns"], doc["dtypes"], doc["data"], strict=True)
    }
    return pd.DataFrame(columns)


def _encode_frame(frame: pd.DataFrame, meta: dict[str, Any]) -> bytes:
    labels = list(frame.columns)
    if isinstance(frame.columns, pd.MultiIndex) or not (
        all(type(label) is str for label in labels) and len(set(labels)) == len(labels)
    ):
        meta["columns"] = [_encode_label(label, "column name") for label in labels]
        meta["columns_name"] = _encode_label(frame.columns.name, "column index name")
        fields = _unique_strings([str(label) for label in labels])
        frame = frame.set_axis(fields, axis="columns")
    object_columns: list[str] = []
    json_columns: list[str] = []
    replacements: dict[str, pd.Series] = {}
    for field, dtype in zip(frame.columns, frame.dtypes, strict=True):
        if not is_object_dtype(dtype):
            continue
        object_columns.append(field)
        column = frame[field]
        if infer_dtype(column, skipna=False) in ("string", "bytes", "empty"):
            continue
        try:
            cells = [_json_cell(v) for v in column]
        except ProductEncodingError as exc:
            raise ProductEncodingError(f"column {field!r} holds values that cannot be stored: {exc}") from exc
        replacements[field] = pd.Series(cells, index=column.index, dtype="str")
        json_columns.append(field)
    if replacements:
        frame = frame.assign(**replacements)
    if object_columns:
        meta["object_columns"] = object_columns
    if json_columns:
        meta["json_columns"] = json_columns
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ProductEncodingError(
            f"cannot convert the DataFrame to Arrow ({type(exc).__name__}: {exc}); "
            "columns must hold one type each (object columns of mixed types are stored as JSON) "
            "and the index must be convertible"
        ) from exc
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_META_KEY] = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    table = table.replace_schema_metadata(schema_meta)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)
    return sink.getvalue()


def _unique_strings(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}#{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _read_meta(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(_META_KEY)
    return json.loads(raw) if raw else {}


def _decode_frame_table(table: pa.Table) -> tuple[pd.DataFrame, dict[str, Any]]:
    meta = _read_meta(table.schema)
    frame = table.to_pandas()
    json_columns = set(meta.get("json_columns", ()))
    object_columns = meta.get("object_columns", ())
    if object_columns:
        frame = frame.assign(
            **{
                field: (
                    pd.Series([json.loads(cell) for cell in frame[field]], index=frame.index, dtype=object)
                    if field in json_columns
                    else frame[field].astype(object)
                )
                for field in object_columns
            }
        )
    if "columns" in meta:
        labels = [_decode_label(label) for label in meta["columns"]]
        if labels and all(isinstance(label, tuple) for label in labels):
            columns: pd.Index = pd.MultiIndex.from_tuples(labels)
        else:
            columns = pd.Index(labels, dtype=_label_dtype(labels), tupleize_cols=False)
        columns.name = _decode_label(meta.get("columns_name"))
        frame = frame.set_axis(columns, axis="columns")
    return frame, meta


def _label_dtype(labels: list[Any]) -> Any:
    if labels and all(isinstance(label, int) and not isinstance(label, bool) for label in labels):
        return "int64"
    if labels and all(isinstance(label, float) for label in labels):
        return "float64"
    if labels and all(isinstance(label, str) for label in labels):
        return None
    return object


def _decode_dataframe(data: bytes) -> pd.DataFrame:
    frame, meta = _decode_frame_table(pq.read_table(pa.BufferReader(data)))
    if meta.get("kind", "dataframe") != "dataframe":
        raise ProductEncodingError(f"parquet product holds a {meta.get('kind')!r}, not a dataframe")
    return frame


def _decode_series(data: bytes) -> pd.Series:
    frame, meta = _decode_frame_table(pq.read_table(pa.BufferReader(data)))
    if meta.get("kind") != "series":
        raise ProductEncodingError(f"parquet product holds a {meta.get('kind')!r}, not a series")
    series = frame[_SERIES_FIELD]
    series.name = _decode_label(meta.get("series_name"))
    return series


# -- numpy arrays --------------------------------------------------------------------------------


def _encode_ndarray(array: np.ndarray) -> bytes:
    meta: dict[str, Any] = {"kind": "ndarray", "shape": list(array.shape), "dtype": array.dtype.str}
    flat = array.ravel(order="C")
    if array.dtype == object:
        meta["dtype"] = "object"
        try:
            column = pa.array([_json_cell(v) for v in flat], type=pa.string())
        except ProductEncodingError as exc:
            raise ProductEncodingError(
                f"numpy object array holds values that cannot be stored: {exc}"
            ) from exc
        meta["json"] = True
    elif array.dtype.kind in "biufUSmM" and not array.dtype.fields:
        try:
            column = pa.array(flat)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ProductEncodingError(f"cannot store a numpy array of dtype {array.dtype}: {exc}") from exc
    else:
        raise ProductEncodingError(
            f"cannot store a numpy array of dtype {array.dtype} (kind {array.dtype.kind!r}); supported array "
            "dtypes: bool, integer, float, str/bytes, datetime64, timedelta64, object (JSON values)"
        )
    schema = pa.schema([pa.field(_NDARRAY_FIELD, column.type)], metadata={_META_KEY: json.dumps(meta)})
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=pa.Codec(COMPRESSION, COMPRESSION_LEVEL))
    with pa.ipc.new_stream(sink, schema, options=options) as writer:
        writer.write_batch(pa.record_batch([column], schema=schema))
    return sink.getvalue()


def _decode_ndarray(data: bytes) -> np.ndarray:
    with pa.ipc.open_stream(pa.BufferReader(data)) as reader:
        table = reader.read_all()
    meta = _read_meta(table.schema)
    shape = tuple(int(n) for n in meta["shape"])
    column = table.column(_NDARRAY_FIELD)
    if meta.get("json"):
        flat = np.empty(len(column), dtype=object)
        for i, cell in enumerate(column.to_pylist()):
            flat[i] = json.loads(cell)
        return flat.reshape(shape)
    dtype = np.dtype(meta["dtype"])
    if dtype.kind in "US":
        flat = np.array(column.to_pylist(), dtype=dtype)
    else:
        flat = column.to_numpy().astype(dtype, copy=False)
    if math.prod(shape) != flat.size:
        raise ProductEncodingError(f"ndarray product: {flat.size} values do not fill shape {shape}")
    result = flat.reshape(shape)
    if not result.flags.writeable:
        result = result.copy()
    return result


_DECODERS: dict[str, Callable[[bytes], Any]] = {
    JSON: _decode_json,
    JSON_ZLIB: _decode_json_zlib,
    PARQUET_DATAFRAME: _decode_dataframe,
    PARQUET_SERIES: _decode_series,
    ARROW_NDARRAY: _decode_ndarray,
    JSON_DATAFRAME: _decode_small_frame,
}
