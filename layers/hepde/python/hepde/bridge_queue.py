"""SQS adapter: the actions queue, its dead-letter queue and the optional reply queue.

boto3 appears only here (and in :mod:`hepde_bridge.results`).  The adapter takes its client in the
constructor: the publish Lambda passes its own, the bridge one built from the standard credential
chain.  Every AWS error is translated into :class:`QueueUnavailableError` (transient: the caller
backs off and tries again) except a missing queue (:class:`QueueNotFoundError`, a deployment problem).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hepde.errors import DEError

#: SQS's message size limit (bytes) for the standard API
MAX_MESSAGE_BYTES = 256 * 1024


class QueueUnavailableError(DEError):
    """SQS could not be reached or refused the call (throttling, network, credentials): transient."""


class QueueNotFoundError(DEError):
    """The queue does not exist (not deployed, wrong stack or bridge name)."""


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt: str
    body: str
    receive_count: int = 1
    attributes: dict[str, str] = field(default_factory=dict)


def _translate(exc: BaseException, what: str) -> DEError:
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
        return QueueNotFoundError(f"{what}: the queue does not exist ({code})")
    return QueueUnavailableError(f"{what}: {type(exc).__name__}: {exc}")


class SqsQueue:
    """One SQS queue, by URL."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    def __repr__(self) -> str:
        return f"SqsQueue({self.url!r})"

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def by_name(cls, client: Any, name: str) -> SqsQueue:
        try:
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception as exc:
            raise _translate(exc, f"SQS get_queue_url({name})") from exc
        return cls(client, url)

    # -- sending ----------------------------------------------------------------------------
    def send(self, body: str, attributes: Mapping[str, str] | None = None, delay: int = 0) -> str:
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError(f"message of {len(body.encode())} bytes exceeds SQS's {MAX_MESSAGE_BYTES} bytes")
        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if attributes:
            kwargs["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": str(v)[:1024] or "-"} for k, v in attributes.items()
            }
        if delay:
            kwargs["DelaySeconds"] = int(delay)
        try:
            return str(self.client.send_message(**kwargs)["MessageId"])
        except Exception as exc:
            raise _translate(exc, f"SQS send_message to {self.name}") from exc

    def send_batch(self, items: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Send (body, attributes) pairs in batches of 10; raise if any message was not accepted."""
        batch: list[dict[str, Any]] = []
        sent = 0

        def flush() -> int:
            if not batch:
                return 0
            try:
                resp = self.client.send_message_batch(QueueUrl=self.url, Entries=list(batch))
            except Exception as exc:
                raise _translate(exc, f"SQS send_message_batch to {self.name}") from exc
            failed = resp.get("Failed") or []
            if failed:
                first = failed[0]
                raise QueueUnavailableError(
                    f"SQS refused {len(failed)} of {len(batch)} message(s) to {self.name}: "
                    f"{first.get('Code')}: {first.get('Message')}"
                )
            n = len(batch)
            batch.clear()
            return n

        for i, (body, attributes) in enumerate(items):
            if len(body.encode()) > MAX_MESSAGE_BYTES:
                raise ValueError(
                    f"message {i} of {len(body.encode())} bytes exceeds SQS's {MAX_MESSAGE_BYTES} bytes"
                )
            entry: dict[str, Any] = {"Id": str(len(batch)), "MessageBody": body}
            if attributes:
                entry["MessageAttributes"] = {
                    k: {"DataType": "String", "StringValue": str(v)[:1024] or "-"}
                    for k, v in attributes.items()
                }
            batch.append(entry)
            if len(batch) == 10:
                sent += flush()
        sent += flush()
        return sent

    # -- receiving ----------------------------------------------------------------------------
    def receive(
        self, max_messages: int = 10, wait_seconds: int = 20, visibility_timeout: int | None = None
    ) -> list[Message]:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max(1, min(10, max_messages)),
            "WaitTimeSeconds": max(0, min(20, int(wait_seconds))),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = int(visibility_timeout)
        try:
            resp = self.client.receive_message(**kwargs)
        except Exception as exc:
            raise _translate(exc, f"SQS receive_message from {self.name}") from exc
        out = []
        for m in resp.get("Messages") or []:
            attrs = {k: v.get("StringValue", "") for k, v in (m.get("MessageAttributes") or {}).items()}
            count = int((m.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
            out.append(Message(m["MessageId"], m["ReceiptHandle"], m.get("Body", ""), count, attrs))
        return out

    def delete(self, message: Message) -> None:
        try:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)
        except Exception as exc:
            raise _translate(exc, f"SQS delete_message on {self.name}") from exc

    def change_visibility(self, message: Message, seconds: int) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=self.url,
                ReceiptHandle=message.receipt,
                VisibilityTimeout=max(0, min(43200, int(seconds))),
            )
        except Exception as exc:
            raise _translate(exc, f"SQS change_message_visibility on {self.name}") from exc

    def depth(self) -> int:
        try:
            attrs = self.client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
            )
        except Exception as exc:
            raise _translate(exc, f"SQS get_queue_attributes on {self.name}") from exc
        return int(attrs["Attributes"].get("ApproximateNumberOfMessages", 0))


def dead_letter_body(reason: str, message: Message, *, key: str | None, bridge: str, at: float) -> str:
    """What the bridge writes to the dead-letter queue: the reason and the original message."""
    return json.dumps(
        {
            "reason": reason,
            "key": key,
            "bridge": bridge,
            "at": at,
            "message_id": message.message_id,
            "receive_count": message.receive_count,
            "original_body": message.body,
        }
    )


# -- where the actions queue of a bridge is: one resolution for publishers, the runtime and the bridge ---
def actions_queue_address(
    bridge: str = "default", *, stack: str = "hepde", deployed_url: str = "", override: str = ""
) -> str:
    """The actions queue of bridge ``bridge``, as a URL or a queue name (:func:`open_queue` takes both).

    ``override`` (a publisher's ``queue`` parameter, a name or URL) wins; else, for the default bridge,
    ``deployed_url`` (the template's ``DE_BRIDGE_ACTIONS_QUEUE_URL``); else the name
    :func:`hepde.naming.bridge_actions_queue` derives from ``bridge`` and ``stack``.
    """
    from hepde.naming import bridge_actions_queue

    if override:
        return override
    if bridge == "default" and deployed_url:
        return deployed_url
    return bridge_actions_queue(bridge, stack)


def open_queue(client: Any, address: str, *, create_if_missing: bool = False) -> SqsQueue:
    """The queue at ``address`` (a URL or a name); ``create_if_missing`` only for the embedded local cloud."""
    if address.startswith(("https://", "http://")):
        return SqsQueue(client, address)
    try:
        return SqsQueue.by_name(client, address)
    except QueueNotFoundError:
        if not create_if_missing:
            raise
        try:
            client.create_queue(QueueName=address)
        except Exception as exc:
            raise _translate(exc, f"SQS create_queue({address})") from exc
        return SqsQueue.by_name(client, address)
