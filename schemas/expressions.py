"""The expression grammar of the spec: derived columns, scenario segments, consistency rules.

Expressions may come from a language model, so they are parsed into a Python AST and checked
against a whitelist of node types and functions; they are never passed to ``eval``. The engine
evaluates the checked tree with vectorised numpy/pandas operations.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from schemas.errors import ExpressionError

# name -> (min args, max args); the engine implements each of these vectorised.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1),
    "round": (1, 2),
    "floor": (1, 1),
    "ceil": (1, 1),
    "sqrt": (1, 1),
    "log": (1, 1),
    "exp": (1, 1),
    "min": (2, 8),
    "max": (2, 8),
    "clip": (3, 3),
    "where": (3, 3),
    "coalesce": (2, 8),
    "year": (1, 1),
    "quarter": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "weekday": (1, 1),
    "is_weekend": (1, 1),
    "month_name": (1, 1),
    "day_name": (1, 1),
    "month_start": (1, 1),
    "week_start": (1, 1),
    "to_date": (1, 1),
    "days_between": (2, 2),
    "add_days": (2, 2),
    "lower": (1, 1),
    "upper": (1, 1),
    "concat": (1, 8),
    "to_str": (1, 1),
    "zfill": (2, 2),
    "slug": (1, 1),
}

_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Not,
    ast.And,
    ast.Or,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)

_CONSTANT_NAMES = {"True", "False", "None"}


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> ast.Expression:
    """Parse and check an expression.

    Args:
        text: e.g. ``quantity * unit_price * (1 - discount)``.

    Returns:
        The checked AST (cached: the same text parses once).

    Raises:
        ExpressionError: syntax error, a construct outside the grammar, or an unknown function.
    """
    if not text or not text.strip():
        raise ExpressionError("expression is empty; write e.g. 'quantity * unit_price'")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(
            f"expression {text!r} is not valid syntax ({exc.msg}); use arithmetic, comparisons, "
            "'and'/'or'/'not', 'a if cond else b' and the functions: " + ", ".join(sorted(FUNCTIONS))
        ) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(
                f"expression {text!r} uses {type(node).__name__}, which is outside the allowed grammar "
                "(no attributes, subscripts, lambdas or comprehensions); rewrite it with column names, "
                "constants, operators and the listed functions"
            )
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(
                    f"expression {text!r} calls unknown function {name!r}; allowed functions are: "
                    + ", ".join(sorted(FUNCTIONS))
                )
            if node.keywords:
                raise ExpressionError(f"expression {text!r}: keyword arguments are not allowed")
            low, high = FUNCTIONS[node.func.id]
            if not low <= len(node.args) <= high:
                raise ExpressionError(
                    f"expression {text!r}: {node.func.id}() takes {low}"
                    + (f" to {high}" if high != low else "")
                    + f" arguments, got {len(node.args)}"
                )
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExpressionError(f"expression {text!r}: constant {node.value!r} is not allowed")
    return tree


def expression_names(text: str) -> set[str]:
    """The column names an expression reads (functions and True/False/None excluded)."""
    tree = parse_expression(text)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called and n.id not in _CONSTANT_NAMES
    }
