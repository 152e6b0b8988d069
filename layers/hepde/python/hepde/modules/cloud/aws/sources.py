"""AWS sources (``decisionengine_modules.AWS.sources.*``): spot prices, occupancy, performance, limits.

The account configuration may be given inline (``accounts``) or, as in the original, as a file path
(JSON or the original's Python-literal format, read without ``exec``; path, ``s3://`` or
``package://``).  EC2 is reached only through :class:`~hepde.modules.cloud.aws.adapter.EC2Adapter`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd
from pydantic import Field

from hepde.modules.base import ModuleParameters, Source
from hepde.modules.cloud.aws import logic
from hepde.modules.cloud.aws.adapter import HISTORY_SECONDS, EC2Adapter, EC2ClientFactory
from hepde.modules.cloud.common import CloudConfigError, read_csv, read_mapping_file

logger = logging.getLogger(__name__)

AdapterFactory = Callable[[str | None, str], EC2Adapter]


class _AWSAccess(ModuleParameters):
    #: use each account name as a named AWS profile (the original's behaviour); else the default chain
    use_profiles: bool = False
    #: account name -> IAM role ARN to assume for that account (cross-account reads)
    assume_roles: dict[str, str] = Field(default_factory=dict)


class _AWSSource(Source):
    #: tests and the benchmark replace this with a factory of adapters over stubbed/moto clients
    params: _AWSAccess
    adapter_factory: AdapterFactory | None = None

    def _factory(self) -> AdapterFactory:
        if self.adapter_factory is not None:
            return self.adapter_factory
        return EC2ClientFactory(use_profiles=self.params.use_profiles, assume_roles=self.params.assume_roles)


@Source.produces(provisioner_resource_spot_prices=pd.DataFrame)
class AWSSpotPrice(_AWSSource):
    """Latest spot price per (account, AZ, instance type) over the last hour, every page of the answer."""

    params: Parameters

    class Parameters(_AWSAccess):
        #: the original's file ``{account: {region: [instance types]}}`` (empty list = every type)
        spot_price_configuration: str | None = None
        #: the same mapping inline
        accounts: dict[str, dict[str, list[str]]] | None = None
        history_seconds: int = HISTORY_SECONDS
        product_descriptions: list[str] = Field(default_factory=lambda: ["Linux/UNIX"])

    def _accounts(self) -> dict[str, dict[str, list[str]]]:
        if self.params.accounts is not None:
            return self.params.accounts
        if not self.params.spot_price_configuration:
            raise CloudConfigError(
                "AWSSpotPrice: set 'spot_price_configuration' (a file) or 'accounts' (inline)"
            )
        where = f"spot_price_configuration '{self.params.spot_price_configuration}'"
        data = read_mapping_file(self.params.spot_price_configuration, what="AWSSpotPrice")
        for account, regions in data.items():
            if not isinstance(regions, dict) or not all(
                isinstance(v, list | tuple) for v in regions.values()
            ):
                raise CloudConfigError(
                    f"{where}: account '{account}' must map region names to lists of instance types"
                )
        return data

    def acquire(self) -> dict[str, pd.DataFrame]:
        import datetime as dt

        end = dt.datetime.now(dt.UTC)
        start = end - dt.timedelta(seconds=self.params.history_seconds)
        factory = self._factory()
        rows: list[dict[str, Any]] = []
        for account, regions in self._accounts().items():
            for region, types in regions.items():
                records = factory(account, region).spot_price_history(
                    types, start=start, end=end, product_descriptions=self.params.product_descriptions
                )
                rows += logic.spot_price_summary(records, account)
        return {"provisioner_resource_spot_prices": logic.spot_price_frame(rows)}


@Source.produces(AWS_Occupancy=pd.DataFrame)
class AWSOccupancy(_AWSSource):
    """Instances per (account, AZ, type) and how many run.  (The original's source crashed every time.)"""

    params: Parameters

    class Parameters(_AWSAccess):
        #: the original's file ``{account: [regions]}``
        occupancy_configuration: str | None = None
        accounts: dict[str, list[str]] | None = None

    def _accounts(self) -> dict[str, list[str]]:
        if self.params.accounts is not None:
            return self.params.accounts
        if not self.params.occupancy_configuration:
            raise CloudConfigError(
                "AWSOccupancy: set 'occupancy_configuration' (a file) or 'accounts' (inline)"
            )
        data = read_mapping_file(self.params.occupancy_configuration, what="AWSOccupancy")
        out: dict[str, list[str]] = {}
        for account, regions in data.items():
            if isinstance(regions, dict):  # the spot price format is accepted too: its regions
                regions = list(regions)
            if not isinstance(regions, list | tuple):
                raise CloudConfigError(
                    f"occupancy_configuration '{self.params.occupancy_configuration}': "
                    f"account '{account}' must map to a list of region names"
                )
            out[str(account)] = [str(r) for r in regions]
        return out

    def acquire(self) -> dict[str, pd.DataFrame]:
        factory = self._factory()
        rows: list[dict[str, Any]] = []
        for account, regions in self._accounts().items():
            for region in regions:
                rows += logic.occupancy_summary(factory(account, region).instances(), account)
        return {"AWS_Occupancy": logic.occupancy_frame(rows)}


@Source.produces(Performance_Data=pd.DataFrame)
class AWSInstancePerformance(Source):
    """The instance performance CSV, last row per (AZ, type) kept (as the original)."""

    params: Parameters

    class Parameters(ModuleParameters):
        data_file: str

    def acquire(self) -> dict[str, pd.DataFrame]:
        frame = read_csv(
            self.params.data_file,
            what="AWSInstancePerformance data_file",
            required=("AvailabilityZone", "InstanceType", "PerfTtbarTotal"),
        )
        frame = frame.drop_duplicates(subset=["AvailabilityZone", "InstanceType"], keep="last").reset_index(
            drop=True
        )
        return {"Performance_Data": frame}


@Source.produces(Job_Limits=pd.DataFrame)
class AWSJobLimits(Source):
    """The job limits CSV, last row per (AZ, type) kept.  A missing file is an error (the original returned None)."""

    params: Parameters

    class Parameters(ModuleParameters):
        data_file: str

    def acquire(self) -> dict[str, pd.DataFrame]:
        frame = read_csv(
            self.params.data_file,
            what="AWSJobLimits data_file",
            required=("AvailabilityZone", "InstanceType", "MaxLimit"),
        )
        frame = frame.drop_duplicates(subset=["AvailabilityZone", "InstanceType"], keep="last").reset_index(
            drop=True
        )
        return {"Job_Limits": frame}


_FINANCIAL_SAMPLE = {
    "target_aws_vm_burn_rate": [9.0],
    "target_aws_bill_burn_rate": [10.0],
    "target_aws_balance": [1000.0],
    "target_gce_vm_burn_rate": [9.0],
    "target_gce_balance": [1000.0],
}


@Source.produces(financial_params=pd.DataFrame)
class FinancialParameters(Source):
    """The original's target burn rates and balances, as a one-row table (see also ``budget.BudgetGuard``)."""

    params: Parameters

    class Parameters(ModuleParameters):
        financial_parameters: dict[str, list[float]] = Field(default_factory=lambda: dict(_FINANCIAL_SAMPLE))

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {"financial_params": pd.DataFrame(self.params.financial_parameters)}


@Source.produces(local_slots=int)
class LocalCapacity(Source):
    """The original's stub: ``local_slots = 1``."""

    def acquire(self) -> dict[str, int]:
        return {"local_slots": 1}
