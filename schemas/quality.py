"""The quality report: 8 categories, each pass/fail with a score, counts and located failures.

Planted messiness is expected, so failures that match the issue log are listed apart from
unplanned defects; a planted issue that the checks cannot find is itself a finding.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.spec import _StrictModel

Category = Literal[
    "schema_conformity",
    "completeness",
    "uniqueness",
    "validity",
    "referential_integrity",
    "consistency",
    "distribution",
    "coverage",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class Finding(_StrictModel):
    """One failed expectation, located, with a few example values."""

    category: Category
    expectation: str
    table: str
    column: str | None = None
    message: str
    unexpected_count: int = 0
    examples: list[str] = Field(default_factory=list)
    planted: bool = False


class CategoryResult(_StrictModel):
    category: Category
    passed: bool
    score: float = Field(ge=0, le=100, description="share of expectations met, in %")
    evaluated: int = 0
    failed: int = 0
    findings: list[Finding] = Field(default_factory=list, description="unplanned defects")
    planted: list[Finding] = Field(default_factory=list, description="failures explained by planted messiness")
    seconds: float = 0.0


class QualityReport(_StrictModel):
    categories: list[CategoryResult]
    verdict: Literal["pass", "fail"]
    unplanned_defects: int = 0
    planted_found: int = 0
    planted_missing: list[str] = Field(default_factory=list, description="planted issues the checks did not find")
    engine: str = Field("basic", description="what ran the checks, e.g. great_expectations")
    seconds: float = 0.0

    def category(self, name: str) -> CategoryResult:
        return next(c for c in self.categories if c.category == name)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.categories) / max(len(self.categories), 1), 1)
