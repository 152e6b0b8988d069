"""The EC2 adapter: the only code in the AWS modules that calls boto3.

:class:`EC2Adapter` takes an EC2 client in its constructor (tests pass moto's or a stubbed client).
:class:`EC2ClientFactory` makes one client per (account, region) from the standard credential chain:
the account name is used as a named profile (the original's behaviour) only when ``use_profiles`` is
set, or a role is assumed when ``assume_roles`` names one for the account.  No credential ever comes
from a channel configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from hepde.modules.cloud.common import ProviderError

#: the original's query window: prices of the last hour
HISTORY_SECONDS = 3600
PRODUCT_DESCRIPTIONS = ("Linux/UNIX",)
PAGE_SIZE = 1000


class EC2Adapter:
    """Spot price history and instances of one account in one region."""

    def __init__(self, client: Any, *, account: str | None = None) -> None:
        self.client = client
        self.account = account
        self.region = getattr(getattr(client, "meta", None), "region_name", None)

    def spot_price_history(
        self,
        instance_types: Iterable[str] = (),
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        product_descriptions: Iterable[str] = PRODUCT_DESCRIPTIONS,
        page_size: int = PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Every spot price record in the window, all pages (the original read only the first page)."""
        end = end or dt.datetime.now(dt.UTC)
        start = start or end - dt.timedelta(seconds=HISTORY_SECONDS)
        kwargs: dict[str, Any] = {
            "StartTime": start,
            "EndTime": end,
            "ProductDescriptions": list(product_descriptions),
            "PaginationConfig": {"PageSize": page_size},
        }
        types = [t for t in instance_types if t]
        if types:
            kwargs["InstanceTypes"] = types
        records: list[dict[str, Any]] = []
        try:
            for page in self.client.get_paginator("describe_spot_price_history").paginate(**kwargs):
                records.extend(page.get("SpotPriceHistory", []))
        except Exception as exc:
            raise ProviderError(self._where("describe_spot_price_history") + f": {exc}") from exc
        return records

    def instances(self) -> list[dict[str, Any]]:
        """Every instance (any state) as ``{InstanceId, InstanceType, AvailabilityZone, State}``."""
        out: list[dict[str, Any]] = []
        try:
            for page in self.client.get_paginator("describe_instances").paginate():
                for reservation in page.get("Reservations", []):
                    for inst in reservation.get("Instances", []):
                        out.append(
                            {
                                "InstanceId": inst.get("InstanceId"),
                                "InstanceType": inst.get("InstanceType"),
                                "AvailabilityZone": (inst.get("Placement") or {}).get("AvailabilityZone"),
                                "State": (inst.get("State") or {}).get("Name"),
                            }
                        )
        except Exception as exc:
            raise ProviderError(self._where("describe_instances") + f": {exc}") from exc
        return out

    def _where(self, call: str) -> str:
        return f"EC2 {call} (account {self.account or 'default'}, region {self.region or '?'})"


class EC2ClientFactory:
    """Makes an :class:`EC2Adapter` per (account, region) from the standard credential chain."""

    def __init__(
        self,
        *,
        use_profiles: bool = False,
        assume_roles: Mapping[str, str] | None = None,
        session: Any = None,
    ) -> None:
        self.use_profiles = use_profiles
        self.assume_roles = dict(assume_roles or {})
        self._session = session
        self._role_sessions: dict[str, Any] = {}

    def _base_session(self, account: str | None) -> Any:
        import boto3

        if self._session is not None:
            return self._session
        if self.use_profiles and account:
            try:
                return boto3.session.Session(profile_name=account)
            except Exception as exc:  # botocore ProfileNotFound
                raise ProviderError(f"AWS profile '{account}' is not configured: {exc}") from exc
        return boto3.session.Session()

    def _session_for(self, account: str | None) -> Any:
        role = self.assume_roles.get(account or "")
        if not role:
            return self._base_session(account)
        if account not in self._role_sessions:
            import boto3

            sts = self._base_session(None).client("sts")
            try:
                creds = sts.assume_role(RoleArn=role, RoleSessionName="hepde-cloud-economics")["Credentials"]
            except Exception as exc:
                raise ProviderError(f"cannot assume role {role} for account '{account}': {exc}") from exc
            self._role_sessions[account or ""] = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return self._role_sessions[account or ""]

    def __call__(self, account: str | None, region: str) -> EC2Adapter:
        return EC2Adapter(self._session_for(account).client("ec2", region_name=region), account=account)
