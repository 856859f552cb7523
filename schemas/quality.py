"""The quality report: 8 categories, each pass/fail with a score, counts and located failures.

Planted messiness is expected, so failures that match the issue log are listed apart from
unplanned defects; a planted issue that the checks cannot find is itself a finding. Story checks
(constant measures, degenerate answers, planted scenarios, text vs data, targets) sit in the
categories like the others and are flagged ``story``; any unplanned one fails the verdict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.sample import SdvScores
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
    check_id: str = Field("", description="stable id: category:table.column:rule")
    observed: str = Field("", description="the measured value")
    expected: str = Field("", description="what the spec allows")
    fix: str = Field("", description="how to repair the spec or the data when the check fails")
    story: bool = Field(False, description="a story check (tasks.quality.categories.story): the data tells the story")


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
    story_defects: int = Field(0, description="unplanned defects found by the story checks (among unplanned_defects)")
    story_gate: Literal["block", "report"] = Field(
        "block", description="block: story defects fail the verdict; report: they are listed but do not fail it"
    )
    planted_found: int = 0
    planted_missing: list[str] = Field(default_factory=list, description="planted issues the checks did not find")
    engine: str = Field("basic", description="what ran the checks, e.g. great_expectations")
    seconds: float = 0.0
    planted_checks: list[PlantedCheck] = Field(
        default_factory=list, description="each planted issue group: present in the data, and which checks saw it"
    )
    planted_undetected: list[str] = Field(
        default_factory=list, description="planted issues present in the data that no check flagged (informative)"
    )
    data_docs: str | None = Field(None, description="index.html of the GX data docs, when built")
    sdv: SdvScores | None = Field(None, description="learn-from-sample mode: SDV's scores, synthetic vs sample")

    def category(self, name: str) -> CategoryResult:
        return next(c for c in self.categories if c.category == name)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.categories) / max(len(self.categories), 1), 1)


MessKindName = Literal["duplicates", "casing", "whitespace", "missing", "outliers", "date_formats", "typos"]


class IssueLogEntry(_StrictModel):
    """One planted data-cleaning problem: where it is, what it was, what it became.

    ``row_key`` is the row's primary key (parts joined by ``|``) or ``#<row number>`` when the table
    has none; ``column`` is empty for whole-row kinds (duplicates). Values are text, as in the CSV.
    """

    table: str
    row_key: str
    column: str | None = None
    kind: MessKindName
    original_value: str = ""
    new_value: str = ""


class PlantedCheck(_StrictModel):
    """How one planted (table, column, kind) group of the issue log fared in the checks."""

    table: str
    column: str | None = None
    kind: MessKindName
    entries: int
    present: int = Field(description="entries whose new value is in the data at the logged row")
    detected_by: list[str] = Field(default_factory=list, description="check ids that flagged it")


QualityReport.model_rebuild()
