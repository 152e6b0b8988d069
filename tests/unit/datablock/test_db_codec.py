"""The product value codec: round trips of every supported type, errors, no pickle."""

from __future__ import annotations

import ast
import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

import hepde.datablock
from hepde.datablock import codec
from hepde.errors import ProductEncodingError


def roundtrip(value: Any) -> tuple[str, Any]:
    encoding, data = codec.encode(value)
    assert isinstance(data, bytes)
    return encoding, codec.decode(encoding, data)


FRAMES = {
    "basic": pd.DataFrame({"a": [1, 2], "b": [1.5, None], "s": ["x", None], "t": [True, False]}),
    "mixed_object": pd.DataFrame({"m": pd.Series([0.1, 2, "Test"], dtype=object), "n": [1, 2, 3]}),
    "object_str": pd.DataFrame({"o": pd.Series(["a", "b"], dtype=object)}),
    "object_str_none": pd.DataFrame({"o": pd.Series(["a", None], dtype=object)}),
    "object_int": pd.DataFrame({"o": pd.Series([1, 2], dtype=object)}),
    "object_nested": pd.DataFrame({"o": pd.Series([[1, 2], {"k": [None, 1.5]}, None], dtype=object)}),
    "object_bytes": pd.DataFrame({"o": pd.Series([b"a", b"\x00"], dtype=object)}),
    "int_columns": pd.DataFrame({1: [1, 2], 2: [3, 4]}),
    "mixed_columns": pd.DataFrame([[1, 2, 3]], columns=[1, "a", 2.5]),
    "duplicate_columns": pd.DataFrame([[1, 2]], columns=["a", "a"]),
    "multiindex_columns": pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])),
    "named_columns": pd.DataFrame({"a": [1, 2]}).rename_axis(columns="cols"),
    "string_index": pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="k")),
    "range_index_5": pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(5, 7)),
    "multiindex": pd.DataFrame(
        {"a": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
    ),
    "empty": pd.DataFrame(),
    "empty_with_columns": pd.DataFrame(columns=["a", "b"]),
    "categorical": pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])}),
    "datetimes": pd.DataFrame(
        {
            "d": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "tz": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
            "td": pd.to_timedelta([1, 2], unit="s"),
        }
    ),
    "nullable": pd.DataFrame({"i": pd.array([1, None], dtype="Int64"), "b": pd.array([True, None])}),
}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_dataframe_round_trip(name: str) -> None:
    frame = FRAMES[name]
    encoding, out = roundtrip(frame)
    assert encoding in (codec.PARQUET_DATAFRAME, codec.JSON_DATAFRAME)  # small plain frames are JSON
    assert_frame_equal(out, frame)
    # and the same frame, forced through Parquet, round-trips too
    assert_frame_equal(
        codec.decode(codec.PARQUET_DATAFRAME, codec._encode_frame(frame, {"kind": "dataframe"})), frame
    )


def test_mixed_object_column_values_keep_their_types() -> None:
    _, out = roundtrip(FRAMES["mixed_object"])
    assert out["m"].dtype == object
    assert [type(v) for v in out["m"]] == [float, int, str]


def test_default_range_index_is_not_stored_as_a_column() -> None:
    _, data = codec.encode(pd.DataFrame({"a": range(codec.SMALL_FRAME_CELLS + 1)}))
    assert pq.read_table(io.BytesIO(data)).column_names == ["a"]


def test_non_default_index_is_stored() -> None:
    _, data = codec.encode(FRAMES["string_index"])
    assert "k" in pq.read_table(io.BytesIO(data)).column_names


def test_parquet_is_readable_without_hepde() -> None:
    """Any Parquet reader sees plain columns; mixed columns hold JSON text; the marker is in metadata."""
    _, data = codec.encode(FRAMES["mixed_object"])
    table = pq.read_table(io.BytesIO(data))
    assert table.column("m").to_pylist() == ["0.1", "2", '"Test"']
    meta = json.loads(table.schema.metadata[b"hepde"])
    assert meta["kind"] == "dataframe"
    assert meta["json_columns"] == ["m"]


def test_non_string_column_names_are_stringified_in_the_file_and_noted() -> None:
    _, data = codec.encode(FRAMES["mixed_columns"])
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["1", "a", "2.5"]
    assert json.loads(table.schema.metadata[b"hepde"])["columns"] == [1, "a", 2.5]


def test_parquet_uses_zstd() -> None:
    _, data = codec.encode(pd.DataFrame({"a": range(codec.SMALL_FRAME_CELLS + 1000)}))
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, 2, 3], name="x"),
        pd.Series([1.5, None]),
        pd.Series([0.1, 2, "Test"], dtype=object, name="mixed"),
        pd.Series(["a", "b"], index=["i", "j"], name=7),
        pd.Series([], dtype="float64"),
        pd.Series({"a": 1, "b": 2}, name=("t", 1)),
    ],
    ids=["named", "unnamed", "mixed", "int_name_str_index", "empty", "tuple_name"],
)
def test_series_round_trip(series: pd.Series) -> None:
    encoding, out = roundtrip(series)
    assert encoding == codec.PARQUET_SERIES
    assert isinstance(out, pd.Series)
    assert_series_equal(out, series)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.array([1.5, np.nan, -2.0]),
        np.array(["a", "bc"]),
        np.array([True, False]),
        np.zeros((0, 3)),
        np.array(5),
        np.array(["2024-01-01"], dtype="datetime64[s]"),
        np.arange(24.0).reshape(2, 3, 4).T,  # non-contiguous
    ],
    ids=["int2d", "float", "str", "bool", "empty2d", "scalar0d", "datetime", "transposed3d"],
)
def test_ndarray_round_trip(array: np.ndarray) -> None:
    encoding, out = roundtrip(array)
    assert encoding == codec.ARROW_NDARRAY
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    out[...] = out  # writeable


def test_object_ndarray_round_trip() -> None:
    array = np.array([1, "a", None, {"k": [1]}], dtype=object)
    _, out = roundtrip(array)
    assert out.dtype == object and list(out) == list(array)


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True, {"b": "c", "d": {"e": []}}]},
        [1, "two", 3.0, False, None],
        "text",
        42,
        1.25,
        True,
        None,
        {},
        [],
    ],
)
def test_json_round_trip(value: Any) -> None:
    encoding, out = roundtrip(value)
    assert encoding == codec.JSON
    assert out == value and type(out) is type(value)


def test_numpy_scalars_become_python_values() -> None:
    value = {
        "i": np.int64(3),
        "f": np.float32(1.5),
        "b": np.bool_(True),
        "s": np.str_("x"),
        "l": [np.int8(1)],
    }
    _, out = roundtrip(value)
    assert out == {"i": 3, "f": 1.5, "b": True, "s": "x", "l": [1]}
    assert [type(out[k]) for k in ("i", "f", "b", "s")] == [int, float, bool, str]


def test_tuples_decode_as_lists() -> None:
    assert roundtrip({"t": (1, 2)})[1] == {"t": [1, 2]}


def test_large_json_is_compressed() -> None:
    value = {"rows": [{"name": f"entry{i}", "value": i} for i in range(2000)]}
    encoding, data = codec.encode(value)
    assert encoding == codec.JSON_ZLIB
    assert len(data) < len(json.dumps(value)) / 3
    assert codec.decode(encoding, data) == value


def test_json_is_compact() -> None:
    assert codec.encode({"a": [1, 2]}) == ("json", b'{"a":[1,2]}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({1, 2}, "set"),
        (object(), "object"),
        (b"bytes", "bytes"),
        (pd.Timestamp("2024-01-01"), "Timestamp"),
        ({"a": [1, {"b": {3}}]}, "set at $['a'][1]['b']"),
    ],
)
def test_unsupported_types_name_the_type_and_the_supported_ones(value: Any, expected: str) -> None:
    with pytest.raises(ProductEncodingError) as info:
        codec.encode(value)
    message = str(info.value)
    assert expected in message
    assert "supported" in message and "pandas.DataFrame" in message


def test_non_string_dict_keys_are_refused() -> None:
    with pytest.raises(ProductEncodingError, match="dict keys must be str"):
        codec.encode({1: "a"})


def test_unsupported_array_dtype() -> None:
    with pytest.raises(ProductEncodingError, match="complex128"):
        codec.encode(np.array([1 + 2j]))


def test_unstorable_values_in_an_object_column_name_the_column() -> None:
    frame = pd.DataFrame({"bad": pd.Series([1, {2, 3}], dtype=object)})
    with pytest.raises(ProductEncodingError, match="column 'bad'.*set"):
        codec.encode(frame)


def test_decode_errors() -> None:
    with pytest.raises(ProductEncodingError, match="unknown product encoding 'pickle'"):
        codec.decode("pickle", b"x")
    with pytest.raises(ProductEncodingError, match="cannot decode a 'parquet/dataframe'"):
        codec.decode(codec.PARQUET_DATAFRAME, b"not parquet")
    encoding, data = codec.encode(pd.Series([1]))
    with pytest.raises(ProductEncodingError, match="not a dataframe"):
        codec.decode(codec.PARQUET_DATAFRAME, data)


def test_codec_never_uses_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle used")

    for attr in ("dumps", "loads", "dump", "load", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, attr, refuse)
    values = [*FRAMES.values(), pd.Series([0.1, 2, "Test"]), np.arange(3), {"a": [1]}, "x" * 5000]
    for value in values:
        roundtrip(value)


def test_datablock_package_does_not_import_pickle() -> None:
    forbidden = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "marshal", "shelve"}
    package = Path(hepde.datablock.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not names & forbidden, f"{path.name} imports {names & forbidden}"
        assert "read_pickle" not in path.read_text() and "to_pickle" not in path.read_text()
