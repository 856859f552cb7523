"""A domain blueprint: a complete example spec plus what the offline designer varies and matches on.

Blueprints are data (``domains/*.yaml``); the designer has no per-domain code.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from schemas.spec import ChallengeSpec, Generator, QuestionSpec, _StrictModel


class ProblemStatement(_StrictModel):
    """A problem-statement template and the planted scenarios its sentences describe: it is used only when
    each of them is planted (a statement about a competitor in mid-2024 must not outlive that scenario)."""

    text: str = Field(min_length=20, description="template; {company} is replaced")
    tells: list[str] = Field(default_factory=list, description="names of the spec's scenarios the text describes")


def _statements(value: object) -> object:
    # a plain string is a statement that describes no scenario in particular
    if isinstance(value, list):
        return [{"text": v} if isinstance(v, str) else v for v in value]
    return value


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
    problem_statements: list[ProblemStatement] = Field(
        default_factory=list, description="templates ({company} is replaced) replacing the blueprint's, in order"
    )
    _statement_texts = field_validator("problem_statements", mode="before")(_statements)


class Blueprint(_StrictModel):
    domain: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = Field(description="one line for `datafactory domains`")
    keywords: list[str] = Field(min_length=3, description="words and phrases a brief about this domain uses")
    company_names: list[str] = Field(min_length=1)
    stakeholders: list[str] = Field(min_length=1)
    problem_statements: list[ProblemStatement] = Field(
        min_length=1, description="templates ({company} is replaced), each with the scenarios it describes"
    )
    question_count: tuple[int, int] = (8, 12)
    locales: dict[str, LocaleVariant] = Field(default_factory=dict)
    spec: ChallengeSpec

    _statement_texts = field_validator("problem_statements", mode="before")(_statements)

    @model_validator(mode="after")
    def validate_statements_tell_known_scenarios(self) -> Blueprint:
        known = {s.name for s in self.spec.scenarios}
        places = [("problem_statements", self.problem_statements)] + [
            (f"locales.{name}.problem_statements", local.problem_statements) for name, local in self.locales.items()
        ]
        for where, statements in places:
            for i, statement in enumerate(statements):
                unknown = [name for name in statement.tells if name not in known]
                if unknown:
                    raise ValueError(
                        f"{where}[{i}].tells names {unknown}, which are not scenarios of the spec "
                        f"(they are: {sorted(known)})"
                    )
        return self

    @model_validator(mode="after")
    def validate_question_count_fits(self) -> Blueprint:
        low, high = self.question_count
        if not 1 <= low <= high:
            raise ValueError(f"question_count {self.question_count} must be 1 <= low <= high")
        if len(self.spec.questions) < low:
            raise ValueError(f"the blueprint has {len(self.spec.questions)} questions; it needs at least {low}")
        return self
