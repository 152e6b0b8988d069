"""The re-implemented framework test modules and EmptySource behave like the original's."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from hepde.modules import registry
from hepde.modules.base import Publisher, Source, Transform, check_declared_types
from hepde.modules.generic.empty_source import EmptySource
from hepde.modules.testing.framework import (
    DynamicPublisher,
    DynamicSource,
    DynamicTransform,
    ErringPublisher,
    ErrorOnAcquire,
    FailingPublisher,
    IntSource,
    PublisherNOP,
    SourceNOP,
    TransformNOP,
    WriteToDisk,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("SourceNOP", "source"),
        ("TransformNOP", "transform"),
        ("PublisherNOP", "publisher"),
        ("IntSource", "source"),
        ("DynamicSource", "source"),
        ("DynamicTransform", "transform"),
        ("DynamicPublisher", "publisher"),
        ("ABTransform", "transform"),
        ("BATransform", "transform"),
        ("ErrorOnAcquire", "source"),
        ("ErringPublisher", "publisher"),
        ("FailingPublisher", "publisher"),
        ("SourceWithMissingProduces", "source"),
        ("TransformWithMissingProducesConsumes", "transform"),
        ("PublisherWithMissingConsumes", "publisher"),
    ],
)
def test_every_original_test_module_path_resolves_to_its_re_implementation(name, kind):
    """Given an original decisionengine.framework.tests path, when resolved, then the class of that name comes back."""
    cls = registry.resolve(f"decisionengine.framework.tests.{name}", kind)

    assert cls.__name__ == name
    assert cls.__module__ == "hepde.modules.testing.framework"


def test_source_nop_produces_the_original_mixed_type_frame():
    """Given SourceNOP, when it acquires, then foo has the three original rows with key2 values as given."""
    data = SourceNOP().acquire()

    foo = data["foo"]
    assert list(foo["key1"]) == ["value1", "value2", "value3"]
    assert list(foo["key2"]) == [0.1, 2, "Test"]
    assert foo["key2"].dtype == object
    assert check_declared_types(SourceNOP().declared_produces(), data) == []


def test_transform_nop_turns_foo_into_bar_and_publisher_nop_reads_it():
    """Given foo from SourceNOP, when TransformNOP and PublisherNOP run, then bar is foo's key2 column."""
    foo = SourceNOP().acquire()["foo"]

    bar = TransformNOP().transform({"foo": foo})["bar"]
    result = PublisherNOP().publish({"bar": bar})

    assert isinstance(bar, pd.DataFrame)
    assert list(bar.columns) == ["key2"]
    assert list(bar["key2"]) == [0.1, 2, "Test"]
    assert result is not None


def test_dynamic_modules_declare_products_named_by_their_parameters():
    """Given the 3g fixture's arithmetic, when the dynamic modules run, then the publisher's expectation holds."""
    source = DynamicSource({"data_product_name": "_a"})
    transform = DynamicTransform({"consumes": ["_a", "c"], "data_product_name": "a"})
    publisher = DynamicPublisher({"consumes": ["a"], "expects": 3})

    block: dict[str, Any] = {**source.acquire(), "c": 2}
    block.update(transform.transform(block))

    assert source.declared_produces() == {"_a": int}
    assert transform.declared_consumes() == {"_a": int, "c": int}
    assert transform.declared_produces() == {"a": int}
    assert block["a"] == 3
    assert publisher.publish(block) is not None
    with pytest.raises(ValueError, match="expected the sum 3, got 4"):
        publisher.publish({"a": 4})


def test_int_source_produces_its_parameter_and_rejects_a_non_integer():
    """Given IntSource, when built with 3, then it produces 3; with 'three', then its schema refuses it."""
    assert IntSource({"int_value": 3}).acquire() == {"int_value": 3}
    with pytest.raises(ValidationError):
        IntSource({"int_value": "three"})


def test_write_to_disk_appends_its_publish_count(tmp_path):
    """Given WriteToDisk with a filename, when published twice, then the file holds 1 and 2."""
    target = tmp_path / "writes.txt"
    publisher = WriteToDisk({"consumes": ["tA", "tB"], "filename": str(target)})

    publisher.publish({})
    publisher.publish({})

    assert publisher.declared_consumes() == {"tA": Any, "tB": Any}
    assert target.read_text().splitlines() == ["1", "2"]


@pytest.mark.parametrize(
    ("module", "call"),
    [
        (ErrorOnAcquire, lambda m: m.acquire()),
        (ErringPublisher, lambda m: m.publish({})),
        (FailingPublisher, lambda m: m.publish({})),
    ],
)
def test_failing_modules_raise_when_they_run(module, call):
    """Given a module meant to fail, when it runs, then it raises RuntimeError("Test error-handling...")."""
    with pytest.raises(RuntimeError, match="Test error-handling"):
        call(module())


def test_empty_source_produces_an_empty_frame_named_by_its_parameter():
    """Given EmptySource for 'AWS_Figure_Of_Merit', when it acquires, then that product is an empty DataFrame."""
    source = EmptySource(
        {"data_product_name": "AWS_Figure_Of_Merit", "max_attempts": 100, "retry_interval": 20}
    )

    data = source.acquire()

    assert source.declared_produces() == {"AWS_Figure_Of_Merit": pd.DataFrame}
    assert isinstance(data["AWS_Figure_Of_Merit"], pd.DataFrame) and data["AWS_Figure_Of_Merit"].empty
    assert check_declared_types(source.declared_produces(), data) == []


def test_empty_source_requires_a_product_name():
    """Given EmptySource without (or with an empty) data_product_name, when built, then its schema refuses it."""
    with pytest.raises(ValidationError):
        EmptySource({})
    with pytest.raises(ValidationError):
        EmptySource({"data_product_name": ""})


def test_empty_source_resolves_from_the_original_path_and_class_name():
    """Given the original's EmptySource path and name, when resolved, then this project's EmptySource comes back."""
    cls = registry.resolve("decisionengine.framework.modules.EmptySource", "source", "EmptySource")

    assert cls is EmptySource
    assert issubclass(cls, Source) and not issubclass(cls, Transform | Publisher)
