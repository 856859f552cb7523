"""The brief frame: what the designer read from an author's brief, each fact with the words it came from.

Contract: a ``BriefFrame`` is filled by the offline reader (``tasks.design.brief_reader.read_brief``) or by a
language model (structured output into this same model); everything after it is shared. Models are strict
(``extra="forbid"``) so a model's answer with invented fields is refused, and hold no I/O. Dates have month
precision unless the brief gives a day or a week (a window is always first day .. last day of its months).
Every ``Fact.source`` is an exact substring of ``BriefFrame.brief``, so gate 1 can show "what I read" next to
the author's own words (``BriefFrame.facts``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fact(_Strict):
    """Base of every fact: the exact words of the brief it came from."""

    source: str = Field(description="the exact substring of the brief, e.g. 'from January 2023 to June 2024'")


class Period(_Strict):
    """A stretch of time the brief names (a before/after period, an event's own dates)."""

    start: date = Field(description="first day (of the first month, for month periods)")
    end: date = Field(description="last day (of the last month, for month periods)")
    label: str = Field(description="human label, e.g. 'Jan-Apr 2024', 'FY2023', 'week before Pongal 2024'")


class CompanyFact(Fact):
    name: str


class StakeholderFact(Fact):
    role: str = Field(description="'COO', 'head of growth', 'category head', 'marketing team' ...")


class WindowFact(Fact):
    """The period the challenge's data covers, as the brief states it (month precision)."""

    start: date
    end: date
    fiscal_year_start_month: int | None = Field(None, ge=1, le=12, description="4 for April-March, 9 for Sep-Aug")
    relative: bool = Field(False, description="came from 'last year', 'the past two years' (resolved against today)")
    baseline: Period | None = Field(
        None, description="the period before, when the brief speaks of a change in the window ('fell last year')"
    )


class FiscalYearFact(Fact):
    """How the brief's fiscal years run, also when it names no fiscal year ('sales by fiscal year (Sep to Aug)')."""

    start_month: int = Field(ge=1, le=12)


class CountFact(Fact):
    entity: str = Field(description="singular noun as written: 'club', 'pharmacy', 'respondent', 'city', 'village'")
    value: int = Field(ge=0)


class GeographyFact(_Strict):
    country: str | None = None
    states: list[str] = []
    cities: list[str] = []
    city_count: int | None = Field(None, ge=0)
    tiers: list[str] = Field([], description="city tiers named, as 'tier-1', 'tier-2' ...")
    sources: list[str] = Field([], description="the brief's words each place or tier came from")


EventKind = Literal[
    "launch",
    "crisis",
    "promotion",
    "price_change",
    "competitor_entry",
    "pilot",
    "policy_change",
    "experiment",
    "redesign",
    "other",
]


class EventFact(Fact):
    what: str = Field(description="'membership price increase', 'Pongal 2024 promotions'")
    kind: EventKind
    start: date | None = Field(None, description="None when the brief gives no date")
    end: date | None = None
    before: Period | None = Field(None, description="only when the brief states it")
    after: Period | None = Field(None, description="only when the brief states it")
    periods_source: str | None = Field(None, description="the words the before/after periods came from")
    magnitude_pct: float | None = Field(None, description="a stated size, e.g. 20 for 'raised tariffs by 20%'")
    change_from: float | None = Field(None, description="'from 30 to 14 days' -> 30")
    change_to: float | None = Field(None, description="'from 30 to 14 days' -> 14")


class KpiFact(Fact):
    key: str = Field(description="id in the KPI lexicon (domains/lexicon/kpis.yaml), e.g. 'adr', 'churn_rate'")
    name: str = Field(description="display name, e.g. 'ADR'")
    formula: str = Field(description="over generic parts, e.g. 'room_revenue / rooms_sold'")
    parts: list[str] = Field(description="the generic parts the formula needs")
    kind: str = Field(description="ratio | share | growth | count | sum | average | rate | target_attainment ...")
    target: float | None = Field(None, description="a stated target, e.g. 85 for 'an OTP target of 85%'")


class BriefFrame(_Strict):
    brief: str
    company: CompanyFact | None = None
    stakeholder: StakeholderFact | None = None
    nouns: list[str] = Field([], description="business nouns, lemmatised: ['membership', 'visit', 'club']")
    geography: GeographyFact = GeographyFact()
    window: WindowFact | None = None
    fiscal_year: FiscalYearFact | None = None
    horizon: WindowFact | None = Field(None, description="a period to project or forecast ('project FY2027')")
    counts: list[CountFact] = []
    events: list[EventFact] = []
    kpis: list[KpiFact] = []
    locale: str | None = Field(None, description="'en_IN' when the brief points to India; None lets the caller choose")
    messiness: Literal["none", "light", "heavy"] | None = None
    messiness_source: str | None = Field(None, description="the words the messiness came from")

    def facts(self) -> list[tuple[str, str, str]]:
        """(kind, value text, source words) for every fact read, in a stable order (the gate-1 table)."""
        rows: list[tuple[str, str, str]] = []
        if self.company:
            rows.append(("company", self.company.name, self.company.source))
        if self.stakeholder:
            rows.append(("stakeholder", self.stakeholder.role, self.stakeholder.source))
        geo = self.geography
        places = [*(["country: " + geo.country] if geo.country else []), *geo.states, *geo.cities]
        if geo.city_count is not None:
            places.append(f"{geo.city_count} cities")
        places += geo.tiers
        if places:
            rows.append(("geography", ", ".join(places), "; ".join(geo.sources)))
        if self.window:
            rows.append(("window", _window_text(self.window), self.window.source))
        if self.fiscal_year:
            rows.append(("fiscal year", f"starts in month {self.fiscal_year.start_month}", self.fiscal_year.source))
        if self.horizon:
            rows.append(("horizon", _window_text(self.horizon), self.horizon.source))
        rows += [("count", f"{c.value:,} {c.entity}", c.source) for c in self.counts]
        rows += [("event", _event_text(e), e.source) for e in self.events]
        rows += [("kpi", f"{k.name} = {k.formula}", k.source) for k in self.kpis]
        if self.locale:
            rows.append(("locale", self.locale, ""))
        if self.messiness:
            rows.append(("messiness", self.messiness, self.messiness_source or ""))
        return rows


def _window_text(window: WindowFact) -> str:
    text = f"{window.start:%Y-%m} to {window.end:%Y-%m}"
    if window.fiscal_year_start_month:
        text += f" (fiscal years from month {window.fiscal_year_start_month})"
    if window.relative:
        text += " (relative to today)"
    if window.baseline:
        text += f", compared with {window.baseline.label}"
    return text


def _event_text(event: EventFact) -> str:
    when = "no date" if event.start is None else f"{event.start:%Y-%m-%d}"
    if event.end and event.start and event.end != event.start:
        when += f" to {event.end:%Y-%m-%d}"
    text = f"{event.what} ({event.kind}, {when})"
    if event.before:
        text += f"; before: {event.before.label}"
    if event.after:
        text += f"; after: {event.after.label}"
    return text
