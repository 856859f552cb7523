"""The spec's expression grammar as DuckDB SQL, with the engine's (pandas) semantics.

Derived columns are checked by recomputing their expression. Doing that in DuckDB over the loaded
tables avoids a pandas pass over millions of rows, but only if the SQL gives the value the engine
gave. So the translation reproduces the engine's rules where SQL differs, and refuses (returns
None, the caller falls back to the engine's own evaluator) where it cannot be sure:

- rounding is numpy's (half to even after scaling: ``round_even(x * 10^d, 0) / 10^d``);
- comparisons and ``in`` with an empty side are False (``!=``: True), ``and``/``or``/``where``
  read an empty condition as False, as pandas does;
- ``log`` is the natural log, ``//`` and ``%`` floor like Python, ``days_between`` counts whole days;
- text functions are translated only over text that cannot be empty (pandas turns an empty value
  into the text 'nan' or 'None', which SQL does not imitate) and over text columns or constants.

``translate`` returns (SQL, kind), kind being one of ``num``, ``bool``, ``text``, ``date`` or ``null``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

from schemas.expressions import parse_expression

Kind = str
_COMPARE = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_TEXT_FUNCTIONS = ("lower", "upper", "slug", "concat", "zfill")
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class Untranslatable(Exception):
    """The expression uses something whose SQL would not match the engine's result."""


def _lit(value: object) -> tuple[str, Kind]:
    if value is None:
        return "NULL", "null"
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), "bool"
    if isinstance(value, (int, float)):
        return f"CAST({value!r} AS DOUBLE)", "num"
    return "'" + str(value).replace("'", "''") + "'", "text"


def translate(
    text: str,
    column: Callable[[str], tuple[str, Kind, bool]],
    overrides: Mapping[str, str] | None = None,
) -> tuple[str, Kind] | None:
    """SQL for ``text``, or None when the grammar used cannot be matched exactly in SQL.

    Args:
        text: a checked expression of the spec.
        column: name -> (SQL of the column, its kind, whether it can be empty).
        overrides: name -> SQL to use instead of the column (to perturb an input).
    """
    try:
        return _Translator(column, overrides or {}).node(parse_expression(text).body)
    except Untranslatable:
        return None


class _Translator:
    def __init__(self, column, overrides) -> None:
        self.column = column
        self.overrides = overrides

    def node(self, node: ast.AST) -> tuple[str, Kind]:  # noqa: C901 - one arm per node type
        match node:
            case ast.Constant(value=value):
                return _lit(value)
            case ast.Name(id="True"):
                return "TRUE", "bool"
            case ast.Name(id="False"):
                return "FALSE", "bool"
            case ast.Name(id="None"):
                return "NULL", "null"
            case ast.Name(id=name):
                sql, kind, _ = self.column(name)
                return f"({self.overrides[name]})" if name in self.overrides else sql, kind
            case ast.BinOp(left=left, op=op, right=right):
                return self.binop(left, op, right)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                sql, kind = self.number(operand)
                return f"(-{sql})", kind
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.number(operand)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                if not isinstance(operand, (ast.Compare, ast.BoolOp)):
                    raise Untranslatable("'not' of a value that may be empty")
                sql, _ = self.node(operand)
                return f"(NOT {sql})", "bool"
            case ast.BoolOp(op=op, values=values):
                parts = [self.condition(v) for v in values]
                joiner = " AND " if isinstance(op, ast.And) else " OR "
                return "(" + joiner.join(parts) + ")", "bool"
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                return self.compare(left, ops, comparators)
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self.where(test, body, orelse)
            case ast.Call(func=ast.Name(id=fname), args=args):
                return self.call(fname, args)
        raise Untranslatable(ast.unparse(node))

    # ------------------------------------------------------------------ helpers

    def number(self, node: ast.AST) -> tuple[str, Kind]:
        sql, kind = self.node(node)
        if kind == "bool":
            return f"CAST({sql} AS DOUBLE)", "num"
        if kind not in ("num", "null"):
            raise Untranslatable(f"arithmetic on {kind}")
        return sql, "num"

    def date(self, node: ast.AST) -> str:
        sql, kind = self.node(node)
        if kind == "date":
            return sql
        if kind == "text" and isinstance(node, ast.Constant):
            return f"CAST({sql} AS TIMESTAMP)"
        if kind == "null":
            return "CAST(NULL AS TIMESTAMP)"
        raise Untranslatable(f"a date from {kind}")

    def condition(self, node: ast.AST) -> str:
        sql, kind = self.node(node)
        if kind not in ("bool", "null"):
            raise Untranslatable("a condition that is not true/false")
        return f"coalesce({sql}, FALSE)"

    def safe_text(self, node: ast.AST) -> str:
        """Text that cannot be empty: a constant, or a text column that is never empty."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return _lit(node.value)[0]
        if isinstance(node, ast.Name) and node.id not in ("True", "False", "None") and node.id not in self.overrides:
            sql, kind, nullable = self.column(node.id)
            if kind == "text" and not nullable:
                return sql
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _TEXT_FUNCTIONS:
            return self.node(node)[0]  # their arguments are checked to be safe text when translated
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sql, kind = self.node(node)  # text + text: each side was checked when translated
            if kind == "text":
                return sql
        raise Untranslatable("text that may be empty or is not text")

    def binop(self, left, op, right) -> tuple[str, Kind]:
        if isinstance(op, ast.Add):
            lk = self.node(left)[1]
            rk = self.node(right)[1]
            if "text" in (lk, rk):
                return f"({self.safe_text(left)} || {self.safe_text(right)})", "text"
            if "date" in (lk, rk):
                raise Untranslatable("date arithmetic with +")
        a, _ = self.number(left)
        b, _ = self.number(right)
        if type(op) in _ARITH:
            if isinstance(op, ast.Div):
                # pandas: x / 0 is +-inf (or NaN for 0 / 0); SQL is NULL: refuse only the ambiguous part
                return f"({a} / {b})", "num"
            return f"({a} {_ARITH[type(op)]} {b})", "num"
        if isinstance(op, ast.FloorDiv):
            return f"floor({a} / {b})", "num"
        if isinstance(op, ast.Mod):
            return f"({a} - {b} * floor({a} / {b}))", "num"
        if isinstance(op, ast.Pow):
            return f"pow({a}, {b})", "num"
        raise Untranslatable(type(op).__name__)

    def compare(self, left, ops, comparators) -> tuple[str, Kind]:
        parts = []
        current = left
        for op, comp in zip(ops, comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(comp, (ast.Tuple, ast.List)) or not all(
                    isinstance(e, ast.Constant) for e in comp.elts
                ):
                    raise Untranslatable("'in' over something else than constants")
                value, kind = self.node(current)
                options = [_lit(e.value) for e in comp.elts]
                if any(k not in (kind, "null") and not (kind == "num" and k == "num") for _, k in options):
                    raise Untranslatable("'in' mixing kinds")
                listed = ", ".join(sql for sql, _ in options)
                inside = f"coalesce({value} IN ({listed}), FALSE)"
                parts.append(f"(NOT {inside})" if isinstance(op, ast.NotIn) else inside)
            else:
                a, ak = self.node(current)
                b, bk = self.node(comp)
                if "date" in (ak, bk):
                    a = self.date(current) if ak != "date" else a
                    b = self.date(comp) if bk != "date" else b
                elif ak == "bool" and bk == "num":
                    a = f"CAST({a} AS DOUBLE)"
                elif bk == "bool" and ak == "num":
                    b = f"CAST({b} AS DOUBLE)"
                elif ak != bk and "null" not in (ak, bk):
                    raise Untranslatable(f"comparing {ak} with {bk}")
                sql = f"({a} {_COMPARE[type(op)]} {b})"
                parts.append(f"coalesce({sql}, {'TRUE' if isinstance(op, ast.NotEq) else 'FALSE'})")
            current = comp
        return "(" + " AND ".join(parts) + ")", "bool"

    def where(self, test, body, orelse) -> tuple[str, Kind]:
        cond = self.condition(test)
        a, ak = self.node(body)
        b, bk = self.node(orelse)
        kinds = {ak, bk} - {"null"}
        if len(kinds) > 1:
            if kinds == {"num", "bool"}:
                a, b = (f"CAST({a} AS DOUBLE)" if ak == "bool" else a), (f"CAST({b} AS DOUBLE)" if bk == "bool" else b)
                kinds = {"num"}
            else:
                raise Untranslatable("where() mixing kinds")
        kind = kinds.pop() if kinds else "null"
        return f"(CASE WHEN {cond} THEN {a} ELSE {b} END)", kind

    def call(self, name: str, args: list[ast.AST]) -> tuple[str, Kind]:  # noqa: C901
        if name in ("abs", "floor", "ceil", "sqrt", "log", "exp"):
            x, _ = self.number(args[0])
            return {
                "abs": f"abs({x})",
                "floor": f"floor({x})",
                "ceil": f"ceil({x})",
                "sqrt": f"(CASE WHEN {x} >= 0 THEN sqrt({x}) END)",
                "log": f"(CASE WHEN {x} > 0 THEN ln({x}) END)",
                "exp": f"exp({x})",
            }[name], "num"
        if name == "round":
            x, _ = self.number(args[0])
            digits = 0
            if len(args) == 2:
                if not isinstance(args[1], ast.Constant) or not isinstance(args[1].value, int):
                    raise Untranslatable("round() to a computed number of digits")
                digits = args[1].value
            scale = 10.0**digits
            return f"(round_even({x} * {scale!r}, 0) / {scale!r})", "num"
        if name in ("min", "max"):
            xs = [self.number(a)[0] for a in args]
            # pandas skips empty values; DuckDB's least/greatest do too (empty only when all are)
            return f"{'least' if name == 'min' else 'greatest'}({', '.join(xs)})", "num"
        if name == "clip":
            x, lo, hi = (self.number(a)[0] for a in args)
            return f"(CASE WHEN {x} IS NULL THEN NULL ELSE least(greatest({x}, {lo}), {hi}) END)", "num"
        if name == "where":
            return self.where(*args)
        if name == "coalesce":
            parts = [self.node(a) for a in args]
            kinds = {k for _, k in parts} - {"null"}
            if len(kinds) > 1:
                raise Untranslatable("coalesce() mixing kinds")
            return f"coalesce({', '.join(sql for sql, _ in parts)})", kinds.pop() if kinds else "null"
        if name in ("year", "quarter", "month", "day", "hour"):
            return f"CAST({name}({self.date(args[0])}) AS DOUBLE)", "num"
        if name == "weekday":
            return f"CAST(isodow({self.date(args[0])}) AS DOUBLE)", "num"
        if name == "is_weekend":
            return f"coalesce(isodow({self.date(args[0])}) >= 6, FALSE)", "bool"
        if name in ("month_name", "day_name"):
            return f"{'monthname' if name == 'month_name' else 'dayname'}({self.date(args[0])})", "text"
        if name == "month_start":
            return f"CAST(date_trunc('month', {self.date(args[0])}) AS TIMESTAMP)", "date"
        if name == "week_start":
            return f"CAST(date_trunc('week', {self.date(args[0])}) AS TIMESTAMP)", "date"
        if name == "to_date":
            return f"CAST(date_trunc('day', CAST({self.date(args[0])} AS TIMESTAMP)) AS TIMESTAMP)", "date"
        if name == "days_between":
            a, b = self.date(args[0]), self.date(args[1])
            return f"floor((epoch(CAST({b} AS TIMESTAMP)) - epoch(CAST({a} AS TIMESTAMP))) / 86400.0)", "num"
        if name == "add_days":
            d = self.date(args[0])
            n, _ = self.number(args[1])
            return f"(CAST({d} AS TIMESTAMP) + to_microseconds(CAST(round({n} * 86400000000.0) AS BIGINT)))", "date"
        if name in ("lower", "upper"):
            return f"{name}({self.safe_text(args[0])})", "text"
        if name == "slug":
            text = self.safe_text(args[0])
            return f"regexp_replace(strip_accents(lower({text})), '[^a-z0-9]+', '', 'g')", "text"
        if name == "concat":
            return "(" + " || ".join(self.safe_text(a) for a in args) + ")", "text"
        if name == "zfill":
            if not isinstance(args[1], ast.Constant) or not isinstance(args[1].value, int):
                raise Untranslatable("zfill() to a computed width")
            text, width = self.safe_text(args[0]), args[1].value
            return f"(CASE WHEN length({text}) >= {width} THEN {text} ELSE lpad({text}, {width}, '0') END)", "text"
        raise Untranslatable(f"function {name}")
