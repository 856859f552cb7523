"""7. Distribution: numeric means and spreads and category shares near the generator's, within Z standard errors.

Story checks (``story.distribution_story_checks``): no constant measure in a fact or aggregate table, and
every planted scenario in the data at its stated size with a question linked to it.
"""

from __future__ import annotations

import math

import numpy as np

from schemas.spec import (
    CategoricalGenerator,
    ChallengeSpec,
    NumericGenerator,
)
from tasks.engine.columns import sample_numeric
from tasks.engine.seed import rng_for
from tasks.quality.categories.common import (
    REFERENCE_DRAWS,
    Schema,
    Z,
    condition_reads,
    lit,
    present_columns,
    scenario_targets,
)
from tasks.quality.categories.story import distribution_story_checks
from tasks.quality.checks import Check


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


def distribution_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    bent = scenario_targets(spec, ("scale", "shift_weights"))
    for s in spec.scenarios:  # thinning rows by a condition changes the mix of the columns it reads
        if s.effect.kind == "volume":
            for read in condition_reads(s):
                bent.setdefault((s.table, read), []).append(s.effect)
    checks = []
    for table in spec.tables:
        name = table.name
        n_rows = schema.rows.get(name, 0)
        for column in present_columns(schema, table):
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
    return checks + distribution_story_checks(schema)
