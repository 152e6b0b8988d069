"""``EmptySource``: a placeholder source producing an empty DataFrame.

Re-implementation of the original ``decisionengine.framework.modules.EmptySource``: the product's
name comes from the ``data_product_name`` parameter, and every ``acquire`` returns an empty
``pandas.DataFrame`` under that name.  Production templates (``job_classification.libsonnet``) use it
to stand in for products a channel consumes but does not compute itself.

The parameters ``max_attempts``, ``retry_interval`` and ``retry_timeout`` are leftovers of the
1.x ``SourceProxy`` that production configs still carry; they are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from hepde.modules.base import ModuleParameters, Source


class EmptySource(Source):
    """Produces an empty DataFrame named by ``data_product_name``."""

    class Parameters(ModuleParameters):
        """``data_product_name`` is required; the retry settings are legacy and ignored."""

        data_product_name: str = Field(min_length=1, description="name of the (empty) product")
        max_attempts: int | None = Field(default=None, description="ignored (SourceProxy leftover)")
        retry_interval: float | None = Field(default=None, description="ignored (SourceProxy leftover)")
        retry_timeout: float | None = Field(default=None, description="ignored (SourceProxy leftover)")

    params: Parameters

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self.data_product_name = self.params.data_product_name
        self._produces = {self.data_product_name: pd.DataFrame}

    def acquire(self) -> dict[str, Any]:
        return {self.data_product_name: pd.DataFrame()}
