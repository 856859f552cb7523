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


class ScenarioCheck(_StrictModel):
    """Does a question's answer show the scenario planted for it? Stated vs measured size, and the evidence."""

    scenario: str
    description: str
    effect: str = Field(description="scale, shift_weights or volume")
    stated: float | None = Field(None, description="planted factor (a ratio; 0.55 = 45 % lower)")
    measured: float | None = Field(None, description="the same ratio measured on the generated data")
    shown: bool | None = Field(None, description="None when the answer's shape cannot tell")
    evidence: str = ""


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
    # additive fields (reports): how to read, chart and format the result
    column_types: list[str] = Field(
        default_factory=list, description="per column: int, float, string, date, datetime or bool"
    )
    units: dict[str, str] = Field(default_factory=dict, description="result column -> unit (USD, count, %, days)")
    label_columns: list[str] = Field(default_factory=list, description="columns that name a row (category, period)")
    measure: str | None = Field(None, description="the result column the analysis and chart are about")
    chart: str = "bar"
    answer_shape: str = "table"
    difficulty: str = "medium"
    truncated: bool = Field(False, description="rows holds only the first rows of a longer result")
    highlights: list[str] = Field(default_factory=list, description="short facts drawn from the result")
    analysis_source: Literal["llm", "template", "none"] = "template"
    scenario_check: ScenarioCheck | None = None
    error: str | None = Field(None, description="why the question could not be answered on this data")

    def frame(self) -> Any:
        """The stored rows as a pandas DataFrame (dates as ISO text)."""
        import pandas as pd  # local: schemas stay importable without pandas at import time

        return pd.DataFrame(self.rows, columns=self.columns)


class AnswerKey(_StrictModel):
    answers: list[Answer]
    analysis_source: Literal["llm", "template", "mixed", "none"] = "template"
    notes: list[str] = Field(default_factory=list, description="what went differently, e.g. an LLM fallback")

    def answer(self, question_id: str) -> Answer:
        for answer in self.answers:
            if answer.question_id == question_id:
                return answer
        raise KeyError(
            f"no answer for question '{question_id}'; answers exist for {[a.question_id for a in self.answers]}"
        )


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
