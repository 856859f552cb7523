"""The building blocks of composed challenges (``domains/parts/``): roles, catalogs, table parts, shapes.

Contract: these models validate the part library's files so a content author's typo fails at load with its
file and field. Table, column, question and scenario templates stay plain spec data (dicts) with
``${slot}`` words: they become a ``ChallengeSpec`` only after the composer fills them, and the spec's own
validation then checks them like any hand-written spec.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Role(_Strict):
    nouns: list[str] = Field(min_length=1)
    ranked: bool = Field(False, description="the list's order decides between nouns, not the brief's")


class Vocabulary(_Strict):
    roles: dict[str, Role]
    plural: dict[str, str] = {}
    place_values: dict[str, list[str]] = {}
    currency_rates: dict[str, float] = {}
    money_words: dict[str, str] = {}
    business_persons: list[str] = []
    served_outlets: list[str] = []


class CatalogCategory(_Strict):
    price: tuple[float, float]
    items: list[str] = Field(min_length=1)


class Catalog(_Strict):
    words: list[str] = []
    generic: bool = Field(False, description="item names are made from the category and the brief's item noun")
    item: str = "product"
    categories: dict[str, CatalogCategory] = Field(min_length=1)
    units: list[str] = []


class Catalogs(_Strict):
    catalogs: list[Catalog] = Field(min_length=1)


class TablePart(_Strict):
    """A table template; ``needs`` names the roles or features it requires."""

    table: str
    description: str = ""
    role: str = "fact"
    needs: list[str] = []
    rows: int | None = None
    ratio: float | None = None
    ratio_if: dict[str, float] = Field(default_factory=dict, description="feature -> ratio when it is present")
    rows_min: int | None = None
    rows_max: int | None = None
    rows_from_catalog: bool = False
    rows_from_units: bool = False
    primary_key: list[str] = []
    aggregate_of: str | None = None
    columns: list[dict[str, Any]] = Field(min_length=1)


class Dimensions(_Strict):
    parts: dict[str, TablePart]


class Shape(_Strict):
    """A composition: which parts, questions and scenarios, and the brief words that call for it."""

    shape: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    triggers: list[str] = Field(default_factory=list, description="brief words or phrases that call for this shape")
    min_trigger_score: int = Field(2, description="how many distinct triggers a brief needs for this shape")
    defaults: dict[str, str] = Field(default_factory=dict, description="role -> noun when the brief names none")
    single_events: list[str] = Field(default_factory=list, description="event nouns of one unit each (no quantity)")
    dimensions: list[str] = Field(default_factory=list, description="names of domains/parts/dimensions.yaml parts")
    facts: dict[str, TablePart] = Field(min_length=1)
    questions: list[dict[str, Any]] = Field(default_factory=list)
    scenarios: list[dict[str, Any]] = Field(default_factory=list)
    statement: str = Field(
        "{company} wants to understand its ${events_words}: what drives them, where and for whom they grow or "
        "fall, and what to do next.",
        description="problem statement template; {company} and ${slot} words are filled",
    )
    stakeholders: list[str] = Field(default_factory=lambda: ["Head of Operations", "Chief Executive Officer"])


class PartChoice(_Strict):
    """The composer's choices a model may make: the shape and the brief's noun for each role."""

    shape: str = Field(description="a shape of domains/parts/shapes/, e.g. 'transactions', 'survey'")
    roles: dict[str, str] = Field(
        default_factory=dict, description="role -> the brief's singular noun, e.g. {'event': 'membership'}"
    )
