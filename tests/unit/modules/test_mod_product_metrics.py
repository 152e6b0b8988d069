"""Table values published as CloudWatch metrics through EMF lines."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hepde.modules.generic.metrics import ProductMetrics


def test_one_emf_line_per_dimension_combination_with_the_channel_dimension(capsys):
    pub = ProductMetrics(
        {
            "product": "req",
            "metric": "PilotsRequested",
            "value_column": "n",
            "dimension_columns": ["provider"],
        },
        channel_name="htc",
    )
    frame = pd.DataFrame({"provider": ["Grid", "AWS", "Grid"], "n": [3, 4, 5]})
    result = pub.publish({"req": frame})
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(d["provider"], d["PilotsRequested"]) for d in lines] == [("AWS", 4.0), ("Grid", 8.0)]
    emf = lines[0]["_aws"]["CloudWatchMetrics"][0]
    assert emf["Namespace"] == "HEPCloudDE" and emf["Dimensions"] == [["channel", "provider", "service"]]
    assert lines[0]["channel"] == "htc" and result.summary.startswith("2 PilotsRequested")


def test_fixed_dimensions_and_a_single_value(capsys):
    pub = ProductMetrics(
        {
            "product": "AWS_Burn_Rate",
            "metric": "BurnRate",
            "value_column": "BurnRate",
            "dimensions": {"provider": "AWS"},
            "aggregate": "last",
        },
        channel_name="c",
    )
    pub.publish({"AWS_Burn_Rate": pd.DataFrame({"BurnRate": [0.7455]})})
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["provider"] == "AWS" and line["BurnRate"] == 0.7455


def test_too_many_series_is_refused_before_anything_is_printed(capsys):
    pub = ProductMetrics(
        {"product": "p", "metric": "M", "value_column": "v", "dimension_columns": ["e"], "max_series": 2}
    )
    with pytest.raises(ValueError, match="exceed max_series=2"):
        pub.publish({"p": pd.DataFrame({"e": ["a", "b", "c"], "v": [1, 2, 3]})})
    assert capsys.readouterr().out == ""


def test_a_missing_column_names_the_columns_there_are():
    pub = ProductMetrics({"product": "p", "metric": "M", "value_column": "nope"})
    with pytest.raises(ValueError, match=r"no column\(s\) \['nope'\]"):
        pub.publish({"p": pd.DataFrame({"v": [1]})})
