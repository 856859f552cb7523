"""A domain blueprint: a complete example spec plus what the offline designer varies and matches on.

Blueprints are data (``domains/*.yaml``); the designer has no per-domain code.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.spec import ChallengeSpec, _StrictModel


class LocaleVariant(_StrictModel):
    """What changes when the brief points to a country: currency, company names, city values."""

    currency: str
    company_names: list[str] = Field(default_factory=list)
    # 'table.column' -> allowed values that replace the categorical values of that column
    values: dict[str, list[str]] = Field(default_factory=dict)


class Blueprint(_StrictModel):
    domain: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = Field(description="one line for `datafactory domains`")
    keywords: list[str] = Field(min_length=3, description="words and phrases a brief about this domain uses")
    company_names: list[str] = Field(min_length=1)
    stakeholders: list[str] = Field(min_length=1)
    problem_statements: list[str] = Field(min_length=1, description="templates; {company} is replaced")
    question_count: tuple[int, int] = (8, 12)
    locales: dict[str, LocaleVariant] = Field(default_factory=dict)
    spec: ChallengeSpec

    @model_validator(mode="after")
    def validate_question_count_fits(self) -> Blueprint:
        low, high = self.question_count
        if not 1 <= low <= high:
            raise ValueError(f"question_count {self.question_count} must be 1 <= low <= high")
        if len(self.spec.questions) < low:
            raise ValueError(f"the blueprint has {len(self.spec.questions)} questions; it needs at least {low}")
        return self
