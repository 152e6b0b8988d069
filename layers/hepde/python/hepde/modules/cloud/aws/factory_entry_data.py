"""Factory entries → AWS data (``decisionengine_modules.glideinwms.transforms|publishers.gwms_to_aws_data``).

From the factory's AWS entries (``GLIDEIN_GridType == "ec2"``): ``aws_instance_limits``
(``InstanceType, AvailabilityZone, MaxLimit, AWSProfile``; one row per entry and VO) and
``spot_occupancy_config`` (columns = VO/profile, index = region, cell = list of instance types).

Fixes, on purpose (seed-system §4.4, §4.9):

* no ``DataFrame.append`` (removed in pandas 2: the original failed on every cycle with AWS entries);
* a factory without AWS entries gives empty products with their columns, not a ``KeyError``;
* a VO matches an entry when it is one of the entry's comma-separated ``GLIDEIN_Supported_VOs``; the
  original used a substring test, so ``CMS_GOOGLE`` also matched entries of ``CMS_GOOGLE_TEST``;
* VOs and regions come out sorted (the original iterated a ``set``: order changed between runs).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hepde.modules.base import ModuleParameters, Publisher, PublishResult, Transform
from hepde.modules.cloud.aws.logic import LIMITS_COLUMNS
from hepde.modules.cloud.common import entries_of_type
from hepde.modules.tables import write_bytes, write_table

_ATTRS = {
    "GLIDEIN_Supported_VOs": "AWSProfile",
    "INSTANCE_TYPE": "InstanceType",
    "AVAILABILITY_ZONE": "AvailabilityZone",
    "GlideinConfigPerEntryMaxGlideins": "MaxLimit",
}


def _vos(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def aws_entry_data(factory_entries: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(aws_instance_limits, spot_occupancy_config)`` from the factory entries."""
    aws = entries_of_type(factory_entries, "AWS")
    missing = [c for c in _ATTRS if c not in aws.columns]
    if aws.empty or missing:
        return pd.DataFrame(columns=LIMITS_COLUMNS), pd.DataFrame()
    rows: list[dict[str, Any]] = []
    config: dict[str, dict[str, list[str]]] = {}
    entries = aws[list(_ATTRS)].to_dict("records")
    for vo in sorted({vo for e in entries for vo in _vos(e["GLIDEIN_Supported_VOs"])}):
        mine = [e for e in entries if vo in _vos(e["GLIDEIN_Supported_VOs"])]
        for e in mine:
            rows.append(
                {
                    "InstanceType": e["INSTANCE_TYPE"],
                    "AvailabilityZone": e["AVAILABILITY_ZONE"],
                    "MaxLimit": e["GlideinConfigPerEntryMaxGlideins"],
                    "AWSProfile": vo,
                }
            )
        regions: dict[str, list[str]] = {}
        for e in mine:
            az = str(e["AVAILABILITY_ZONE"])
            types = regions.setdefault(az[:-1], [])
            if e["INSTANCE_TYPE"] not in types:
                types.append(e["INSTANCE_TYPE"])
        config[vo] = dict(sorted(regions.items()))
    limits = pd.DataFrame(rows, columns=LIMITS_COLUMNS)
    return limits, pd.DataFrame.from_dict(config).sort_index()


@Transform.consumes(Factory_Entries=pd.DataFrame)
@Transform.produces(aws_instance_limits=pd.DataFrame, spot_occupancy_config=pd.DataFrame)
class AWSFactoryEntryData(Transform):
    """The AWS limits and the spot/occupancy query configuration, from the factory's AWS entries."""

    def transform(self, data_block) -> dict[str, Any]:
        limits, config = aws_entry_data(data_block["Factory_Entries"])
        return {"aws_instance_limits": limits, "spot_occupancy_config": config}


@Publisher.consumes(aws_instance_limits=pd.DataFrame, spot_occupancy_config=pd.DataFrame)
class AWSFactoryEntryDataPublisher(Publisher):
    """Writes ``aws_instance_limits`` as CSV and ``spot_occupancy_config`` as JSON (paths or ``s3://``).

    The original wrote the config with ``pprint`` (a Python literal); JSON is read by
    ``AWSSpotPrice``/``AWSOccupancy`` sources here just the same.
    """

    params: Parameters

    class Parameters(ModuleParameters):
        aws_instance_limits: str
        spot_occupancy_config: str

    def publish(self, data_block) -> PublishResult:
        import json

        from hepde.modules.cloud.aws.logic import account_regions

        config: dict[str, dict[str, list[str]]] = {}
        for account, region, types in account_regions(data_block["spot_occupancy_config"]):
            config.setdefault(account, {})[region] = types
        write_bytes(self.params.spot_occupancy_config, json.dumps(config, indent=1, sort_keys=True).encode())
        limits = data_block["aws_instance_limits"]
        write_table(self.params.aws_instance_limits, limits)
        return PublishResult(
            summary=f"wrote {len(limits)} AWS limit row(s) to {self.params.aws_instance_limits} and "
            f"{len(config)} account(s) to {self.params.spot_occupancy_config}"
        )
