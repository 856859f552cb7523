"""Checks that fail a spec before any row is generated, each with its location and a remedy.

They need the resolved row counts, so they run inside ``resolve_plan``: a unique column whose
domain is smaller than its table, numeric bounds no draw can reach, a date profile with no weight,
an unknown Faker provider. Every problem is collected and raised at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from schemas.errors import GenerationError
from schemas.spec import ChallengeSpec, ColumnSpec, NumericGenerator, TableSpec

if TYPE_CHECKING:
    from tasks.engine.planner import TablePlan

# the lowest value each distribution can draw (None: unbounded below)
_SUPPORT_LOW = {"lognormal": 0.0, "poisson": 0.0, "exponential": 0.0, "gamma": 0.0}


def check_feasible(spec: ChallengeSpec, plans: dict[str, TablePlan]) -> None:
    """Raise one ``GenerationError`` listing every infeasible column, or return."""
    problems: list[str] = []
    for table in spec.tables:
        rows = plans[table.name].static_rows
        for column in table.columns:
            path = f"tables.{table.name}.columns.{column.name}"
            problems.extend(f"{path}: {p}" for p in _column_problems(spec, table, column, column.generator, rows))
    if problems:
        numbered = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        raise GenerationError(f"{len(problems)} column(s) cannot be generated:\n{numbered}", problems[0].split(":")[0])


def _column_problems(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec, gen, rows: int | None) -> list[str]:
    out: list[str] = []
    match gen.kind:
        case "numeric":
            out += numeric_problems(gen, column.type)
            if column.unique and rows is not None:
                out += _unique_numeric(gen, column.type, rows)
        case "categorical":
            if column.unique and rows is not None and len(set(map(str, gen.values))) < rows:
                out.append(
                    f"unique column has {len(set(map(str, gen.values)))} distinct values for {rows} rows; "
                    "add values, lower the rows or drop 'unique'"
                )
        case "date":
            out += _date_problems(spec, gen, column, rows)
        case "date_offset":
            out += numeric_problems(gen.offset, "float")
        case "faker":
            out += _faker_problems(spec, gen, column, rows)
        case "conditional":
            for case in [*gen.cases.values(), gen.default]:
                if case is not None:
                    out += _column_problems(spec, table, column, case, rows)
    return out


def numeric_problems(gen: NumericGenerator, column_type: str) -> list[str]:
    """Bounds that no draw of the distribution can meet (everything would pile up on one bound)."""
    out = []
    low, high = _support(gen)
    if gen.max is not None and low is not None and gen.max < low:
        out.append(
            f"max {gen.max} is below every value a {gen.distribution} distribution draws (>= {low}); "
            "raise max or change the distribution"
        )
    if gen.min is not None and high is not None and gen.min > high:
        out.append(
            f"min {gen.min} is above every value a {gen.distribution} distribution draws (<= {high}); "
            "lower min or change the distribution"
        )
    if column_type == "int" and gen.min is not None and gen.max is not None and math.ceil(gen.min) > gen.max:
        out.append(f"no whole number lies between min {gen.min} and max {gen.max}; widen the bounds")
    return out


def _support(gen: NumericGenerator) -> tuple[float | None, float | None]:
    match gen.distribution:
        case "uniform" | "triangular":
            return gen.low, gen.high
        case "pareto":
            return gen.scale, None
        case _:
            return _SUPPORT_LOW.get(gen.distribution), None


def _unique_numeric(gen: NumericGenerator, column_type: str, rows: int) -> list[str]:
    """Random draws repeat values long before a domain is full, and the engine does not retry them."""
    low, high = gen.min, gen.max
    s_low, s_high = _support(gen)
    low = s_low if low is None else low if s_low is None else max(low, s_low)
    high = s_high if high is None else high if s_high is None else min(high, s_high)
    if low is not None and high is not None and (column_type == "int" or gen.decimals is not None):
        step = 1 if column_type == "int" else 10 ** -(gen.decimals or 0)
        distinct = math.floor((high - low) / step) + 1
        if distinct < rows:
            return [
                f"unique column can hold at most {distinct} distinct values between {low} and {high} for "
                f"{rows} rows; widen the bounds, use a sequence generator or drop 'unique'"
            ]
    return [
        f"a unique numeric column is drawn at random and would repeat values over {rows} rows; "
        "use a sequence generator or drop 'unique'"
    ]


def _date_problems(spec: ChallengeSpec, gen, column: ColumnSpec, rows: int | None) -> list[str]:
    from tasks.engine.columns import date_weights

    window = spec.challenge.time_window
    start, end = gen.start or window.start, gen.end or window.end
    if start > end:
        return [f"date range {start} to {end} is empty; set start before end"]
    try:
        date_weights(gen, pd.date_range(start, end, freq="D"))
    except GenerationError as exc:
        return [exc.message]
    if column.unique and rows is not None and column.type == "date" and (end - start).days + 1 < rows:
        return [
            f"unique date column has {(end - start).days + 1} days for {rows} rows; "
            "use a date_sequence generator or drop 'unique'"
        ]
    return []


def _faker_problems(spec: ChallengeSpec, gen, column: ColumnSpec, rows: int | None) -> list[str]:
    from tasks.engine.fakerpool import check_provider, faker_pool, pool_size

    locale = gen.locale or spec.challenge.locale
    try:
        check_provider(gen.provider, locale)
        if column.unique and rows is not None and rows > 1:
            pool = faker_pool(gen.provider, locale, 0, min(64, pool_size(rows, True)))
            if len(pool) < 2:
                return [
                    f"Faker provider '{gen.provider}' gives only {len(pool)} distinct value(s); it cannot fill a "
                    f"unique column of {rows} rows. Drop 'unique' or use a sequence generator"
                ]
    except GenerationError as exc:
        return [exc.message]
    return []
