"""4. Validity: values in the generator's set or bounds, ids in their pattern, dates parse and fall in the window."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from schemas.spec import (
    CategoricalGenerator,
    ColumnSpec,
    ConditionalGenerator,
    NumericGenerator,
    SequenceGenerator,
)
from tasks.quality.categories.common import (
    Schema,
    date_window,
    lit,
    present_columns,
    q,
    scenario_targets,
    stored_decimals,
)
from tasks.quality.checks import Check


def allowed_values(gen) -> list | None:
    """Every value a categorical generator (or a conditional made only of them) can produce."""
    if isinstance(gen, CategoricalGenerator):
        return list(gen.values)
    if isinstance(gen, ConditionalGenerator):
        values: list = []
        for case in [*gen.cases.values(), *([gen.default] if gen.default else [])]:
            sub = allowed_values(case)
            if sub is None:
                return None
            values += [v for v in sub if v not in values]
        return values
    return None


def numeric_bounds(gen) -> tuple[float | None, float | None] | None:
    """The [min, max] a numeric generator (or a conditional made only of them) respects."""
    if isinstance(gen, NumericGenerator):
        return gen.min, gen.max
    if isinstance(gen, ConditionalGenerator):
        cases = [*gen.cases.values(), *([gen.default] if gen.default else [])]
        bounds = [numeric_bounds(c) for c in cases]
        if any(b is None for b in bounds):
            return None
        lows, highs = [b[0] for b in bounds], [b[1] for b in bounds]
        return (
            None if any(v is None for v in lows) else min(lows),
            None if any(v is None for v in highs) else max(highs),
        )
    return None


def scaled_values(values: list, effects: list, column: ColumnSpec) -> list:
    """A numeric value set plus every value a scale scenario can turn it into (as stored)."""
    factors = {1.0}
    for effect in effects:
        factors |= {f * effect.factor for f in factors}
    decimals = stored_decimals(column)
    out: list = []
    for value in values:
        for factor in sorted(factors):
            x = float(value) * factor
            x = float(np.round(x, decimals)) if decimals is not None else x
            if x not in out:
                out.append(x)
    return out


def pattern_regex(pattern: str) -> str:
    """``CUST-#####`` -> ``^CUST\\-[0-9]{5,}$`` (more digits once the padding overflows)."""
    run = re.search(r"#+", pattern)
    return (
        "^"
        + re.escape(pattern[: run.start()])
        + f"[0-9]{{{len(run.group())},}}"
        + re.escape(pattern[run.end() :])
        + "$"
    )


def validity_checks(schema: Schema) -> list[Check]:  # noqa: C901 - one branch per rule family
    spec = schema.spec
    scaled = scenario_targets(spec, ("scale",))
    checks = []
    for table in spec.tables:
        name = table.name
        for column in present_columns(schema, table):
            gen = column.generator
            col = schema.ref(name, column.name)
            inputs = frozenset({(name, column.name)})
            example = schema.describe(name, column.name)
            base = dict(example=example, min_value=0, max_value=0, inputs=inputs)
            values = allowed_values(gen)
            if values is not None:
                if column.type in ("int", "float", "decimal"):
                    values = scaled_values(values, scaled.get((name, column.name), []), column)
                    listed = ", ".join(repr(float(v)) for v in values)
                    bad = f"{col} IS NOT NULL AND CAST({col} AS DOUBLE) NOT IN ({listed})"
                else:
                    listed = ", ".join(lit(str(v)) for v in values)
                    bad = f"{col} IS NOT NULL AND {schema.text(name, column.name)} NOT IN ({listed})"
                shown = ", ".join(map(str, values[:8])) + (" ..." if len(values) > 8 else "")
                checks.append(
                    Check(
                        "validity",
                        name,
                        column.name,
                        "in_set",
                        "expect_column_values_to_be_in_set",
                        f"{name}.{column.name} is one of {shown}",
                        "rows",
                        sql=bad,
                        **base,
                    )
                )
            elif column.type in ("string", "category") and schema.typed(name, column.name):
                checks.append(
                    Check(
                        "validity",
                        name,
                        column.name,
                        "trimmed",
                        "expect_column_values_to_match_regex",
                        f"{name}.{column.name} has no leading or trailing spaces",
                        "rows",
                        sql=f"{col} IS NOT NULL AND {col} <> trim({col})",
                        **base,
                    )
                )
            bounds = numeric_bounds(gen)
            if bounds is not None and bounds != (None, None):
                low, high = bounds
                for effect in scaled.get((name, column.name), []):
                    low = None if low is None else min(low, low * effect.factor)
                    high = None if high is None else max(high, high * effect.factor)
                terms = ([f"{col} < {low!r}"] if low is not None else []) + (
                    [f"{col} > {high!r}"] if high is not None else []
                )
                checks.append(
                    Check(
                        "validity",
                        name,
                        column.name,
                        "between",
                        "expect_column_values_to_be_between",
                        f"{name}.{column.name} lies in [{low}, {high}]",
                        "rows",
                        sql=" OR ".join(terms),
                        **base,
                    )
                )
            if isinstance(gen, SequenceGenerator) and gen.pattern and column.type == "string":
                regex = pattern_regex(gen.pattern)
                text = f"CAST({q(column.name)} AS VARCHAR)"
                checks.append(
                    Check(
                        "validity",
                        name,
                        column.name,
                        "format",
                        "expect_column_values_to_match_regex",
                        f"{name}.{column.name} looks like {gen.pattern}",
                        "rows",
                        sql=f"{q(column.name)} IS NOT NULL AND NOT regexp_full_match({text}, {lit(regex)})",
                        **base,
                    )
                )
            if column.type in ("date", "datetime"):
                if not schema.typed(name, column.name):
                    checks.append(
                        Check(
                            "validity",
                            name,
                            column.name,
                            "date_format",
                            "expect_column_values_to_match_strftime_format",
                            f"{name}.{column.name} is written as an ISO {column.type}",
                            "rows",
                            sql=f"{q(column.name)} IS NOT NULL AND {col} IS NULL",
                            **base,
                        )
                    )
                window = date_window(spec, gen)
                if window is not None:
                    start, end = window
                    checks.append(
                        Check(
                            "validity",
                            name,
                            column.name,
                            "date_range",
                            "expect_column_values_to_be_between",
                            f"{name}.{column.name} falls between {start} and {end}",
                            "rows",
                            sql=(f"{col} < TIMESTAMP '{start}' OR {col} >= TIMESTAMP '{end + dt.timedelta(days=1)}'"),
                            **base,
                        )
                    )
    return checks
