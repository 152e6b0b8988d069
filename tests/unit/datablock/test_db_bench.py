"""The DataBlock benchmark runs (small size) and checks its round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from hepde_tools.bench import datablock


def test_job_table_is_deterministic_and_shaped_like_job_ads() -> None:
    first = datablock.job_table(500, 30)
    pd.testing.assert_frame_equal(first, datablock.job_table(500, 30))
    assert first.shape == (500, 30)
    assert {"ClusterId", "ProcId", "JobStatus", "Owner", "AccountingGroup", "DESIRED_Sites"} <= set(
        first.columns
    )
    kinds = {dtype.kind for dtype in first.dtypes}
    assert {"i", "f", "b"} <= kinds and any(str(d) == "str" for d in first.dtypes)
    assert datablock.job_table(10, 35).shape == (10, 35)


def test_run_small(capsys: pytest.CaptureFixture[str], aws_env: None) -> None:
    result = datablock.run(rows=2_000, cols=30)
    assert result["round_trip_equal"] and result["rows"] == 2_000 and result["stored_bytes"] > 0
    assert len(result["put_runs_s"]) == len(result["get_runs_s"]) == 3
    datablock.main(["2000", "12"])
    out = capsys.readouterr().out
    assert "put+get s" in out and "stored MB" in out and ("PASS" in out or "MISS" in out)
