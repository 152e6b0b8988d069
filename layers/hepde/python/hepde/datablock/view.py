"""The read-only mapping of data products a module sees (the original's ``DataBlock`` as modules use it).

A :class:`DataBlockView` maps product names to values.  Stored products are named by
:class:`~hepde.datablock.api.ProductRef` (they may live in different namespaces and generations:
a channel's transforms read source products from ``source:<key>`` namespaces and transform outputs
from the channel's own) and are fetched from the store on first access, decoded once and cached.
Values produced locally in the same invocation (not stored yet) are added with
:meth:`DataBlockView.with_values`, which returns a new view sharing the decode cache.

Every access returns an independent copy: pandas objects are copied shallowly (safe under
copy-on-write), numpy arrays and JSON values deeply, so a module mutating what it read never
changes what another module reads.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from hepde.datablock.api import DataBlockStore, GenerationInfo, Header, Metadata, ProductRef
from hepde.errors import ProductNotFoundError

__all__ = ["DataBlockView"]

_MISSING = object()


class _Cache:
    """Decoded values and infos of stored products, shared by the views derived from one view."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[ProductRef, Any] = {}
        self.infos: dict[ProductRef, GenerationInfo] = {}


class _Local:
    """A locally produced value with its optional header and metadata."""

    __slots__ = ("header", "metadata", "value")

    def __init__(self, value: Any, header: Header | None, metadata: Metadata | None) -> None:
        self.value = value
        self.header = header
        self.metadata = metadata


def _copy(value: Any) -> Any:
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.copy(deep=False)  # copy-on-write: writes to the copy never reach the original
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict | list):
        return copy.deepcopy(value)
    return value


class DataBlockView(Mapping[str, Any]):
    """Product name → value, read lazily from ``store`` (``refs``) or from local values.

    ``view[name]`` / ``view.get(name, default)`` return the value; a missing name raises
    :class:`~hepde.errors.ProductNotFoundError` (a ``KeyError``) listing the names that exist.
    Local values shadow stored products of the same name.
    """

    def __init__(
        self,
        store: DataBlockStore,
        refs: Mapping[str, ProductRef],
        local: Mapping[str, Any] | None = None,
        *,
        header: Header | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """``local`` values (optional) get ``header``/``metadata`` (optional) as theirs."""
        self._store = store
        self._refs: dict[str, ProductRef] = dict(refs)
        self._local: dict[str, _Local] = {
            name: _Local(value, header, metadata) for name, value in (local or {}).items()
        }
        self._cache = _Cache()

    # -- construction ------------------------------------------------------------------------

    def with_values(
        self, values: Mapping[str, Any], *, header: Header | None = None, metadata: Metadata | None = None
    ) -> DataBlockView:
        """A new view with ``values`` added (they shadow same-named products); this view is unchanged.

        The new view shares this view's decode cache.
        """
        view = DataBlockView.__new__(DataBlockView)
        view._store = self._store
        view._refs = dict(self._refs)
        view._local = dict(self._local)
        view._local.update({name: _Local(value, header, metadata) for name, value in values.items()})
        view._cache = self._cache
        return view

    def with_refs(self, refs: Mapping[str, ProductRef]) -> DataBlockView:
        """A new view with stored products ``refs`` added (replacing same-named refs and local values)."""
        view = self.with_values({})
        view._refs.update(refs)
        for name in refs:
            view._local.pop(name, None)
        return view

    # -- Mapping -------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        local = self._local.get(name)
        if local is not None:
            return _copy(local.value)
        ref = self._refs.get(name)
        if ref is None:
            raise self._missing(name)
        value = self._cache.values.get(ref, _MISSING)
        if value is _MISSING:
            value = self._store.get_product(ref)
            with self._cache.lock:
                value = self._cache.values.setdefault(ref, value)
        return _copy(value)

    def __iter__(self) -> Iterator[str]:
        yield from self._refs
        yield from (name for name in self._local if name not in self._refs)

    def __len__(self) -> int:
        return len(self._refs.keys() | self._local.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._refs or name in self._local

    def __repr__(self) -> str:
        return f"DataBlockView({sorted(self)!r})"

    # -- extras --------------------------------------------------------------------------------

    @property
    def refs(self) -> dict[str, ProductRef]:
        """Where each stored product is (a copy); locally produced values have no ref."""
        return dict(self._refs)

    def local_names(self) -> list[str]:
        """Names of the values added with :meth:`with_values` (not stored)."""
        return list(self._local)

    def ref(self, name: str) -> ProductRef | None:
        """Where product ``name`` is stored; None for a local value; ProductNotFoundError if unknown."""
        if name in self._local:
            return None
        if name not in self._refs:
            raise self._missing(name)
        return self._refs[name]

    def get_info(self, name: str) -> GenerationInfo | None:
        """The stored product's info (header, metadata, size); None for a local value."""
        ref = self.ref(name)
        if ref is None:
            return None
        info = self._cache.infos.get(ref)
        if info is None:
            info = self._store.get_info(ref)
            with self._cache.lock:
                info = self._cache.infos.setdefault(ref, info)
        return info

    def get_header(self, name: str) -> Header | None:
        """The product's header (None for a local value added without one)."""
        local = self._local.get(name)
        if local is not None:
            return local.header
        info = self.get_info(name)
        return None if info is None else info.header

    def get_metadata(self, name: str) -> Metadata | None:
        """The product's metadata (None for a local value added without one)."""
        local = self._local.get(name)
        if local is not None:
            return local.metadata
        info = self.get_info(name)
        return None if info is None else info.metadata

    def _missing(self, name: str) -> ProductNotFoundError:
        names = sorted(self)
        existing = ", ".join(repr(n) for n in names) if names else "(none)"
        return ProductNotFoundError(f"no data product {name!r} in this DataBlock; products: {existing}")
