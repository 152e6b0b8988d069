"""Reading the original's Python-literal ad dumps (``cq.fixture``, ``cs.fixture``, ``factory_*``) safely.

``ast.literal_eval`` after replacing attribute references such as ``classad.Value.Error`` or
``classad.Value.Undefined`` (which ``literal_eval`` refuses) by ``None``.  Nothing is executed.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any


class _Attrs(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:  # noqa: N802 - ast API
        return ast.copy_location(ast.Constant(None), node)


def load_python_literal(path: str | Path) -> Any:
    tree = ast.parse(Path(path).read_text(), mode="eval")
    tree = ast.fix_missing_locations(_Attrs().visit(tree))
    return ast.literal_eval(tree.body)
