"""Spec -> quality checks for the 8 categories, with no per-domain code.

Each category's rules live in their own module under ``tasks.quality.categories`` (schema,
completeness, uniqueness, validity, referential, consistency, distribution, coverage), with what
they share in ``categories.common``. Every rule comes from the spec: column types, null rates,
keys, generator bounds and value sets, foreign keys, derived/lookup/rollup/date-offset
definitions, distribution parameters, row counts, the time window and the questions.
``build_checks`` also takes the physical column types found in the data (so a column whose text
does not parse is read with ``TRY_CAST``) and the row counts (so tolerances can depend on sample
size). Scenario targets are exempt from the rules a scenario bends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from schemas.spec import ChallengeSpec
from tasks.quality.categories.common import (
    FAMILY,
    SQL_TYPE,
    Schema,
    Z,
    expression_may_be_null,
    lit,
    may_be_null,
    q,
    stored_decimals,
    type_family,
)
from tasks.quality.categories.completeness import completeness_checks
from tasks.quality.categories.consistency import consistency_checks, input_slack
from tasks.quality.categories.coverage import coverage_checks, expected_rows, month_expectations
from tasks.quality.categories.distribution import distribution_checks, reference_moments
from tasks.quality.categories.referential import referential_checks
from tasks.quality.categories.schema import schema_checks
from tasks.quality.categories.uniqueness import uniqueness_checks
from tasks.quality.categories.validity import (
    allowed_values,
    numeric_bounds,
    pattern_regex,
    scaled_values,
    validity_checks,
)
from tasks.quality.checks import Check

# one builder per category, in the report's category order (schemas.quality.CATEGORIES)
BUILDERS: tuple[Callable[[Schema], list[Check]], ...] = (
    schema_checks,
    completeness_checks,
    uniqueness_checks,
    validity_checks,
    referential_checks,
    consistency_checks,
    distribution_checks,
    coverage_checks,
)


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
    for builder in BUILDERS:
        checks.extend(builder(schema))
    return checks


__all__ = [
    "BUILDERS",
    "FAMILY",
    "SQL_TYPE",
    "Z",
    "Schema",
    "allowed_values",
    "build_checks",
    "expected_rows",
    "expression_may_be_null",
    "input_slack",
    "lit",
    "may_be_null",
    "month_expectations",
    "numeric_bounds",
    "pattern_regex",
    "q",
    "reference_moments",
    "scaled_values",
    "stored_decimals",
    "type_family",
]
