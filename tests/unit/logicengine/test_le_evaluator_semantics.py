"""The evaluator computes what Python would for the accepted subset, with a few safety guards."""

import logging

import numpy as np
import pandas as pd
import pytest

from hepde.logicengine.evaluator import ForbiddenOperationError, parse_expression


def value(text: str, **namespace: object) -> object:
    return parse_expression(text).evaluate(namespace)


@pytest.mark.parametrize(
    ("text", "namespace", "expected"),
    [
        ("1 + 2 * 3 - 4 / 2", {}, 5.0),
        ("7 // 2 + 7 % 2 + 2 ** 3", {}, 12),
        ("-x + +x + ~0", {"x": 3}, -1),
        ("1 < x < 3", {"x": 2}, True),
        ("1 < x < 3", {"x": 3}, False),
        ("x == 1 != 2", {"x": 1}, True),
        ("x in [1, 2] and y not in (1, 2)", {"x": 1, "y": 3}, True),
        ("x is None and y is not None", {"x": None, "y": 0}, True),
        ("x or 'default'", {"x": ""}, "default"),
        ("x and y", {"x": 1, "y": 0}, 0),
        ("x and y", {"x": [], "y": 0}, []),
        ("not x", {"x": []}, True),
        ("'yes' if x else 'no'", {"x": 0}, "no"),
        ("x[1:3]", {"x": [0, 1, 2, 3]}, [1, 2]),
        ("x[::-1][0]", {"x": [0, 1, 2]}, 2),
        ("d['a']['b']", {"d": {"a": {"b": 5}}}, 5),
        ("{'a': 1, 'b': x}", {"x": 2}, {"a": 1, "b": 2}),
        ("{1, 2, x}", {"x": 2}, {1, 2}),
        ("(x,)", {"x": 1}, (1,)),
        ("[1, x][-1]", {"x": 9}, 9),
        ("len(x) + max(x) + min(x) + sum(x)", {"x": [1, 2, 3]}, 13),
        ("abs(x) + round(2.567, 2)", {"x": -1}, 3.57),
        ("x.count(2)", {"x": [2, 2, 3]}, 2),
        ("x & y | z", {"x": True, "y": False, "z": True}, True),
        ("max(x, default=-1)", {"x": []}, -1),
    ],
)
def test_expressions_compute_what_python_computes(
    text: str, namespace: dict[str, object], expected: object
) -> None:
    assert value(text, **namespace) == expected


def test_and_or_short_circuit_like_python() -> None:
    # the right-hand side would raise NameError if it were evaluated
    assert value("x or missing", x=1) == 1
    assert value("x and missing", x=0) == 0
    assert value("missing if x else 2", x=0) == 2


def test_a_comparison_chain_stops_at_the_first_false_link() -> None:
    assert value("x > 1 > missing", x=0) is False


def test_a_single_comparison_of_a_series_is_not_coerced_to_bool() -> None:
    result = value("s > 1", s=pd.Series([1, 2, 3]))
    assert list(result) == [False, True, True]  # type: ignore[call-overload]


def test_a_chain_over_a_series_fails_like_python() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        value("0 < s < 3", s=pd.Series([1, 2]))


def test_numpy_masks_combine_with_bitwise_operators() -> None:
    v = np.arange(6)
    assert value("v[(v > 1) & ~(v == 3) | (v == 0)].sum()", v=v) == 0 + 2 + 4 + 5


def test_an_unknown_name_uses_pythons_wording() -> None:
    with pytest.raises(NameError, match="^name 'x' is not defined$"):
        value("x + 1")


def test_errors_keep_their_python_types() -> None:
    with pytest.raises(KeyError):
        value("d['missing']", d={})
    with pytest.raises(ZeroDivisionError):
        value("1 / x", x=0)
    with pytest.raises(TypeError):
        value("x + 'a'", x=1)
    with pytest.raises(AttributeError):
        value("x.nope", x=1)


def test_a_builtin_name_is_never_a_value() -> None:
    # 'len' is only callable: as a value it is looked up among the products, like any name
    with pytest.raises(NameError, match="name 'len' is not defined"):
        value("len")
    assert parse_expression("len == 1").required_names == {"len"}
    assert value("len == 1", len=1) is True


def test_a_product_named_like_a_builtin_does_not_shadow_the_call() -> None:
    # Divergence: in the original a product named 'len' replaced the builtin in calls.
    assert value("len(x)", x=[1, 2], len=lambda _: 99) == 2


def test_a_method_cannot_be_passed_as_an_argument() -> None:
    with pytest.raises(ForbiddenOperationError, match="cannot be passed as arguments"):
        value("max(x, key=x.count)", x=[1, 2])
    with pytest.raises(ForbiddenOperationError):
        value("str(x.sum)", x=np.arange(2))


def test_huge_integer_powers_are_refused() -> None:
    with pytest.raises(OverflowError, match="integer power result too large"):
        value("9 ** 9 ** 9")
    assert value("2 ** 64") == 2**64
    assert value("2 ** -1") == 0.5


def test_huge_sequence_repetition_is_refused() -> None:
    with pytest.raises(OverflowError, match="repeated sequence too long"):
        value("'a' * 10 ** 9")
    with pytest.raises(OverflowError):
        value("10 ** 7 * [0]")
    assert value("'ab' * 2") == "abab"


def test_percent_string_formatting_is_refused() -> None:
    with pytest.raises(ForbiddenOperationError, match="string formatting"):
        value("'%*d' % (10 ** 8, 1)")
    assert value("x % 3", x=7) == 1


def test_a_forbidden_operation_is_not_suppressed_by_fail_on_error() -> None:
    with pytest.raises(ForbiddenOperationError):
        parse_expression("fail_on_error('%s' % x)").evaluate({"x": 1})


def test_fail_on_error_makes_the_raw_value_false_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    expression = parse_expression("fail_on_error(x[3])")
    with caplog.at_level(logging.ERROR):
        assert expression.evaluate({"x": [1]}) is False
    assert "IndexError" in caplog.text
    assert expression.evaluate({"x": [1, 2, 3, 4]}) == 4


def test_dataframe_query_never_sees_the_callers_variables() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b c": [3, 2, 1]})
    assert value("df.query('a > 1 and `b c` < 3').shape[0]", df=frame) == 2
    with pytest.raises(Exception, match="not defined"):
        value("df.query('namespace > 1')", df=frame)


def test_a_query_on_a_non_dataframe_calls_its_query_method() -> None:
    class Queryable:
        def query(self, text: str) -> str:
            return text.upper()

    assert value("q.query('a > 1')", q=Queryable()) == "A > 1"


def test_a_mapping_that_raises_key_error_for_missing_products_works_as_a_namespace() -> None:
    class Block(dict):  # like a DataBlock: __getitem__ raises a KeyError subclass
        def __getitem__(self, key: str) -> object:
            if key not in self.keys():
                raise KeyError(key)
            return super().__getitem__(key)

    with pytest.raises(NameError, match="name 'p' is not defined"):
        parse_expression("p > 1").evaluate(Block())
