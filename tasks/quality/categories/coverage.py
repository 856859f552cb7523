"""8. Coverage: row counts, every month of a date window that expects rows has some, every question answers.

Story check (``story.coverage_story_checks``): every answer is non-degenerate and shows a difference between
the groups or periods it compares.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from schemas.spec import (
    ChallengeSpec,
    ColumnSpec,
    DateGenerator,
    DateSequenceGenerator,
    ForeignKeyGenerator,
    TableSpec,
)
from tasks.engine.columns import date_weights
from tasks.quality.categories.common import MONTH_MIN_EXPECTED, Schema, Z, date_window, present_columns, q, source_sql
from tasks.quality.categories.story import coverage_story_checks
from tasks.quality.checks import Check, Measured


def expected_rows(schema: Schema, table: TableSpec) -> tuple[float | None, float | None]:
    """The row-count range the spec implies, scenarios' volume changes included."""
    spec = schema.spec
    if table.aggregate_of is not None:
        return 1, None
    calendar = next((c.generator for c in table.columns if isinstance(c.generator, DateSequenceGenerator)), None)
    if calendar is not None:
        window = spec.challenge.time_window
        start, end = calendar.start or window.start, calendar.end or window.end
        count = len(pd.date_range(start, end, freq="D" if calendar.freq == "day" else "MS"))
        return count, count
    factors = [s.effect.factor for s in spec.scenarios if s.table == table.name and s.effect.kind == "volume"]
    low_f = math.prod(min(f, 1.0) for f in factors)
    high_f = math.prod(max(f, 1.0) for f in factors)
    if table.rows is not None or table.ratio is not None:
        base = table.rows if table.rows is not None else max(1, round(table.ratio * spec.scale))
        # volume scenarios keep each candidate row at random: the count is binomial around its mean
        slack = Z * 0.5 * math.sqrt(base * high_f) if factors else 0.0
        return max(0, math.floor(base * low_f - slack)), math.ceil(base * high_f + slack)
    driver = next(
        c.generator for c in table.columns if isinstance(c.generator, ForeignKeyGenerator) and c.generator.max_children
    )
    parents = schema.rows.get(driver.parent_table, 0)
    low = 0 if driver.where else (driver.min_children or 0) * parents * low_f  # 'where' picks an unknown subset
    high = driver.max_children * parents * high_f
    slack = Z * 0.5 * math.sqrt(high) if factors else 0.0
    return max(0, math.floor(low - slack)), math.ceil(high + slack)


def month_expectations(spec: ChallengeSpec, gen, floors: Mapping[dt.date, int] | None = None) -> pd.Series:
    """Share of a date generator's rows expected in each month of its window (index: month start).

    ``floors``: how many rows have each floor date (``after``): a row never falls before its floor,
    so a month expects only what rows whose floor precedes its end can put there.
    """
    start, end = date_window(spec, gen)
    days = pd.date_range(start, end, freq="D")
    weights = date_weights(gen, days) if isinstance(gen, DateGenerator) else np.full(len(days), 1.0 / len(days))
    month_of = days.to_period("M").to_timestamp()
    free = pd.Series(weights).groupby(month_of).sum()
    if not floors:
        return free
    cdf = np.concatenate([[0.0], np.cumsum(weights)])  # cdf[i] = weight of days before day i
    first_of = {m: int(np.searchsorted(month_of, m, side="left")) for m in free.index}
    last_of = {m: int(np.searchsorted(month_of, m, side="right")) for m in free.index}
    total = sum(floors.values())
    floor_idx = np.array([(pd.Timestamp(d) - pd.Timestamp(start)).days for d in floors], dtype=np.int64)
    counts = np.array(list(floors.values()), dtype=float)
    floor_idx = np.clip(floor_idx, 0, len(days))
    rest = 1.0 - cdf[floor_idx]
    shares = {}
    for m in free.index:
        lo = np.maximum(first_of[m], floor_idx)
        part = np.where(lo < last_of[m], cdf[last_of[m]] - cdf[np.minimum(lo, last_of[m])], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(rest > 1e-12, part / np.maximum(rest, 1e-12), 0.0)
        shares[m] = float((counts * p).sum() / max(total, 1))
    return pd.Series(shares).combine(free, min)


def _month_check(schema: Schema, table: TableSpec, column: ColumnSpec) -> Check | None:
    """Months of a generated date column's window that should have rows (by its seasonality) and have none."""
    spec, name, gen = schema.spec, table.name, column.generator
    window = date_window(spec, gen)
    if window is None:
        return None
    start, end = window
    col = schema.ref(name, column.name)
    floor_sql = None
    if isinstance(gen, DateGenerator) and gen.after:
        source = source_sql(schema, table, gen.after)
        if source is None:
            return None
        join, floor, _ = source
        floor_sql = (
            f"SELECT CAST({floor} AS DATE) AS d, count(*) AS n FROM {q(name)} c {join} "
            f"WHERE {schema.ref(name, column.name, 'c')} IS NOT NULL GROUP BY 1"
        )
    reductions = []  # (first month, last month or None for all) -> volume factor below 1
    for s in spec.scenarios:
        if s.table == name and s.effect.kind == "volume" and s.effect.factor < 1:
            cond = s.condition
            if cond.date_column == column.name and (cond.start or cond.end):
                reductions.append((cond.start or start, cond.end or end, s.effect.factor))
            else:
                reductions.append((start, end, s.effect.factor))

    def measure(ctx) -> Measured:
        got = dict(
            ctx.con.execute(
                f"SELECT CAST(date_trunc('month', {col}) AS DATE), count(*) FROM {q(name)} "
                f"WHERE {col} IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        n = sum(got.values())
        floors = None
        if floor_sql is not None:
            floors = {d: c for d, c in ctx.con.execute(floor_sql).fetchall() if d is not None}
        expected = month_expectations(spec, gen, floors) * n
        for low, high, factor in reductions:
            inside = (expected.index >= pd.Timestamp(low.year, low.month, 1)) & (expected.index <= pd.Timestamp(high))
            expected[inside] *= factor
        empty = [m for m, e in expected.items() if e >= MONTH_MIN_EXPECTED and got.get(m.date(), 0) == 0]
        examples = tuple(f"{m:%Y-%m} has no rows (expects about {expected[m]:.0f})" for m in empty[:3])
        return Measured(len(empty), len(empty), examples)

    first, last = dt.date(start.year, start.month, 1), dt.date(end.year, end.month, 1)
    return Check(
        "coverage",
        name,
        column.name,
        "every_month",
        "unexpected_rows_expectation (months without rows)",
        f"{name}.{column.name} has rows in every month from {first:%Y-%m} to {last:%Y-%m} that expects "
        f"{MONTH_MIN_EXPECTED:.0f} or more by its seasonality",
        "python",
        python=measure,
        min_value=0,
        max_value=0,
        inputs=frozenset({(name, column.name), (name, None)}),
    )


def coverage_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    checks = []
    for table in spec.tables:
        name = table.name
        low, high = expected_rows(schema, table)
        rows = schema.rows.get(name, 0)
        checks.append(
            Check(
                "coverage",
                name,
                None,
                "row_count",
                "expect_table_row_count_to_be_between",
                f"{name} has the rows the spec asks for",
                "python",
                python=lambda _ctx, rows=rows: Measured(rows, 0, (f"{rows} rows",)),
                min_value=low,
                max_value=high,
                inputs=frozenset({(name, None)}),
            )
        )
        for column in present_columns(schema, table):
            check = _month_check(schema, table, column)
            if check is not None:
                checks.append(check)
    for question in spec.questions:
        read = {t.name for t in spec.tables if re.search(rf"\b{re.escape(t.name)}\b", question.sql)}

        def measure(ctx, question=question) -> Measured:
            return ctx.question(question)

        checks.append(
            Check(
                "coverage",
                "questions",
                question.id,
                "non_empty_answer",
                "expect_table_row_count_to_be_between (answer)",
                f"question {question.id} returns at least one row",
                "python",
                python=measure,
                min_value=1,
                max_value=None,
                inputs=frozenset({(t, None) for t in read}),
            )
        )
    return checks + coverage_story_checks(schema)
