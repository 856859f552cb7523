"""1. Schema conformity: each table has exactly the spec's columns, each column holds its spec type."""

from __future__ import annotations

from tasks.quality.categories.common import FAMILY, Schema, present_columns, q, type_family
from tasks.quality.checks import Check, Measured


def schema_checks(schema: Schema) -> list[Check]:
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
        for column in present_columns(schema, table):
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
