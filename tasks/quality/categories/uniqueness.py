"""3. Uniqueness: primary keys, unique columns and unique-together groups identify one row."""

from __future__ import annotations

from tasks.quality.categories.common import Schema, q
from tasks.quality.checks import Check


def uniqueness_checks(schema: Schema) -> list[Check]:
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
