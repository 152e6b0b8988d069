"""The publisher a replay runs in place of each configured one: it never reaches outside the embedded cloud.

It instantiates the configured publisher (so a bad parameter still fails as it would) and then:

* calls its ``dry_run(data_block) -> PublishResult`` if the class has one (a publisher that talks to
  the outside world can say here what it would have requested);
* calls ``publish`` if the class is in :data:`EMBEDDED_SAFE` (it only writes to AWS, which in the
  embedded cloud is moto);
* otherwise records the rows of the first table it consumes as its ``requested`` rows, without calling it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hepde.modules.base import ModuleParameters, Publisher, PublishResult
from hepde.modules.registry import resolve

#: publisher classes whose publish() only writes to AWS services (moto in the embedded cloud)
EMBEDDED_SAFE = {"hepde.modules.generic.table_export.TableExport"}
RECORD_ROWS = 1000


class DryRunPublisher(Publisher):
    params: Parameters

    class Parameters(ModuleParameters):
        wrapped_module: str
        wrapped_name: str | None = None
        wrapped_parameters: dict[str, Any] = {}

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:  # noqa: ANN001
        super().__init__(parameters, channel_name=channel_name)
        cls = resolve(self.params.wrapped_module, "publisher", self.params.wrapped_name)
        inner = cls(self.params.wrapped_parameters, channel_name=channel_name)
        assert isinstance(inner, Publisher)  # resolve(..., "publisher") only returns publishers
        self.inner: Publisher = inner
        self._consumes = self.inner.declared_consumes()

    def publish(self, data_block) -> PublishResult | None:  # noqa: ANN001
        cls = type(self.inner)
        qualified = f"{cls.__module__}.{cls.__name__}"
        self.inner.bind(self.context)
        if hasattr(self.inner, "dry_run"):
            return self.inner.dry_run(data_block)
        if qualified in EMBEDDED_SAFE:
            return self.inner.publish(data_block)
        for name in self.inner.declared_consumes():
            try:
                value = data_block[name]
            except KeyError:
                continue
            if isinstance(value, pd.DataFrame):
                return PublishResult(
                    summary=f"replay: {cls.__name__} not called; {len(value)} row(s) of {name} recorded",
                    requested=value.head(RECORD_ROWS).to_dict(orient="records"),
                )
        return PublishResult(summary=f"replay: {cls.__name__} not called; it consumes no table")
