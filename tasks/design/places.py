"""The places of a composed challenge: the brief's own, else the gazetteer's for its country.

Contract: ``places_for(frame, level, locale, vocabulary)`` returns the names at the geography level the brief
analyses by (city, state, district, region ...), with a popularity weight each and, for cities, their state
and tier from ``domains/lexicon/places.yaml``. Named places come first and all stay; a count ("six cities")
takes that many; otherwise six (cities, districts) or eight (states). No place is invented: levels the
gazetteer does not hold (districts, circles) take city or state names of the brief's country.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.brief import BriefFrame
from schemas.parts import Vocabulary
from tasks.design.brief_reader import load_lexicon

LOCALE_COUNTRY = {"en_IN": "India", "en_GB": "United Kingdom", "en_CA": "Canada", "en_AU": "Australia"}
DEFAULT_COUNTRY = "United States"
GENERIC_LEVELS = {"region", "zone", "area"}  # never gazetteer names
STATE_LEVELS = {"state", "circle", "province", "territory", "market"}
DEFAULT_COUNT = {"state": 8, "circle": 8, "province": 8, "district": 10, "county": 10, "village": 12}


@dataclass
class Places:
    level: str
    names: list[str]
    weights: list[float]
    states: dict[str, str] = field(default_factory=dict)
    tiers: dict[str, str] = field(default_factory=dict)


def _country(frame: BriefFrame, locale: str) -> str:
    return frame.geography.country or LOCALE_COUNTRY.get(locale, DEFAULT_COUNTRY)


def _count(frame: BriefFrame, level: str) -> int | None:
    for count in frame.counts:
        if count.entity.lower().rstrip("s") in (level, level.rstrip("y")) or count.entity.lower() == level + "s":
            return count.value
    if level in ("city", "town") and frame.geography.city_count:
        return frame.geography.city_count
    return None


def _state_name(state: object) -> str:
    return state if isinstance(state, str) else state["name"]


def places_for(frame: BriefFrame, level: str, locale: str, vocabulary: Vocabulary) -> Places:
    """Place names (with weights, states and tiers) at ``level`` for the brief."""
    countries = load_lexicon().countries
    info = countries.get(_country(frame, locale)) or countries.get(DEFAULT_COUNTRY, {})
    cities = info.get("cities", [])
    states = [_state_name(s) for s in info.get("states", [])]
    geo = frame.geography
    wanted = _count(frame, level)
    placed = bool(geo.states or geo.cities or geo.country)
    if level in vocabulary.place_values and (level in GENERIC_LEVELS or not placed):
        # a US utility's districts are not New York and Chicago: a level below the city takes plain names
        # unless the brief places it (an Indian state's districts take its cities' names)
        pool = list(vocabulary.place_values[level])
        named: list[str] = []
    elif level in STATE_LEVELS:
        named = list(geo.states)
        # the states with the most listed (big) cities first: Maharashtra before Arunachal Pradesh
        weight = {name: sum(1 for c in cities if c.get("state") == name) for name in states}
        pool = sorted(states, key=lambda name: -weight[name])
    else:
        named = list(geo.cities)
        in_states = [c["name"] for c in cities if geo.states and c.get("state") in geo.states]
        pool = in_states + [c["name"] for c in cities if c["name"] not in in_states]
    # places the brief names are the places of the data; only a larger count adds the gazetteer's
    count = wanted or (len(named) if named else DEFAULT_COUNT.get(level, 6))
    names = named + [p for p in pool if p not in named]
    names = names[: max(count, len(named))] or ["Central"]
    by_city = {c["name"]: c for c in cities}
    state_of = {n: by_city[n].get("state") or n for n in names if n in by_city}
    tier_of = {n: f"Tier {by_city[n].get('tier') or 2}" for n in names if n in by_city}
    weights = [round(1.0 / (i + 1) ** 0.5, 4) for i in range(len(names))]
    return Places(level, names, weights, state_of, tier_of)


def currency_of(frame: BriefFrame, locale: str) -> str:
    """The currency of the brief's country (the gazetteer's), USD when it has none."""
    info = load_lexicon().countries.get(_country(frame, locale), {})
    return str(info.get("currency") or "USD")
