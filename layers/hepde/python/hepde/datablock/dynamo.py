"""The DataBlock on one DynamoDB table (pynamodb) plus S3 for large values.

Single-table layout (hash key ``pk`` (S), range key ``sk`` (S), TTL attribute ``expires_at``):

=====================  ============================  ===================================================
item                   pk                            sk
=====================  ============================  ===================================================
product                ``<namespace>``               ``P#<generation:012d>#<name>``
generation marker      ``<namespace>``               ``G#<generation:012d>``
generation counter     ``<namespace>``               ``C#generation``
record                 ``<namespace>#R#<kind>``      ``<ident>``
lease                  ``L#<name>``                  ``L``
=====================  ============================  ===================================================

* **product**: ``name``, ``generation``, ``encoding`` (see :mod:`hepde.datablock.codec`), either
  ``value`` (binary, inline) or ``s3_key`` (values larger than :data:`INLINE_LIMIT` bytes go to S3 at
  ``<s3_prefix>/<namespace>/<generation>/<name>``; the S3 object is written *before* the item, so
  an item never points at nothing), ``stored_bytes`` (encoded size), ``header`` and ``metadata``
  (map attributes with the fields of :class:`~hepde.datablock.api.Header` /
  :class:`~hepde.datablock.api.Metadata`).
* **generation marker**: written (``UpdateItem``: ``ADD names``) *after* the products of a
  ``put_products`` call, so a generation is listed by :meth:`DynamoDataBlockStore.generations` and
  :meth:`~DynamoDataBlockStore.latest_generation` only once its products are readable.  It holds the
  product ``names`` (string set) and the ``create_time`` of the first put (used by ``since``).
  Listing generations reads these small items, never the products.
* **counter**: ``value``, incremented atomically (``ADD value 1``, ``ReturnValues=ALL_NEW``).
  Counters never get ``expires_at``: a deleted counter would restart at 1 and reuse generation
  numbers of products not yet deleted (TTL deletion is lazy).
* **record**: ``body`` (compact JSON text).  ``query_records`` orders by ``ident`` (string order).
* **lease**: ``owner``, ``lease_expires`` (epoch seconds), ``acquired_at``.  Acquire is a
  conditional put (``attribute_not_exists(pk) OR lease_expires < now OR owner = me``); release a
  conditional delete (``owner = me``).

``retention_seconds`` sets ``expires_at = now + retention`` (DynamoDB TTL, epoch seconds) on every
item except counters; a lease's ``expires_at`` is never before its ``lease_expires``.  With
``None`` items are kept forever.  (S3 objects need a bucket lifecycle rule with the same age.)

Every read is strongly consistent.  Backend errors are translated: a missing product raises
:class:`~hepde.errors.ProductNotFoundError`; throttling, timeouts, connection failures and any other
refusal by DynamoDB/S3 raise :class:`~hepde.errors.DataBlockUnavailableError` (``from`` the original
error; the message says when the cause is not transient, e.g. a missing table or bucket).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import (
    BinaryAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.models import Model

from hepde.datablock import codec
from hepde.datablock.api import GenerationInfo, Header, Metadata, ProductRef
from hepde.errors import DataBlockUnavailableError, ProductEncodingError, ProductNotFoundError

__all__ = [
    "INLINE_LIMIT",
    "MAX_GENERATION",
    "TABLE_KEY_SCHEMA",
    "DynamoDataBlockStore",
]

#: Encoded values larger than this (bytes) are stored in S3; DynamoDB items are limited to 400 KB.
INLINE_LIMIT: Final = 300_000
#: Largest generation number (the sort key pads generations to 12 digits).
MAX_GENERATION: Final = 10**12 - 1
#: Largest record body (JSON text, bytes).
MAX_RECORD_BYTES: Final = 350_000

#: The table's definition, in CloudFormation ``AWS::DynamoDB::Table`` property names (SAM template).
TABLE_KEY_SCHEMA: Final[dict[str, Any]] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
}

_COUNTER_SK: Final = "C#generation"
_LEASE_SK: Final = "L"

#: DynamoDB / S3 error codes that are transient (retrying later can succeed).
_TRANSIENT_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
        "LimitExceededException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "503",
        "500",
    }
)


# -- pynamodb models ---------------------------------------------------------------------------


class _HeaderMap(MapAttribute[str, Any]):
    creator = UnicodeAttribute()
    create_time = NumberAttribute()
    expiration_time = NumberAttribute()
    scheduled_create_time = NumberAttribute()
    schema_id = NumberAttribute(null=True)


class _MetadataMap(MapAttribute[str, Any]):
    generation_id = NumberAttribute()
    state = UnicodeAttribute()
    generation_time = NumberAttribute()
    missed_update_count = NumberAttribute()


class _Models(NamedTuple):
    """The model classes of one table (typed ``Any``: they are built at run time)."""

    product: Any
    marker: Any
    counter: Any
    record: Any
    lease: Any


@functools.cache
def _model_classes(table_name: str, region: str | None, host: str | None) -> _Models:
    """pynamodb model classes bound to one table (Meta is per class, so one set per table/endpoint)."""
    _table, _region, _host = table_name, region, host

    class _Meta:
        table_name = _table
        region = _region
        host = _host
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 3
        connect_timeout_seconds = 5
        read_timeout_seconds = 20

    class _Base(Model):
        class Meta(_Meta):
            pass

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        expires_at = TTLAttribute(null=True)

    class ProductItem(_Base):
        class Meta(_Meta):
            pass

        name = UnicodeAttribute()
        generation = NumberAttribute()
        encoding = UnicodeAttribute()
        value = BinaryAttribute(null=True, legacy_encoding=False)
        s3_key = UnicodeAttribute(null=True)
        stored_bytes = NumberAttribute()
        header = _HeaderMap()
        metadata = _MetadataMap()

    class GenerationMarker(_Base):
        class Meta(_Meta):
            pass

        generation = NumberAttribute()
        names = UnicodeSetAttribute(null=True)
        create_time = NumberAttribute(null=True)

    class CounterItem(_Base):
        class Meta(_Meta):
            pass

        value = NumberAttribute(null=True)

    class RecordItem(_Base):
        class Meta(_Meta):
            pass

        body = UnicodeAttribute()

    class LeaseItem(_Base):
        class Meta(_Meta):
            pass

        owner = UnicodeAttribute()
        lease_expires = NumberAttribute()
        acquired_at = NumberAttribute()

    models = _Models(ProductItem, GenerationMarker, CounterItem, RecordItem, LeaseItem)
    # One table, one key schema: share one connection (one botocore session and client) instead of
    # letting each class create its own.  The botocore client itself is created on first use.
    connection = ProductItem._get_connection()
    for model in models[1:]:
        model._connection = connection
    return models


#: Product attributes read by info queries (everything but ``value``).
_INFO_ATTRIBUTES: Final = (
    "pk",
    "sk",
    "name",
    "generation",
    "encoding",
    "s3_key",
    "stored_bytes",
    "header",
    "metadata",
)


# -- error translation -------------------------------------------------------------------------


def _error_code(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    while cause is not None:
        response = getattr(cause, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return str(code)
        cause = getattr(cause, "cause", None) or cause.__cause__
    return None


def _describe(exc: BaseException) -> str:
    """The innermost useful description of a pynamodb/botocore error."""
    cause: BaseException = exc
    while isinstance(cause, PynamoDBException) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ClientError):
        error = cause.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(cause).__name__}: {cause}"


def _unavailable(action: str, exc: BaseException) -> DataBlockUnavailableError:
    code = _error_code(exc)
    transient = code is None or code in _TRANSIENT_CODES  # no code: connection error / timeout
    hint = "" if transient else " (not transient: check the table, bucket, region/endpoint and permissions)"
    return DataBlockUnavailableError(f"DataBlock {action} failed: {_describe(exc)}{hint}")


@contextmanager
def _backend(action: str) -> Iterator[None]:
    """Translate any pynamodb/botocore error raised inside into :class:`DataBlockUnavailableError`."""
    try:
        yield
    except (PynamoDBException, BotoCoreError, ClientError) as exc:
        raise _unavailable(action, exc) from exc


def _is_conditional_failure(exc: PynamoDBException) -> bool:
    return _error_code(exc) == "ConditionalCheckFailedException"


# -- the store ---------------------------------------------------------------------------------


def _check_key_part(value: str, what: str) -> None:
    if not value or "#" in value:
        raise ValueError(f"{what} must be a non-empty string without '#': {value!r}")


def _check_generation(generation: int) -> None:
    if (
        isinstance(generation, bool)
        or not isinstance(generation, int)
        or not 0 <= generation <= MAX_GENERATION
    ):
        raise ValueError(f"generation must be an int in [0, {MAX_GENERATION}]: {generation!r}")


def _product_sk(generation: int, name: str) -> str:
    return f"P#{generation:012d}#{name}"


def _generation_prefix(generation: int) -> str:
    return f"P#{generation:012d}#"


def _marker_sk(generation: int) -> str:
    return f"G#{generation:012d}"


def _record_pk(namespace: str, kind: str) -> str:
    return f"{namespace}#R#{kind}"


def _lease_pk(name: str) -> str:
    return f"L#{name}"


def _epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class DynamoDataBlockStore:
    """:class:`~hepde.datablock.api.DataBlockStore` on one DynamoDB table plus an S3 bucket.

    ``host`` is the endpoint URL of DynamoDB (and of S3 when ``s3_client`` is not given: local
    clouds such as MiniStack/LocalStack serve both on one endpoint); ``None`` uses AWS (or
    ``AWS_ENDPOINT_URL``).  ``s3_client`` is a boto3 S3 client, created on first use if ``None``.
    ``s3_prefix`` is the first component of S3 keys.  See the module docstring for the layout.
    """

    def __init__(
        self,
        table_name: str,
        bucket: str,
        *,
        region: str | None = None,
        host: str | None = None,
        s3_client: Any = None,
        retention_seconds: float | None = None,
        s3_prefix: str = "datablock",
    ) -> None:
        if retention_seconds is not None and retention_seconds <= 0:
            raise ValueError(f"retention_seconds must be positive or None: {retention_seconds!r}")
        self.table_name = table_name
        self.bucket = bucket
        self.region = region
        self.host = host
        self.retention_seconds = retention_seconds
        self.s3_prefix = s3_prefix.strip("/")
        self._s3 = s3_client
        self._s3_lock = threading.Lock()
        self._models = _model_classes(table_name, region, host)

    def __repr__(self) -> str:
        return f"DynamoDataBlockStore(table={self.table_name!r}, bucket={self.bucket!r})"

    # -- setup -------------------------------------------------------------------------------

    def create_table(self, wait: bool = True) -> None:
        """Create the table (PAY_PER_REQUEST) if missing and enable TTL on ``expires_at``."""
        with _backend(f"create_table({self.table_name})"):
            self._models.product.create_table(wait=wait, billing_mode="PAY_PER_REQUEST")

    @property
    def s3_client(self) -> Any:
        """The boto3 S3 client (created on first use)."""
        if self._s3 is None:
            with self._s3_lock:
                if self._s3 is None:
                    import boto3

                    self._s3 = boto3.client("s3", region_name=self.region, endpoint_url=self.host)
        return self._s3

    def s3_key(self, ref: ProductRef) -> str:
        """Where a large value of ``ref`` is (or would be) stored in the bucket."""
        return f"{self.s3_prefix}/{ref.namespace}/{ref.generation}/{ref.name}"

    def _expires_at(self, now: float) -> datetime | None:
        return None if self.retention_seconds is None else _epoch(now + self.retention_seconds)

    # -- products ------------------------------------------------------------------------------

    def put_products(
        self, namespace: str, generation: int, products: dict[str, Any], header: Header, metadata: Metadata
    ) -> list[GenerationInfo]:
        """Store every product of ``products`` in ``(namespace, generation)``; same key overwrites.

        All values are encoded before anything is written; large values go to S3 first, then the
        items (batch write), then the generation marker.
        """
        _check_key_part(namespace, "namespace")
        _check_generation(generation)
        if not products:
            return []
        encoded: list[tuple[ProductRef, str, bytes]] = []
        for name, value in products.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"product names must be non-empty strings: {name!r}")
            try:
                encoding, data = codec.encode(value)
            except ProductEncodingError as exc:
                raise ProductEncodingError(f"product {name!r}: {exc}") from exc
            encoded.append((ProductRef(namespace, generation, name), encoding, data))

        for ref, _encoding, data in encoded:
            if len(data) > INLINE_LIMIT:
                with _backend(f"S3 put of product {ref.name!r} ({namespace} generation {generation})"):
                    self.s3_client.put_object(Bucket=self.bucket, Key=self.s3_key(ref), Body=data)

        now = time.time()
        expires_at = self._expires_at(now)
        m = self._models
        infos: list[GenerationInfo] = []
        items = []
        for ref, encoding, data in encoded:
            in_s3 = len(data) > INLINE_LIMIT
            items.append(
                m.product(
                    namespace,
                    _product_sk(generation, ref.name),
                    expires_at=expires_at,
                    name=ref.name,
                    generation=generation,
                    encoding=encoding,
                    value=None if in_s3 else data,
                    s3_key=self.s3_key(ref) if in_s3 else None,
                    stored_bytes=len(data),
                    header=_HeaderMap(**header.to_json()),
                    metadata=_MetadataMap(**metadata.to_json()),
                )
            )
            infos.append(GenerationInfo(ref, header, metadata, len(data), in_s3))
        with _backend(f"put of {len(items)} product(s) ({namespace} generation {generation})"):
            if len(items) == 1:
                items[0].save()
            else:
                with m.product.batch_write() as batch:
                    for item in items:
                        batch.save(item)
            marker = m.marker(namespace, _marker_sk(generation))
            actions = [
                m.marker.generation.set(generation),
                m.marker.names.add({ref.name for ref, _, _ in encoded}),
                m.marker.create_time.set(m.marker.create_time | header.create_time),
            ]
            if expires_at is not None:
                actions.append(m.marker.expires_at.set(expires_at))
            marker.update(actions=actions)
        return infos

    def get_product(self, ref: ProductRef) -> Any:
        """The decoded value of ``ref`` (from the item or from S3)."""
        item = self._get_product_item(ref, attributes=None)
        if item.s3_key:
            data = self._read_s3(ref, item.s3_key)
        else:
            data = item.value if item.value is not None else b""
        try:
            return codec.decode(item.encoding, data)
        except ProductEncodingError as exc:
            raise ProductEncodingError(
                f"product {ref.name!r} ({ref.namespace} generation {ref.generation}): {exc}"
            ) from exc

    def get_info(self, ref: ProductRef) -> GenerationInfo:
        """Header, metadata and size of ``ref`` (the value is not read)."""
        return self._info(self._get_product_item(ref, attributes=_INFO_ATTRIBUTES))

    def list_generation(self, namespace: str, generation: int) -> list[GenerationInfo]:
        """Every product of one generation, ordered by name."""
        _check_key_part(namespace, "namespace")
        _check_generation(generation)
        m = self._models
        with _backend(f"listing of {namespace} generation {generation}"):
            items = list(
                m.product.query(
                    namespace,
                    m.product.sk.startswith(_generation_prefix(generation)),
                    consistent_read=True,
                    attributes_to_get=list(_INFO_ATTRIBUTES),
                )
            )
        return [self._info(item) for item in items]

    def generations(self, namespace: str, since: float | None = None) -> list[int]:
        """Generations of a namespace that hold products, ascending (``since``: create_time >=)."""
        _check_key_part(namespace, "namespace")
        m = self._models
        condition = None if since is None else m.marker.create_time >= since
        with _backend(f"listing of the generations of {namespace}"):
            return [
                int(item.generation)
                for item in m.marker.query(
                    namespace,
                    m.marker.sk.startswith("G#"),
                    filter_condition=condition,
                    consistent_read=True,
                    attributes_to_get=["pk", "sk", "generation"],
                )
            ]

    def latest_generation(self, namespace: str) -> int | None:
        """The highest generation that holds products, or None."""
        _check_key_part(namespace, "namespace")
        m = self._models
        with _backend(f"latest generation of {namespace}"):
            for item in m.marker.query(
                namespace,
                m.marker.sk.startswith("G#"),
                consistent_read=True,
                scan_index_forward=False,
                limit=1,
                attributes_to_get=["pk", "sk", "generation"],
            ):
                return int(item.generation)
        return None

    def _get_product_item(self, ref: ProductRef, attributes: tuple[str, ...] | None) -> Any:
        _check_key_part(ref.namespace, "namespace")
        _check_generation(ref.generation)
        m = self._models
        with _backend(f"read of product {ref.name!r} ({ref.namespace} generation {ref.generation})"):
            try:
                return m.product.get(
                    ref.namespace,
                    _product_sk(ref.generation, ref.name),
                    consistent_read=True,
                    attributes_to_get=None if attributes is None else list(attributes),
                )
            except DoesNotExist:
                pass
        raise self._not_found(ref)

    def _not_found(self, ref: ProductRef) -> ProductNotFoundError:
        where = f"namespace {ref.namespace!r} generation {ref.generation}"
        try:
            existing = [info.ref.name for info in self.list_generation(ref.namespace, ref.generation)]
        except DataBlockUnavailableError:
            existing = None
        if existing:
            names = ", ".join(repr(name) for name in existing if name != ref.name) or "(only this product)"
            known = f"; that generation holds: {names}"
        elif existing is None:
            known = ""
        else:
            known = "; that generation holds no products"
        return ProductNotFoundError(f"product {ref.name!r} not found in {where}{known}")

    def _read_s3(self, ref: ProductRef, key: str) -> bytes:
        try:
            response = self.s3_client.get_object(Bucket=self.bucket, Key=key)
            return bytes(response["Body"].read())
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise ProductNotFoundError(
                    f"product {ref.name!r} ({ref.namespace} generation {ref.generation}) points at "
                    f"s3://{self.bucket}/{key}, which does not exist (deleted by a lifecycle rule?)"
                ) from exc
            raise _unavailable(f"S3 read of s3://{self.bucket}/{key}", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(f"S3 read of s3://{self.bucket}/{key}", exc) from exc

    @staticmethod
    def _info(item: Any) -> GenerationInfo:
        header = item.header
        metadata = item.metadata
        return GenerationInfo(
            ref=ProductRef(item.pk, int(item.generation), item.name),
            header=Header(
                creator=header.creator,
                create_time=float(header.create_time),
                expiration_time=float(header.expiration_time),
                scheduled_create_time=float(header.scheduled_create_time),
                schema_id=None if header.schema_id is None else int(header.schema_id),
            ),
            metadata=Metadata(
                generation_id=int(metadata.generation_id),
                state=metadata.state,
                generation_time=float(metadata.generation_time),
                missed_update_count=int(metadata.missed_update_count),
            ),
            stored_bytes=int(item.stored_bytes),
            in_s3=bool(item.s3_key),
        )

    # -- counters ------------------------------------------------------------------------------

    def next_generation(self, namespace: str) -> int:
        """Atomically allocate the next generation number of a namespace (1, 2, ...)."""
        _check_key_part(namespace, "namespace")
        m = self._models
        counter = m.counter(namespace, _COUNTER_SK)
        with _backend(f"generation counter of {namespace}"):
            counter.update(actions=[m.counter.value.add(1)])
        return int(counter.value)

    # -- records -------------------------------------------------------------------------------

    def put_record(self, namespace: str, kind: str, ident: str, body: dict[str, Any]) -> None:
        """Store a small JSON document (cycle record, decision record, source status, ...)."""
        _check_key_part(namespace, "namespace")
        _check_key_part(kind, "record kind")
        if not ident:
            raise ValueError("record ident must be a non-empty string")
        if not isinstance(body, dict):
            raise ProductEncodingError(f"a record body must be a dict, not {type(body).__name__}")
        text = codec.to_json_text(body)
        if len(text.encode("utf-8")) > MAX_RECORD_BYTES:
            raise ProductEncodingError(
                f"record {kind}/{ident} of {namespace} is {len(text)} bytes of JSON; records are limited to "
                f"{MAX_RECORD_BYTES} bytes (store large values as products)"
            )
        item = self._models.record(
            _record_pk(namespace, kind), ident, body=text, expires_at=self._expires_at(time.time())
        )
        with _backend(f"put of record {kind}/{ident} ({namespace})"):
            item.save()

    def get_record(self, namespace: str, kind: str, ident: str) -> dict[str, Any] | None:
        """The record's body, or None."""
        _check_key_part(namespace, "namespace")
        _check_key_part(kind, "record kind")
        with _backend(f"read of record {kind}/{ident} ({namespace})"):
            try:
                item = self._models.record.get(_record_pk(namespace, kind), ident, consistent_read=True)
            except DoesNotExist:
                return None
        body: dict[str, Any] = json.loads(item.body)
        return body

    def query_records(
        self, namespace: str, kind: str, *, newest_first: bool = True, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Records of one kind in a namespace, ordered by ``ident`` (string order)."""
        _check_key_part(namespace, "namespace")
        _check_key_part(kind, "record kind")
        if limit is not None and limit <= 0:
            return []
        with _backend(f"query of records {kind} ({namespace})"):
            items = list(
                self._models.record.query(
                    _record_pk(namespace, kind),
                    consistent_read=True,
                    scan_index_forward=not newest_first,
                    limit=limit,
                )
            )
        return [(item.sk, json.loads(item.body)) for item in items]

    # -- leases --------------------------------------------------------------------------------

    def acquire_lease(
        self, name: str, owner: str, seconds: float, now: float | None = None
    ) -> dict[str, Any] | None:
        """Take lease ``name`` for ``owner`` if free, expired or already ``owner``'s (conditional put).

        Returns None on success; otherwise the current holder's record (``owner``, ``expires_at``
        = the lease's expiry, ``acquired_at``, ``name``).
        """
        if not name or not owner:
            raise ValueError("lease name and owner must be non-empty strings")
        m = self._models
        for _attempt in range(3):
            at = time.time() if now is None else now
            lease_expires = at + seconds
            ttl = self._expires_at(at)
            if ttl is not None and ttl.timestamp() < lease_expires:
                ttl = _epoch(lease_expires)
            item = m.lease(
                _lease_pk(name),
                _LEASE_SK,
                owner=owner,
                lease_expires=lease_expires,
                acquired_at=at,
                expires_at=ttl,
            )
            condition = m.lease.pk.does_not_exist() | (m.lease.lease_expires < at) | (m.lease.owner == owner)
            with _backend(f"acquire of lease {name!r}"):
                try:
                    item.save(condition=condition)
                    return None
                except PynamoDBException as exc:
                    if not _is_conditional_failure(exc):
                        raise
            holder = self.get_lease(name)
            if holder is not None:
                return holder
            # released between the failed write and the read: try again
        raise DataBlockUnavailableError(f"lease {name!r} is changing hands too fast to be acquired; retry")

    def release_lease(self, name: str, owner: str) -> bool:
        """Release lease ``name`` only if ``owner`` holds it; True if released."""
        m = self._models
        item = m.lease(_lease_pk(name), _LEASE_SK)
        with _backend(f"release of lease {name!r}"):
            try:
                item.delete(condition=m.lease.owner == owner)
            except PynamoDBException as exc:
                if _is_conditional_failure(exc):
                    return False
                raise
        return True

    def get_lease(self, name: str) -> dict[str, Any] | None:
        """The lease's record (``name``, ``owner``, ``expires_at``, ``acquired_at``) or None.

        An expired lease that nobody took over is still returned (check ``expires_at``).
        """
        with _backend(f"read of lease {name!r}"):
            try:
                item = self._models.lease.get(_lease_pk(name), _LEASE_SK, consistent_read=True)
            except DoesNotExist:
                return None
        return {
            "name": name,
            "owner": item.owner,
            "expires_at": float(item.lease_expires),
            "acquired_at": float(item.acquired_at),
        }
