"""DataBlockView: lazy, cached, copy-on-read mapping of products over a store."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from hepde.datablock.api import Header, Metadata, ProductRef
from hepde.datablock.dynamo import DynamoDataBlockStore
from hepde.datablock.view import DataBlockView
from hepde.errors import ProductNotFoundError

CH = "channel:ch"
SRC = "source:jobs"
HEADER = Header.new("SourceNOP", 1800, now=1000.0)


class CountingStore:
    """A store proxy counting reads."""

    def __init__(self, store: DynamoDataBlockStore) -> None:
        self.store = store
        self.gets: list[ProductRef] = []
        self.infos: list[ProductRef] = []

    def get_product(self, ref: ProductRef) -> Any:
        self.gets.append(ref)
        return self.store.get_product(ref)

    def get_info(self, ref: ProductRef) -> Any:
        self.infos.append(ref)
        return self.store.get_info(ref)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def counting(store: DynamoDataBlockStore) -> CountingStore:
    store.put_products(
        SRC, 4, {"jobs": pd.DataFrame({"a": [1, 2]}), "arr": np.arange(3)}, HEADER, Metadata(4)
    )
    store.put_products(CH, 7, {"facts": {"f": True}}, HEADER, Metadata(7, state="NEW"))
    return CountingStore(store)


@pytest.fixture
def view(counting: CountingStore) -> DataBlockView:
    refs = {
        "jobs": ProductRef(SRC, 4, "jobs"),
        "arr": ProductRef(SRC, 4, "arr"),
        "facts": ProductRef(CH, 7, "facts"),
    }
    return DataBlockView(counting, refs)  # type: ignore[arg-type]


def test_lazy_and_cached(view: DataBlockView, counting: CountingStore) -> None:
    assert counting.gets == []
    assert sorted(view.keys()) == ["arr", "facts", "jobs"] and len(view) == 3 and "jobs" in view
    assert counting.gets == []
    assert_frame_equal(view["jobs"], pd.DataFrame({"a": [1, 2]}))
    view["jobs"]
    assert view.get("facts") == {"f": True}
    assert counting.gets == [ProductRef(SRC, 4, "jobs"), ProductRef(CH, 7, "facts")]


def test_values_are_copies(view: DataBlockView) -> None:
    frame = view["jobs"]
    frame.loc[0, "a"] = 99
    assert view["jobs"].loc[0, "a"] == 1
    array = view["arr"]
    array[0] = 99
    assert view["arr"][0] == 0
    facts = view["facts"]
    facts["f"] = False
    assert view["facts"] == {"f": True}


def test_missing_name_lists_existing(view: DataBlockView) -> None:
    with pytest.raises(ProductNotFoundError) as info:
        view["nope"]
    assert isinstance(info.value, KeyError)
    assert "'nope'" in str(info.value) and "'arr', 'facts', 'jobs'" in str(info.value)
    assert view.get("nope") is None and view.get("nope", 5) == 5
    with pytest.raises(ProductNotFoundError):
        view.get_header("nope")


def test_header_and_metadata(view: DataBlockView, counting: CountingStore) -> None:
    assert view.get_header("jobs") == HEADER
    assert view.get_metadata("facts") == Metadata(7, state="NEW")
    view.get_header("facts")
    assert counting.infos == [ProductRef(SRC, 4, "jobs"), ProductRef(CH, 7, "facts")]  # cached
    assert counting.gets == []  # values not read
    assert view.get_info("jobs").stored_bytes > 0  # type: ignore[union-attr]


def test_with_values(view: DataBlockView, counting: CountingStore) -> None:
    view["jobs"]
    local_header = Header.new("TransformNOP", 60, now=5.0)
    derived = view.with_values({"new": [1, 2], "facts": {"f": False}}, header=local_header)
    assert "new" not in view and sorted(derived) == ["arr", "facts", "jobs", "new"] and len(derived) == 4
    assert derived["new"] == [1, 2]
    assert derived["facts"] == {"f": False}  # local shadows stored
    assert view["facts"] == {"f": True}
    assert derived.get_header("new") == local_header and derived.get_metadata("new") is None
    assert derived.ref("new") is None and derived.get_info("new") is None
    assert derived.local_names() == ["new", "facts"]
    derived["jobs"]
    assert counting.gets.count(ProductRef(SRC, 4, "jobs")) == 1  # cache shared
    plain = derived.with_values({"x": 1})
    assert plain.get_header("x") is None


def test_with_refs_replaces_local_values(view: DataBlockView) -> None:
    derived = view.with_values({"facts": 1}).with_refs({"facts": ProductRef(CH, 7, "facts")})
    assert derived["facts"] == {"f": True} and derived.ref("facts") == ProductRef(CH, 7, "facts")


def test_initial_local_values(counting: CountingStore) -> None:
    view = DataBlockView(counting, {}, {"a": 1}, metadata=Metadata(1))  # type: ignore[arg-type]
    assert dict(view) == {"a": 1} and view.get_metadata("a") == Metadata(1) and view.refs == {}


def test_stored_product_missing_from_store(counting: CountingStore) -> None:
    view = DataBlockView(counting, {"gone": ProductRef(CH, 7, "gone")})  # type: ignore[arg-type]
    with pytest.raises(ProductNotFoundError, match="'facts'"):
        view["gone"]
