"""Configured pandas query strings (job buckets, site buckets, publisher queries), checked and run safely.

A query is checked once, when the module is built (so ``de validate`` reports it), against a small
grammar: column names (plain or back-quoted), literals and lists of literals, comparisons
(including ``in``/``not in``), ``and``/``or``/``not`` and ``& | ~``, arithmetic, attribute access
to public names (``.str``) and calls of the column methods in :data:`ALLOWED_METHODS`
(``.str.contains('CMS')``, ``.isin([...])`` ...).  No ``@`` variables, no other calls, no names
starting with ``_``.  pandas then runs it with empty local and global scopes — there is no
``eval`` of configuration strings.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from hepde.errors import DEError

ALLOWED_METHODS = frozenset(
    {
        "contains",
        "startswith",
        "endswith",
        "match",
        "fullmatch",
        "isin",
        "lower",
        "upper",
        "strip",
        "len",
        "notna",
        "isna",
        "notnull",
        "isnull",
        "between",
        "abs",
    }
)
_BACKTICK = re.compile(r"`[^`\n]*`")
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Pow,
    ast.BitAnd,
    ast.BitOr,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Attribute,
    ast.Call,
    ast.keyword,
)


class QueryExpressionError(DEError):
    """A configured query string is not acceptable."""


def check_query(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise QueryExpressionError(f"expected a non-empty query string, got {text!r}")
    plain = _BACKTICK.sub(lambda m: f"bt_{m.start()}", text)
    if "@" in _STRINGS.sub("''", plain):
        raise QueryExpressionError(f"query {text!r}: '@' (references to local variables) is not allowed")
    try:
        tree = ast.parse(plain.strip(), mode="eval")
    except SyntaxError as exc:
        raise QueryExpressionError(f"query {text!r} could not be parsed: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise QueryExpressionError(f"query {text!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name.startswith("_"):
                raise QueryExpressionError(f"query {text!r}: name {name!r} is not allowed")
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Attribute) and node.func.attr in ALLOWED_METHODS):
                raise QueryExpressionError(
                    f"query {text!r}: only the column methods {', '.join(sorted(ALLOWED_METHODS))} may be called"
                )
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if not all(
                    isinstance(n, ast.Constant | ast.List | ast.Tuple | ast.Load | ast.UnaryOp | ast.USub)
                    for n in ast.walk(arg)
                ):
                    raise QueryExpressionError(f"query {text!r}: method arguments must be literals")
    return text


_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
}


def _bool(value: Any, n: int) -> np.ndarray:
    if isinstance(value, pd.Series):
        return (
            value.fillna(False).to_numpy(dtype=bool)
            if value.dtype == object
            else np.asarray(value.to_numpy(dtype=bool, na_value=False), dtype=bool)
        )
    if isinstance(value, np.ndarray):
        return value.astype(bool)
    return np.full(n, bool(value))


class _Vectorised:
    """Evaluates a checked query over whole columns (pandas' own ``query`` spends ~10 ms parsing each call)."""

    def __init__(self, text: str) -> None:
        check_query(text)
        self.names: dict[str, str] = {}

        def rename(m: re.Match[str]) -> str:
            alias = f"bt_{m.start()}"
            self.names[alias] = m.group(0)[1:-1]
            return alias

        self.tree = ast.parse(_BACKTICK.sub(rename, text).strip(), mode="eval").body

    def __call__(self, frame: pd.DataFrame, memo: dict[str, np.ndarray] | None = None) -> np.ndarray:
        n = len(frame)
        self._memo = memo
        try:
            return _bool(self._eval(self.tree, frame, n), n)
        finally:
            self._memo = None

    def _eval(self, node: ast.AST, frame: pd.DataFrame, n: int) -> Any:
        memo = getattr(self, "_memo", None)
        if memo is not None and isinstance(node, ast.Compare | ast.BoolOp):
            # a comparison's mask is the same in every query over the same frame (the buckets of a
            # cycle repeat ``CMS_JobType == 'Production'``, ``GLIDEIN_CMSSite.str.startswith(...)``)
            key = ast.dump(node) + repr(sorted(self.names.items()))
            hit = memo.get(key)
            if hit is None:
                hit = _bool(self._eval_node(node, frame, n), n)
                hit.flags.writeable = False
                memo[key] = hit
            return hit
        return self._eval_node(node, frame, n)

    def _eval_node(self, node: ast.AST, frame: pd.DataFrame, n: int) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            col = self.names.get(node.id, node.id)
            if col not in frame.columns:
                raise pd.errors.UndefinedVariableError(col)
            return frame[col]
        if isinstance(node, ast.List | ast.Tuple):
            return [self._eval(e, frame, n) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            masks = [_bool(self._eval(v, frame, n), n) for v in node.values]
            out = masks[0]
            for m in masks[1:]:
                out = (out & m) if isinstance(node.op, ast.And) else (out | m)
            return out
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, frame, n)
            if isinstance(node.op, ast.Not | ast.Invert) and not isinstance(v, int | float):
                return ~_bool(v, n)
            unary: dict[type, Callable[[Any], Any]] = {
                ast.USub: operator.neg,
                ast.UAdd: operator.pos,
                ast.Not: operator.not_,
                ast.Invert: operator.invert,
            }
            return unary[type(node.op)](v)
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, frame, n), self._eval(node.right, frame, n)
            if isinstance(node.op, ast.BitAnd | ast.BitOr):
                return _BIN[type(node.op)](_bool(left, n), _bool(right, n))
            return _BIN[type(node.op)](left, right)
        if isinstance(node, ast.Compare):
            out = np.ones(n, dtype=bool)
            left = self._eval(node.left, frame, n)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comp, frame, n)
                if isinstance(op, ast.In | ast.NotIn):
                    values = right if isinstance(right, list) else [right]
                    res = left.isin(values) if isinstance(left, pd.Series) else np.full(n, left in values)
                    res = _bool(res, n)
                    out &= ~res if isinstance(op, ast.NotIn) else res
                else:
                    with np.errstate(invalid="ignore"):
                        out &= _bool(_CMP[type(op)](left, right), n)
                left = right
            return out
        if isinstance(node, ast.Attribute):
            return getattr(self._eval(node.value, frame, n), node.attr)
        if isinstance(node, ast.Call):
            target = self._eval(node.func.value, frame, n)  # type: ignore[attr-defined]
            args = [self._eval(a, frame, n) for a in node.args]
            kwargs = {k.arg: self._eval(k.value, frame, n) for k in node.keywords if k.arg}
            return getattr(target, node.func.attr)(*args, **kwargs)  # type: ignore[attr-defined]
        raise QueryExpressionError(f"unsupported construct {type(node).__name__}")


@lru_cache(maxsize=512)
def compiled(text: str) -> _Vectorised:
    return _Vectorised(text)


def query_mask(frame: pd.DataFrame, text: str, memo: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Boolean mask (by position) of the rows of ``frame`` matching ``text``; a missing value never matches.

    Same selection as ``frame.query(text)`` for the accepted grammar; a column that does not exist
    raises ``pandas.errors.UndefinedVariableError`` as ``query`` does.  ``memo`` (one dict per frame,
    for as long as the frame is unchanged) keeps the mask of every comparison, so that queries sharing
    sub-expressions evaluate them once.
    """
    if frame.empty:
        return np.zeros(len(frame), dtype=bool)
    return compiled(text)(frame, memo)
