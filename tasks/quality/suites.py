"""Spec -> quality checks for the 8 categories, with no per-domain code.

Every rule comes from the spec: column types, null rates, keys, generator bounds and value sets,
foreign keys, derived/lookup/rollup/date-offset definitions, distribution parameters, row counts,
the time window and the questions. ``build_checks`` also takes the physical column types found in
the data (so a column whose text does not parse is read with ``TRY_CAST``) and the row counts (so
tolerances can depend on sample size). Scenario targets are exempt from the rules a scenario bends.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from schemas.dependencies import column_dependencies
from schemas.spec import (
    CategoricalGenerator,
    ChallengeSpec,
    ColumnSpec,
    ConditionalGenerator,
    DateGenerator,
    DateOffsetGenerator,
    DateSequenceGenerator,
    DerivedGenerator,
    ForeignKeyGenerator,
    NumericGenerator,
    SequenceGenerator,
    TableSpec,
)
from tasks.engine.columns import date_weights, sample_numeric
from tasks.engine.seed import rng_for
from tasks.engine.types import declared_decimals
from tasks.quality.checks import Check, Measured
from tasks.quality.sqlexpr import Untranslatable, translate

# the DuckDB type family each spec type must have
FAMILY = {
    "int": "INTEGER",
    "float": "FLOAT",
    "decimal": "FLOAT",
    "string": "TEXT",
    "category": "TEXT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
SQL_TYPE = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DOUBLE",
    "string": "VARCHAR",
    "category": "VARCHAR",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
Z = 5.0  # tolerances are Z standard errors wide: a clean dataset fails by chance about once in 3.5 million
REFERENCE_DRAWS = 200_000
MONTH_MIN_EXPECTED = 12.0  # a month is checked when it expects this many rows (empty by chance: < 1e-5)
DERIVED_TOLERANCE = 0.006  # a recomputed value may differ by this much (half a cent and float noise)


def type_family(duckdb_type: str) -> str:
    """``BIGINT`` -> INTEGER, ``DECIMAL(18,2)`` -> FLOAT, ``TIMESTAMP_S`` -> TIMESTAMP, ``VARCHAR`` -> TEXT."""
    t = duckdb_type.upper()
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER")):
        return "INTEGER"
    if t.startswith("UBIGINT") or t.startswith("UHUGEINT"):
        return "INTEGER"
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL")):
        return "FLOAT"
    if t.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    if t.startswith(("VARCHAR", "STRING", "TEXT")):
        return "TEXT"
    return t


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Schema:
    """The spec plus what the data physically holds: how to read each column in SQL."""

    def __init__(self, spec: ChallengeSpec, types: Mapping[str, Mapping[str, str]], rows: Mapping[str, int]):
        self.spec = spec
        self.types = types
        self.rows = rows

    def has(self, table: str, column: str | None = None) -> bool:
        if table not in self.types:
            return False
        return column is None or column in self.types[table]

    def typed(self, table: str, column: str) -> bool:
        spec_type = self.spec.table(table).column(column).type
        return type_family(self.types[table][column]) == FAMILY[spec_type]

    def ref(self, table: str, column: str, alias: str = "") -> str:
        """The column in SQL, as its spec type (``TRY_CAST`` when the data holds text that may not parse)."""
        name = f"{alias}.{q(column)}" if alias else q(column)
        if self.typed(table, column):
            return name
        return f"TRY_CAST({name} AS {SQL_TYPE[self.spec.table(table).column(column).type]})"

    def key(self, table: str, alias: str = "") -> str:
        """The row key as text (primary-key parts joined by '|', or '#rowid')."""
        spec = self.spec.table(table)
        prefix = f"{alias}." if alias else ""
        parts = [k for k in spec.primary_key if self.has(table, k)]
        if not parts or len(parts) != len(spec.primary_key):
            return f"'#' || CAST({prefix}rowid AS VARCHAR)"
        return " || '|' || ".join(f"CAST({prefix}{q(k)} AS VARCHAR)" for k in parts)

    def describe(self, table: str, column: str, alias: str = "") -> str:
        """Example text for a row: ``<key>: <column>=<value>``."""
        name = f"{alias}.{q(column)}" if alias else q(column)
        return f"{self.key(table, alias)} || ': {column}=' || coalesce(CAST({name} AS VARCHAR), 'NULL')"

    def text(self, table: str, column: str, alias: str = "") -> str:
        """The column as the engine's ``str(value)``: what conditional cases and categorical values are matched on.

        Python writes booleans ``True``/``False`` where DuckDB writes ``true``/``false``.
        """
        name = f"{alias}.{q(column)}" if alias else q(column)
        if type_family(self.types[table][column]) == "BOOLEAN":
            return f"(CASE WHEN {name} THEN 'True' WHEN NOT {name} THEN 'False' END)"
        return f"CAST({name} AS VARCHAR)"

    def expression(self, table: str, text: str, overrides: Mapping[str, str] | None = None) -> tuple[str, str] | None:
        """``text`` (the spec's grammar) as SQL over ``table``'s row, or None when SQL cannot match the engine."""
        spec_table = self.spec.table(table)

        def column(name: str) -> tuple[str, str, bool]:
            col = spec_table.column(name)
            if col is None or not self.has(table, name):
                raise Untranslatable(name)
            family = FAMILY[col.type] if self.typed(table, name) else "TEXT"
            kind = {"INTEGER": "num", "FLOAT": "num", "BOOLEAN": "bool", "TEXT": "text"}.get(family, "date")
            return self.ref(table, name), kind, may_be_null(self.spec, spec_table, col)

        return translate(text, column, overrides)

    def join_pair(self, left: tuple[str, str, str], right: tuple[str, str, str]) -> tuple[str, str]:
        """Two key columns made comparable: as they are when their types agree, else both as text."""
        (lt, lc, la), (rt, rc, ra) = left, right
        same = type_family(self.types[lt][lc]) == type_family(self.types[rt][rc])
        if same:
            return f"{la}.{q(lc)}", f"{ra}.{q(rc)}"
        return f"CAST({la}.{q(lc)} AS VARCHAR)", f"CAST({ra}.{q(rc)} AS VARCHAR)"


def build_checks(
    spec: ChallengeSpec,
    types: Mapping[str, Mapping[str, str]],
    rows: Mapping[str, int],
) -> list[Check]:
    """Every check of every category for ``spec`` over data with these physical ``types`` and ``rows``.

    Args:
        spec: the challenge spec.
        types: table -> column -> DuckDB type of the data as loaded.
        rows: table -> row count of the data.

    Returns:
        Checks in category order, then spec order.
    """
    schema = Schema(spec, types, rows)
    checks: list[Check] = []
    for builder in (
        _schema_checks,
        _completeness_checks,
        _uniqueness_checks,
        _validity_checks,
        _referential_checks,
        _consistency_checks,
        _distribution_checks,
        _coverage_checks,
    ):
        checks.extend(builder(schema))
    return checks


def _present_columns(schema: Schema, table: TableSpec) -> list[ColumnSpec]:
    return [c for c in table.columns if schema.has(table.name, c.name)]


def _scenario_targets(spec: ChallengeSpec, kinds: tuple[str, ...]) -> dict[tuple[str, str], list]:
    targets: dict[tuple[str, str], list] = {}
    for s in spec.scenarios:
        column = getattr(s.effect, "column", None)
        if column and s.effect.kind in kinds:
            targets.setdefault((s.table, column), []).append(s.effect)
    return targets


def _condition_reads(scenario) -> set[str]:
    from schemas.expressions import expression_names

    cond = scenario.condition
    return ({cond.date_column} if cond.date_column else set()) | (expression_names(cond.where) if cond.where else set())


# --------------------------------------------------------------------------- 1. schema conformity


def _schema_checks(schema: Schema) -> list[Check]:
    checks = []
    for table in schema.spec.tables:
        name = table.name
        expected = set(table.column_names)
        actual = set(schema.types.get(name, {}))
        missing, extra = sorted(expected - actual), sorted(actual - expected)

        def measure(_ctx, missing=missing, extra=extra, present=name in schema.types) -> Measured:
            if not present:
                return Measured(len(missing), len(missing), ("table is missing",))
            examples = [f"missing column {c}" for c in missing] + [f"unexpected column {c}" for c in extra]
            return Measured(len(missing) + len(extra), len(missing) + len(extra), tuple(examples[:5]))

        checks.append(
            Check(
                "schema_conformity",
                name,
                None,
                "columns",
                "expect_table_columns_to_match_set",
                f"{name} has exactly the spec's columns",
                "python",
                python=measure,
                min_value=0,
                max_value=0,
                inputs=frozenset({(name, None)}),
            )
        )
        for column in _present_columns(schema, table):
            family = FAMILY[column.type]
            observed = type_family(schema.types[name][column.name])
            bad = f"{q(column.name)} IS NOT NULL AND {schema.ref(name, column.name)} IS NULL"
            checks.append(
                Check(
                    "schema_conformity",
                    name,
                    column.name,
                    "type",
                    "expect_column_values_to_be_in_type_list",
                    f"{name}.{column.name} holds {column.type} values",
                    "python",
                    python=_type_measure(name, column.name, observed, bad, schema.describe(name, column.name)),
                    value_set=(family,),
                    inputs=frozenset({(name, column.name)}),
                )
            )
    return checks


def _type_measure(table: str, column: str, observed: str, bad: str, describe: str):
    def measure(ctx) -> Measured:
        if not ctx.schema.typed(table, column):
            count = ctx.count(table, bad)
            return Measured(observed, count, ctx.examples(f"SELECT {describe} FROM {q(table)} WHERE {bad}"))
        return Measured(observed)

    return measure


# --------------------------------------------------------------------------- 2. completeness


def may_be_null(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec, seen: frozenset = frozenset()) -> bool:
    """Whether the generator itself can leave a value empty (no case matches, a null source ...)."""
    if (table.name, column.name) in seen:
        return False
    seen = seen | {(table.name, column.name)}
    gen = column.generator
    if column.nullable > 0:
        return True
    if isinstance(gen, ConditionalGenerator) and gen.default is None:
        return True
    if gen.kind == "rollup" and gen.function not in ("sum", "count"):
        return True
    if isinstance(gen, DerivedGenerator) and expression_may_be_null(spec, table, gen.expression, seen):
        return True
    if gen.kind in ("measure", "group_key") and table.aggregate_of is not None:
        source = spec.table(table.aggregate_of)
        empty_group = gen.kind == "measure" and gen.function in ("mean", "min", "max")
        if gen.expression is not None and (empty_group or gen.kind == "group_key"):
            return expression_may_be_null(spec, source, gen.expression, seen)
        return False
    refs = []
    if gen.kind == "lookup":
        refs.append(f"{gen.via}.{gen.column}")
    if isinstance(gen, DateOffsetGenerator):
        refs.append(gen.from_column)
    for ref in refs:
        source_table, source = _resolve(spec, table, ref)
        if source is not None and may_be_null(spec, source_table, source, seen):
            return True
    for dep in column_dependencies(gen) & set(table.column_names):
        if dep != column.name and may_be_null(spec, table, table.column(dep), seen):
            return True
    return False


def expression_may_be_null(spec: ChallengeSpec, table: TableSpec, text: str, seen: frozenset = frozenset()) -> bool:
    """Whether an expression can give an empty value: it says ``None``, takes a log or root, or reads such a column."""
    import ast

    from schemas.expressions import expression_names, parse_expression

    tree = parse_expression(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value is None:
            return True
        if isinstance(node, ast.Name) and node.id == "None":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("log", "sqrt"):
            return True
    for name in expression_names(text) & set(table.column_names):
        if may_be_null(spec, table, table.column(name), seen):
            return True
    return False


def _resolve(spec: ChallengeSpec, table: TableSpec, ref: str) -> tuple[TableSpec, ColumnSpec | None]:
    if "." not in ref:
        return table, table.column(ref)
    fk, parent_column = ref.split(".", 1)
    gen = table.column(fk).generator
    parent = spec.table(gen.parent_table)
    return parent, parent.column(parent_column)


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
        source_table, source = _resolve(spec, table, ref)
        if "." in ref:
            terms.append(f"{q(ref.split('.', 1)[0])} IS NULL")
            if source is not None and may_be_null(spec, source_table, source):
                return None
    for dep in sorted(column_dependencies(gen) & set(table.column_names) - {column.name}):
        if may_be_null(spec, table, table.column(dep)):
            terms.append(f"{q(dep)} IS NULL")
    return " OR ".join(f"({t})" for t in terms) if terms else "FALSE"


def _completeness_checks(schema: Schema) -> list[Check]:
    checks = []
    for table in schema.spec.tables:
        name = table.name
        for column in _present_columns(schema, table):
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


# --------------------------------------------------------------------------- 3. uniqueness


def _uniqueness_checks(schema: Schema) -> list[Check]:
    checks = []
    for table in schema.spec.tables:
        name = table.name
        groups: list[tuple[list[str], str, str]] = []
        if table.primary_key:
            groups.append((list(table.primary_key), "primary_key", "expect_compound_columns_to_be_unique"))
        for column in table.columns:
            if column.unique and [column.name] != list(table.primary_key):
                groups.append(([column.name], "unique", "expect_column_values_to_be_unique"))
        for group in table.unique_together:
            groups.append((list(group), "unique_together", "expect_compound_columns_to_be_unique"))
        for columns, rule, expectation in groups:
            if not all(schema.has(name, c) for c in columns):
                continue
            cols = ", ".join(q(c) for c in columns)
            key_text = " || '|' || ".join(f"coalesce(CAST({q(c)} AS VARCHAR), 'NULL')" for c in columns)
            not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in columns)
            label = "+".join(columns)
            # the metric is the number of extra rows (a key seen k times counts k - 1)
            sql = (
                f"SELECT {key_text} || ' appears ' || CAST(count(*) AS VARCHAR) || ' times' AS example, "
                f"count(*) - 1 AS extra FROM {q(name)} WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1"
            )
            checks.append(
                Check(
                    "uniqueness",
                    name,
                    label,
                    rule,
                    expectation,
                    f"{name}.{label} identifies one row",
                    "query",
                    sql=sql,
                    min_value=0,
                    max_value=0,
                    inputs=frozenset({(name, c) for c in columns}),
                )
            )
    return checks


# --------------------------------------------------------------------------- 4. validity


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


def stored_decimals(column: ColumnSpec) -> int | None:
    """Decimals a number column is stored with (``tasks.engine.types.column_to_arrow``); None: not rounded."""
    if column.type == "int":
        return 0
    if column.type == "decimal":
        return declared_decimals(column)
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


def _validity_checks(schema: Schema) -> list[Check]:  # noqa: C901 - one branch per rule family
    spec = schema.spec
    scaled = _scenario_targets(spec, ("scale",))
    checks = []
    for table in spec.tables:
        name = table.name
        for column in _present_columns(schema, table):
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
                window = _date_window(spec, gen)
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


def _date_window(spec: ChallengeSpec, gen) -> tuple[dt.date, dt.date] | None:
    if isinstance(gen, (DateGenerator, DateSequenceGenerator)):
        window = spec.challenge.time_window
        return gen.start or window.start, gen.end or window.end
    return None


# --------------------------------------------------------------------------- 5. referential integrity


def _referential_checks(schema: Schema) -> list[Check]:
    checks = []
    for rel in schema.spec.relationships:
        ct, cc, pt, pc = rel.child_table, rel.child_column, rel.parent_table, rel.parent_column
        if not (schema.has(ct, cc) and schema.has(pt, pc)):
            continue
        left, right = schema.join_pair((ct, cc, "c"), (pt, pc, "p"))
        sql = (
            f"SELECT {schema.describe(ct, cc, 'c')} AS example FROM {q(ct)} c "
            f"WHERE c.{q(cc)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {q(pt)} p WHERE {right} = {left})"
        )
        checks.append(
            Check(
                "referential_integrity",
                ct,
                cc,
                f"references_{pt}",
                "expect_column_values_to_be_in_set (parent keys)",
                f"every {ct}.{cc} exists in {pt}.{pc}",
                "query",
                sql=sql,
                min_value=0,
                max_value=0,
                inputs=frozenset({(ct, cc), (pt, pc)}),
            )
        )
    return checks


# --------------------------------------------------------------------------- 6. consistency


def _consistency_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    bent = _scenario_targets(spec, ("scale", "shift_weights"))
    checks: list[Check] = []
    for table in spec.tables:
        name = table.name
        for column in _present_columns(schema, table):
            gen = column.generator
            if (name, column.name) in bent:
                continue  # a scenario changed this column after its rule made it
            if gen.kind == "derived":
                checks.append(_derived_check(schema, table, column))
            elif gen.kind == "lookup":
                check = _lookup_check(schema, table, column)
                if check:
                    checks.append(check)
            elif gen.kind == "rollup":
                checks.append(_rollup_check(schema, table, column))
            checks += _date_order_checks(schema, table, column)
        for fk in table.columns:
            gen = fk.generator
            if isinstance(gen, ForeignKeyGenerator) and (gen.min_children is not None or gen.max_children):
                check = _cardinality_check(schema, table, fk)
                if check:
                    checks.append(check)
    return checks


def input_slack(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec, seen: frozenset = frozenset()) -> float:
    """How far a stored number may be from the value the engine computed with (half its storage step, or 0).

    The engine computes a derived column from its inputs as built; files store decimals rounded (to the
    generator's ``decimals``, else 2) and ints rounded. An input that the engine already held at its stored
    precision (rounded numbers, listed values, round() expressions, lookups of such) has no slack.
    """
    decimals = stored_decimals(column)
    if decimals is None or (table.name, column.name) in seen:
        return 0.0
    seen = seen | {(table.name, column.name)}
    step = 0.5 * 10.0**-decimals
    gen = column.generator
    scaled = any(
        s.table == table.name and getattr(s.effect, "column", None) == column.name and s.effect.kind == "scale"
        for s in spec.scenarios
    )
    if scaled and column.type != "int" and getattr(gen, "decimals", None) is None:
        return step  # a scenario scaled it and nothing rounded it before its dependents read it
    if _exact(spec, table, column, gen, decimals, seen):
        return 0.0
    return step


def _exact(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec, gen, decimals: int, seen: frozenset) -> bool:
    """Whether the engine's values of ``gen`` already have at most ``decimals`` decimals."""
    if isinstance(gen, NumericGenerator):
        if gen.distribution == "poisson":  # whole numbers, clipped to whole bounds
            return all(b is None or float(b).is_integer() for b in (gen.min, gen.max))
        return gen.decimals is not None and gen.decimals <= decimals
    if isinstance(gen, CategoricalGenerator):
        return all(isinstance(v, (bool, int)) or float(v) == round(float(v), decimals) for v in gen.values)
    if isinstance(gen, ConditionalGenerator):
        cases = [*gen.cases.values(), *([gen.default] if gen.default else [])]
        return all(_exact(spec, table, column, c, decimals, seen) for c in cases)
    if isinstance(gen, SequenceGenerator):
        return True
    if gen.kind == "lookup":
        parent_table, parent = _resolve(spec, table, f"{gen.via}.{gen.column}")
        return (
            parent is not None
            and input_slack(spec, parent_table, parent, seen) == 0.0
            and (stored_decimals(parent) is not None and stored_decimals(parent) <= decimals)
        )
    if gen.kind == "rollup":
        return gen.function == "count"
    if isinstance(gen, DerivedGenerator):
        import ast

        from schemas.expressions import parse_expression

        body = parse_expression(gen.expression).body
        if isinstance(body, ast.Call) and isinstance(body.func, ast.Name):
            if body.func.id in ("floor", "ceil", "year", "quarter", "month", "day", "hour", "weekday", "days_between"):
                return True
            if body.func.id == "round":
                digits = body.args[1].value if len(body.args) == 2 and isinstance(body.args[1], ast.Constant) else 0
                return isinstance(digits, int) and digits <= decimals
    return False


def _derived_check(schema: Schema, table: TableSpec, column: ColumnSpec) -> Check:
    from schemas.expressions import expression_names

    names = expression_names(column.generator.expression) & set(table.column_names)
    expression = column.generator.expression
    inputs = frozenset({(table.name, column.name), *((table.name, n) for n in names)})
    sql = _derived_sql(schema, table, column, names)
    if sql is not None:
        return Check(
            "consistency",
            table.name,
            column.name,
            "derived",
            "expect_column_pair_values_to_be_equal (recomputed)",
            f"{table.name}.{column.name} = {expression}",
            "rows",
            sql=sql[0],
            example=(
                f"{schema.describe(table.name, column.name)} || ', expected ' "
                f"|| coalesce(CAST({sql[1]} AS VARCHAR), 'NULL')"
            ),
            min_value=0,
            max_value=0,
            inputs=inputs,
        )

    def measure(ctx) -> Measured:
        return ctx.recompute(table.name, column.name, expression)

    return Check(
        "consistency",
        table.name,
        column.name,
        "derived",
        "expect_column_pair_values_to_be_equal (recomputed)",
        f"{table.name}.{column.name} = {expression}",
        "python",
        python=measure,
        min_value=0,
        max_value=0,
        inputs=inputs,
    )


def _derived_sql(schema: Schema, table: TableSpec, column: ColumnSpec, names: set[str]) -> tuple[str, str] | None:
    """(SQL true for a row whose stored value is not its recomputed value, SQL of the value as stored) or None.

    The recomputed value is stored the way the engine stores it (ints and decimals rounded half to even).
    Inputs the engine held more precisely than they are stored widen the tolerance by the change their
    storage step makes to the result. An empty stored value where one was expected is completeness's
    finding, not this one's.
    """
    name = table.name
    if not schema.typed(name, column.name) or not all(schema.typed(name, n) for n in names if schema.has(name, n)):
        return None
    raw = schema.expression(name, column.generator.expression)
    if raw is None:
        return None
    expected, kind = raw
    mine = q(column.name)
    if column.type in ("int", "float", "decimal"):
        if kind == "bool":
            expected = f"CAST({expected} AS DOUBLE)"
        elif kind not in ("num", "null"):
            return None
        decimals = stored_decimals(column)
        stored = (
            expected if decimals is None else f"(round_even({expected} * {10.0**decimals!r}, 0) / {10.0**decimals!r})"
        )
        slack = []
        for n in sorted(names):
            spec_col = table.column(n)
            step = input_slack(schema.spec, table, spec_col) if spec_col.type in ("int", "decimal") else 0.0
            if not step:
                continue
            ref = schema.ref(name, n)
            changes = []
            for sign in ("+", "-"):
                moved = schema.expression(name, column.generator.expression, {n: f"{ref} {sign} {step!r}"})
                if moved is None:
                    return None
                changes.append(f"coalesce(abs(({moved[0]}) - ({expected})), 0)")
            slack.append(f"greatest({', '.join(changes)})")
        tolerance = f"{DERIVED_TOLERANCE!r} + 1e-9 * abs({stored})"
        if slack:
            step = 0.0 if decimals is None else 10.0**-decimals
            tolerance += f" + {step!r} + " + " + ".join(slack)
        differs = f"abs({mine} - {stored}) > {tolerance}"
    elif column.type in ("date", "datetime"):
        if kind not in ("date", "null"):
            return None
        stored = f"CAST({expected} AS DATE)" if column.type == "date" else f"date_trunc('second', {expected})"
        differs = f"CAST({mine} AS TIMESTAMP) <> CAST({stored} AS TIMESTAMP)"
    elif column.type == "bool":
        if kind not in ("bool", "null"):
            return None
        stored = expected
        differs = f"{mine} <> {stored}"
    else:
        if kind not in ("text", "null"):
            return None
        stored = expected
        differs = f"CAST({mine} AS VARCHAR) <> {stored}"
    bad = f"({mine} IS NOT NULL AND ({stored}) IS NULL) OR ({mine} IS NOT NULL AND {differs})"
    return bad, stored


def _lookup_check(schema: Schema, table: TableSpec, column: ColumnSpec) -> Check | None:
    gen = column.generator
    fk = table.column(gen.via).generator
    pt = fk.parent_table
    if not (schema.has(table.name, gen.via) and schema.has(pt, fk.parent_column) and schema.has(pt, gen.column)):
        return None
    left, right = schema.join_pair((table.name, gen.via, "c"), (pt, fk.parent_column, "p"))
    mine, theirs = schema.ref(table.name, column.name, "c"), schema.ref(pt, gen.column, "p")
    differs = f"abs({mine} - {theirs}) > 0.006" if column.type in ("int", "float", "decimal") else f"{mine} <> {theirs}"
    sql = (
        f"SELECT {schema.describe(table.name, column.name, 'c')} || ', {pt}.{gen.column}=' "
        f"|| CAST({theirs} AS VARCHAR) AS example FROM {q(table.name)} c JOIN {q(pt)} p ON {left} = {right} "
        f"WHERE {mine} IS NOT NULL AND {theirs} IS NOT NULL AND {differs}"
    )
    return Check(
        "consistency",
        table.name,
        column.name,
        "lookup",
        "unexpected_rows_expectation (lookup)",
        f"{table.name}.{column.name} equals {pt}.{gen.column} through {gen.via}",
        "query",
        sql=sql,
        min_value=0,
        max_value=0,
        inputs=frozenset({(table.name, column.name), (table.name, gen.via), (pt, fk.parent_column), (pt, gen.column)}),
    )


def _rollup_check(schema: Schema, table: TableSpec, column: ColumnSpec) -> Check:
    gen = column.generator
    child = schema.spec.table(gen.table)
    key = child.column(gen.via).generator.parent_column
    from schemas.expressions import expression_names

    read = expression_names(gen.expression) if gen.expression else set()

    def measure(ctx) -> Measured:
        return ctx.rollup(table.name, column.name, key, gen)

    sql = ""
    bare = gen.expression is not None and gen.expression.strip() in child.column_names
    if (gen.function == "count" or bare) and all(
        schema.has(*ref) for ref in ((gen.table, gen.via), (table.name, key), (table.name, column.name))
    ):
        # a plain column or a count aggregates in DuckDB, much faster than pandas on millions of lines
        value = "count(*)" if gen.function == "count" else f"{gen.function}({schema.ref(gen.table, gen.expression)})"
        left, right = schema.join_pair((table.name, key, "p"), (gen.table, gen.via, "k"))
        filled = "coalesce(k.x, 0)" if gen.function in ("sum", "count") else "k.x"
        sql = (
            f"SELECT {schema.describe(table.name, column.name, 'p')} || ', children give ' "
            f"|| coalesce(CAST({filled} AS VARCHAR), 'NULL') AS example FROM {q(table.name)} p "
            f"LEFT JOIN (SELECT {q(gen.via)}, {value} AS x FROM {q(gen.table)} GROUP BY {q(gen.via)}) k "
            f"ON {left} = {right} WHERE {schema.ref(table.name, column.name, 'p')} IS NOT NULL "
            f"AND {filled} IS NOT NULL AND abs({schema.ref(table.name, column.name, 'p')} - {filled}) > 0.011"
        )

    return Check(
        "consistency",
        table.name,
        column.name,
        "rollup",
        "unexpected_rows_expectation (rollup)",
        f"{table.name}.{column.name} = {gen.function}({gen.expression or '*'}) over {gen.table}",
        "query" if sql else "python",
        sql=sql,
        python=None if sql else measure,
        min_value=0,
        max_value=0,
        inputs=frozenset(
            {(table.name, column.name), (table.name, key), (gen.table, None), *((gen.table, n) for n in read)}
        ),
    )


def _date_rules(
    gen, schema: Schema, table: str, condition: str = "TRUE", on: str | None = None
) -> list[tuple[str, str | None, object]]:
    """(SQL condition over alias c, column it reads, generator) for a column's date rules, conditionals opened."""
    if isinstance(gen, ConditionalGenerator):
        rules = []
        for key, case in gen.cases.items():
            if not schema.has(table, gen.on):
                continue
            rules += _date_rules(case, schema, table, f"{schema.text(table, gen.on, 'c')} = {lit(str(key))}", gen.on)
        return rules
    if isinstance(gen, DateOffsetGenerator) or (isinstance(gen, DateGenerator) and gen.after):
        return [(condition, on, gen)]
    return []


def _source_sql(schema: Schema, table: TableSpec, ref: str) -> tuple[str, str, set[tuple[str, str]]] | None:
    """(join clause, SQL of the referenced date, inputs) for ``col`` or ``fk.parent_col``."""
    if "." not in ref:
        if not schema.has(table.name, ref):
            return None
        return "", schema.ref(table.name, ref, "c"), {(table.name, ref)}
    fk_name, parent_col = ref.split(".", 1)
    fk = table.column(fk_name).generator
    pt, pk = fk.parent_table, fk.parent_column
    if not (schema.has(table.name, fk_name) and schema.has(pt, pk) and schema.has(pt, parent_col)):
        return None
    left, right = schema.join_pair((table.name, fk_name, "c"), (pt, pk, "p"))
    join = f"JOIN (SELECT DISTINCT {q(pk)}, {q(parent_col)} FROM {q(pt)}) p ON {left} = {right}"
    return join, schema.ref(pt, parent_col, "p"), {(table.name, fk_name), (pt, pk), (pt, parent_col)}


def _date_order_checks(schema: Schema, table: TableSpec, column: ColumnSpec) -> list[Check]:
    checks = []
    rules = _date_rules(column.generator, schema, table.name)
    for i, (condition, on, gen) in enumerate(rules):
        ref = gen.after if isinstance(gen, DateGenerator) else gen.from_column
        source = _source_sql(schema, table, ref)
        if source is None:
            continue
        join, start, inputs = source
        mine = schema.ref(table.name, column.name, "c")
        if isinstance(gen, DateGenerator):
            bad, text = f"{mine} < {start}", f"{column.name} is not before {ref}"
        else:
            low, high = _offset_bounds(gen, column.type)
            seconds = f"(epoch(CAST({mine} AS TIMESTAMP)) - epoch(CAST({start} AS TIMESTAMP)))"
            terms = ([f"{seconds} < {low}"] if low is not None else []) + (
                [f"{seconds} > {high}"] if high is not None else []
            )
            if not terms:
                continue
            bad = " OR ".join(terms)
            text = f"{column.name} - {ref} is within the offset's [{gen.offset.min}, {gen.offset.max}] {gen.unit}"
        cond_inputs = {(table.name, on)} if on else set()
        sql = (
            f"SELECT {schema.describe(table.name, column.name, 'c')} || ', {ref}=' || CAST({start} AS VARCHAR) "
            f"AS example FROM {q(table.name)} c {join} "
            f"WHERE ({condition}) "
            f"AND {mine} IS NOT NULL AND {start} IS NOT NULL AND ({bad})"
        )
        checks.append(
            Check(
                "consistency",
                table.name,
                column.name,
                "after" if isinstance(gen, DateGenerator) else f"offset_{i}" if len(rules) > 1 else "offset",
                "unexpected_rows_expectation (date order)",
                f"{table.name}.{text}",
                "query",
                sql=sql,
                min_value=0,
                max_value=0,
                inputs=frozenset({(table.name, column.name), *inputs, *cond_inputs}),
            )
        )
    return checks


def _offset_bounds(gen: DateOffsetGenerator, column_type: str) -> tuple[float | None, float | None]:
    """Seconds between the two dates that the offset allows (dates round to whole days)."""
    unit = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0}[gen.unit]
    low = gen.offset.min
    if low is None and gen.offset.distribution in ("lognormal", "poisson", "pareto", "exponential", "gamma"):
        low = 0.0
    high = gen.offset.max
    if column_type == "date":
        day = 86400.0
        return (
            None if low is None else math.floor(low * unit / day - 0.5) * day,
            None if high is None else math.ceil(high * unit / day + 0.5) * day,
        )
    return (None if low is None else low * unit - 1), (None if high is None else high * unit + 1)


def _cardinality_check(schema: Schema, table: TableSpec, fk: ColumnSpec) -> Check | None:
    gen: ForeignKeyGenerator = fk.generator
    pt, pk = gen.parent_table, gen.parent_column
    if not (schema.has(table.name, fk.name) and schema.has(pt, pk)):
        return None
    low = gen.min_children if gen.where is None else None  # parents outside 'where' have no children
    high = gen.max_children
    if low in (None, 0) and high is None:
        return None
    left, right = schema.join_pair((table.name, fk.name, "c"), (pt, pk, "p"))
    terms = ([f"n < {low}"] if low else []) + ([f"n > {high}"] if high is not None else [])
    sql = (
        f"SELECT key || ' has ' || CAST(n AS VARCHAR) || ' rows in {table.name}' AS example FROM ("
        f"SELECT CAST(p.{q(pk)} AS VARCHAR) AS key, count(c.{q(fk.name)}) AS n FROM {q(pt)} p "
        f"LEFT JOIN {q(table.name)} c ON {left} = {right} GROUP BY p.{q(pk)}) WHERE {' OR '.join(terms)}"
    )
    return Check(
        "consistency",
        table.name,
        fk.name,
        "cardinality",
        "unexpected_rows_expectation (children per parent)",
        f"each {pt} row has {low or 0}..{high if high is not None else 'any'} rows in {table.name}",
        "query",
        sql=sql,
        min_value=0,
        max_value=0,
        inputs=frozenset({(table.name, fk.name), (table.name, None), (pt, pk), (pt, None)}),
    )


# --------------------------------------------------------------------------- 7. distribution


def reference_moments(
    spec: ChallengeSpec, table: str, column: str, gen: NumericGenerator
) -> tuple[float, float, float]:
    """Mean, std and std's standard-error factor of the generator, from the engine's own sampler."""
    rng = rng_for(spec.challenge.seed, spec.challenge.variant, "quality-reference", table, column)
    x = sample_numeric(gen, REFERENCE_DRAWS, rng)
    mean, std = float(np.mean(x)), float(np.std(x))
    m4 = float(np.mean((x - mean) ** 4))
    # var(s^2) ~ (m4 - s^4) / n, so se(s) ~ sqrt(m4 - s^4) / (2 s sqrt(n))
    se_factor = math.sqrt(max(m4 - std**4, 0.0)) / (2 * std) if std > 0 else 0.0
    return mean, std, se_factor


def _distribution_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    bent = _scenario_targets(spec, ("scale", "shift_weights"))
    for s in spec.scenarios:  # thinning rows by a condition changes the mix of the columns it reads
        if s.effect.kind == "volume":
            for read in _condition_reads(s):
                bent.setdefault((s.table, read), []).append(s.effect)
    checks = []
    for table in spec.tables:
        name = table.name
        n_rows = schema.rows.get(name, 0)
        for column in _present_columns(schema, table):
            gen = column.generator
            if (name, column.name) in bent or n_rows < 30:
                continue
            n = max(1, round(n_rows * (1 - column.nullable)))
            col = schema.ref(name, column.name)
            inputs = frozenset({(name, column.name)})
            if isinstance(gen, NumericGenerator) and column.type in ("int", "float", "decimal"):
                mean, std, se_factor = reference_moments(spec, name, column.name, gen)
                tol_mean = Z * std / math.sqrt(n) + 0.02 * abs(mean) + 1e-9
                tol_std = Z * se_factor / math.sqrt(n) + 0.05 * std + 1e-9
                checks.append(
                    Check(
                        "distribution",
                        name,
                        column.name,
                        "mean",
                        "expect_column_mean_to_be_between",
                        f"mean of {name}.{column.name} near {mean:.4g} ({gen.distribution})",
                        "aggregate",
                        sql=f"avg(CAST({col} AS DOUBLE))",
                        min_value=mean - tol_mean,
                        max_value=mean + tol_mean,
                        inputs=inputs,
                    )
                )
                if std > 0:
                    checks.append(
                        Check(
                            "distribution",
                            name,
                            column.name,
                            "stdev",
                            "expect_column_stdev_to_be_between",
                            f"spread of {name}.{column.name} near {std:.4g}",
                            "aggregate",
                            sql=f"stddev_pop(CAST({col} AS DOUBLE))",
                            min_value=max(0.0, std - tol_std),
                            max_value=std + tol_std,
                            inputs=inputs,
                        )
                    )
            elif isinstance(gen, CategoricalGenerator) and len(gen.values) > 1:
                weights = np.asarray(gen.weights or [1.0] * len(gen.values), dtype=float)
                shares = weights / weights.sum()
                numeric = column.type in ("int", "float", "decimal")
                for value, share in zip(gen.values, shares, strict=True):
                    tol = Z * math.sqrt(share * (1 - share) / n) + 0.01
                    match = (
                        f"abs(CAST({col} AS DOUBLE) - {float(value)!r}) < 1e-9"
                        if numeric
                        else f"{schema.text(name, column.name)} = {lit(str(value))}"
                    )
                    checks.append(
                        Check(
                            "distribution",
                            name,
                            column.name,
                            f"share[{value}]",
                            "expect_column_proportion_of_value_to_be_between",
                            f"share of {value!s} in {name}.{column.name} near {share:.1%}",
                            "aggregate",
                            sql=(
                                f"coalesce(count(*) FILTER (WHERE {match}) / "
                                f"nullif(count(*) FILTER (WHERE {col} IS NOT NULL), 0), 0)"
                            ),
                            min_value=max(0.0, float(share) - tol),
                            max_value=min(1.0, float(share) + tol),
                            inputs=inputs,
                        )
                    )
    return checks


# --------------------------------------------------------------------------- 8. coverage


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
    start, end = _date_window(spec, gen)
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
    window = _date_window(spec, gen)
    if window is None:
        return None
    start, end = window
    col = schema.ref(name, column.name)
    floor_sql = None
    if isinstance(gen, DateGenerator) and gen.after:
        source = _source_sql(schema, table, gen.after)
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


def _coverage_checks(schema: Schema) -> list[Check]:
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
        for column in _present_columns(schema, table):
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
    return checks
