"""6. Consistency: cross-column rules recomputed (derived, lookup, rollup), date order, children per parent.

Story checks (``story.consistency_story_checks``): verdicts agree with the measured scenario sizes, the
text names only years and places the data holds, targets differ from actuals.
"""

from __future__ import annotations

import math

from schemas.spec import (
    CategoricalGenerator,
    ChallengeSpec,
    ColumnSpec,
    ConditionalGenerator,
    DateGenerator,
    DateOffsetGenerator,
    DerivedGenerator,
    ForeignKeyGenerator,
    NumericGenerator,
    SequenceGenerator,
    TableSpec,
)
from tasks.quality.categories.common import (
    DERIVED_TOLERANCE,
    Schema,
    lit,
    present_columns,
    q,
    resolve_ref,
    scenario_targets,
    source_sql,
    stored_decimals,
)
from tasks.quality.categories.story import consistency_story_checks
from tasks.quality.checks import Check, Measured


def consistency_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    bent = scenario_targets(spec, ("scale", "shift_weights"))
    checks: list[Check] = []
    for table in spec.tables:
        name = table.name
        for column in present_columns(schema, table):
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
    return checks + consistency_story_checks(schema)


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
        parent_table, parent = resolve_ref(spec, table, f"{gen.via}.{gen.column}")
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
    gen, schema: Schema, table: str, condition: str = "TRUE", reads: frozenset[str] = frozenset()
) -> list[tuple[str, frozenset[str], object]]:
    """(SQL condition over alias c, columns it reads, generator) for a column's date rules, conditionals opened.

    Nested conditionals AND their conditions; a conditional's ``default`` holds where no case matches
    (an empty ``on`` value included), as the engine builds it.
    """
    if isinstance(gen, ConditionalGenerator):
        if not schema.has(table, gen.on):
            return []
        text = schema.text(table, gen.on, "c")
        reads = reads | {gen.on}
        rules = []
        for key, case in gen.cases.items():
            rules += _date_rules(case, schema, table, f"({condition}) AND {text} = {lit(str(key))}", reads)
        if gen.default is not None:
            keys = ", ".join(lit(str(k)) for k in gen.cases)
            rest = f"coalesce({text} NOT IN ({keys}), TRUE)" if keys else "TRUE"
            rules += _date_rules(gen.default, schema, table, f"({condition}) AND {rest}", reads)
        return rules
    if isinstance(gen, DateOffsetGenerator) or (isinstance(gen, DateGenerator) and gen.after):
        return [(condition, reads, gen)]
    return []


def _date_order_checks(schema: Schema, table: TableSpec, column: ColumnSpec) -> list[Check]:
    checks = []
    rules = _date_rules(column.generator, schema, table.name)
    for i, (condition, reads, gen) in enumerate(rules):
        ref = gen.after if isinstance(gen, DateGenerator) else gen.from_column
        source = source_sql(schema, table, ref)
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
        cond_inputs = {(table.name, c) for c in reads}
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
