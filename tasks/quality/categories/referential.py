"""5. Referential integrity: every foreign-key value exists in its parent."""

from __future__ import annotations

from tasks.quality.categories.common import Schema, q
from tasks.quality.checks import Check


def referential_checks(schema: Schema) -> list[Check]:
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
