"""A safe evaluator for the logic engine's fact and rule expressions.

The original Decision Engine 2.0.6 (``logicengine/BooleanExpression.py``) compiled each configured
string with ``ast.parse(mode="eval")`` and ran it with ``eval(code, {}, data)``.  A configuration
string could therefore run arbitrary code (``__import__('os').system(...)``, ``().__class__...``).
This module keeps the expression *language* and its results, but interprets the syntax tree
itself.  There is no ``eval``, ``exec`` or ``compile`` anywhere.

What is accepted, checked once by :func:`parse_expression` before anything runs:

* literals (numbers, strings, bytes, ``True``/``False``/``None``, ``...``) and tuple, list, set and
  dict displays;
* names (looked up in the namespace passed to :meth:`Expression.evaluate`; names starting with
  ``__`` are rejected);
* attribute access ``x.attr`` for any ``attr`` that does not start with ``_`` (product columns such
  as ``vals.one`` and ``.shape``, ``.empty``, ``.size``, ``.columns``, ``.index``, ``.values`` ...),
  except a few names that only lead to interpreter internals (``f_globals``, ``gi_frame`` ...);
* subscripts and slices, chained comparisons (including ``in``, ``not in``, ``is``, ``is not``),
  ``and``/``or``/``not`` (short-circuit, returning an operand as Python does), conditional
  expressions, unary ``- + ~ not``, binary ``+ - * / // % **`` and the bitwise ``& |`` that pandas
  boolean masks use;
* calls to the functions in :data:`ALLOWED_FUNCTIONS` and to the methods in
  :data:`ALLOWED_METHODS` (on any object), with positional and keyword arguments (except ``out``
  and ``inplace``, which would write into a product) but no ``*``/``**`` unpacking.  ``x.query("...")`` takes exactly one literal string, which is itself validated.

Anything else (lambda, comprehensions, ``:=``, f-strings, starred expressions, ``await``, calls to
any other function or method, ``<<``, ``>>``, ``^``, ``@``) is rejected by :func:`parse_expression`
with an :class:`ExpressionError` naming the construct.

At evaluation time a few more guards apply: a callable can never be passed as an argument (so
``max(x, key=...)`` cannot smuggle in a non-allow-listed function), integer powers and sequence
repetition are size-limited (``OverflowError``), ``%`` string formatting is refused, and
``DataFrame.query`` runs with empty local and global scopes.  Breaking one of these rules raises
:class:`ForbiddenOperationError`, which ``fail_on_error(...)`` does not suppress.

Divergences from the original, on purpose:

* unsafe constructs are errors when the expression is parsed, not when (or if) it runs; so is
  ``fail_on_error(...)`` used anywhere but around the whole expression (the original failed with a
  ``NameError`` when it ran);
* module functions are not available, as in the original (whose globals were empty): ``np.sum(x)``
  parses, because ``sum`` is an allowed method name and ``np`` is just a name, and fails at run time
  with ``NameError: name 'np' is not defined`` unless a product is called ``np``; a function outside
  the allow-list, such as ``np.arange(x)``, is rejected at parse time;
* an allow-listed function name always calls the builtin, even if a product has the same name (the
  original let a product shadow the builtin); a builtin can never be used as a value;
* a syntax error raises :class:`ExpressionSyntaxError` (an :class:`ExpressionError`, not a Python
  ``SyntaxError``); its message keeps the original's "could not be parsed" wording.

Kept identical: :attr:`Expression.required_names`, the ``fail_on_error(...)`` wrapper (matched by
the original's regular expression on the stripped text; any error makes the value ``False`` and is
logged), Python's own exception types and messages for evaluation errors (``NameError: name 'x' is
not defined``, ``IndexError``, ``AttributeError``, ``KeyError`` ...), and Python's truthiness rules.
"""

from __future__ import annotations

import ast
import logging
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import pandas as pd

from hepde.errors import DEError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "ALLOWED_METHODS",
    "Expression",
    "ExpressionError",
    "ExpressionSyntaxError",
    "ForbiddenOperationError",
    "maybe_fail_on_error",
    "parse_expression",
]

logger = logging.getLogger(__name__)

# The real ``getattr``, bound once: the evaluator never looks it up in ``builtins`` at run time, so a
# test can replace ``builtins.getattr`` with a trip-wire while an expression runs.
_getattr: Final = getattr

#: builtins an expression may call (and only call: they are never values)
ALLOWED_FUNCTIONS: Final[Mapping[str, Callable[..., Any]]] = MappingProxyType(
    {
        "len": len,
        "min": min,
        "max": max,
        "sum": sum,
        "abs": abs,
        "any": any,
        "all": all,
        "bool": bool,
        "int": int,
        "float": float,
        "str": str,
        "round": round,
    }
)

#: method names an expression may call, on any object
ALLOWED_METHODS: Final[frozenset[str]] = frozenset(
    {
        "sum",
        "count",
        "mean",
        "min",
        "max",
        "any",
        "all",
        "isin",
        "notna",
        "isna",
        "nunique",
        "unique",
        "query",
    }
)

#: keyword arguments that would let an allowed call write into a product
FORBIDDEN_KEYWORDS: Final[frozenset[str]] = frozenset({"out", "inplace"})

#: attribute names (not starting with ``_``) that only lead to interpreter internals
FORBIDDEN_ATTRIBUTES: Final[frozenset[str]] = frozenset(
    {
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "ag_await",
        "tb_frame",
        "tb_next",
        "func_globals",
        "func_code",
    }
)

#: deepest syntax-tree nesting accepted (the evaluator is recursive)
MAX_DEPTH: Final = 100
#: largest integer power result, in bits, that ``**`` may compute
MAX_POWER_BITS: Final = 100_000
#: longest string/bytes/list/tuple that ``*`` repetition may build
MAX_SEQUENCE_LENGTH: Final = 1_000_000

_FAIL_ON_ERROR: Final = re.compile(r"fail_on_error\s*\(\s*(.*)\s*\)")
_BACKTICK_NAME: Final = re.compile(r"`[^`\n]*`")

_UNARY_OPS: Final[Mapping[type[ast.unaryop], Callable[[Any], Any]]] = MappingProxyType(
    {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
)
_BINARY_OPS: Final[Mapping[type[ast.operator], Callable[[Any, Any], Any]]] = MappingProxyType(
    {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv,
        ast.Mod: operator.mod,
        ast.Pow: operator.pow,
        ast.BitAnd: operator.and_,
        ast.BitOr: operator.or_,
    }
)
_OPERATOR_SYMBOLS: Final[Mapping[type[ast.operator], str]] = MappingProxyType(
    {ast.LShift: "<<", ast.RShift: ">>", ast.BitXor: "^", ast.MatMult: "@"}
)


def _not_in(a: Any, b: Any) -> Any:
    return a not in b


def _in(a: Any, b: Any) -> Any:
    return a in b


_COMPARE_OPS: Final[Mapping[type[ast.cmpop], Callable[[Any, Any], Any]]] = MappingProxyType(
    {
        ast.Eq: operator.eq,
        ast.NotEq: operator.ne,
        ast.Lt: operator.lt,
        ast.LtE: operator.le,
        ast.Gt: operator.gt,
        ast.GtE: operator.ge,
        ast.Is: operator.is_,
        ast.IsNot: operator.is_not,
        ast.In: _in,
        ast.NotIn: _not_in,
    }
)

#: constructs rejected by name
_FORBIDDEN_CONSTRUCTS: Final[Mapping[type[ast.AST], str]] = MappingProxyType(
    {
        ast.Lambda: "lambda expressions are not allowed",
        ast.ListComp: "list comprehensions are not allowed",
        ast.SetComp: "set comprehensions are not allowed",
        ast.DictComp: "dict comprehensions are not allowed",
        ast.GeneratorExp: "generator expressions are not allowed",
        ast.NamedExpr: "assignment expressions (':=') are not allowed",
        ast.JoinedStr: "f-strings are not allowed",
        ast.FormattedValue: "f-strings are not allowed",
        ast.Starred: "'*' unpacking is not allowed",
        ast.Await: "'await' expressions are not allowed",
        ast.Yield: "'yield' expressions are not allowed",
        ast.YieldFrom: "'yield from' expressions are not allowed",
    }
)


class ExpressionError(DEError):
    """An expression uses syntax or a construct the evaluator does not accept.

    ``reason`` says what is wrong; ``text`` is the expression that was being parsed.
    """

    def __init__(self, reason: str, text: str = "") -> None:
        self.reason = reason
        self.text = text
        super().__init__(reason)


class ExpressionSyntaxError(ExpressionError):
    """The expression is not valid Python expression syntax."""


class ForbiddenOperationError(ExpressionError):
    """An expression tried, while running, something the evaluator never allows.

    Unlike ordinary evaluation errors, ``fail_on_error(...)`` does not turn this into ``False``.
    """


def maybe_fail_on_error(text: str) -> tuple[str, bool]:
    """Split off a ``fail_on_error(...)`` wrapper, exactly as the original did.

    ``text`` should already be stripped.  Returns the inner text and ``True`` when the whole text
    matches ``fail_on_error\\s*\\(\\s*(.*)\\s*\\)``, else ``(text, False)``.
    """
    match = _FAIL_ON_ERROR.fullmatch(text)
    if match is None:
        return text, False
    return match.group(1), True


# --------------------------------------------------------------------------------------------------
# parse-time validation


class _Validator:
    """Walks a syntax tree once: rejects what is not allowed and collects the names used."""

    def __init__(self, text: str, *, allow_query: bool = True) -> None:
        self.text = text
        self.allow_query = allow_query
        self.names: list[str] = []
        self.function_names: list[str] = []

    def fail(self, reason: str) -> ExpressionError:
        return ExpressionError(reason, self.text)

    def visit(self, node: ast.AST, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise self.fail(f"the expression is nested more than {MAX_DEPTH} levels deep")
        forbidden = _FORBIDDEN_CONSTRUCTS.get(type(node))
        if forbidden is not None:
            raise self.fail(forbidden)
        visitor = _getattr(self, "visit_" + type(node).__name__, None)
        if visitor is None:
            raise self.fail(f"'{type(node).__name__}' expressions are not allowed")
        visitor(node, depth + 1)

    def visit_all(self, nodes: list[Any], depth: int) -> None:
        for child in nodes:
            if child is not None:
                self.visit(child, depth)

    # -- leaves and displays --------------------------------------------------------------------
    def visit_Expression(self, node: ast.Expression, depth: int) -> None:
        self.visit(node.body, depth)

    def visit_Constant(self, node: ast.Constant, depth: int) -> None:
        return None

    def visit_Name(self, node: ast.Name, depth: int) -> None:
        if node.id.startswith("__"):
            raise self.fail(f"name '{node.id}' is not allowed (names starting with '__')")
        self.names.append(node.id)

    def visit_Tuple(self, node: ast.Tuple, depth: int) -> None:
        self.visit_all(node.elts, depth)

    visit_List = visit_Tuple
    visit_Set = visit_Tuple

    def visit_Dict(self, node: ast.Dict, depth: int) -> None:
        if any(key is None for key in node.keys):
            raise self.fail("'**' unpacking is not allowed")
        self.visit_all(node.keys, depth)
        self.visit_all(node.values, depth)

    # -- access ---------------------------------------------------------------------------------
    def check_attribute_name(self, attr: str) -> None:
        if attr.startswith("_"):
            raise self.fail(f"access to attribute '{attr}' is not allowed (names starting with '_')")
        if attr in FORBIDDEN_ATTRIBUTES:
            raise self.fail(f"access to attribute '{attr}' is not allowed")

    def visit_Attribute(self, node: ast.Attribute, depth: int) -> None:
        self.visit(node.value, depth)  # inner problems first, in evaluation order
        self.check_attribute_name(node.attr)

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> None:
        self.visit(node.value, depth)
        self.visit(node.slice, depth)

    def visit_Slice(self, node: ast.Slice, depth: int) -> None:
        self.visit_all([node.lower, node.upper, node.step], depth)

    # -- operators ------------------------------------------------------------------------------
    def visit_BoolOp(self, node: ast.BoolOp, depth: int) -> None:
        self.visit_all(node.values, depth)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> None:
        self.visit(node.operand, depth)

    def visit_BinOp(self, node: ast.BinOp, depth: int) -> None:
        if type(node.op) not in _BINARY_OPS:
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise self.fail(f"operator '{symbol}' is not allowed")
        self.visit(node.left, depth)
        self.visit(node.right, depth)

    def visit_Compare(self, node: ast.Compare, depth: int) -> None:
        self.visit(node.left, depth)
        self.visit_all(node.comparators, depth)

    def visit_IfExp(self, node: ast.IfExp, depth: int) -> None:
        self.visit_all([node.test, node.body, node.orelse], depth)

    # -- calls ----------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call, depth: int) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in ALLOWED_FUNCTIONS:
                hint = ""
                if func.id == "fail_on_error":
                    hint = "; fail_on_error(...) must wrap the whole expression"
                raise self.fail(f"call to '{func.id}' is not allowed{hint}")
            self.function_names.append(func.id)
        elif isinstance(func, ast.Attribute):
            self.visit(func.value, depth)
            self.check_attribute_name(func.attr)
            if func.attr not in ALLOWED_METHODS or (func.attr == "query" and not self.allow_query):
                raise self.fail(f"call to method '{func.attr}' is not allowed")
            if func.attr == "query":
                self.check_query_call(node)
        else:
            self.visit(func, depth)  # names a forbidden callee construct (lambda ...) if there is one
            raise self.fail("only allowed functions and methods can be called, by name")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("'*' unpacking is not allowed")
            self.visit(arg, depth)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail("'**' unpacking is not allowed")
            if keyword.arg.startswith("_") or keyword.arg in FORBIDDEN_KEYWORDS:
                raise self.fail(f"keyword argument '{keyword.arg}' is not allowed")
            self.visit(keyword.value, depth)

    def check_query_call(self, node: ast.Call) -> None:
        if (
            len(node.args) != 1
            or node.keywords
            or not isinstance(node.args[0], ast.Constant)
            or not isinstance(node.args[0].value, str)
        ):
            raise self.fail("query() takes exactly one literal string and no keyword arguments")
        _validate_query_string(node.args[0].value, self.text)


def _validate_query_string(query: str, text: str) -> None:
    """Check a ``DataFrame.query`` string: a plain expression over column names.

    Backtick-quoted column names are allowed; ``@`` (the caller's local variables) is not; the rest
    must pass the same rules as an expression, without nested ``query`` calls.
    """
    if "@" in query:
        raise ExpressionError("query strings may not use '@' (references to local variables)", text)
    plain = _BACKTICK_NAME.sub(lambda m: f"_bt{m.start()}", query)
    if "`" in plain:
        raise ExpressionError("query string has an unbalanced backtick", text)
    tree = _parse_tree(plain, text)
    try:
        _Validator(text, allow_query=False).visit(tree)
    except ExpressionError as exc:
        raise ExpressionError(f"in query string {query!r}: {exc.reason}", text) from None


def _parse_tree(text: str, whole: str) -> ast.Expression:
    try:
        return ast.parse(text, "<expression>", mode="eval")
    except SyntaxError as exc:
        detail = exc.msg or "invalid syntax"
        raise ExpressionSyntaxError(
            f"The following expression string could not be parsed: {text!r} ({detail})", whole
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionSyntaxError(
            f"The following expression string could not be parsed: {text!r} ({type(exc).__name__}: {exc})",
            whole,
        ) from None


def parse_expression(text: str) -> Expression:
    """Parse and validate ``text``; raise :class:`ExpressionError` naming what is not allowed."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}", str(text))
    inner, fail_on_error = maybe_fail_on_error(text.strip())
    tree = _parse_tree(inner, inner)
    validator = _Validator(inner)
    try:
        validator.visit(tree)
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply", inner) from None
    required = frozenset(validator.names) - frozenset(validator.function_names)
    return Expression(
        source=text, text=inner, fail_on_error=fail_on_error, required_names=required, tree=tree
    )


# --------------------------------------------------------------------------------------------------
# evaluation


def _check_attribute(attr: str) -> None:
    """Repeat the validator's attribute check, in case a tree was changed after parsing."""
    if attr.startswith("_") or attr in FORBIDDEN_ATTRIBUTES:  # pragma: no cover - validated already
        raise ForbiddenOperationError(f"access to attribute '{attr}' is not allowed")


def _check_power(base: Any, exponent: Any) -> None:
    if issubclass(type(base), int) and issubclass(type(exponent), int) and exponent > 0:
        bits = abs(int(base)).bit_length()
        if bits > 1 and bits * exponent > MAX_POWER_BITS:
            raise OverflowError(f"integer power result too large (limit {MAX_POWER_BITS} bits)")


def _check_repetition(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if issubclass(type(seq), (str, bytes, list, tuple)) and issubclass(type(count), int):
            if len(seq) * count > MAX_SEQUENCE_LENGTH:
                raise OverflowError(f"repeated sequence too long (limit {MAX_SEQUENCE_LENGTH} items)")


class _Interpreter:
    """Evaluates a validated tree against a namespace; only ever calls allow-listed callables."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace

    def visit_node(self, node: ast.AST) -> Any:
        handler = _HANDLERS.get(type(node))
        if handler is None:  # pragma: no cover - the validator rejected it already
            raise ForbiddenOperationError(f"'{type(node).__name__}' expressions are not allowed")
        return handler(self, node)

    def eval_Expression(self, node: ast.Expression) -> Any:
        return self.visit_node(node.body)

    def eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def eval_Name(self, node: ast.Name) -> Any:
        try:
            return self.namespace[node.id]
        except KeyError:
            raise NameError(f"name '{node.id}' is not defined", name=node.id) from None

    def eval_Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.visit_node(e) for e in node.elts)

    def eval_List(self, node: ast.List) -> Any:
        return [self.visit_node(e) for e in node.elts]

    def eval_Set(self, node: ast.Set) -> Any:
        return {self.visit_node(e) for e in node.elts}

    def eval_Dict(self, node: ast.Dict) -> Any:
        result = {}
        for key, value in zip(node.keys, node.values, strict=True):
            assert key is not None  # '**' was rejected by the validator
            k = self.visit_node(key)
            result[k] = self.visit_node(value)
        return result

    def eval_Attribute(self, node: ast.Attribute) -> Any:
        value = self.visit_node(node.value)
        _check_attribute(node.attr)
        return _getattr(value, node.attr)

    def eval_Subscript(self, node: ast.Subscript) -> Any:
        value = self.visit_node(node.value)
        return operator.getitem(value, self.visit_node(node.slice))

    def eval_Slice(self, node: ast.Slice) -> Any:
        lower = None if node.lower is None else self.visit_node(node.lower)
        upper = None if node.upper is None else self.visit_node(node.upper)
        step = None if node.step is None else self.visit_node(node.step)
        return slice(lower, upper, step)

    def eval_BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for operand in node.values:
            value = self.visit_node(operand)
            if (not value) if is_and else value:
                return value
        return value

    def eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY_OPS[type(node.op)](self.visit_node(node.operand))

    def eval_BinOp(self, node: ast.BinOp) -> Any:
        left = self.visit_node(node.left)
        right = self.visit_node(node.right)
        op = type(node.op)
        if op is ast.Pow:
            _check_power(left, right)
        elif op is ast.Mult:
            _check_repetition(left, right)
        elif op is ast.Mod and issubclass(type(left), (str, bytes)):
            raise ForbiddenOperationError("string formatting with '%' is not allowed")
        return _BINARY_OPS[op](left, right)

    def eval_Compare(self, node: ast.Compare) -> Any:
        left = self.visit_node(node.left)
        last = len(node.ops) - 1
        result: Any = None
        for i, (op, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            right = self.visit_node(comparator)
            result = _COMPARE_OPS[type(op)](left, right)
            if i == last or not result:  # a chain stops at the first false link, as in Python
                return result
            left = right
        return result  # pragma: no cover - a Compare has at least one operator

    def eval_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit_node(node.body) if self.visit_node(node.test) else self.visit_node(node.orelse)

    def eval_Call(self, node: ast.Call) -> Any:
        func = node.func
        obj: Any = None
        if isinstance(func, ast.Name) and func.id in ALLOWED_FUNCTIONS:
            target: Callable[..., Any] = ALLOWED_FUNCTIONS[func.id]
        elif isinstance(func, ast.Attribute) and func.attr in ALLOWED_METHODS:
            obj = self.visit_node(func.value)
            _check_attribute(func.attr)
            target = _getattr(obj, func.attr)
        else:  # pragma: no cover - the validator rejected it already
            raise ForbiddenOperationError("call to a function or method outside the allow-list")
        args = [self.visit_node(a) for a in node.args]
        kwargs = {k.arg: self.visit_node(k.value) for k in node.keywords if k.arg is not None}
        for value in (*args, *kwargs.values()):
            if callable(value):
                raise ForbiddenOperationError("functions and methods cannot be passed as arguments")
        if isinstance(func, ast.Attribute) and func.attr == "query" and issubclass(type(obj), pd.DataFrame):
            # the string was validated; never let pandas resolve names in this frame
            return target(*args, local_dict={}, global_dict={})
        return target(*args, **kwargs)


_HANDLERS: Final[Mapping[type[ast.AST], Callable[[_Interpreter, Any], Any]]] = MappingProxyType(
    {
        ast.Expression: _Interpreter.eval_Expression,
        ast.Constant: _Interpreter.eval_Constant,
        ast.Name: _Interpreter.eval_Name,
        ast.Tuple: _Interpreter.eval_Tuple,
        ast.List: _Interpreter.eval_List,
        ast.Set: _Interpreter.eval_Set,
        ast.Dict: _Interpreter.eval_Dict,
        ast.Attribute: _Interpreter.eval_Attribute,
        ast.Subscript: _Interpreter.eval_Subscript,
        ast.Slice: _Interpreter.eval_Slice,
        ast.BoolOp: _Interpreter.eval_BoolOp,
        ast.UnaryOp: _Interpreter.eval_UnaryOp,
        ast.BinOp: _Interpreter.eval_BinOp,
        ast.Compare: _Interpreter.eval_Compare,
        ast.IfExp: _Interpreter.eval_IfExp,
        ast.Call: _Interpreter.eval_Call,
    }
)


@dataclass(frozen=True)
class Expression:
    """A parsed, validated expression.

    ``source`` is the configured text, ``text`` the part that was parsed (inside
    ``fail_on_error(...)`` if present), ``required_names`` the free names the expression reads
    (every name minus names only used as called functions, as in the original).
    """

    source: str
    text: str
    fail_on_error: bool
    required_names: frozenset[str]
    tree: ast.Expression = field(repr=False, compare=False)

    def evaluate(self, namespace: Mapping[str, Any]) -> Any:
        """Return the expression's value with names looked up in ``namespace``.

        Evaluation errors propagate with Python's own types and messages, unless the expression
        was wrapped in ``fail_on_error(...)``: then the error is logged and the value is ``False``.
        """
        return self._run(namespace, as_bool=False)

    def evaluate_bool(self, namespace: Mapping[str, Any]) -> bool:
        """Like :meth:`evaluate`, coerced with ``bool()`` (a failing coercion counts as an error)."""
        return bool(self._run(namespace, as_bool=True))

    def _run(self, namespace: Mapping[str, Any], *, as_bool: bool) -> Any:
        try:
            value = _Interpreter(namespace).visit_node(self.tree)
            return bool(value) if as_bool else value
        except ForbiddenOperationError:
            raise
        except Exception as exc:
            if not self.fail_on_error:
                raise
            logger.exception(
                "The following exception was suppressed, and the Boolean expression will evaluate to "
                "False: %s: %s (expression %r)",
                type(exc).__name__,
                exc,
                self.text,
            )
            return False

    def __str__(self) -> str:
        return self.text
