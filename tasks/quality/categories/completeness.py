"""2. Completeness: a column is empty only where its generator leaves it empty, at its null rate."""

from __future__ import annotations

import math

from schemas.dependencies import column_dependencies
from schemas.spec import (
    ColumnSpec,
    ConditionalGenerator,
    DateOffsetGenerator,
    DerivedGenerator,
    TableSpec,
)
from tasks.quality.categories.common import (
    Schema,
    Z,
    expression_may_be_null,
    lit,
    may_be_null,
    present_columns,
    q,
    resolve_ref,
)
from tasks.quality.checks import Check


def _null_allowance(schema: Schema, table: TableSpec, column: ColumnSpec) -> str | None:
    """SQL true where the generator may leave this row empty; None when that needs another table."""
    spec = schema.spec
    gen = column.generator
    terms = []
    if isinstance(gen, ConditionalGenerator) and gen.default is None:
        keys = ", ".join(lit(str(k)) for k in gen.cases)
        terms.append(f"{q(gen.on)} IS NULL OR {schema.text(table.name, gen.on)} NOT IN ({keys})")
    if gen.kind == "rollup" and gen.function not in ("sum", "count"):
        return "TRUE"
    if gen.kind in ("measure", "group_key"):
        # empty when every source row of the group is empty: decided by the source, not this table
        return "TRUE" if may_be_null(spec, table, column.model_copy(update={"nullable": 0.0})) else "FALSE"
    if isinstance(gen, DerivedGenerator) and expression_may_be_null(spec, table, gen.expression):
        expected = schema.expression(table.name, gen.expression)
        if expected is None:
            return None  # the engine's evaluator decides where it is empty: consistency recomputes it
        return f"({expected[0]}) IS NULL"
    refs = [f"{gen.via}.{gen.column}"] if gen.kind == "lookup" else []
    if isinstance(gen, DateOffsetGenerator):
        refs.append(gen.from_column)
    if isinstance(gen, ConditionalGenerator):
        refs += [c.from_column for c in [*gen.cases.values(), gen.default] if isinstance(c, DateOffsetGenerator)]
    for ref in refs:
        source_table, source = resolve_ref(spec, table, ref)
        if "." in ref:
            terms.append(f"{q(ref.split('.', 1)[0])} IS NULL")
            if source is not None and may_be_null(spec, source_table, source):
                return None
    for dep in sorted(column_dependencies(gen) & set(table.column_names) - {column.name}):
        if may_be_null(spec, table, table.column(dep)):
            terms.append(f"{q(dep)} IS NULL")
    return " OR ".join(f"({t})" for t in terms) if terms else "FALSE"


def completeness_checks(schema: Schema) -> list[Check]:
    checks = []
    for table in schema.spec.tables:
        name = table.name
        for column in present_columns(schema, table):
            allow = _null_allowance(schema, table, column)
            if allow is None:
                continue  # a parent's empty value may empty this one: not decidable from this table alone
            inputs = frozenset({(name, column.name)})
            if column.nullable <= 0:
                checks.append(
                    Check(
                        "completeness",
                        name,
                        column.name,
                        "not_null",
                        "expect_column_values_to_not_be_null",
                        f"{name}.{column.name} is never empty"
                        + ("" if allow == "FALSE" else " where its generator gives a value"),
                        "rows",
                        sql=f"{q(column.name)} IS NULL AND NOT coalesce({allow}, FALSE)",
                        example=schema.describe(name, column.name),
                        min_value=0,
                        max_value=0,
                        inputs=inputs,
                    )
                )
                continue
            eligible = f"NOT coalesce({allow}, FALSE)"
            n = max(schema.rows.get(name, 0), 1)
            rate = column.nullable
            tol = Z * math.sqrt(rate * (1 - rate) / n) + 0.005
            checks.append(
                Check(
                    "completeness",
                    name,
                    column.name,
                    "null_rate",
                    "expect_column_values_to_not_be_null (mostly)",
                    f"{name}.{column.name} is empty in about {rate:.1%} of rows",
                    "aggregate",
                    sql=(
                        f"coalesce(count(*) FILTER (WHERE {q(column.name)} IS NULL AND {eligible}) "
                        f"/ nullif(count(*) FILTER (WHERE {eligible}), 0), 0)"
                    ),
                    min_value=max(0.0, rate - tol),
                    max_value=min(1.0, rate + tol),
                    inputs=inputs,
                )
            )
    return checks
