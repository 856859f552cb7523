"""Which columns of the same row a generator reads: the edges of a table's column graph.

Used by the spec checks (cycles) and by the planner (the order in which columns are built).
"""

from __future__ import annotations

from schemas.errors import ExpressionError
from schemas.expressions import expression_names


def column_dependencies(gen) -> set[str]:
    """Same-table columns that must exist before ``gen`` can produce values."""
    match gen.kind:
        case "lookup":
            return {gen.via}
        case "conditional":
            deps = {gen.on}
            for case in [*gen.cases.values(), gen.default]:
                if case is not None:
                    deps |= column_dependencies(case)
            return deps
        case "date_offset":
            return {gen.from_column.split(".", 1)[0]}
        case "date":
            return {gen.after.split(".", 1)[0]} if gen.after else set()
        case "derived":
            return _safe_names(gen.expression)
        case _:
            return set()


def _safe_names(expression: str) -> set[str]:
    try:
        return expression_names(expression)
    except ExpressionError:
        return set()  # reported by the expression check itself
