"""AWS transforms (``decisionengine_modules.AWS.transforms.*``).

``AWSSpotPrice`` and ``AWSOccupancy`` read EC2 for the accounts/regions/types in
``spot_occupancy_config`` (what ``AWSFactoryEntryData`` derives from the factory's AWS entries);
``FigureOfMerit`` and ``AwsBurnRate`` are pure computations (see :mod:`hepde.modules.cloud.aws.logic`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from pydantic import Field

from hepde.modules.base import Transform
from hepde.modules.cloud.aws import logic
from hepde.modules.cloud.aws.adapter import HISTORY_SECONDS, EC2ClientFactory
from hepde.modules.cloud.aws.sources import AdapterFactory, _AWSAccess


class _EC2Transform(Transform):
    params: _AWSAccess
    adapter_factory: AdapterFactory | None = None

    def _factory(self) -> AdapterFactory:
        if self.adapter_factory is not None:
            return self.adapter_factory
        return EC2ClientFactory(use_profiles=self.params.use_profiles, assume_roles=self.params.assume_roles)


@Transform.consumes(spot_occupancy_config=pd.DataFrame)
@Transform.produces(provisioner_resource_spot_prices=pd.DataFrame)
class AWSSpotPrice(_EC2Transform):
    """Spot prices for the (account, region, types) of ``spot_occupancy_config``."""

    params: Parameters

    class Parameters(_AWSAccess):
        history_seconds: int = HISTORY_SECONDS
        product_descriptions: list[str] = Field(default_factory=lambda: ["Linux/UNIX"])

    def transform(self, data_block) -> dict[str, Any]:
        end = dt.datetime.now(dt.UTC)
        start = end - dt.timedelta(seconds=self.params.history_seconds)
        factory = self._factory()
        rows: list[dict[str, Any]] = []
        for account, region, types in logic.account_regions(data_block["spot_occupancy_config"]):
            records = factory(account, region).spot_price_history(
                types, start=start, end=end, product_descriptions=self.params.product_descriptions
            )
            rows += logic.spot_price_summary(records, account)
        return {"provisioner_resource_spot_prices": logic.spot_price_frame(rows)}


@Transform.consumes(spot_occupancy_config=pd.DataFrame)
@Transform.produces(AWS_Occupancy=pd.DataFrame)
class AWSOccupancy(_EC2Transform):
    """Instances per (account, AZ, type) in the regions of ``spot_occupancy_config``."""

    params: Parameters

    class Parameters(_AWSAccess):
        #: count only the instance types listed in the config (the original counted every type)
        only_configured_types: bool = False

    def transform(self, data_block) -> dict[str, Any]:
        factory = self._factory()
        rows: list[dict[str, Any]] = []
        for account, region, types in logic.account_regions(data_block["spot_occupancy_config"]):
            wanted = types if self.params.only_configured_types else None
            rows += logic.occupancy_summary(factory(account, region).instances(), account, wanted)
        return {"AWS_Occupancy": logic.occupancy_frame(rows)}


@Transform.consumes(
    provisioner_resource_spot_prices=pd.DataFrame,
    Performance_Data=pd.DataFrame,
    aws_instance_limits=pd.DataFrame,
    AWS_Occupancy=pd.DataFrame,
)
@Transform.produces(AWS_Price_Performance=pd.DataFrame, AWS_Figure_Of_Merit=pd.DataFrame)
class FigureOfMerit(Transform):
    """``AWS_Price_Performance = SpotPrice / PerfTtbarTotal``; ``AWS_Figure_Of_Merit = (RunningVms+1)/MaxLimit × that``.

    Unknown performance gives the worst value (``sys.float_info.max``), not the original's ``0``.
    """

    def transform(self, data_block) -> dict[str, Any]:
        pp, fom = logic.figure_of_merit_tables(
            data_block["provisioner_resource_spot_prices"],
            data_block["Performance_Data"],
            data_block["aws_instance_limits"],
            data_block["AWS_Occupancy"],
        )
        return {"AWS_Price_Performance": pp, "AWS_Figure_Of_Merit": fom}


@Transform.consumes(provisioner_resource_spot_prices=pd.DataFrame, AWS_Occupancy=pd.DataFrame)
@Transform.produces(AWS_Burn_Rate=pd.DataFrame)
class AwsBurnRate(Transform):
    """Dollars per hour of the running instances at current spot prices (one row, ``BurnRate``)."""

    def transform(self, data_block) -> dict[str, Any]:
        return {
            "AWS_Burn_Rate": logic.burn_rate(
                data_block["provisioner_resource_spot_prices"], data_block["AWS_Occupancy"]
            )
        }
