"""What a quality check is: one spec-derived rule, how its metric is measured, and what the spec allows.

A ``Check`` belongs to one of the 8 categories, names the table and column it is about, the GX
expectation it stands for, the metric that measures it (a row predicate counted in DuckDB, an
unexpected-rows query, an aggregate, or a Python measure) and the allowed range or set of that
metric. ``tasks.quality.suites`` derives them from the spec (one module per category in
``tasks.quality.categories``); ``tasks.quality.measure`` computes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

MeasureKind = Literal["rows", "aggregate", "query", "python"]


@dataclass(frozen=True)
class Measured:
    """A check's metric: the observed value, how many rows are unexpected, and a few examples."""

    observed: Any
    unexpected: int = 0
    examples: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Check:
    """One rule derived from the spec.

    ``kind`` says how ``sql`` is read:
      - ``rows``: a predicate over ``table`` that is true for an unexpected row; observed = count.
      - ``aggregate``: a scalar aggregate over ``table``; observed = its value.
      - ``query``: a query returning one row per unexpected case, first column ``example``.
      - ``python``: ``python(context)`` returns a ``Measured``.
    ``example`` (rows checks) is a text expression describing a row, for the report.
    ``inputs`` are the (table, column) pairs the check reads (column None: whole rows); planted
    messiness on any of them explains a failure. ``fix`` says how to repair the spec when it fails.
    """

    category: str
    table: str
    column: str | None
    rule: str
    expectation: str
    description: str
    kind: MeasureKind
    sql: str = ""
    example: str = ""
    python: Callable[[Any], Measured] | None = field(default=None, compare=False)
    min_value: float | None = None
    max_value: float | None = None
    value_set: tuple[str, ...] | None = None
    inputs: frozenset[tuple[str, str | None]] = frozenset()
    fix: str = ""

    @property
    def id(self) -> str:
        return f"{self.category}:{self.table}.{self.column or '*'}:{self.rule}"

    @property
    def expected(self) -> str:
        if self.value_set is not None:
            return "one of " + ", ".join(self.value_set)
        if self.min_value is not None and self.max_value is not None:
            if self.min_value == self.max_value:
                return f"= {_num(self.min_value)}"
            return f"between {_num(self.min_value)} and {_num(self.max_value)}"
        if self.min_value is not None:
            return f">= {_num(self.min_value)}"
        if self.max_value is not None:
            return f"<= {_num(self.max_value)}"
        return "any"

    def passes(self, observed: Any) -> bool:
        """The rule the GX suite applies to the metric (``run_quality(gx=False)`` decides with it).

        GX ignores an empty metric (nulls count against no expectation), so a missing value passes.
        """
        if observed is None:
            return True
        if self.value_set is not None:
            return str(observed) in self.value_set
        value = float(observed)
        return (self.min_value is None or value >= self.min_value) and (
            self.max_value is None or value <= self.max_value
        )


def _num(value: float) -> str:
    return f"{value:.6g}"
