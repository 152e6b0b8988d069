"""Property test: no expression string escapes the evaluator's allow-list.

Random expressions are generated from a grammar that mixes allowed constructs with forbidden ones
(``__import__('os')``, ``().__class__``, ``open('x')``, lambdas, comprehensions, ``getattr`` ...).
Each one must either be rejected by :func:`parse_expression` (with an ``ExpressionError``, never
anything else) or evaluate while:

* no trip-wired builtin (``__import__``, ``open``, ``getattr``, ``eval``, ``exec`` ...) is called;
* no Python function outside the evaluator runs, except the allow-listed methods of the namespace's
  objects (checked with a profiler hook), and no C function outside a fixed safe set runs;
* no attribute starting with ``_`` is read from a namespace object, and no forbidden method runs;
* the namespace's objects are unchanged afterwards.
"""

from __future__ import annotations

import builtins
import copy
import gc
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hepde.logicengine import evaluator
from hepde.logicengine.evaluator import ALLOWED_FUNCTIONS, ALLOWED_METHODS, ExpressionError, parse_expression

# bound before any trip-wire replaces the builtins of the same names
_getattr = getattr
_setattr = setattr
EVENTS: list[str] = []  # anything that must never happen, recorded by the probes below


class Tripped(BaseException):
    """Raised by a trip-wire; a BaseException so that fail_on_error(...) cannot swallow it."""


class Probe:
    """A namespace object that records every read of an underscore attribute and forbidden calls."""

    value = 5

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            EVENTS.append(f"underscore attribute {name!r} read")
        return object.__getattribute__(self, name)

    def sum(self, *args: Any, **kwargs: Any) -> int:
        return 1

    def count(self, *args: Any, **kwargs: Any) -> int:
        return 2

    def boom(self, *args: Any, **kwargs: Any) -> None:
        EVENTS.append("forbidden method Probe.boom called")

    def pop(self, *args: Any, **kwargs: Any) -> None:
        EVENTS.append("forbidden method Probe.pop called")


def make_namespace() -> dict[str, Any]:
    return {
        "x": 3,
        "y": 2.5,
        "s": "abc",
        "lst": [1, 2, 3],
        "d": {"a": 1, "k": [1, 2]},
        "t": (1, "a"),
        "none": None,
        "flag": True,
        "obj": Probe(),
        "objs": [Probe(), Probe()],
    }


TRIPWIRED = (
    "__import__",
    "open",
    "getattr",
    "setattr",
    "delattr",
    "eval",
    "exec",
    "compile",
    "vars",
    "globals",
    "locals",
    "breakpoint",
    "input",
    "print",
    "dir",
    "hasattr",
)

# C functions the evaluator itself uses, plus what the allow-listed functions and methods are called
SAFE_C_FUNCTIONS = (
    set(ALLOWED_FUNCTIONS)
    | set(ALLOWED_METHODS)
    | {
        "getattr",  # the evaluator's own attribute reads (bound before the trip-wires)
        "get",  # its handler table
        "values",  # its keyword arguments
        "isinstance",
        "issubclass",
        "callable",
        "len",
        "zip",
        "enumerate",
        "getitem",
        "not_",
        "neg",
        "pos",
        "invert",
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "and_",
        "or_",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "is_",
        "is_not",
        "bit_length",
        "disable",  # logging.disable in this test
        "isEnabledFor",
        "acquire",  # logging's level-cache lock (fail_on_error logs)
        "release",
        "__getattribute__",  # object.__getattribute__ inside Probe
        "setprofile",
        "append",  # EVENTS.append inside the probes (only ever reached on a violation)
        "startswith",  # Probe.__getattribute__ checking names
    }
)
# Python-level functions allowed to run: the evaluator's, logging's (fail_on_error) and the probes'
SAFE_PY_MODULES = {evaluator.__name__, "logging", __name__}
SAFE_PROBE_METHODS = {"__getattribute__", "sum", "count", "<lambda>"}


def _profile(frame: Any, event: str, arg: Any) -> None:
    if event == "c_call":
        name = _getattr(arg, "__name__", "?")
        if name not in SAFE_C_FUNCTIONS:
            EVENTS.append(f"C function {name!r} called")
    elif event == "call":
        module = frame.f_globals.get("__name__")
        if module not in SAFE_PY_MODULES:
            EVENTS.append(f"Python function {module}.{frame.f_code.co_name} called")
        elif module == __name__ and frame.f_code.co_name not in SAFE_PROBE_METHODS:
            EVENTS.append(f"test function {frame.f_code.co_name} called")


def _tripwire_for(name: str) -> Callable[..., Any]:
    def tripwire(*args: Any, **kwargs: Any) -> Any:
        EVENTS.append(f"builtin {name} called")
        raise Tripped(name)

    return tripwire


def run_guarded(function: Callable[[], Any]) -> None:
    """Run ``function`` with dangerous builtins trip-wired and every call profiled.

    Errors it raises (and trip-wires) are swallowed: only the recorded ``EVENTS`` matter.
    """
    saved = {name: _getattr(builtins, name) for name in TRIPWIRED}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # garbage-collector callbacks (hypothesis installs one) would show up in the profile
    for name in TRIPWIRED:
        _setattr(builtins, name, _tripwire_for(name))
    sys.setprofile(_profile)
    try:
        function()
    except (Exception, Tripped):
        pass
    finally:
        sys.setprofile(None)
        for name, original in saved.items():
            _setattr(builtins, name, original)
        if gc_was_enabled:
            gc.enable()


# -- the grammar ---------------------------------------------------------------------------------

SAFE_ATOMS = ["x", "y", "s", "lst", "d", "t", "none", "flag", "obj", "objs", "1", "0", "-3", "2.5", "'a'"]
SAFE_ATOMS += ["True", "None", "()", "[]", "{}", "missing", "obj.value", "d['k']", "lst[0]"]
EVIL_ATOMS = [
    "__import__('os')",
    "__import__('os').system('echo pwned')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "getattr(obj, '_secret')",
    "eval('1')",
    "exec('x = 1')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "vars(obj)",
    "type(obj)",
    "(lambda: obj.boom())",
    "(lambda: 1)()",
    "[i for i in lst]",
    "{i: i for i in lst}",
    "(i for i in lst)",
    "(z := 1)",
    "f'{obj}'",
    "f'{obj.boom()}'",
    "obj.__dict__",
    "obj._secret",
    "obj.__class__.__mro__",
    "breakpoint()",
    "print(1)",
    "obj.gi_frame",
    "__builtins__",
    "*lst",
    "{**d}",
    "obj.boom()",
    "obj.pop()",
    "lst.pop()",
    "d.clear()",
    "s.format(obj)",
    "'{0.__class__}'.format(obj)",
    "max(lst, key=obj.boom)",
    "max(objs, key=obj.count)",
    "lst.count(obj.boom)",
    "objs.count(obj.pop)",
    "'%s' % obj",
    "9 ** 9 ** 9",
    "'a' * 10 ** 9",
    "obj.query('__import__(\"os\")')",
    "obj.query('@obj')",
    "obj.query('a.boom()')",
    "obj.query(s)",
]
BINARY = ["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>", "@", "and", "or"]
COMPARE = ["<", "<=", ">", ">=", "==", "!=", "in", "not in", "is", "is not"]
UNARY = ["-", "+", "~", "not "]
ATTRS = ["value", "real", "imag", "shape", "count"]
EVIL_ATTRS = ["boom", "_secret", "__class__", "__dict__", "gi_frame"]
FUNCTIONS = sorted(ALLOWED_FUNCTIONS)
EVIL_FUNCTIONS = ["getattr", "open", "__import__", "eval", "type", "vars", "setattr", "fail_on_error", "iter"]
METHODS = sorted(ALLOWED_METHODS)
EVIL_METHODS = ["boom", "pop", "format", "append", "__getattribute__", "_secret", "mro"]
KEYWORDS = ["key", "default", "start", "axis", "out", "inplace", "_x"]
TOKENS = ["(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "lambda", "for", "in", "if", "else", "*", "**"]
TOKENS += ["@", "`", "'", '"', "obj", "__class__", "__import__", "x", "1", "yield", "await", "import", ";"]


def _mostly(allowed: list[str], forbidden: list[str]) -> st.SearchStrategy[str]:
    """Pick an allowed name three times out of four."""
    good = st.sampled_from(allowed)
    return st.one_of(good, good, good, st.sampled_from(forbidden))


def _call(name: str, args: list[str]) -> str:
    return f"{name}({', '.join(args)})"


def expressions() -> st.SearchStrategy[str]:
    safe, evil = st.sampled_from(SAFE_ATOMS), st.sampled_from(EVIL_ATOMS)
    leaves = st.one_of(safe, safe, safe, safe, safe, evil)  # most expressions should get to run

    attrs, functions = _mostly(ATTRS, EVIL_ATTRS), _mostly(FUNCTIONS, EVIL_FUNCTIONS)
    methods = _mostly(METHODS, EVIL_METHODS)

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"({t[0]}{t[1]})"),
            st.tuples(children, st.sampled_from(COMPARE), children, st.sampled_from(COMPARE), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]} {t[3]} {t[4]})"
            ),
            st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.tuples(children, children).map(lambda t: f"({t[0]})[{t[1]}]"),
            children.map(lambda c: f"({c})[1:]"),
            st.tuples(children, attrs).map(lambda t: f"({t[0]}).{t[1]}"),
            st.tuples(functions, st.lists(children, max_size=2)).map(lambda t: _call(*t)),
            st.tuples(children, methods, st.lists(children, max_size=2)).map(
                lambda t: _call(f"({t[0]}).{t[1]}", t[2])
            ),
            st.tuples(functions, children, st.sampled_from(KEYWORDS), children).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]}={t[3]})"
            ),
            st.lists(children, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ",)"),
            st.tuples(children, children).map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        )

    grammar = st.recursive(leaves, extend, max_leaves=8)
    wrapped = grammar.map(lambda c: f" fail_on_error ( {c} ) ")
    return st.one_of(grammar, grammar, grammar, wrapped)


def token_soup() -> st.SearchStrategy[str]:
    """Mostly-invalid strings of tokens: the parser must reject them with an ExpressionError."""
    return st.lists(st.sampled_from(TOKENS + SAFE_ATOMS + EVIL_ATOMS), max_size=10).map(" ".join)


def assert_contained(text: str) -> None:
    """Parse ``text``; if it is accepted, evaluate it under the guard and check nothing escaped."""
    EVENTS.clear()
    try:
        expression = parse_expression(text)
    except ExpressionError:
        return  # rejected at parse time: fine (and nothing but ExpressionError may escape)
    namespace = make_namespace()
    plain_before = copy.deepcopy({k: v for k, v in namespace.items() if k not in ("obj", "objs")})
    previous_disable = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        run_guarded(lambda: expression.evaluate(namespace))  # ordinary evaluation errors are allowed
    finally:
        logging.disable(previous_disable)
    assert EVENTS == [], (text, EVENTS)
    assert {k: v for k, v in namespace.items() if k not in ("obj", "objs")} == plain_before


@settings(
    max_examples=1000,
    deadline=None,
    database=None,  # nothing written into the repository
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(text=expressions())
def test_no_generated_expression_escapes_the_allow_list(text: str) -> None:
    # Given any expression string from the grammar
    # When it is parsed and, if accepted, evaluated under trip-wires and a profiler
    # Then nothing outside the allow-list ran and no product changed
    assert_contained(text)


@settings(max_examples=300, deadline=None, database=None)
@given(text=token_soup())
def test_no_token_soup_escapes_the_allow_list(text: str) -> None:
    assert_contained(text)


@pytest.mark.parametrize("text", EVIL_ATOMS)
def test_every_known_attack_is_rejected_or_contained(text: str) -> None:
    assert_contained(text)
    assert_contained(f"fail_on_error({text})")
    assert_contained(f"x if flag else ({text})")


def test_the_guard_itself_notices_an_escape() -> None:
    # Given the guard / When a forbidden builtin, a foreign function and a C function run under it
    EVENTS.clear()
    run_guarded(lambda: builtins.open("/dev/null"))
    run_guarded(lambda: copy.copy(1))
    run_guarded(lambda: sorted([2, 1]))
    # Then each is recorded
    assert any("builtin open" in e for e in EVENTS)
    assert any("copy.copy" in e for e in EVENTS)
    assert any("'sorted'" in e for e in EVENTS)
    EVENTS.clear()
