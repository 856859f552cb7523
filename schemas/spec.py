"""The challenge spec: the one contract between every phase.

Three stages use it (like a three-stage interpreter): YAML/JSON -> validated ``ChallengeSpec``
(this module, no I/O) -> resolved plan (``tasks.engine.planner``) -> tables. Field-shape errors
fail fast through pydantic; cross-table problems are all collected and reported at once, each
with its location and a remedy. Nothing downstream re-describes a table by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.errors import SpecError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="snake_case identifier")]


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


# --------------------------------------------------------------------------- generators


class SequenceGenerator(_StrictModel):
    """Consecutive ids: 1, 2, 3 ... or a pattern such as ``CUST-#####`` (``#`` = zero-padded digit)."""

    kind: Literal["sequence"] = "sequence"
    start: int = 1
    step: int = Field(1, ge=1)
    pattern: str | None = Field(None, description="e.g. 'CUST-#####'; one run of '#' holds the number")

    @field_validator("pattern")
    @classmethod
    def validate_pattern_has_one_digit_run(cls, value: str | None) -> str | None:
        if value is not None and len(re.findall(r"#+", value)) != 1:
            raise ValueError(f"pattern {value!r} needs exactly one run of '#' for the number, e.g. 'ORD-######'")
        return value


class CategoricalGenerator(_StrictModel):
    """One of ``values``, drawn with ``weights`` (relative; uniform when omitted)."""

    kind: Literal["categorical"] = "categorical"
    values: list[str | int | float | bool] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def validate_weights_match_values(self) -> CategoricalGenerator:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"{len(self.weights)} weights for {len(self.values)} values; give one weight per value"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 and not all zero")
        return self


Distribution = Literal["normal", "lognormal", "uniform", "poisson", "pareto", "exponential", "gamma", "triangular"]

# which parameters each distribution needs; checked so a typo fails at load, not mid-generation
_DISTRIBUTION_PARAMS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "poisson": ("lam",),
    "pareto": ("shape", "scale"),
    "exponential": ("scale",),
    "gamma": ("shape", "scale"),
    "triangular": ("low", "mode", "high"),
}


class NumericGenerator(_StrictModel):
    """A number from a distribution, clipped to ``[min, max]`` and rounded to ``decimals``."""

    kind: Literal["numeric"] = "numeric"
    distribution: Distribution
    mean: float | None = None
    std: float | None = Field(None, ge=0)
    median: float | None = Field(None, gt=0)
    sigma: float | None = Field(None, ge=0)
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    lam: float | None = Field(None, gt=0)
    shape: float | None = Field(None, gt=0)
    scale: float | None = Field(None, gt=0)
    min: float | None = None
    max: float | None = None
    decimals: int | None = Field(None, ge=0, le=8)

    @model_validator(mode="after")
    def validate_distribution_parameters(self) -> NumericGenerator:
        needed = _DISTRIBUTION_PARAMS[self.distribution]
        missing = [p for p in needed if getattr(self, p) is None]
        if missing:
            raise ValueError(
                f"distribution '{self.distribution}' needs {', '.join(needed)}; missing {', '.join(missing)}"
            )
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max}); swap them")
        return self


class DateGenerator(_StrictModel):
    """A date or datetime inside the window, shaped by seasonality profiles and a yearly trend.

    ``month_weights`` (12), ``weekday_weights`` (7, Monday first) and ``hour_weights`` (24) are
    relative volumes; ``trend`` is the yearly growth of volume (0.2 = 20 % more events a year later).
    ``after`` names a date this date never precedes: a column of the same table, or a parent's
    column through a foreign key as ``<fk column>.<parent column>`` (an order after its
    customer's signup: ``customer_id.signup_date``).
    """

    kind: Literal["date"] = "date"
    start: dt.date | None = Field(None, description="defaults to the challenge's time window")
    end: dt.date | None = None
    month_weights: list[float] | None = Field(None, min_length=12, max_length=12)
    weekday_weights: list[float] | None = Field(None, min_length=7, max_length=7)
    hour_weights: list[float] | None = Field(None, min_length=24, max_length=24)
    trend: float = Field(0.0, gt=-1.0, le=10.0)
    after: str | None = None


class DateSequenceGenerator(_StrictModel):
    """Every day (or month start) of the window, once: the key of a date dimension."""

    kind: Literal["date_sequence"] = "date_sequence"
    start: dt.date | None = None
    end: dt.date | None = None
    freq: Literal["day", "month"] = "day"


class FakerGenerator(_StrictModel):
    """A value from a Faker provider (``name``, ``email``, ``city``, ``company`` ...), locale-aware."""

    kind: Literal["faker"] = "faker"
    provider: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    locale: str | None = Field(None, description="e.g. en_IN; defaults to the challenge locale")


class ForeignKeyGenerator(_StrictModel):
    """A key of a parent table, drawn with a popularity skew.

    ``min_children``/``max_children`` state the relationship's cardinality: how many rows of this
    table each parent row has. When this table gives neither ``rows`` nor ``ratio``, its row count
    is the sum of per-parent counts drawn in that range.
    """

    kind: Literal["foreign_key"] = "foreign_key"
    references: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", description="parent 'table.column'")
    skew: Literal["uniform", "zipf"] = "uniform"
    zipf_exponent: float = Field(1.1, gt=0.0, le=4.0)
    min_children: int | None = Field(None, ge=0)
    max_children: int | None = Field(None, ge=1)
    children_weights: list[float] | None = Field(
        None,
        description="relative weight of each child count from min_children to max_children, e.g. [5, 3, 1.5, 0.5] "
        "for baskets of 1-4 items; uniform when omitted. Used when the parents decide the rows (no rows/ratio)",
    )
    where: str | None = Field(None, description="only parents where this expression over their columns holds")

    @property
    def parent_table(self) -> str:
        return self.references.split(".", 1)[0]

    @property
    def parent_column(self) -> str:
        return self.references.split(".", 1)[1]

    @model_validator(mode="after")
    def validate_cardinality_order(self) -> ForeignKeyGenerator:
        if self.min_children is not None and self.max_children is not None and self.min_children > self.max_children:
            raise ValueError(f"min_children ({self.min_children}) is above max_children ({self.max_children})")
        if self.children_weights is not None:
            if self.max_children is None:
                raise ValueError("children_weights needs max_children (one weight per count up to it)")
            counts = self.max_children - (self.min_children or 0) + 1
            if len(self.children_weights) != counts:
                raise ValueError(
                    f"{len(self.children_weights)} children_weights for the {counts} counts "
                    f"{self.min_children or 0}..{self.max_children}; give one weight per count"
                )
            if any(w < 0 for w in self.children_weights) or sum(self.children_weights) <= 0:
                raise ValueError("children_weights must be >= 0 and not all zero")
        return self


class LookupGenerator(_StrictModel):
    """A parent's column, reached through this table's foreign key ``via`` (a line's price from its product)."""

    kind: Literal["lookup"] = "lookup"
    via: str
    column: str


class DateOffsetGenerator(_StrictModel):
    """Another date plus a random offset (delivered = ordered + lognormal days).

    ``from_column`` is a date column of this table or ``<fk column>.<parent column>``.
    """

    kind: Literal["date_offset"] = "date_offset"
    from_column: str
    unit: Literal["days", "hours", "minutes"] = "days"
    offset: NumericGenerator


class DerivedGenerator(_StrictModel):
    """A checked expression over this row's columns, e.g. ``quantity * unit_price * (1 - discount)``."""

    kind: Literal["derived"] = "derived"
    expression: str


class RollupGenerator(_StrictModel):
    """An aggregate over this row's children, so that e.g. an order's total equals the sum of its lines.

    ``table`` is the child table, ``via`` its foreign-key column pointing at this table.
    """

    kind: Literal["rollup"] = "rollup"
    table: str
    via: str
    function: Literal["sum", "count", "mean", "min", "max"] = "sum"
    expression: str | None = Field(None, description="over the child's columns; not needed for count")


class GroupKeyGenerator(_StrictModel):
    """A grouping key of a pre-aggregated table: an expression over its source table's columns."""

    kind: Literal["group_key"] = "group_key"
    expression: str


class MeasureGenerator(_StrictModel):
    """A measure of a pre-aggregated table: ``function(expression)`` over the source rows of each group."""

    kind: Literal["measure"] = "measure"
    function: Literal["sum", "count", "mean", "min", "max", "count_distinct"] = "sum"
    expression: str | None = None


class ConditionalGenerator(_StrictModel):
    """A generator chosen by another column's value (salary by job level); ``default`` for other values."""

    kind: Literal["conditional"] = "conditional"
    on: str
    cases: dict[str, Generator] = Field(min_length=1)
    default: Generator | None = None


Generator = Annotated[
    Union[
        SequenceGenerator,
        CategoricalGenerator,
        NumericGenerator,
        DateGenerator,
        DateSequenceGenerator,
        FakerGenerator,
        ForeignKeyGenerator,
        LookupGenerator,
        ConditionalGenerator,
        DateOffsetGenerator,
        DerivedGenerator,
        RollupGenerator,
        GroupKeyGenerator,
        MeasureGenerator,
    ],
    Field(discriminator="kind"),
]
ConditionalGenerator.model_rebuild()

GENERATOR_KINDS = [
    "sequence",
    "categorical",
    "numeric",
    "date",
    "date_sequence",
    "faker",
    "foreign_key",
    "lookup",
    "conditional",
    "date_offset",
    "derived",
    "rollup",
    "group_key",
    "measure",
]

# --------------------------------------------------------------------------- tables

ColumnType = Literal["int", "float", "decimal", "string", "bool", "date", "datetime", "category"]

# generator kinds that make sense for each type; checked so a spec cannot ask for impossible data
_KIND_TYPES: dict[str, set[str]] = {
    "sequence": {"int", "string"},
    "numeric": {"int", "float", "decimal"},
    "date": {"date", "datetime"},
    "date_sequence": {"date"},
    "date_offset": {"date", "datetime"},
    "rollup": {"int", "float", "decimal"},
}


class ColumnSpec(_StrictModel):
    name: Name
    type: ColumnType
    description: str = ""
    unit: str | None = Field(None, description="e.g. USD, %, minutes, kg")
    nullable: float = Field(0.0, ge=0.0, lt=1.0, description="share of rows left empty")
    unique: bool = False
    optional: bool = Field(False, description="a blueprint column the designer may leave out")
    generator: Generator


class TableSpec(_StrictModel):
    name: Name
    description: str = ""
    role: Literal["dimension", "fact", "bridge", "aggregate"] = "fact"
    rows: int | None = Field(None, ge=1, description="fixed row count")
    ratio: float | None = Field(None, gt=0, description="row count as a share of the challenge scale")
    primary_key: list[str] = Field(default_factory=list)
    unique_together: list[list[str]] = Field(default_factory=list)
    aggregate_of: str | None = Field(None, description="source table of a pre-aggregated table")
    optional: bool = False
    columns: list[ColumnSpec] = Field(min_length=1)

    @field_validator("primary_key", mode="before")
    @classmethod
    def accept_single_key(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# --------------------------------------------------------------------------- questions, scenarios, messiness

Skill = Literal[
    "filtering",
    "joins",
    "aggregation",
    "window_functions",
    "ranking",
    "top_n",
    "yoy_growth",
    "mom_growth",
    "share_of_total",
    "before_after",
    "actual_vs_target",
    "ratios",
    "cagr",
    "cohort_retention",
    "funnel",
    "seasonality",
    "segmentation",
    "date_functions",
    "case_when",
    "subqueries",
    "ctes",
    "data_cleaning",
]
Difficulty = Literal["easy", "medium", "hard"]


class QuestionSpec(_StrictModel):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
    text: str = Field(min_length=10)
    sql: str = Field(min_length=10, description="DuckDB dialect, portable where possible")
    difficulty: Difficulty = "medium"
    skills: list[Skill] = Field(default_factory=list)
    answer_shape: Literal["scalar", "table", "time_series"] = "table"
    chart: Literal["bar", "line", "pie", "scatter", "column", "area", "table", "none"] = "bar"
    scenario: str | None = Field(None, description="name of the planted scenario this question reveals")


class ScenarioCondition(_StrictModel):
    """Where a scenario applies: a time window on ``date_column`` and/or a segment expression."""

    date_column: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    where: str | None = Field(None, description="expression over the table's columns, e.g. region == 'North'")


class ScaleEffect(_StrictModel):
    kind: Literal["scale"] = "scale"
    column: str
    factor: float = Field(gt=0)


class ShiftWeightsEffect(_StrictModel):
    kind: Literal["shift_weights"] = "shift_weights"
    column: str
    multipliers: dict[str, float] = Field(min_length=1, description="category -> weight multiplier")


class VolumeEffect(_StrictModel):
    kind: Literal["volume"] = "volume"
    factor: float = Field(gt=0, description="0.7 = 30 % fewer rows in the window and segment")


Effect = Annotated[Union[ScaleEffect, ShiftWeightsEffect, VolumeEffect], Field(discriminator="kind")]


class ScenarioSpec(_StrictModel):
    """A planted insight: in ``table``, where ``condition`` holds, ``effect`` happens."""

    name: Name
    description: str
    table: str
    condition: ScenarioCondition
    effect: Effect
    optional: bool = Field(True, description="the designer may leave it out of a variation")


MessKind = Literal["duplicates", "casing", "whitespace", "missing", "outliers", "date_formats", "typos"]


class MessinessRule(_StrictModel):
    """One kind of planted mess at a stated rate; every injected case goes to the issue log."""

    kind: MessKind
    table: str
    column: str | None = Field(None, description="not needed for duplicates")
    rate: float = Field(gt=0.0, le=0.5)


# --------------------------------------------------------------------------- the challenge


class Company(_StrictModel):
    name: str = Field(min_length=1)
    profile: str = ""


class TimeWindow(_StrictModel):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def validate_start_before_end(self) -> TimeWindow:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}; swap them")
        return self


class ChallengeProfile(_StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    title: str = Field(min_length=3)
    domain: str
    company: Company
    problem_statement: str = Field(min_length=20)
    stakeholder: str = ""
    time_window: TimeWindow
    difficulty: Difficulty = "medium"
    target_tools: list[str] = Field(default_factory=lambda: ["SQL", "Excel", "Power BI", "Python"])
    locale: str = "en_US"
    currency: str = "USD"
    fiscal_year_start_month: int = Field(
        1, ge=1, le=12, description="4 for April-March fiscal years (FY2024 ends in 2024)"
    )
    seed: int = Field(42, ge=0)
    variant: int = Field(0, ge=0, description="same story, different numbers: one dataset per learner")


@dataclass(frozen=True)
class Relationship:
    """A foreign key seen as a relationship; derived from the column generators, never stored twice."""

    child_table: str
    child_column: str
    parent_table: str
    parent_column: str
    min_children: int | None
    max_children: int | None


class ChallengeSpec(_StrictModel):
    spec_version: Literal[1] = 1
    challenge: ChallengeProfile
    scale: int = Field(10_000, ge=1, description="rows of the main fact table; ratios are relative to it")
    questions: list[QuestionSpec] = Field(default_factory=list)
    tables: list[TableSpec] = Field(min_length=1)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    messiness: list[MessinessRule] = Field(default_factory=list)

    def table(self, name: str) -> TableSpec:
        for table in self.tables:
            if table.name == name:
                return table
        raise SpecError(f"no table '{name}' (tables are: {', '.join(self.table_names)})")

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]

    @property
    def relationships(self) -> list[Relationship]:
        return [
            Relationship(
                t.name,
                c.name,
                c.generator.parent_table,
                c.generator.parent_column,
                c.generator.min_children,
                c.generator.max_children,
            )
            for t in self.tables
            for c in t.columns
            if isinstance(c.generator, ForeignKeyGenerator)
        ]

    @model_validator(mode="after")
    def validate_cross_references(self) -> ChallengeSpec:
        from schemas.checks import collect_problems  # the checks live beside, to keep this file readable

        problems = collect_problems(self)
        if problems:
            raise SpecProblems(problems)
        return self


class SpecProblems(ValueError):
    """Raised inside validation with every cross-reference problem; turned into ``SpecError`` on load."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        numbered = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        super().__init__(f"{len(problems)} problem(s) in the challenge spec:\n{numbered}")
