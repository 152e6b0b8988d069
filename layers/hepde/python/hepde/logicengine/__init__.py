"""The logic engine: safe fact/rule expressions and the original's rule semantics.

* :mod:`hepde.logicengine.evaluator` parses and evaluates expressions without ``eval``;
* :mod:`hepde.logicengine.engine` is the :class:`LogicEngine` module.
"""

from hepde.logicengine.engine import FACTS_COLUMNS, FACTS_PRODUCT, Evaluation, LogicEngine, Rule
from hepde.logicengine.evaluator import (
    Expression,
    ExpressionError,
    ExpressionSyntaxError,
    ForbiddenOperationError,
    parse_expression,
)

__all__ = [
    "FACTS_COLUMNS",
    "FACTS_PRODUCT",
    "Evaluation",
    "Expression",
    "ExpressionError",
    "ExpressionSyntaxError",
    "ForbiddenOperationError",
    "LogicEngine",
    "Rule",
    "parse_expression",
]
