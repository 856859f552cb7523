"""Vectorised evaluation of a checked expression over the columns of a frame.

The tree comes from ``schemas.expressions.parse_expression`` (whitelisted nodes and functions);
every node maps to a pandas/numpy operation on whole columns, never a per-row Python loop.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from schemas.errors import ExpressionError
from schemas.expressions import parse_expression
from tasks.engine.types import as_dates

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def evaluate(text: str, columns: Mapping[str, pd.Series], length: int) -> pd.Series:
    """Evaluate ``text`` over ``columns`` (all of ``length`` rows); always returns a Series."""
    tree = parse_expression(text)
    result = _eval(tree.body, columns, length)
    if not isinstance(result, pd.Series):
        result = pd.Series([result] * length)
    return result.reset_index(drop=True)


def _as_series(value: Any, length: int) -> pd.Series:
    if isinstance(value, pd.Series):
        return value
    if isinstance(value, str):  # a text constant: one object column without a Python list of n items
        return pd.Series(np.full(length, value, dtype=object), dtype=object)
    return pd.Series([value] * length)


def _dates(value: Any, length: int) -> pd.Series:
    return as_dates(_as_series(value, length))


def _eval(node: ast.AST, cols: Mapping[str, pd.Series], n: int) -> Any:  # noqa: C901
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id="True"):
            return True
        case ast.Name(id="False"):
            return False
        case ast.Name(id="None"):
            return None
        case ast.Name(id=name):
            if name not in cols:
                raise ExpressionError(f"expression names unknown column '{name}' (columns are: {', '.join(cols)})")
            return cols[name].reset_index(drop=True)
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _eval(left, cols, n), _eval(right, cols, n)
            if isinstance(op, ast.Add) and (_is_text(a) or _is_text(b)):
                return _as_series(a, n).astype(str) + _as_series(b, n).astype(str)
            return _BINARY[type(op)](a, b)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_eval(operand, cols, n)
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return _eval(operand, cols, n)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            value = _eval(operand, cols, n)
            return ~_as_series(value, n).astype(bool)
        case ast.BoolOp(op=op, values=values):
            parts = [_as_series(_eval(v, cols, n), n).fillna(False).astype(bool) for v in values]
            out = parts[0]
            for part in parts[1:]:
                out = (out & part) if isinstance(op, ast.And) else (out | part)
            return out
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            out = None
            current = _eval(left, cols, n)
            for op, comp in zip(ops, comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    options = _eval(comp, cols, n)
                    part = _as_series(current, n).isin(list(options))
                    part = ~part if isinstance(op, ast.NotIn) else part
                    right = options
                else:
                    right = _eval(comp, cols, n)
                    part = _COMPARE[type(op)](_coerce_for_compare(current, right), _coerce_for_compare(right, current))
                out = part if out is None else (out & part)
                current = right
            return out
        case ast.IfExp(test=test, body=body, orelse=orelse):
            cond = _as_series(_eval(test, cols, n), n).fillna(False).astype(bool)
            return _where(cond, _eval(body, cols, n), _eval(orelse, cols, n), n)
        case ast.Tuple(elts=elts) | ast.List(elts=elts):
            return [_eval(e, cols, n) for e in elts]
        case ast.Call(func=ast.Name(id=fname), args=args):
            return _call(fname, [_eval(a, cols, n) for a in args], n)
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)!r}")


def _is_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, pd.Series) and (value.dtype == object or pd.api.types.is_string_dtype(value))


def _coerce_for_compare(value: Any, other: Any) -> Any:
    # a date column compared with '2024-07-01' compares as dates, not as text
    if isinstance(value, str) and isinstance(other, pd.Series) and pd.api.types.is_datetime64_any_dtype(other):
        return pd.Timestamp(value)
    return value


def _where(cond: pd.Series, a: Any, b: Any, n: int) -> pd.Series:
    a, b = _as_series(a, n), _as_series(b, n)
    return a.where(cond.values, b)


def _round(x: Any, digits: Any = 0) -> Any:
    return np.round(x, int(digits)) if isinstance(x, pd.Series) else round(x, int(digits))


def _call(name: str, args: list[Any], n: int) -> Any:  # noqa: C901
    match name:
        case "abs":
            return abs(args[0])
        case "round":
            return _round(*args)
        case "floor":
            return np.floor(args[0])
        case "ceil":
            return np.ceil(args[0])
        case "sqrt":
            return np.sqrt(args[0])
        case "log":
            return np.log(args[0])
        case "exp":
            return np.exp(args[0])
        case "min" | "max":
            frame = pd.concat([_as_series(a, n) for a in args], axis=1)
            return frame.min(axis=1) if name == "min" else frame.max(axis=1)
        case "clip":
            return _as_series(args[0], n).clip(args[1], args[2])
        case "where":
            cond = _as_series(args[0], n).fillna(False).astype(bool)
            return _where(cond, args[1], args[2], n)
        case "coalesce":
            out = _as_series(args[0], n)
            for other in args[1:]:
                out = out.where(out.notna(), _as_series(other, n))
            return out
        case "year":
            return _dates(args[0], n).dt.year
        case "quarter":
            return _dates(args[0], n).dt.quarter
        case "month":
            return _dates(args[0], n).dt.month
        case "day":
            return _dates(args[0], n).dt.day
        case "hour":
            return _dates(args[0], n).dt.hour
        case "weekday":
            return _dates(args[0], n).dt.weekday + 1
        case "is_weekend":
            return _dates(args[0], n).dt.weekday >= 5
        case "month_name":
            return _dates(args[0], n).dt.month.map(lambda m: _MONTHS[m - 1] if m == m else None)
        case "day_name":
            return _dates(args[0], n).dt.weekday.map(lambda d: _DAYS[d] if d == d else None)
        case "month_start":
            return _dates(args[0], n).dt.to_period("M").dt.start_time
        case "week_start":
            d = _dates(args[0], n).dt.normalize()
            return d - pd.to_timedelta(d.dt.weekday, unit="D")
        case "to_date":
            return _dates(args[0], n).dt.normalize()
        case "days_between":
            return (_dates(args[1], n) - _dates(args[0], n)).dt.days
        case "add_days":
            return _dates(args[0], n) + pd.to_timedelta(_as_series(args[1], n), unit="D")
        case "lower":
            return _per_value(_as_series(args[0], n), lambda t: t.str.lower())
        case "upper":
            return _per_value(_as_series(args[0], n), lambda t: t.str.upper())
        case "concat":
            out = _as_series(args[0], n).astype(str)
            for other in args[1:]:
                out = out + _as_series(other, n).astype(str)
            return out
        case "to_str":
            value = _as_series(args[0], n)
            if pd.api.types.is_float_dtype(value) and (value.dropna() % 1 == 0).all():
                value = value.astype("Int64")
            return value.astype(str)
        case "zfill":
            width = int(args[1])
            return _per_value(_as_series(args[0], n), lambda t: t.str.zfill(width))
        case "slug":
            return _per_value(_as_series(args[0], n), _slug)
    raise ExpressionError(f"function {name!r} is not implemented")


def _slug(text: pd.Series) -> pd.Series:
    return (
        text.str.lower()
        .str.normalize("NFKD")
        .str.encode("ascii", "ignore")
        .str.decode("ascii")
        .str.replace(r"[^a-z0-9]+", "", regex=True)
    )


def _per_value(values: pd.Series, fn) -> pd.Series:
    """``fn`` over ``values.astype(str)``; for a Categorical, over its few categories, then taken per row.

    Same result as applying ``fn`` to every row (an empty cell is the text 'nan', as ``astype(str)`` makes it).
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return fn(values.astype(str))
    labels = pd.Series([*values.cat.categories.astype(str), str(np.nan)], dtype=object)
    mapped = fn(labels).to_numpy(dtype=object)
    codes = values.cat.codes.to_numpy()
    return pd.Series(mapped[np.where(codes < 0, len(labels) - 1, codes)], dtype=object)
