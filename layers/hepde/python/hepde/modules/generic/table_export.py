"""Publish a table product to a location (S3 object or file), one object per cycle."""

from __future__ import annotations

import pandas as pd

from hepde.modules.base import ModuleParameters, Publisher, PublishResult
from hepde.modules.tables import write_table
from hepde.records import RequestColumns


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
        #: the product is a request table: which columns hold the entry, the request, the limits ...
        #: (its rows are then the decision record's typed requests per entry; see hepde.records)
        requests: RequestColumns | None = None

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._consumes = {self.params.product: pd.DataFrame}

    def publish(self, data_block) -> PublishResult:
        frame = data_block[self.params.product]
        location = self.context.location(self.params.location, product=self.params.product)
        write_table(location, frame)
        head = frame.head(self.params.record_rows).to_dict(orient="records")
        columns = self.params.requests
        return PublishResult(
            summary=f"wrote {len(frame)} row(s) of {self.params.product} to {location}",
            requested=head,
            requests=columns.rows(head, f"product '{self.params.product}'") if columns else [],
        )
