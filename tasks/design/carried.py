"""Which of a brief's expected facts a design carries: company, window, counts, places, events, KPIs.

Used by ``bench/briefs.py`` and the dev-brief tests: the expected facts are written by people (see
``shared/briefs/dev_briefs.yaml``: ``facts``), the answers are read from the spec alone, so a fact counts as
carried only when the data and questions hold it (a table of that size, a scenario at that month with a
question linked to it, a question that computes the KPI).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from schemas.spec import ChallengeSpec
from tasks.design.shape import place_values
from tasks.domains import tokens


@dataclass(frozen=True)
class Carried:
    kind: str  # company | window | fiscal_year | locale | count | city | event | kpi
    expected: str
    ok: bool
    detail: str = ""


def _month(text: str) -> tuple[int, int]:
    year, month = str(text).split("-")[:2]
    return int(year), int(month)


def _table_sizes(spec: ChallengeSpec) -> dict[str, int]:
    sizes = {}
    for table in spec.tables:
        if table.rows is not None:
            sizes[table.name] = table.rows
        elif table.ratio == 1.0:
            sizes[table.name] = spec.scale
    return sizes


def _values(spec: ChallengeSpec, names: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for table in spec.tables:
        for column in table.columns:
            if column.name in names or any(column.name.endswith("_" + n) for n in names):
                found |= set(place_values(column.generator.model_dump(mode="json")))
    return found


def _kpi_asked(name: str, spec: ChallengeSpec) -> str | None:
    wanted = set(tokens(re.sub(r"[%/()-]", " ", name))) - {"rate", "per", "vs", "total", "average"} or set(tokens(name))
    for question in spec.questions:
        words = set(tokens(question.text)) | set(tokens(question.sql.replace("_", " ")))
        if wanted <= words:
            return question.id
    return None


def carried_facts(spec: ChallengeSpec, facts: dict) -> list[Carried]:
    """Each expected fact with whether ``spec`` carries it."""
    out: list[Carried] = []
    profile = spec.challenge
    if company := facts.get("company"):
        ok = tokens(company)[:1] == tokens(profile.company.name)[:1]
        out.append(Carried("company", company, ok, profile.company.name))
    window = facts.get("window")
    if isinstance(window, list):
        start, end = _month(window[0]), _month(window[1])
        got = (
            (profile.time_window.start.year, profile.time_window.start.month),
            (profile.time_window.end.year, profile.time_window.end.month),
        )
        out.append(Carried("window", f"{window[0]}..{window[1]}", got == (start, end), f"{got[0]}..{got[1]}"))
    if fiscal := facts.get("fiscal_year_start_month"):
        got = profile.fiscal_year_start_month
        out.append(Carried("fiscal_year", str(fiscal), got == fiscal, str(got)))
    if locale := facts.get("locale"):
        out.append(Carried("locale", locale, profile.locale == locale, profile.locale))
    sizes = _table_sizes(spec)
    cities = _values(spec, ("city", "city_name", "town"))
    for entity, value in (facts.get("counts") or {}).items():
        if tokens(entity)[0] in ("city", "town"):
            out.append(Carried("count", f"{value} {entity}", len(cities) == value, f"{len(cities)} cities"))
            continue
        hits = [name for name, rows in sizes.items() if rows == value]
        out.append(Carried("count", f"{value} {entity}", bool(hits), ", ".join(hits) or "no table of that size"))
    for city in facts.get("cities") or []:
        out.append(Carried("city", city, city in cities, ""))
    linked = {q.scenario for q in spec.questions if q.scenario}
    for event in facts.get("events") or []:
        when = event.get("when")
        hits = []
        for scenario in spec.scenarios:
            start = scenario.condition.start
            if scenario.name not in linked or start is None:
                continue
            if when is None or _event_matches(str(when), start):
                hits.append(scenario.name)
        out.append(Carried("event", f"{event['what']} @ {when}", bool(hits), ", ".join(hits) or "not planted"))
    for kpi in facts.get("kpis") or []:
        asked = _kpi_asked(kpi, spec)
        out.append(Carried("kpi", kpi, asked is not None, asked or "no question"))
    return out


def _event_matches(when: str, start: dt.date) -> bool:
    parts = when.split("-")
    if len(parts) == 1:
        return start.year == int(parts[0])
    return (start.year, start.month) == (int(parts[0]), int(parts[1]))


# words of an entity description that name no table ("installations by installer and month")
_ENTITY_STOP = {"by", "and", "or", "per", "x", "of", "the", "with", "a", "an", "all", "each", "daily", "monthly"}
_CALENDAR = {"calendar", "date", "month", "day"}


def _entity_heads(entity: str) -> list[str]:
    """The nouns that may name the entity's table: the head before '(' and each 'or' alternative's first word."""
    head = entity.split("(", 1)[0].lower()
    heads = []
    for alternative in re.split(r"\bor\b|/|,", head):
        words = [w for w in re.findall(r"[a-z]+", alternative) if w not in _ENTITY_STOP]
        if words:
            heads.append(words[0])
    return heads


def _rejoin(items: list[str]) -> list[str]:
    """YAML's flow lists split 'members (age group, gender)' at its commas: put each entity back together."""
    joined: list[str] = []
    for item in map(str, items):
        if joined and joined[-1].count("(") > joined[-1].count(")"):
            joined[-1] += ", " + item
        else:
            joined.append(item)
    return joined


def entities_found(spec: ChallengeSpec, entities: list[str]) -> list[Carried]:
    """Which of the brief's listed entities ('clubs (city)', 'memberships or subscriptions (...)') a table holds.

    An entity is found when a table name holds its head noun (by stem: 'visits' finds fact_visits) or, for a
    calendar, when a date dimension or a month column exists.
    """
    names = {w for t in spec.tables for w in tokens(t.name.replace("_", " "))}
    columns = {w for t in spec.tables for c in t.columns for w in tokens(c.name.replace("_", " "))}
    found = []
    for entity in _rejoin(entities):
        heads = _entity_heads(entity)
        stems = [tokens(h)[0] for h in heads if tokens(h)]
        if any(h in _CALENDAR for h in heads):
            ok = bool(names & {"date", "calendar", "month"}) or bool(columns & {"month", "date"})
        else:
            ok = any(s in names for s in stems)
        found.append(Carried("entity", entity.split("(", 1)[0].strip(), ok))
    return found


# the question patterns authors list, by the skills or words of the questions that show them
_PATTERN_SKILLS: dict[str, tuple[set[str], str]] = {
    "top-n": ({"top_n", "ranking"}, r"\b(?:top|bottom|most|least|highest|lowest|leaders?)\b"),
    "share of total": ({"share_of_total"}, r"\bshare\b"),
    "segmentation": ({"segmentation"}, r"\bby (?:age|gender|segment|income|tier|channel|device|plan)"),
    "before/after": ({"before_after"}, r"\b(?:before|after)\b"),
    "ratio kpi": ({"ratios"}, r"\b(?:rate|ratio|per|share)\b"),
    "trend": ({"date_functions", "mom_growth", "yoy_growth"}, r"\b(?:month by month|each month|trend|over time)\b"),
    "seasonality": ({"seasonality"}, r"\b(?:day of the week|days of the week|weekday|hours?|months of the year)\b"),
    "cohort/retention": ({"cohort_retention"}, r"\b(?:cohort|came back|retention|retained)\b"),
    "yoy": ({"yoy_growth"}, r"\byear over year\b"),
    "funnel": ({"funnel"}, r"\bfunnel\b"),
    "actual vs target": ({"actual_vs_target"}, r"\btargets?\b"),
    "window functions": ({"window_functions"}, r"$^"),
    "ranking per customer": ({"ranking", "window_functions"}, r"\beach (?:customer|member)\b"),
    "projection": (set(), r"\b(?:project|projected|projection|forecast)\b"),
    "cross-tab by demographic": ({"segmentation"}, r"\b(?:age|gender|income)\b"),
    "correlation across tables": (set(), r"\b(?:correlat|relationship between|while|districts with more)"),
    "cagr": ({"cagr"}, r"\bcagr\b|compound annual"),
    "a/b comparison": (set(), r"\b(?:a/b|variant|test)\b"),
}


def patterns_found(spec: ChallengeSpec, patterns: list[str]) -> list[Carried]:
    """Which of the brief's listed question patterns ('top-N', 'before/after join') some question shows."""
    found = []
    for pattern in map(str, patterns):
        key = pattern.lower().split("(", 1)[0].strip()
        key = next((k for k in _PATTERN_SKILLS if key == k or key.startswith(k)), key)
        skills, words = _PATTERN_SKILLS.get(key, (set(), re.escape(key)))
        ok = any(set(q.skills) & skills or re.search(words, q.text, re.IGNORECASE) for q in spec.questions)
        found.append(Carried("pattern", pattern, bool(ok)))
    return found
