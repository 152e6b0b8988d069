"""A source that reads one table from a file, S3 object or bundled package data.

This is also how snapshots uploaded by the on-prem condor bridge reach a channel: the bridge writes
a table to S3 and this source reads the newest one.
"""

from __future__ import annotations

import pandas as pd

from hepde.modules.base import ModuleParameters, Source
from hepde.modules.tables import read_table


class TableFileSource(Source):
    """Reads ``location`` (CSV/Parquet/JSON; path, ``s3://`` or ``package://``) as product ``product``."""

    params: Parameters

    class Parameters(ModuleParameters):
        location: str
        product: str
        #: keep only these columns (all if empty)
        columns: list[str] = []

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._produces = {self.params.product: pd.DataFrame}

    def acquire(self) -> dict[str, pd.DataFrame]:
        frame = read_table(self.params.location)
        if self.params.columns:
            missing = [c for c in self.params.columns if c not in frame.columns]
            if missing:
                raise ValueError(f"'{self.params.location}' has no column(s) {missing}")
            frame = frame[self.params.columns]
        return {self.params.product: frame}
