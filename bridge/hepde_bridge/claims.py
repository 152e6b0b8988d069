"""Which bridge instance acts on an action: a shared claim keyed by the action's idempotency key.

Two bridges may read one actions queue (active/active, or a standby that starts while the old one
is still alive).  SQS delivers a message to one consumer at a time only until its visibility timeout;
a slow instance and a redelivery to the other would each check the schedd, find nothing and submit.
Before it begins an action, an instance therefore takes the action's **claim**: a DynamoDB
conditional write (``attribute_not_exists(pk) OR owner = me OR claim expired``) in the DataBlock
table under ``pk = bridge-claim#<bridge>``, ``sk = <key>``.  Only the winner acts; the other leaves
the message invisible and looks again later.  When the action is finished the claim says ``done``
(kept ``retention`` seconds, the table's TTL removes it).  A claimant that crashes stops renewing;
after ``lease`` seconds its claim may be taken over, and the taker's check before act (queue and
history, by key) finds whatever the crashed one did.  See ADR 0010.

:class:`MemoryClaims` is the same contract in memory (one process; the default of a lone bridge and
the fake of the tests); :class:`DynamoClaims` is the shared one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from hepde.errors import DEError

Outcome = Literal["mine", "held", "done"]


class ClaimsUnavailableError(DEError):
    """The claim store cannot be read or written: the action is not carried out now (retried later)."""


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    owner: str = ""
    until: float = 0.0


class Claims(Protocol):
    def claim(self, key: str, owner: str, now: float, lease: float) -> Claim: ...

    def finish(self, key: str, owner: str, now: float, retention: float) -> None: ...


class MemoryClaims:
    """The claim contract in one process's memory (shared by instances that share the object)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}

    def claim(self, key: str, owner: str, now: float, lease: float) -> Claim:
        with self._lock:
            item = self._items.get(key)
            if item is not None and item["expires_at"] <= now:
                item = None  # past retention: as if the table's TTL removed it
            if item is not None and item["state"] == "done":
                return Claim("done", item["owner"], item["until"])
            if item is None or item["owner"] == owner or item["until"] < now:
                self._items[key] = {
                    "owner": owner,
                    "until": now + lease,
                    "state": "acting",
                    "expires_at": now + max(lease, 86400.0),
                }
                return Claim("mine", owner, now + lease)
            return Claim("held", item["owner"], item["until"])

    def finish(self, key: str, owner: str, now: float, retention: float) -> None:
        with self._lock:
            item = self._items.get(key)
            if item is not None and item["owner"] == owner:
                item.update(state="done", expires_at=now + retention)


class DynamoClaims:
    """Claims as conditional writes in a DynamoDB table keyed ``pk``/``sk`` (the DataBlock table)."""

    def __init__(self, client: Any, table: str, bridge: str) -> None:
        self.client = client
        self.table = table
        self.pk = f"bridge-claim#{bridge}"

    def _key(self, key: str) -> dict[str, Any]:
        return {"pk": {"S": self.pk}, "sk": {"S": key}}

    def claim(self, key: str, owner: str, now: float, lease: float) -> Claim:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(key),
                    "owner": {"S": owner},
                    "claim_until": {"N": repr(now + lease)},
                    "claim_state": {"S": "acting"},
                    "expires_at": {"N": str(int(now + max(lease, 86400.0)))},
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (claim_state = :acting AND "
                    "(#owner = :me OR claim_until < :now)) OR expires_at < :now"
                ),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":acting": {"S": "acting"},
                    ":me": {"S": owner},
                    ":now": {"N": repr(now)},
                },
            )
            return Claim("mine", owner, now + lease)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise ClaimsUnavailableError(f"cannot claim action {key} in {self.table}: {exc}") from exc
        except BotoCoreError as exc:
            raise ClaimsUnavailableError(f"cannot claim action {key} in {self.table}: {exc}") from exc
        try:
            item = self.client.get_item(TableName=self.table, Key=self._key(key), ConsistentRead=True).get(
                "Item", {}
            )
        except (ClientError, BotoCoreError) as exc:
            raise ClaimsUnavailableError(
                f"cannot read the claim of action {key} in {self.table}: {exc}"
            ) from exc
        holder = item.get("owner", {}).get("S", "")
        until = float(item.get("claim_until", {}).get("N", "0"))
        if item.get("claim_state", {}).get("S") == "done":
            return Claim("done", holder, until)
        return Claim("held", holder, until)

    def finish(self, key: str, owner: str, now: float, retention: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(key),
                UpdateExpression="SET claim_state = :done, expires_at = :exp",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":done": {"S": "done"},
                    ":me": {"S": owner},
                    ":exp": {"N": str(int(now + retention))},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return  # taken over meanwhile: the taker finishes it
            raise ClaimsUnavailableError(f"cannot finish the claim of action {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise ClaimsUnavailableError(f"cannot finish the claim of action {key}: {exc}") from exc
