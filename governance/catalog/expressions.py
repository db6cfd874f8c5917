"""Row expressions such as `rating >= 4 and event != "view"`, compiled to pyarrow compute expressions.

Only column names, literals, comparisons, arithmetic, `and`/`or`/`not` and `in` lists are allowed: the
text is parsed with Python's `ast`, never evaluated.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


class ExpressionError(ValueError):
    pass


_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}


def compile_expression(text: str, columns: list[str]) -> pc.Expression:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("The expression is empty.")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        raise ExpressionError(f"Cannot parse expression {text[:200]!r}.") from None
    except RecursionError:
        raise ExpressionError("The expression is nested too deeply.") from None
    try:
        return _build(tree.body, set(columns))
    except RecursionError:
        raise ExpressionError("The expression is nested too deeply.") from None


def _build(node: ast.AST, columns: set[str]) -> Any:
    if isinstance(node, ast.BoolOp):
        parts = [_build(v, columns) for v in node.values]
        out = parts[0]
        for part in parts[1:]:
            out = (out & part) if isinstance(node.op, ast.And) else (out | part)
        return out
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return ~_build(node.operand, columns)
        if isinstance(node.op, ast.USub):
            return pc.negate(_build(node.operand, columns))
    if isinstance(node, ast.Compare):
        left = _build(node.left, columns)
        out = None
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(comparator, (ast.List, ast.Tuple, ast.Set)):
                    raise ExpressionError("`in` needs a literal list, e.g. event in ['click', 'purchase'].")
                values = [_literal(e) for e in comparator.elts]
                try:
                    part = left.isin(values)
                except (pa.ArrowException, OverflowError):
                    raise ExpressionError("The values of an `in` list must be of one type and in range.") from None
                if isinstance(op, ast.NotIn):
                    part = ~part
            elif type(op) in _COMPARE:
                right = _build(comparator, columns)
                part = _COMPARE[type(op)](left, right)
            else:
                raise ExpressionError(f"Unsupported comparison {type(op).__name__}.")
            out = part if out is None else out & part
            left = _build(comparator, columns) if not isinstance(op, (ast.In, ast.NotIn)) else left
        return out
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        return pc.Expression._call(_ARITH[type(node.op)], [_build(node.left, columns), _build(node.right, columns)])
    if isinstance(node, ast.Name):
        if node.id not in columns:
            raise ExpressionError(f"Unknown column {node.id!r} in expression.")
        return pc.field(node.id)
    if isinstance(node, ast.Constant):
        try:
            return pc.scalar(_literal(node))
        except OverflowError:
            raise ExpressionError("A number in the expression is too large.") from None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "col":
        name = _literal(node.slice)
        if name not in columns:
            raise ExpressionError(f"Unknown column {name!r} in expression.")
        return pc.field(name)
    raise ExpressionError(f"Unsupported syntax in expression: {ast.dump(node)[:60]}.")


def _literal(node: ast.AST) -> Any:
    if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool))) or (
        isinstance(node, ast.Constant) and node.value is None
    ):
        return node.value
    raise ExpressionError("Only numbers, strings, booleans and None are allowed as values.")


def expression_columns(text: Any) -> set[str]:
    """The column names an expression reads (bare names and col["..."]); empty when it does not parse."""
    if not isinstance(text, str):
        return set()
    try:
        tree = ast.parse(text.strip(), mode="eval")
        nodes = list(ast.walk(tree))
    except (SyntaxError, ValueError, RecursionError):
        return set()
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name) and node.id != "col":
            names.add(node.id)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "col"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            names.add(node.slice.value)
    return names
