"""The evaluator's allow-list: what is rejected when an expression is parsed, and why."""

import pytest

from hepde.logicengine.evaluator import ExpressionError, ExpressionSyntaxError, parse_expression


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os').system('true')", "call to '__import__' is not allowed"),
        ("open('/etc/passwd').read()", "call to 'open' is not allowed"),
        ("eval('1')", "call to 'eval' is not allowed"),
        ("getattr(x, 'y')", "call to 'getattr' is not allowed"),
        ("type(x)", "call to 'type' is not allowed"),
        ("().__class__", "access to attribute '__class__' is not allowed"),
        ("x.__class__.__bases__", "access to attribute '__class__' is not allowed"),
        ("x._private", "access to attribute '_private' is not allowed"),
        ("x.gi_frame", "access to attribute 'gi_frame' is not allowed"),
        ("__builtins__", "name '__builtins__' is not allowed"),
        ("(lambda: 1)()", "lambda expressions are not allowed"),
        ("lambda: 1", "lambda expressions are not allowed"),
        ("[v for v in x]", "list comprehensions are not allowed"),
        ("{v for v in x}", "set comprehensions are not allowed"),
        ("{v: 1 for v in x}", "dict comprehensions are not allowed"),
        ("any(v for v in x)", "generator expressions are not allowed"),
        ("(y := 1)", "assignment expressions (':=') are not allowed"),
        ("f'{x}'", "f-strings are not allowed"),
        ("f'{x!r:>{10}}' == ''", "f-strings are not allowed"),
        ("[*x]", "'*' unpacking is not allowed"),
        ("len(*x)", "'*' unpacking is not allowed"),
        ("{**x}", "'**' unpacking is not allowed"),
        ("max(**x)", "'**' unpacking is not allowed"),
        ("x.format(1)", "call to method 'format' is not allowed"),
        ("'{0.__class__}'.format(x)", "call to method 'format' is not allowed"),
        ("x.apply(len)", "call to method 'apply' is not allowed"),
        ("x.eval('a > 1')", "call to method 'eval' is not allowed"),
        # the original's test_bool_function_name.py: a callee that is neither a name nor an attribute
        ("x[0]()", "only allowed functions and methods can be called, by name"),
        ("(x or y)(1)", "only allowed functions and methods can be called, by name"),
        ("x.sum(out=y)", "keyword argument 'out' is not allowed"),
        ("x.sum(_x=1)", "keyword argument '_x' is not allowed"),
        ("x << 2", "operator '<<' is not allowed"),
        ("x >> 2", "operator '>>' is not allowed"),
        ("x ^ y", "operator '^' is not allowed"),
        ("x @ y", "operator '@' is not allowed"),
        ("fail_on_error(x) and y", "fail_on_error(...) must wrap the whole expression"),
        ("query('a > 1')", "call to 'query' is not allowed"),
        ("x.query(q)", "query() takes exactly one literal string"),
        ("x.query('a > 1', local_dict={})", "query() takes exactly one literal string"),
        ("x.query('a > @b')", "may not use '@'"),
        ("x.query('a.__class__')", "access to attribute '__class__' is not allowed"),
        ("x.query('a.apply(f)')", "call to method 'apply' is not allowed"),
        ("x.query('b.query(\"c\")')", "call to method 'query' is not allowed"),
        ("x.query('`a b > 1')", "unbalanced backtick"),
        ("-" * 200 + "1", "nested more than"),
    ],
)
def test_a_forbidden_construct_is_rejected_with_its_name(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    assert reason in str(info.value)
    assert info.value.reason == str(info.value)


@pytest.mark.parametrize("text", ["z <", "x = 1", "import os", "", "a b", "x\0"])
def test_text_that_is_not_an_expression_is_a_syntax_error(text: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="could not be parsed"):
        parse_expression(text)


def test_a_non_string_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="must be a string"):
        parse_expression(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "x.query('`a b` > 1 and c in [1, 2]')",
        "x.query('a.isin([1, 2]) | ~b')",
        "len(x) > 0 and min(x) >= 0 and max(x, default=0) < 10",
        "round(abs(sum(x) / len(x)), 2) == 1.5",
        "int('3') + float('1.5') == 4.5 and str(1) == '1' and bool(1)",
        "any(x) or all(x)",
        "x.count(1) + x.one.nunique() + x.unique().size",
        "x[1:2, ::-1][...] if x.shape else None",
        "(1, [2], {3}, {'a': 4}) != None",
    ],
)
def test_allowed_constructs_parse(text: str) -> None:
    parse_expression(text)
