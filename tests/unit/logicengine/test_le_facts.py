"""Original ``logicengine/tests/test_facts.py`` (``BooleanExpression``), on :func:`parse_expression`."""

import numpy as np
import pytest

from hepde.logicengine.evaluator import ExpressionError, ExpressionSyntaxError, parse_expression


def test_a_simple_fact_requires_its_name_and_respects_the_boundary() -> None:
    fact = parse_expression("z < 100")
    assert fact.required_names == {"z"}
    assert fact.evaluate_bool({"z": 50}) is True
    assert fact.evaluate_bool({"z": 100}) is False
    assert fact.evaluate_bool({"z": 200}) is False


def test_a_syntax_error_is_reported_when_the_expression_is_parsed() -> None:
    # Divergence: the original raised SyntaxError and logged the same wording.
    with pytest.raises(ExpressionSyntaxError, match="The following expression string could not be parsed"):
        parse_expression("z <")


def test_a_compound_fact_with_surrounding_spaces() -> None:
    fact = parse_expression(" z < 100 and a == 4 ")
    assert fact.required_names == {"z", "a"}
    assert fact.evaluate_bool({"z": 50, "a": 4}) is True
    assert fact.evaluate_bool({"z": 100, "a": 4}) is False
    assert fact.evaluate_bool({"z": 200, "a": 4}) is False
    assert fact.evaluate_bool({"z": 200, "a": 5}) is False
    assert fact.evaluate_bool({"z": 100, "a": 5}) is False
    assert fact.evaluate_bool({"z": 50, "a": 5}) is False


def test_a_nested_attribute_requires_only_the_outer_name() -> None:
    fact = parse_expression("z > 100 and b.c == 10")
    assert fact.required_names == {"z", "b"}


def test_fail_on_error_is_not_a_required_name() -> None:
    fact = parse_expression("fail_on_error(a[0])")
    assert fact.required_names == {"a"}
    assert fact.fail_on_error is True
    assert fact.text == "a[0]"


def test_names_only_called_as_functions_are_not_required() -> None:
    assert parse_expression("len(vals) == 10").required_names == {"vals"}
    assert parse_expression("vals.sum() > blob.available").required_names == {"vals", "blob"}


def test_a_fact_can_call_methods_of_a_numpy_array() -> None:
    fact = parse_expression("vals.sum() > 40")
    assert fact.required_names == {"vals"}
    assert fact.evaluate_bool({"vals": np.arange(3)}) is False
    assert fact.evaluate_bool({"vals": np.arange(10)}) is True


def test_a_numpy_module_function_is_not_available() -> None:
    # The original parsed "np.sum(vals) > 40" (required names {np, vals}) and failed at run time with
    # "name 'np' is not defined".  Here the method name 'sum' is allowed, so it still parses and still
    # fails the same way at run time, because 'np' is not a product.
    fact = parse_expression("np.sum(vals) > 40")
    assert fact.required_names == {"vals", "np"}
    with pytest.raises(NameError, match="name 'np' is not defined"):
        fact.evaluate({"vals": np.arange(3)})


def test_a_numpy_function_outside_the_allow_list_is_rejected_at_parse_time() -> None:
    # Divergence: the original only failed when the fact ran.
    with pytest.raises(ExpressionError, match="call to method 'arange' is not allowed"):
        parse_expression("np.arange(vals).size > 4")
