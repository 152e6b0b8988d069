"""Publish a table product to a location (S3 object or file), one object per cycle."""

from __future__ import annotations

import pandas as pd

from hepde.modules.base import ModuleParameters, Publisher, PublishResult
from hepde.modules.tables import write_table


class TableExport(Publisher):
    """Writes product ``product`` to ``location``.

    ``location`` may use ``{bucket}`` (the DataBlock bucket), ``{channel}``, ``{generation}`` and
    ``{product}``; the default puts one CSV per cycle into the DataBlock bucket.
    """

    params: Parameters

    class Parameters(ModuleParameters):
        product: str
        location: str = "s3://{bucket}/exports/{channel}/{product}/{generation:012d}.csv"
        #: include at most this many rows in the decision record
        record_rows: int = 50

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._consumes = {self.params.product: pd.DataFrame}

    def publish(self, data_block) -> PublishResult:
        frame = data_block[self.params.product]
        location = self.context.location(self.params.location, product=self.params.product)
        write_table(location, frame)
        return PublishResult(
            summary=f"wrote {len(frame)} row(s) of {self.params.product} to {location}",
            requested=frame.head(self.params.record_rows).to_dict(orient="records"),
        )
