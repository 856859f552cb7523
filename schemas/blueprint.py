"""A domain blueprint: a complete example spec plus what the offline designer varies and matches on.

Blueprints are data (``domains/*.yaml``); the designer has no per-domain code.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.spec import ChallengeSpec, Generator, QuestionSpec, _StrictModel


class LocaleVariant(_StrictModel):
    """What changes when the brief points to a country: currency, company names, city values."""

    currency: str
    company_names: list[str] = Field(default_factory=list)
    # 'table.column' -> allowed values that replace the categorical values of that column
    values: dict[str, list[str]] = Field(default_factory=dict)
    # 'table.column' -> a whole generator that replaces that column's (e.g. region by Indian city)
    generators: dict[str, Generator] = Field(default_factory=dict)
    # additive (designer): money and reporting units of the locale
    currency_factor: float | None = Field(
        None, gt=0, description="multiply money generators (unit = the spec's currency) by this, e.g. 83 for INR"
    )
    units: dict[str, str] = Field(
        default_factory=dict, description="'table.column' -> unit in this locale, e.g. 'INR lakh'"
    )
    questions: list[QuestionSpec] = Field(
        default_factory=list, description="questions replacing the spec's question of the same id (e.g. in crore)"
    )
    problem_statements: list[str] = Field(default_factory=list, description="templates; {company} is replaced")


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
