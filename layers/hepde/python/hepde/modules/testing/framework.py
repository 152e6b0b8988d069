"""Re-implementations of the original's framework test modules (``decisionengine.framework.tests``).

They exist so that the original's test channel configurations run unchanged: the alias table in
:mod:`hepde.modules.registry` maps ``decisionengine.framework.tests.<Class>`` to the class of the
same name here.  Behaviour follows the original modules; every module gets a ``Parameters`` model.

===================================== ================================================================
module                                what it does
===================================== ================================================================
``SourceNOP``                         produces ``foo``: a 3-row DataFrame (``key1``, ``key2``)
``TransformNOP``                      consumes ``foo``, produces ``bar = DataFrame(foo["key2"])``
``PublisherNOP``                      consumes ``bar``, does nothing
``IntSource``                         produces ``int_value`` = parameter ``int_value``
``DynamicSource``                     produces ``<data_product_name>`` = parameter ``value`` (1)
``DynamicTransform``                  sums its ``consumes`` products into ``<data_product_name>``
``DynamicPublisher``                  checks the sum of its ``consumes`` products equals ``expects``
``WriteToDisk``                       counts publish calls, optionally appending them to ``filename``
``ABTransform`` / ``BATransform``     consume ``B`` produce ``A`` / consume ``A`` produce ``B``
``ErrorOnAcquire``                    ``acquire`` raises
``ErringPublisher``                   ``publish`` raises
``FailingPublisher``                  ``publish`` raises
``SourceWithMissingProduces``         declares nothing (a configuration error)
``TransformWithMissingProducesConsumes`` declares nothing (a configuration error)
``PublisherWithMissingConsumes``      declares nothing (a configuration error)
===================================== ================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field

from hepde.modules.base import ModuleParameters, Publisher, PublishResult, Source, Transform

__all__ = [
    "ABTransform",
    "BATransform",
    "DynamicPublisher",
    "DynamicSource",
    "DynamicTransform",
    "ErringPublisher",
    "ErrorOnAcquire",
    "FailingPublisher",
    "IntSource",
    "PublisherNOP",
    "PublisherWithMissingConsumes",
    "SourceNOP",
    "SourceWithMissingProduces",
    "TransformNOP",
    "TransformWithMissingProducesConsumes",
    "WriteToDisk",
]


class _NoParameters(ModuleParameters):
    """A module that takes no parameters (any key is an error)."""


# -- the NOP pipeline (test_channel.jsonnet) ---------------------------------------------------------
@Source.produces(foo=pd.DataFrame)
class SourceNOP(Source):
    """Produces ``foo``: rows ``(value1, 0.1)``, ``(value2, 2)``, ``(value3, "Test")``.

    ``key2`` mixes a float, an int and a string, as in the original, so it is an ``object`` column
    holding the values exactly as given.
    """

    Parameters = _NoParameters
    params: _NoParameters

    def acquire(self) -> dict[str, Any]:
        foo = pd.DataFrame(
            {
                "key1": ["value1", "value2", "value3"],
                "key2": pd.Series([0.1, 2, "Test"], dtype=object),
            }
        )
        return {"foo": foo}


@Transform.consumes(foo=pd.DataFrame)
@Transform.produces(bar=pd.DataFrame)
class TransformNOP(Transform):
    """Consumes ``foo`` and produces ``bar = DataFrame(foo["key2"])``."""

    Parameters = _NoParameters
    params: _NoParameters

    def transform(self, data_block: Mapping[str, Any]) -> dict[str, Any]:
        return {"bar": pd.DataFrame(data_block["foo"]["key2"])}


@Publisher.consumes(bar=pd.DataFrame)
class PublisherNOP(Publisher):
    """Consumes ``bar`` and publishes nothing."""

    Parameters = _NoParameters
    params: _NoParameters

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        _ = data_block["bar"]
        return PublishResult(summary="PublisherNOP: nothing published")


# -- sources with values from parameters ------------------------------------------------------------
@Source.produces(int_value=int)
class IntSource(Source):
    """Produces ``int_value`` = the ``int_value`` parameter."""

    params: Parameters

    class Parameters(ModuleParameters):
        int_value: int = Field(description="the value to produce")

    def acquire(self) -> dict[str, Any]:
        return {"int_value": self.params.int_value}


class DynamicSource(Source):
    """Produces one ``int`` product whose name is the ``data_product_name`` parameter."""

    params: Parameters

    class Parameters(ModuleParameters):
        data_product_name: str = Field(min_length=1, description="name of the product")
        value: int = Field(default=1, description="the value produced (the original always produced 1)")

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self.data_product_name: str = self.params.data_product_name
        self._produces = {self.data_product_name: int}

    def acquire(self) -> dict[str, Any]:
        return {self.data_product_name: self.params.value}


class DynamicTransform(Transform):
    """Produces ``data_product_name`` = the sum of the ``consumes`` products (all ``int``)."""

    params: Parameters

    class Parameters(ModuleParameters):
        consumes: list[str] = Field(description="names of the int products to sum")
        data_product_name: str = Field(min_length=1, description="name of the product")

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self.data_product_name: str = self.params.data_product_name
        self._consumes = dict.fromkeys(self.params.consumes, int)
        self._produces = {self.data_product_name: int}

    def transform(self, data_block: Mapping[str, Any]) -> dict[str, Any]:
        return {self.data_product_name: sum((data_block[k] for k in self._consumes), 0)}


class DynamicPublisher(Publisher):
    """Checks that the sum of the ``consumes`` products (all ``int``) equals ``expects``."""

    params: Parameters

    class Parameters(ModuleParameters):
        consumes: list[str] = Field(description="names of the int products to sum")
        expects: int = Field(description="the expected sum")

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self.expects: int = self.params.expects
        self._consumes = dict.fromkeys(self.params.consumes, int)

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        total = sum((data_block[k] for k in self._consumes), 0)
        if total != self.expects:
            raise ValueError(f"DynamicPublisher expected the sum {self.expects}, got {total}")
        return PublishResult(summary=f"sum of {', '.join(self._consumes)} = {total}")


class WriteToDisk(Publisher):
    """Counts its publish calls; with ``filename``, appends the running count to that file.

    The original wrote to a temporary file created in its constructor; constructors here must not
    do I/O, so the file is only touched by ``publish``.
    """

    params: Parameters

    class Parameters(ModuleParameters):
        consumes: list[str] = Field(description="names of the products to consume (any type)")
        filename: str | None = Field(default=None, description="file the publish count is appended to")

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        self._consumes = dict.fromkeys(self.params.consumes, Any)
        self.counter = 0

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        self.counter += 1
        filename = self.params.filename
        if filename:
            with Path(filename).open("a", encoding="utf-8") as fh:
                fh.write(f"{self.counter}\n")
        return PublishResult(summary=f"publish call {self.counter}")


# -- produce/consume graph fixtures (test-bad-channel) ----------------------------------------------
@Transform.consumes(B=Any)
@Transform.produces(A=Any)
class ABTransform(Transform):
    """Consumes ``B``, produces ``A`` (with :class:`BATransform`: a produce/consume cycle)."""

    Parameters = _NoParameters
    params: _NoParameters

    def transform(self, data_block: Mapping[str, Any]) -> dict[str, Any]:
        return {"A": data_block["B"]}


@Transform.consumes(A=Any)
@Transform.produces(B=Any)
class BATransform(Transform):
    """Consumes ``A``, produces ``B``."""

    Parameters = _NoParameters
    params: _NoParameters

    def transform(self, data_block: Mapping[str, Any]) -> dict[str, Any]:
        return {"B": data_block["A"]}


class SourceWithMissingProduces(Source):
    """A source without a ``produces`` declaration: validation must reject it."""

    Parameters = _NoParameters
    params: _NoParameters

    def acquire(self) -> dict[str, Any]:
        return {}


class TransformWithMissingProducesConsumes(Transform):
    """A transform with neither declaration: validation must reject it."""

    Parameters = _NoParameters
    params: _NoParameters

    def transform(self, data_block: Mapping[str, Any]) -> dict[str, Any]:
        return {}


class PublisherWithMissingConsumes(Publisher):
    """A publisher without a ``consumes`` declaration: validation must reject it."""

    Parameters = _NoParameters
    params: _NoParameters

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        return None


# -- failing modules ---------------------------------------------------------------------------------
@Source.produces(_placeholder=Any)
class ErrorOnAcquire(Source):
    """A source whose ``acquire`` always raises ``RuntimeError("Test error-handling")``."""

    Parameters = _NoParameters
    params: _NoParameters

    def acquire(self) -> dict[str, Any]:
        raise RuntimeError("Test error-handling")


@Publisher.consumes(bar=Any)
class ErringPublisher(Publisher):
    """A publisher whose ``publish`` always raises ``RuntimeError("Test error-handling")``."""

    Parameters = _NoParameters
    params: _NoParameters

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        raise RuntimeError("Test error-handling")


@Publisher.consumes(bar=Any)
class FailingPublisher(Publisher):
    """A publisher whose ``publish`` always raises.

    The original disabled itself through the 2.0 publisher-status board after its first call; this
    project has no such board, so it simply fails.  ``module_key`` is accepted for compatibility.
    """

    params: Parameters

    class Parameters(ModuleParameters):
        module_key: str | None = Field(default=None, description="accepted for compatibility; unused")

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        raise RuntimeError("Test error-handling (FailingPublisher)")
