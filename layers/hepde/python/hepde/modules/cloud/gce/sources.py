"""GCE sources (``decisionengine_modules.GCE.sources.*``): occupancy from the Compute API, performance CSV.

Credentials (never in the channel file): ``credentials`` — a reference to the service-account key JSON
(``{env: ...}``, ``{secrets_manager: ...}``, ``{file: ...}``), or ``access_token`` — a reference to a
ready access token; the original's ``credential`` (a key file path) is accepted as ``{file: path}``.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from hepde.modules.base import ModuleParameters, Source
from hepde.modules.cloud.common import CloudConfigError, read_csv
from hepde.modules.cloud.gce.adapter import COMPUTE_ENDPOINT, ComputeAdapter
from hepde.modules.cloud.http import HttpClient, ServiceAccountToken, StaticToken, Transport
from hepde.modules.cloud.secrets import SecretRef

OCCUPANCY_COLUMNS = ["AvailabilityZone", "InstanceType", "Occupancy"]


def occupancy_frame(instances: Any) -> pd.DataFrame:
    """RUNNING instances per (zone, machine type), in first-seen order (the original's ``GCE_Occupancy``)."""
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    for inst in instances:
        if inst.get("status") != "RUNNING":
            continue
        itype = str(inst.get("machineType", "")).split("/").pop()
        zone = str(inst.get("zone", "")).split("/").pop()
        row = counts.setdefault(
            (itype, zone), {"AvailabilityZone": zone, "InstanceType": itype, "Occupancy": 0}
        )
        row["Occupancy"] += 1
    if not counts:
        return pd.DataFrame(
            {
                "AvailabilityZone": pd.Series(dtype=object),
                "InstanceType": pd.Series(dtype=object),
                "Occupancy": pd.Series(dtype="int64"),
            }
        )
    return pd.DataFrame(list(counts.values()), columns=OCCUPANCY_COLUMNS)


@Source.produces(GCE_Occupancy=pd.DataFrame)
class GceOccupancy(Source):
    """Running VMs per zone and machine type of one project (Compute API ``aggregatedList``, all pages)."""

    params: Parameters

    class Parameters(ModuleParameters):
        #: the project; default: ``project_id`` of the service-account key
        project: str | None = None
        #: the original's key file path (same as ``credentials: {file: PATH}``)
        credential: str | None = None
        credentials: SecretRef | None = None
        access_token: SecretRef | None = None
        endpoint: str = COMPUTE_ENDPOINT
        max_retries: int = 10
        retry_timeout: float = 10.0

    #: tests replace this with a transport serving recorded answers
    transport: Transport | None = None

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        given = [k for k in ("credential", "credentials", "access_token") if getattr(self.params, k)]
        if len(given) > 1:
            raise CloudConfigError(
                f"GceOccupancy: give one of credential, credentials, access_token (got {given})"
            )

    def _key_ref(self) -> SecretRef | None:
        if self.params.credential:
            return SecretRef(file=self.params.credential)
        return self.params.credentials

    def adapter(self) -> ComputeAdapter:
        http = HttpClient(
            self.transport, retries=self.params.max_retries, retry_wait=self.params.retry_timeout
        )
        key_ref = self._key_ref()
        project = self.params.project
        if key_ref is not None:
            text = key_ref.resolve()
            try:
                key = json.loads(text)
            except ValueError as exc:
                raise CloudConfigError(
                    f"GceOccupancy: the service-account key ({key_ref.describe()}) is not JSON"
                ) from exc
            if not isinstance(key, dict):
                raise CloudConfigError(
                    f"GceOccupancy: the service-account key ({key_ref.describe()}) is not a JSON object"
                )
            project = project or key.get("project_id")
            token: Any = ServiceAccountToken(
                http, lambda: key, cache_key=f"{key.get('client_email')} {key.get('private_key_id')}"
            )
        elif self.params.access_token is not None:
            ref = self.params.access_token
            token = StaticToken(lambda: ref.resolve().strip())
        else:
            raise CloudConfigError(
                "GceOccupancy: set 'credentials' (service-account key reference) or 'access_token'"
            )
        if not project:
            raise CloudConfigError("GceOccupancy: set 'project' (the key has no project_id)")
        return ComputeAdapter(http, token, project, endpoint=self.params.endpoint)

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {"GCE_Occupancy": occupancy_frame(self.adapter().instances())}


@Source.produces(GCE_Instance_Performance=pd.DataFrame)
class GCEInstancePerformance(Source):
    """The GCE instance performance CSV as it is."""

    params: Parameters

    class Parameters(ModuleParameters):
        csv_file: str

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {
            "GCE_Instance_Performance": read_csv(
                self.params.csv_file,
                what="GCEInstancePerformance csv_file",
                required=("AvailabilityZone", "InstanceType", "OnDemandPrice", "PerfTtbarTotal"),
            )
        }
