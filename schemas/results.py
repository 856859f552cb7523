"""What phases hand to each other and to the person at a gate: validation, preview, answers, results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.spec import _StrictModel


class QuestionCheck(_StrictModel):
    question_id: str
    answerable: bool
    error: str | None = None
    tables: list[str] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list)
    result_columns: list[str] = Field(default_factory=list)
    rows: int | None = Field(None, description="rows returned (on the preview or the full data)")


class SchemaValidation(_StrictModel):
    """Phase 2: can this schema answer every question? Score 0-10 with recommendations."""

    score: float = Field(ge=0, le=10)
    questions: list[QuestionCheck]
    problems: list[str] = Field(default_factory=list, description="structural problems")
    recommendations: list[str] = Field(default_factory=list)
    formula: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems and all(q.answerable for q in self.questions)


class PreviewCheck(_StrictModel):
    """Phase 3: small tables from the same engine and seed, with FK, type and question checks."""

    row_counts: dict[str, int]
    problems: list[str] = Field(default_factory=list)
    questions: list[QuestionCheck] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(q.answerable for q in self.questions)


class Answer(_StrictModel):
    question_id: str
    question: str
    sql: str
    columns: list[str]
    rows: list[list[Any]] = Field(description="the result, at most a few hundred rows")
    row_count: int
    analysis: str = ""
    scenario: str | None = None
    scenario_finding: str | None = None


class AnswerKey(_StrictModel):
    answers: list[Answer]


class ChallengeResult(_StrictModel):
    """What a finished (or rejected) run reports."""

    status: Literal["completed", "rejected", "failed"]
    challenge_id: str | None = None
    domain: str | None = None
    reason: str | None = None
    package: str | None = Field(None, description="path or URI of the package")
    learner_package: str | None = None
    download_url: str | None = None
    schema_score: float | None = None
    quality_verdict: str | None = None
    row_counts: dict[str, int] = Field(default_factory=dict)
