"""DynamoDataBlockStore on moto: products, S3 offload, generations, counters, records, leases, errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import botocore.client
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from pandas.testing import assert_frame_equal, assert_series_equal

from hepde.datablock.api import GenerationInfo, Header, Metadata, ProductRef
from hepde.datablock.dynamo import INLINE_LIMIT, TABLE_KEY_SCHEMA, DynamoDataBlockStore
from hepde.errors import DataBlockUnavailableError, ProductEncodingError, ProductNotFoundError

NS = "channel:test"
TABLE = "hepde-test-datablock"  # conftest.py
BUCKET = "hepde-test-datablock"
HEADER = Header(
    creator="test_source", create_time=1000.25, expiration_time=2800.25, scheduled_create_time=999.5
)


def meta(generation: int) -> Metadata:
    return Metadata(
        generation_id=generation, state="END_CYCLE", generation_time=1000.5, missed_update_count=2
    )


def put(store: DynamoDataBlockStore, generation: int, products: dict[str, Any], ns: str = NS, **kw: Any):
    header = kw.get("header", HEADER)
    return store.put_products(ns, generation, products, header, meta(generation))


def raw_item(ddb: Any, pk: str, sk: str) -> dict[str, Any] | None:
    return ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get(
        "Item"
    )


def big_frame(rows: int = 60_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)  # random floats do not compress: > INLINE_LIMIT once encoded
    return pd.DataFrame({"x": rng.random(rows), "y": rng.random(rows)})


# -- setup ---------------------------------------------------------------------------------------


def test_create_table_matches_the_key_schema(store: DynamoDataBlockStore, ddb: Any) -> None:
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == TABLE_KEY_SCHEMA["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        TABLE_KEY_SCHEMA["AttributeDefinitions"], key=str
    )
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    store.create_table(wait=True)  # idempotent


# -- products ------------------------------------------------------------------------------------


def test_round_trip_of_every_supported_type(store: DynamoDataBlockStore) -> None:
    products = {
        "frame": pd.DataFrame({"a": [1, 2], "s": ["x", "y"], "f": [0.5, None]}),
        "mixed": pd.DataFrame({"m": pd.Series([0.1, 2, "Test"], dtype=object)}),
        "empty": pd.DataFrame(),
        "series": pd.Series([1.5, 2.5], name="s"),
        "array": np.arange(6).reshape(2, 3),
        "nested": {"a": {"b": [1, 2, {"c": None}]}, "d": True},
        "list": [1, "x"],
        "number": 3.5,
        "none": None,
    }
    infos = put(store, 1, products)
    assert [i.ref.name for i in infos] == list(products)
    for name, value in products.items():
        out = store.get_product(ProductRef(NS, 1, name))
        if isinstance(value, pd.DataFrame):
            assert_frame_equal(out, value)
        elif isinstance(value, pd.Series):
            assert_series_equal(out, value)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(out, value)
        else:
            assert out == value


def test_small_product_is_inline(store: DynamoDataBlockStore, s3: Any, ddb: Any) -> None:
    (info,) = put(store, 1, {"small": {"a": 1}})
    assert not info.in_s3 and info.stored_bytes == len(b'{"a":1}')
    item = raw_item(ddb, NS, "P#000000000001#small")
    assert item is not None and item["value"]["B"] == b'{"a":1}' and "s3_key" not in item
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_large_product_goes_to_s3_transparently(store: DynamoDataBlockStore, s3: Any, ddb: Any) -> None:
    frame = big_frame()
    (info,) = put(store, 4, {"big": frame})
    assert info.in_s3 and info.stored_bytes > INLINE_LIMIT
    key = "datablock/channel:test/4/big"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == info.stored_bytes
    item = raw_item(ddb, NS, "P#000000000004#big")
    assert item is not None and "value" not in item and item["s3_key"]["S"] == key
    assert sum(len(str(v)) for v in item.values()) < 2_000  # the item stays small
    assert_frame_equal(store.get_product(ProductRef(NS, 4, "big")), frame)
    assert store.get_info(ProductRef(NS, 4, "big")).in_s3


def test_s3_failure_writes_no_item(store: DynamoDataBlockStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")

    monkeypatch.setattr(store.s3_client, "put_object", refuse)
    with pytest.raises(DataBlockUnavailableError, match="SlowDown"):
        put(store, 1, {"small": 1, "big": big_frame()})
    assert store.list_generation(NS, 1) == []
    assert store.latest_generation(NS) is None


def test_s3_object_gone_is_product_not_found(store: DynamoDataBlockStore, s3: Any) -> None:
    put(store, 1, {"big": big_frame()})
    s3.delete_object(Bucket=BUCKET, Key="datablock/channel:test/1/big")
    with pytest.raises(ProductNotFoundError, match="does not exist"):
        store.get_product(ProductRef(NS, 1, "big"))


def test_header_and_metadata_round_trip(store: DynamoDataBlockStore) -> None:
    header = Header("mod", 1.0e9 + 0.123456, 1.0e9 + 1800.5, 1.0e9, schema_id=7)
    store.put_products(NS, 2, {"p": [1]}, header, meta(2))
    info = store.get_info(ProductRef(NS, 2, "p"))
    assert info == GenerationInfo(ProductRef(NS, 2, "p"), header, meta(2), len(b"[1]"), False)
    assert type(info.header.schema_id) is int and type(info.metadata.generation_id) is int
    assert store.list_generation(NS, 2) == [info]
    assert store.get_info(ProductRef(NS, 2, "p")).header.schema_id == 7


def test_put_is_idempotent_and_generations_accumulate_products(store: DynamoDataBlockStore) -> None:
    put(store, 1, {"a": 1, "b": 2})
    put(store, 1, {"a": 10})
    put(store, 1, {"c": 3})
    assert store.get_product(ProductRef(NS, 1, "a")) == 10
    assert [i.ref.name for i in store.list_generation(NS, 1)] == ["a", "b", "c"]
    assert store.generations(NS) == [1]


def test_many_products_in_one_put(store: DynamoDataBlockStore) -> None:
    products = {f"p{i:02d}": {"i": i} for i in range(40)}  # more than one BatchWriteItem
    put(store, 3, products)
    assert [i.ref.name for i in store.list_generation(NS, 3)] == sorted(products)
    assert store.get_product(ProductRef(NS, 3, "p39")) == {"i": 39}


def test_generations_and_latest(store: DynamoDataBlockStore) -> None:
    assert store.generations(NS) == [] and store.latest_generation(NS) is None
    put(store, 1, {"a": 1, "b": 2}, header=Header.new("m", 60, now=100.0))
    put(store, 2, {"a": 1}, header=Header.new("m", 60, now=200.0))
    put(store, 10, {"a": 1, "b": 2, "c": 3}, header=Header.new("m", 60, now=300.0))
    put(store, 7, {"x": 1}, ns="channel:other")
    assert store.generations(NS) == [1, 2, 10]
    assert store.generations(NS, since=200.0) == [2, 10]
    assert store.generations(NS, since=1e12) == []
    assert store.latest_generation(NS) == 10
    assert store.latest_generation("channel:other") == 7
    assert store.list_generation(NS, 5) == []


def test_empty_put_writes_nothing(store: DynamoDataBlockStore) -> None:
    assert put(store, 1, {}) == []
    assert store.latest_generation(NS) is None


def test_missing_product_lists_existing_names(store: DynamoDataBlockStore) -> None:
    put(store, 3, {"Factory_Entries": 1, "job_manifests": 2})
    with pytest.raises(ProductNotFoundError) as info:
        store.get_product(ProductRef(NS, 3, "nope"))
    message = str(info.value)
    assert "'nope'" in message and "'channel:test'" in message and "generation 3" in message
    assert "'Factory_Entries', 'job_manifests'" in message
    assert isinstance(info.value, KeyError)
    with pytest.raises(ProductNotFoundError, match="holds no products"):
        store.get_info(ProductRef(NS, 4, "nope"))


def test_encoding_error_names_the_product_and_writes_nothing(store: DynamoDataBlockStore) -> None:
    with pytest.raises(ProductEncodingError, match="product 'bad': cannot store a value of type set"):
        put(store, 1, {"good": 1, "bad": {1, 2}})
    assert store.list_generation(NS, 1) == []


@pytest.mark.parametrize(
    ("namespace", "generation"), [("bad#ns", 1), ("", 1), (NS, -1), (NS, 10**12), (NS, True), (NS, 1.0)]
)
def test_invalid_keys(store: DynamoDataBlockStore, namespace: str, generation: Any) -> None:
    with pytest.raises(ValueError):
        store.put_products(namespace, generation, {"a": 1}, HEADER, meta(1))


# -- counters ------------------------------------------------------------------------------------


def test_next_generation_increments_per_namespace(store: DynamoDataBlockStore) -> None:
    assert [store.next_generation(NS) for _ in range(3)] == [1, 2, 3]
    assert store.next_generation("source:x") == 1
    assert store.next_generation(NS) == 4


def test_next_generation_is_atomic_across_stores(store_factory: Callable[..., DynamoDataBlockStore]) -> None:
    first = store_factory()
    second = store_factory()
    values = [first.next_generation(NS) if i % 2 else second.next_generation(NS) for i in range(6)]
    assert values == [1, 2, 3, 4, 5, 6]


# -- records -------------------------------------------------------------------------------------


def test_records(store: DynamoDataBlockStore) -> None:
    for ident in ("000002", "000001", "000003"):
        store.put_record(NS, "cycle", ident, {"ident": ident, "n": np.int64(int(ident))})
    store.put_record(NS, "decision", "000009", {"x": 1})
    store.put_record(NS, "cycle", "000002", {"ident": "000002", "n": 22})  # overwrite
    assert store.get_record(NS, "cycle", "000002") == {"ident": "000002", "n": 22}
    assert store.get_record(NS, "cycle", "nope") is None
    newest = store.query_records(NS, "cycle")
    assert [ident for ident, _ in newest] == ["000003", "000002", "000001"]
    assert newest[0][1] == {"ident": "000003", "n": 3}
    assert [i for i, _ in store.query_records(NS, "cycle", newest_first=False)] == [
        "000001",
        "000002",
        "000003",
    ]
    assert [i for i, _ in store.query_records(NS, "cycle", limit=2)] == ["000003", "000002"]
    assert store.query_records(NS, "decision") == [("000009", {"x": 1})]
    assert store.query_records(NS, "other") == []


def test_record_errors(store: DynamoDataBlockStore) -> None:
    with pytest.raises(ProductEncodingError):
        store.put_record(NS, "cycle", "1", {"bad": {1}})
    with pytest.raises(ProductEncodingError, match="limited"):
        store.put_record(NS, "cycle", "1", {"big": "x" * 400_000})
    with pytest.raises(ValueError):
        store.put_record(NS, "bad#kind", "1", {})


# -- leases --------------------------------------------------------------------------------------


def test_lease_lifecycle(store: DynamoDataBlockStore) -> None:
    assert store.get_lease("cycle:ch") is None
    assert store.acquire_lease("cycle:ch", "run-1", 60, now=1000.0) is None
    holder = store.acquire_lease("cycle:ch", "run-2", 60, now=1010.0)
    assert holder is not None and holder["owner"] == "run-1" and holder["expires_at"] == 1060.0
    assert store.acquire_lease("cycle:ch", "run-1", 60, now=1020.0) is None  # owner extends
    assert store.get_lease("cycle:ch")["expires_at"] == 1080.0  # type: ignore[index]
    assert store.release_lease("cycle:ch", "run-2") is False  # non-owner refused
    assert store.get_lease("cycle:ch")["owner"] == "run-1"  # type: ignore[index]
    assert store.acquire_lease("cycle:ch", "run-2", 60, now=1081.0) is None  # expired: taken over
    assert store.get_lease("cycle:ch")["owner"] == "run-2"  # type: ignore[index]
    assert store.release_lease("cycle:ch", "run-1") is False
    assert store.release_lease("cycle:ch", "run-2") is True
    assert store.get_lease("cycle:ch") is None
    assert store.release_lease("cycle:ch", "run-2") is False
    assert store.acquire_lease("cycle:ch", "run-3", 60, now=1082.0) is None


def test_leases_are_independent(store: DynamoDataBlockStore) -> None:
    assert store.acquire_lease("a", "x", 60) is None
    assert store.acquire_lease("b", "y", 60) is None
    assert store.acquire_lease("a", "y", 60)["owner"] == "x"  # type: ignore[index]


# -- retention ------------------------------------------------------------------------------------


def test_retention_sets_expires_at(store_factory: Callable[..., DynamoDataBlockStore], ddb: Any) -> None:
    store = store_factory(retention_seconds=3600)
    before = time.time()
    put(store, 1, {"a": 1})
    store.put_record(NS, "cycle", "1", {})
    store.next_generation(NS)
    store.acquire_lease("long", "me", 10 * 3600)
    store.acquire_lease("short", "me", 10)
    after = time.time()

    def expires(pk: str, sk: str) -> int | None:
        item = raw_item(ddb, pk, sk)
        assert item is not None
        return int(item["expires_at"]["N"]) if "expires_at" in item else None

    for pk, sk in [
        (NS, "P#000000000001#a"),
        (NS, "G#000000000001"),
        (f"{NS}#R#cycle", "1"),
        ("L#short", "L"),
    ]:
        value = expires(pk, sk)
        assert value is not None and int(before + 3600) <= value <= after + 3600
    assert expires("L#long", "L") >= before + 10 * 3600 - 1  # type: ignore[operator]
    assert expires(NS, "C#generation") is None  # counters never expire


def test_no_retention_keeps_forever(store: DynamoDataBlockStore, ddb: Any) -> None:
    put(store, 1, {"a": 1})
    store.put_record(NS, "cycle", "1", {})
    assert "expires_at" not in raw_item(ddb, NS, "P#000000000001#a")  # type: ignore[operator]
    assert "expires_at" not in raw_item(ddb, f"{NS}#R#cycle", "1")  # type: ignore[operator]


# -- error translation ---------------------------------------------------------------------------


def _failing_api_call(error: Exception, operations: set[str] | None = None):  # noqa: ANN202
    original = botocore.client.BaseClient._make_api_call

    def call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operations is None or operation_name in operations:
            raise error
        return original(self, operation_name, api_params)

    return call


THROTTLED = ClientError(
    {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "rate exceeded"}}, "GetItem"
)


@pytest.mark.parametrize(
    "error",
    [
        THROTTLED,
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Query"),
        EndpointConnectionError(endpoint_url="http://localhost:1"),
        ReadTimeoutError(endpoint_url="http://localhost:1"),
    ],
    ids=["throughput", "throttling", "connection", "timeout"],
)
def test_backend_errors_become_datablock_unavailable(
    store: DynamoDataBlockStore, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    put(store, 1, {"a": 1})
    store.put_record(NS, "cycle", "1", {})
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _failing_api_call(error))
    calls = [
        lambda: store.get_product(ProductRef(NS, 1, "a")),
        lambda: store.get_info(ProductRef(NS, 1, "a")),
        lambda: put(store, 2, {"a": 1}),
        lambda: put(store, 2, {"a": 1, "b": 2}),
        lambda: store.list_generation(NS, 1),
        lambda: store.generations(NS),
        lambda: store.latest_generation(NS),
        lambda: store.next_generation(NS),
        lambda: store.put_record(NS, "cycle", "2", {}),
        lambda: store.get_record(NS, "cycle", "1"),
        lambda: store.query_records(NS, "cycle"),
        lambda: store.acquire_lease("l", "me", 10),
        lambda: store.release_lease("l", "me"),
        lambda: store.get_lease("l"),
    ]
    for call in calls:
        with pytest.raises(DataBlockUnavailableError) as info:
            call()
        assert not isinstance(info.value, ClientError)
        assert info.value.__cause__ is not None
        assert "not transient" not in str(info.value)


def test_throttling_message_names_the_code(
    store: DynamoDataBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        botocore.client.BaseClient, "_make_api_call", _failing_api_call(THROTTLED, {"GetItem"})
    )
    with pytest.raises(
        DataBlockUnavailableError, match="ProvisionedThroughputExceededException: rate exceeded"
    ):
        store.get_product(ProductRef(NS, 1, "a"))


def test_s3_read_errors_become_datablock_unavailable(
    store: DynamoDataBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(store, 1, {"big": big_frame()})
    error = ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce"}}, "GetObject")
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _failing_api_call(error, {"GetObject"}))
    with pytest.raises(DataBlockUnavailableError, match="SlowDown"):
        store.get_product(ProductRef(NS, 1, "big"))


def test_missing_table_is_unavailable_and_not_transient(s3: Any) -> None:
    store = DynamoDataBlockStore("no-such-table", BUCKET, region="us-east-1", s3_client=s3)
    with pytest.raises(DataBlockUnavailableError, match="ResourceNotFoundException.*not transient"):
        store.latest_generation(NS)
