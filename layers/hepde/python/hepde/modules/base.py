"""The module API: Source, Transform, Publisher and the logic-engine base.

Same shape as the original Decision Engine 2.0.6 (``decisionengine.framework.modules``):

* ``@Source.produces(name=type, ...)`` / ``@Transform.consumes(...)`` class decorators, or dynamic
  declarations assigned to ``self._produces`` / ``self._consumes`` in ``__init__``;
* ``Source.acquire() -> dict``, ``Transform.transform(data_block) -> dict``,
  ``Publisher.publish(data_block)``.

Differences, on purpose:

* every module has a ``Parameters`` model (pydantic, unknown keys rejected); the channel's
  ``parameters`` are validated against it before anything runs;
* declared product types are checked for sources *and* transforms (``isinstance``; ``typing.Any``
  skips), not only for sources;
* a publisher may return a :class:`PublishResult` saying what it requested; it goes into the
  cycle's decision record;
* before each call the runtime binds a :class:`~hepde.modules.context.ModuleContext` (:meth:`Module.bind`):
  the cycle's identity and clock, earlier products, records, the bridge actions queue, snapshots.  A
  module reads it as ``self.context``; it never imports :mod:`hepde.runtime`.

Constructors must not do I/O: ``de validate`` instantiates every module to read its declarations.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hepde.errors import DEError
from hepde.modules.context import ModuleContext
from hepde.records import RequestRow


class ModuleParameters(BaseModel):
    """Base of every module's parameter schema: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class PublishResult(BaseModel):
    """What a publisher did in one cycle, for the decision record and the CLI summary."""

    model_config = ConfigDict(extra="forbid")

    summary: str = ""
    #: the publisher's own rows (what it sent or wrote), recorded and shown as they are
    requested: list[dict[str, Any]] = Field(default_factory=list)
    #: its requests per entry (typed; ``de explain``, ``de replay`` and the API read these)
    requests: list[RequestRow] = Field(default_factory=list)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)


def check_declared_types(
    declared: Mapping[str, Any], produced: Mapping[str, Any], *, exact_keys: bool = True
) -> list[str]:
    """Compare produced products with a declaration; return readable problems (empty if fine).

    Messages follow the original's ``Module.verify_products``.
    """
    problems: list[str] = []
    missing = [k for k in declared if k not in produced]
    extra = [k for k in produced if k not in declared]
    if missing and exact_keys:
        lines = "".join(f" - '{k}' of type '{_type_name(declared[k])}'\n" for k in missing)
        problems.append(f"The following products were not produced:\n{lines}")
    if extra:
        lines = "".join(f" - '{k}'\n" for k in extra)
        problems.append(f"The following products were not declared:\n{lines}")
    wrong = []
    for k, tp in declared.items():
        if k not in produced or tp is Any or tp is None:
            continue
        origin = typing.get_origin(tp) or tp
        if isinstance(origin, type) and not isinstance(produced[k], origin):
            wrong.append(f" - '{k}' (expected '{_type_name(tp)}', got '{type(produced[k]).__name__}')\n")
    if wrong:
        problems.append("The following products have the wrong types:\n" + "".join(wrong))
    return problems


class ModuleContextError(DEError):
    """A module used ``self.context`` but none was bound (outside the runtime: bind a ``FakeContext``)."""


class Module:
    """Base of every channel module."""

    #: the parameter schema; subclasses override with their own ``ModuleParameters`` subclass
    Parameters: ClassVar[type[ModuleParameters]] = ModuleParameters
    #: the module kind, one of ``source``, ``transform``, ``logicengine``, ``publisher``
    kind: ClassVar[str] = "module"

    _produces: dict[str, Any] = {}
    _consumes: dict[str, Any] = {}
    #: set by :meth:`bind` only (class default: a module whose ``__init__`` skips ours has none)
    _context: ModuleContext | None = None

    def __init__(self, parameters: Mapping[str, Any] | None = None, *, channel_name: str = "") -> None:
        raw = dict(parameters or {})
        raw.pop("channel_name", None)  # the original injected it into parameters
        self.parameters: dict[str, Any] = raw
        self.params: ModuleParameters = self.Parameters.model_validate(raw)
        self.channel_name = channel_name
        self._context: ModuleContext | None = None

    # -- the context of the current call ------------------------------------------------------
    def bind(self, context: ModuleContext) -> typing.Self:
        """Give the module the context of its next calls (the runtime does this before each call)."""
        self._context = context
        return self

    @property
    def context(self) -> ModuleContext:
        """The bound :class:`~hepde.modules.context.ModuleContext`; unbound → :class:`ModuleContextError`."""
        if self._context is None:
            raise ModuleContextError(
                f"{type(self).__name__} needs a module context and none is bound: the runtime binds one "
                "before each call; outside it, bind one (hepde.modules.context.FakeContext)"
            )
        return self._context

    @property
    def has_context(self) -> bool:
        """Whether a context is bound (a module called directly, as in 2.0.6, has none)."""
        return self._context is not None

    # -- declarations -------------------------------------------------------------------
    @classmethod
    def produces(cls, **products: Any):  # noqa: ANN206 - class decorator
        """Class decorator declaring produced products ``name=type``."""

        def decorate(klass: type[Module]) -> type[Module]:
            if "_produces" in klass.__dict__:
                raise RuntimeError(f"@produces has already been called for {klass.__name__}")
            klass._produces = dict(products)
            return klass

        return decorate

    @classmethod
    def consumes(cls, **products: Any):  # noqa: ANN206 - class decorator
        """Class decorator declaring consumed products ``name=type``."""

        def decorate(klass: type[Module]) -> type[Module]:
            if "_consumes" in klass.__dict__:
                raise RuntimeError(f"@consumes has already been called for {klass.__name__}")
            klass._consumes = dict(products)
            return klass

        return decorate

    def declared_produces(self) -> dict[str, Any]:
        return dict(self._produces)

    def declared_consumes(self) -> dict[str, Any]:
        return dict(self._consumes)


class Source(Module):
    kind: ClassVar[str] = "source"

    def acquire(self) -> dict[str, Any]:
        raise NotImplementedError


class Transform(Module):
    kind: ClassVar[str] = "transform"

    def transform(self, data_block: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class Publisher(Module):
    kind: ClassVar[str] = "publisher"

    def publish(self, data_block: Mapping[str, Any]) -> PublishResult | None:
        raise NotImplementedError

    def shutdown(self) -> None:  # pragma: no cover - optional hook
        return None


class LogicEngineBase(Module):
    """Base of logic engines: ``evaluate(data_block) -> (actions, facts_table)``.

    ``actions`` maps every rule name (in evaluation order) to the list of publisher names it selects;
    ``facts_table`` is the ``de_logicengine_facts`` DataFrame (``rule_name, fact_name, fact_value``).
    """

    kind: ClassVar[str] = "logicengine"

    def evaluate(self, data_block: Mapping[str, Any]) -> tuple[dict[str, list[str]], Any]:
        raise NotImplementedError

    def referenced_publishers(self) -> list[str]:
        """Every publisher name any rule can select, for config validation."""
        return []

    def required_products(self) -> set[str]:
        """Product names the facts read (free names of the fact expressions)."""
        return set()
