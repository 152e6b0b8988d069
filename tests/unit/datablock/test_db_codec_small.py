"""Small plain tables are stored as column-wise JSON (a tenth of Parquet's size), losslessly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from hepde.datablock.codec import JSON_DATAFRAME, PARQUET_DATAFRAME, SMALL_FRAME_CELLS, decode, encode

SMALL = [
    pd.DataFrame({"cores": [1, 4, 8], "idle_jobs": [15, 5, 5]}),
    pd.DataFrame({"x": [0.1, float("nan"), 1e300], "ok": [True, False, True]}),
    pd.DataFrame(
        {"entry": ["a", "b"], "n": np.array([1, 2], dtype="int32"), "f": np.array([0.5, 1], dtype="float32")}
    ),
    pd.DataFrame({"name": pd.Series(["x", "y"], dtype=object)}),
    pd.DataFrame({"rule_name": pd.Series([], dtype=object), "fact_value": pd.Series([], dtype=bool)}),
]


@pytest.mark.parametrize("frame", SMALL, ids=range(len(SMALL)))
def test_small_plain_frames_round_trip_exactly_as_json(frame):
    encoding, data = encode(frame)
    assert encoding == JSON_DATAFRAME
    pdt.assert_frame_equal(decode(encoding, data), frame)


def test_json_is_much_smaller_than_parquet_for_a_small_table():
    frame = SMALL[0]
    _, data = encode(frame)
    parquet_size = len(
        encode(frame.set_axis([10, 11, 12], axis="index"))[1]
    )  # a non-default index -> Parquet
    assert len(data) * 5 < parquet_size


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"v": [0.1, 2, "Test"]}),  # mixed object column
        pd.DataFrame({"v": [1, 2]}, index=[5, 6]),  # non-default index
        pd.DataFrame({1: [1, 2]}),  # non-str column label
        pd.DataFrame({"t": pd.to_datetime(["2026-01-01", "2026-01-02"])}),  # datetime
        pd.DataFrame({"v": range(SMALL_FRAME_CELLS + 1)}),  # too large
    ],
    ids=["mixed", "index", "label", "datetime", "large"],
)
def test_other_frames_stay_parquet(frame):
    encoding, data = encode(frame)
    assert encoding == PARQUET_DATAFRAME
    pdt.assert_frame_equal(decode(encoding, data), frame)


def test_nan_survives_the_json_path():
    frame = pd.DataFrame({"x": [float("nan")]})
    assert math.isnan(decode(*encode(frame))["x"][0])
