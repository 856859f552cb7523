"""The offline brief reader: an author's brief -> a ``BriefFrame`` (schemas/brief.py), with no network or model.

Contract: ``read_brief(brief, today=...)`` is deterministic (same brief and today -> same frame), never raises
on odd text (an empty or one-word brief gives an empty frame), and every fact's ``source`` is an exact
substring of the brief. It is rule-based over patterns and word lists kept as data under
``<domains_dir>/lexicon/``: ``kpis.yaml`` (KPI lexicon), ``places.yaml`` (gazetteer), ``events.yaml`` (event
triggers, festivals, seasons) and ``reader.yaml`` (roles, company cues, stop words, number words); the
messiness a brief asks for is read by ``tasks.messiness_plan`` (``messiness.yaml``), the one reading of it.
A content author extends those files; this module holds only the grammar of dates, numbers and names.

Order of reading (later steps use earlier ones): places and locale (a fiscal year needs the locale's start
month) -> time expressions -> events (each takes the date next to it) -> before/after periods -> the window
(time expressions no event, fiscal-year definition or forecast took) -> counts -> KPIs -> company,
stakeholder, nouns, messiness.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from schemas.brief import (
    BriefFrame,
    CompanyFact,
    CountFact,
    EventFact,
    FiscalYearFact,
    GeographyFact,
    KpiFact,
    Period,
    StakeholderFact,
    WindowFact,
)
from schemas.errors import InputError
from tasks.messiness_plan import load_lexicon as load_messiness_lexicon
from tasks.messiness_plan import messiness_from_text
from tasks.settings import get_settings

LEXICON_FILES = ("kpis.yaml", "places.yaml", "events.yaml", "reader.yaml")
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the lexicon loads 10x faster
MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
MONTH_RE = (
    r"(?<![A-Za-z])(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?(?![A-Za-z])"
)
YEAR_RE = r"(?<![\w.,/-])(?:19|20)\d{2}(?![\w%]|[.,]\d)"
WORD_RE = re.compile(r"[A-Za-z0-9][\w'’&/.%-]*[\w%]|[A-Za-z0-9%]")
SEP_RE = r"\s*(?:-|–|—|to|through|thru|till|until|and)\s*"
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
CHANGE_VERBS = (
    "fell|fall|falls|falling|dropped|drop|drops|declined|decline|declining|rose|rise|rises|rising|grew|grow|"
    "growing|increased|decreased|slumped|jumped|spiked|plunged|surged|slowed|dipped|improved|worsened|went up|"
    "went down|climbed|shrank"
)
PREPS_BEFORE_DATE = {"in", "on", "during", "since", "at", "around", "from", "by", "for", "of", "over", "between"}
# words before a number that make it a plan ("before entering three new states"), not a size of the data
PLANNED_COUNT = re.compile(
    r"\b(?:before|after|plans? to|planning to|wants? to|will)\s+\w+ing\s*$"
    r"|\b(?:to|will)\s+(?:enter|open|launch|add|hire|build)\s*$",
    re.I,
)
COUNT_MODIFIERS = {"new", "active", "large", "small", "own"}  # stop words a counted noun phrase may hold
DETERMINERS = {"a", "an", "the", "its", "their", "his", "her", "our", "your", "this", "these", "that", "those"}
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n\s*\n")
ABBREVIATIONS = (
    "Rs.",
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "St.",
    "vs.",
    "Inc.",
    "Ltd.",
    "Co.",
    "Corp.",
    "U.S.",
    "U.K.",
    "e.g.",
    "i.e.",
)


# --------------------------------------------------------------------------- the lexicon


@dataclass(frozen=True)
class Place:
    name: str
    kind: str  # country | state | city
    country: str
    state: str | None = None
    tier: int | None = None


@dataclass(frozen=True)
class KpiEntry:
    key: str
    name: str
    formula: str
    parts: tuple[str, ...]
    kind: str
    typical: float | None = None  # a rate's usual share (0.88 on time, 0.08 cancelled): generated data starts there


@dataclass(frozen=True)
class Alias:
    pattern: re.Pattern[str]
    keys: tuple[str, ...]
    when: tuple[str, ...]  # the alias counts only when the brief has one of these nouns (empty = always)
    probe: str = ""  # lowercase words the brief must contain for the pattern to be worth running


@dataclass(frozen=True)
class Trigger:
    kind: str
    pattern: re.Pattern[str]
    noun: str | None


@dataclass(frozen=True)
class Festival:
    name: str
    pattern: re.Pattern[str]
    locale: str | None
    dates: dict[int, dt.date]
    fixed: tuple[int, int] | None
    rule: Any
    span: tuple[int, int]
    month: int


@dataclass(frozen=True)
class Lexicon:
    """Every word list the reader uses, compiled once per lexicon folder (reloaded when a file changes)."""

    places: tuple[tuple[re.Pattern[str], Place, str], ...]
    countries: dict[str, dict]
    kpis: dict[str, KpiEntry]
    aliases: tuple[Alias, ...]
    triggers: tuple[Trigger, ...]
    precedence: tuple[str, ...]
    plan_cues: re.Pattern[str]
    festivals: tuple[Festival, ...]
    seasons: dict[str, dict[str, list[int]]]
    words: dict[str, Any]
    first_names: frozenset[str] = field(default_factory=frozenset)

    def word_set(self, key: str) -> frozenset[str]:
        return frozenset(str(w).lower() for w in self.words.get(key, []))


def lexicon_dir(domains_dir: Path | None = None) -> Path:
    """``<domains_dir>/lexicon``: beside the blueprints in a checkout and in an installed wheel."""
    return Path(domains_dir or _settings_domains_dir(os.environ.get("DATAFACTORY_DOMAINS_DIR"))) / "lexicon"


@lru_cache(maxsize=8)
def _settings_domains_dir(env_value: str | None) -> Path:
    """The configured library (cached per DATAFACTORY_DOMAINS_DIR: building settings costs more than a read)."""
    del env_value  # part of the cache key only
    return get_settings().domains_dir


def load_lexicon(domains_dir: Path | None = None) -> Lexicon:
    """The compiled lexicon of ``<domains_dir>/lexicon`` (cached; a changed file is read again).

    Raises:
        InputError: a lexicon file is missing or is not valid YAML (the message names the file and the fix).
    """
    folder = lexicon_dir(domains_dir)
    stamps = []
    for name in LEXICON_FILES:
        path = folder / name
        if not path.is_file():
            raise InputError(
                f"the brief reader's lexicon file {path} is missing; restore domains/lexicon/{name} from the "
                "repository or point DATAFACTORY_DOMAINS_DIR at a library that has it"
            )
        stamps.append(path.stat().st_mtime_ns)
    return _compile_lexicon(str(folder), tuple(stamps))


@lru_cache(maxsize=4)
def _compile_lexicon(folder: str, stamps: tuple[int, ...]) -> Lexicon:
    del stamps  # part of the cache key only
    data = {}
    for name in LEXICON_FILES:
        path = Path(folder) / name
        try:
            data[name] = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path} is not valid YAML ({exc}); fix the line it names") from None
    places, countries = _compile_places(data["places.yaml"])
    kpis, aliases = _compile_kpis(data["kpis.yaml"])
    events = data["events.yaml"]
    triggers = tuple(
        Trigger(kind, _phrase_regex(phrase), t.get("noun"))
        for kind, items in events.get("kinds", {}).items()
        for t in items
        for phrase in ([t["match"]] if isinstance(t["match"], str) else t["match"])
    )
    festivals = tuple(_compile_festival(name, f) for name, f in events.get("festivals", {}).items())
    cues = sorted((str(c) for c in events.get("plan_cues", [])), key=len, reverse=True)
    plan_cues = re.compile(r"(?:^|\W)(?:" + "|".join(re.escape(c) for c in cues) + r")\W*$", re.I)
    return Lexicon(
        places=places,
        countries=countries,
        kpis=kpis,
        aliases=aliases,
        triggers=triggers,
        precedence=tuple(events.get("precedence", [])),
        plan_cues=plan_cues,
        festivals=festivals,
        seasons=events.get("seasons", {}),
        words=data["reader.yaml"],
        first_names=_first_names(),
    )


def _compile_places(data: dict) -> tuple[tuple[tuple[re.Pattern[str], Place, str], ...], dict[str, dict]]:
    found: list[tuple[str, Place]] = []
    countries = data.get("countries", {})
    for country, info in countries.items():
        for alias in [country, *info.get("aliases", []), *info.get("demonyms", [])]:
            found.append((str(alias), Place(country, "country", country)))
        for state in info.get("states", []):
            name, aliases = (state, []) if isinstance(state, str) else (state["name"], state.get("aliases", []))
            for alias in [name, *aliases]:
                found.append((str(alias), Place(name, "state", country, name)))
        for city in info.get("cities", []):
            place = Place(city["name"], "city", country, city.get("state"), city.get("tier"))
            for alias in [city["name"], *city.get("aliases", [])]:
                found.append((str(alias), place))
    # longest names first, so "New Delhi" is one place and "Delhi NCR" is not read as "Delhi" plus a word;
    # a city wins over a state of the same name (Delhi, Chandigarh): briefs name cities more often
    rank = {"city": 0, "state": 1, "country": 2}
    found.sort(key=lambda item: (-len(item[0]), rank[item[1].kind]))
    compiled: list[tuple[re.Pattern[str], Place, str]] = []
    seen: set[str] = set()
    for alias, place in found:
        if alias in seen:
            continue
        seen.add(alias)
        compiled.append((re.compile(r"(?<![\w-])" + re.escape(alias) + r"(?![\w-])"), place, alias))
    return tuple(compiled), countries


def _compile_kpis(data: dict) -> tuple[dict[str, KpiEntry], tuple[Alias, ...]]:
    kpis: dict[str, KpiEntry] = {}
    by_alias: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for entry in data.get("kpis", []):
        key = entry["key"]
        if key in kpis:
            raise InputError(f"kpis.yaml has two entries with key {key!r}; give each KPI its own key")
        typical = entry.get("typical")
        if typical is not None and not 0 < float(typical) < 1:
            raise InputError(f"kpis.yaml: {key}.typical is {typical!r}; give the usual share as a fraction (0-1)")
        kpis[key] = KpiEntry(
            key, entry["name"], entry["formula"], tuple(entry["parts"]), entry["kind"],
            float(typical) if typical is not None else None,
        )  # fmt: skip
        for alias in entry.get("aliases", []):
            text, when = (alias, ()) if isinstance(alias, str) else (alias["alias"], tuple(alias.get("when", [])))
            by_alias.setdefault((str(text), when), []).append(key)
    aliases = tuple(
        Alias(
            _alias_regex(text), tuple(keys), tuple(w.lower() for w in when), text.lower().replace("-", " ").split()[0]
        )
        for (text, when), keys in by_alias.items()
    )
    return kpis, aliases


def _compile_festival(name: str, data: dict) -> Festival:
    names = sorted([name, *data.get("aliases", [])], key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in names) + r")(?:\s*(?:of\s+)?('?\d{2,4}))?(?![\w-])"
    )
    fixed = tuple(int(x) for x in data["fixed"].split("-")) if data.get("fixed") else None
    dates = {int(year): _as_date(day) for year, day in (data.get("dates") or {}).items()}
    span = tuple(data.get("span", [0, 0]))
    return Festival(name, pattern, data.get("locale"), dates, fixed, data.get("rule"), span, int(data["month"]))


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _first_names() -> frozenset[str]:
    """Given names (from Faker's locale data): 'Rosa runs a small bakery' is a person's business."""
    import importlib

    names: set[str] = set()
    for locale in ("en_US", "en_IN", "en_GB", "es_ES", "it_IT", "de_DE", "fr_FR", "pt_BR"):
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # a Faker without that locale: the others still serve
            continue
        for attr in ("first_names", "first_names_female", "first_names_male"):
            names.update(str(n) for n in getattr(provider, attr, ()))
    return frozenset(names)


def _phrase_regex(match: str) -> re.Pattern[str]:
    """events.yaml's trigger notation -> a regex ('a|b' either, 'w*' any ending, '...' up to 3 words, '#' a number)."""
    parts: list[str] = []
    for word in match.split():
        if word == "...":
            parts.append(r"(?:[^\s,.;:!?()]+\s+){0,3}?")
            continue
        alts = "|".join(
            r"\d[\d,.]*" if a == "#" else re.escape(a[:-1]) + r"[\w'-]*" if a.endswith("*") else re.escape(a)
            for a in word.split("|")
        )
        parts.append(f"(?:{alts})" + r"[\s-]+")
    body = "".join(parts)
    body = body[: -len(r"[\s-]+")] if body.endswith(r"[\s-]+") else body
    return re.compile(r"(?<![\w/-])" + body + r"(?![\w/])", re.I)


def _alias_regex(alias: str) -> re.Pattern[str]:
    """A KPI alias -> a regex: words joined by space, hyphen or nothing; a final plural optional."""
    words = alias.replace("-", " ").split()
    body = r"[\s-]?".join(
        r"(?:[^\s,.;:!?()]+\s+){0,3}?" if w == "..." else re.escape(w).replace(r"\'", "['’]") for w in words
    )
    body = body.replace(r"(?:[^\s,.;:!?()]+\s+){0,3}?[\s-]?", r"(?:[^\s,.;:!?()]+\s+){0,3}?")
    if alias[-1].isalpha():
        body += r"(?:s|es)?"
    tail = r"(?![\w-])" if alias[-1].isalnum() else ""
    # an alias in capitals (ADR, RevPAR, YoY) must be written so: "adr" inside a sentence is not a KPI
    flags = 0 if any(c.isupper() for c in alias) else re.I
    return re.compile(r"(?<![\w-])" + body + tail, flags)


# --------------------------------------------------------------------------- small helpers


@dataclass
class Span:
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _month_label(start: dt.date, end: dt.date) -> str:
    if start.day != 1 or end != _month_end(end.year, end.month):
        return f"{start:%d %b %Y} - {end:%d %b %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%b %Y}"
    if start.year == end.year:
        if start.month == 1 and end.month == 12:
            return str(start.year)
        return f"{start:%b}-{end:%b %Y}"
    if start.month == 1 and end.month == 12:
        return f"{start.year}-{end.year}"
    return f"{start:%b %Y} - {end:%b %Y}"


def _words_between(text: str) -> list[str]:
    return WORD_RE.findall(text)


def lemma(word: str, irregular: dict[str, str]) -> str:
    """The singular of a (lowercase) noun: 'pharmacies' -> 'pharmacy', 'people' -> 'person'."""
    if word in irregular:
        return irregular[word]
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is", "'s")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    return word[:-1]


def _sentences(text: str) -> list[Span]:
    """Sentence spans; 'Rs. 500', 'U.S. stores' and '1.5 crore' do not end a sentence."""
    spans: list[Span] = []
    start = 0
    for match in SENTENCE_SPLIT.finditer(text):
        before = text[start : match.start()]
        if any(before.endswith(a) for a in ABBREVIATIONS):
            continue
        spans.append(Span(start, match.start()))
        start = match.end()
    spans.append(Span(start, len(text)))
    return spans


def _sentence_of(sentences: list[Span], pos: int) -> int:
    for i, s in enumerate(sentences):
        if s.start <= pos <= s.end:
            return i
    return len(sentences) - 1


# --------------------------------------------------------------------------- places and locale


@dataclass
class PlaceHit:
    span: Span
    place: Place
    text: str


def _find_places(text: str, lex: Lexicon) -> list[PlaceHit]:
    hits: list[PlaceHit] = []
    for pattern, place, alias in lex.places:
        if alias not in text:
            continue  # a plain substring test spares the regex for the hundreds of places a brief does not name
        for m in pattern.finditer(text):
            span = Span(m.start(), m.end())
            if any(h.span.overlaps(span) for h in hits):
                continue
            hits.append(PlaceHit(span, place, m.group(0)))
    return sorted(hits, key=lambda h: h.span.start)


def _geography(text: str, hits: list[PlaceHit], counts: list[CountFact]) -> GeographyFact:
    countries = _unique(h.place.country for h in hits if h.place.kind == "country")
    states = _unique(h.place.name for h in hits if h.place.kind == "state")
    cities = _unique(h.place.name for h in hits if h.place.kind == "city")
    sources = _unique(h.text for h in hits)
    if countries:
        country = countries[0]
    else:
        implied = _unique(h.place.country for h in hits)
        country = implied[0] if len(implied) == 1 else None
    tiers: list[str] = []
    for m in re.finditer(
        r"(?<![\w-])[Tt]ier[\s-]*([123]|I{1,3})((?:\s*(?:,|/|and|or|&)\s*(?:[Tt]ier[\s-]*)?(?:[123]|I{1,3})(?![\w]))*)",
        text,
    ):
        numbers = re.findall(r"[123]|I{1,3}", m.group(1) + m.group(2))
        for n in numbers:
            tier = f"tier-{len(n) if n.startswith('I') else int(n)}"
            if tier not in tiers:
                tiers.append(tier)
        sources.append(m.group(0).strip())
    city_count = next((c.value for c in counts if c.entity == "city"), None)
    if city_count is not None:
        sources.append(next(c.source for c in counts if c.entity == "city"))
    return GeographyFact(
        country=country, states=states, cities=cities, city_count=city_count, tiers=tiers, sources=_unique(sources)
    )


def _unique(items) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _locale(text: str, hits: list[PlaceHit], lex: Lexicon, fiscal_start: int | None) -> str | None:
    """en_IN when places, money words or festivals point to India; None leaves the choice to the caller."""
    indian = [c for c, info in lex.countries.items() if info.get("locale") == "en_IN"]
    named = _unique(h.place.country for h in hits)
    if any(c in indian for c in named):
        return "en_IN"
    money = lex.words.get("currency_words", {}).get("INR", [])
    for word in money:
        if re.search(r"(?<![\w])" + re.escape(str(word)) + (r"(?![\w])" if str(word)[-1].isalnum() else ""), text):
            return "en_IN"
    for festival in lex.festivals:
        if festival.locale == "en_IN" and festival.pattern.search(text):
            return "en_IN"
    for locale, words in lex.words.get("locale_words", {}).items():
        if not named and any(re.search(rf"(?i)(?<![\w-]){re.escape(w)}(?![\w-])", text) for w in words):
            return locale
    if fiscal_start == 4 and not named:
        return "en_IN"
    return None


# --------------------------------------------------------------------------- time expressions


@dataclass
class TimeExpr:
    span: Span
    text: str
    start: dt.date
    end: dt.date
    precision: str  # day | month | quarter | half | year | season | festival | relative
    is_range: bool = False
    fiscal: int | None = None  # the fiscal start month, for FY expressions
    label: str = ""
    festival: str | None = None
    used_by: str | None = None  # event | fiscal | horizon | comparison

    def period(self) -> Period:
        return Period(start=self.start, end=self.end, label=self.label or _month_label(self.start, self.end))


def _fy_bounds(fy_end_year: int, start_month: int) -> tuple[dt.date, dt.date]:
    """FY2024 is the fiscal year ending in 2024 (April start: 2023-04-01 .. 2024-03-31)."""
    if start_month == 1:
        return dt.date(fy_end_year, 1, 1), dt.date(fy_end_year, 12, 31)
    start = dt.date(fy_end_year - 1, start_month, 1)
    ey, em = _add_months(fy_end_year - 1, start_month, 11)
    return start, _month_end(ey, em)


def _year4(text: str, near: int | None = None) -> int:
    digits = text.strip("'’")
    if len(digits) == 4:
        return int(digits)
    value = 2000 + int(digits)
    return value if near is None or abs(value - near) < 50 else value - 100


def _find_fiscal_start(text: str) -> tuple[int, str] | None:
    """The fiscal year's first month when the brief says it: 'April-March fiscal years', 'fiscal year (Sep to Aug)'."""
    month_range = rf"({MONTH_RE})\s*(?:-|–|—|to|through)\s*({MONTH_RE})"
    patterns = [
        rf"\(?{month_range}\)?\s+(?:fiscal|financial)\s+years?",
        rf"(?:fiscal|financial)\s+years?\s*(?:\(|,|:|runs?|running|from|of|is|are)?\s*(?:from\s+)?{month_range}\)?",
        rf"(?:fiscal|financial)\s+years?\s+(?:that\s+)?(?:starts?|starting|begins?|beginning)\s+(?:in|on)\s+({MONTH_RE})",
        rf"FYs?\s*(?:\(|:)?\s*{month_range}\)?",
    ]
    for i, pattern in enumerate(patterns):
        for m in re.finditer(pattern, text):
            first = MONTHS[m.group(1).rstrip(".").lower()]
            if i != 2:
                last = MONTHS[m.group(2).rstrip(".").lower()]
                if (first - 2) % 12 + 1 != last:  # a fiscal year is twelve months: its last month precedes its first
                    continue
            return first, _balanced(m.group(0).strip())
    return None


def _balanced(words: str) -> str:
    """Words without an unmatched bracket at either end: '(April-March fiscal years' -> 'April-March fiscal years'."""
    while words.startswith("(") and words.count("(") > words.count(")"):
        words = words[1:].lstrip()
    while words.endswith(")") and words.count(")") > words.count("("):
        words = words[:-1].rstrip()
    return words


class _TimeParser:
    """Finds the brief's time expressions; ``fiscal_start`` reads 'FY2024' (None: calendar years)."""

    def __init__(self, text: str, today: dt.date, fiscal_start: int | None, lex: Lexicon, locale: str | None):
        self.text = text
        self.today = today
        self.fiscal = fiscal_start
        self.lex = lex
        self.locale = locale
        self.found: list[TimeExpr] = []

    def _add(self, m: re.Match[str], start: dt.date, end: dt.date, precision: str, **kw: Any) -> None:
        span = Span(m.start(), m.end())
        if any(t.span.overlaps(span) for t in self.found):
            return
        self.found.append(TimeExpr(span, m.group(0), start, end, precision, **kw))

    def parse(self) -> list[TimeExpr]:
        # most specific and longest first: ranges, then single atoms; later finds never overlap earlier ones
        self._festivals()
        self._fiscal_ranges()
        self._spans_of_months()
        self._quarters()
        self._parts_of_years()
        self._month_ranges()
        self._year_ranges()
        self._seasons()
        self._relative()
        self._single_months()
        self._fiscal_single()
        self._halves()
        self._single_years()
        self._bare_months()
        return sorted(self.found, key=lambda t: t.span.start)

    def _bare_months(self) -> None:
        """A month without a year ("April vs June 2024", "in May"): only a comparison gives it a year."""
        for m in re.finditer(MONTH_RE, self.text):
            month = MONTHS[m.group(0).rstrip(".").lower()]
            self._add(m, dt.date(2000, month, 1), _month_end(2000, month), "month-noyear", label="")

    # -- festivals: "Pongal 2024", "Diwali", "Black Friday 2023"
    def _festivals(self) -> None:
        for fest in self.lex.festivals:
            for m in fest.pattern.finditer(self.text):
                year = _year4(m.group(1)) if m.group(1) else None
                if year is None:
                    continue  # without a year it names the festival, not a date (the event reader sees it)
                start, end, approx = festival_dates(fest, year)
                label = f"{fest.name} {year}" + (" (approximate)" if approx else "")
                self._add(m, start, end, "festival", label=label, festival=fest.name)

    # -- "FY2021-FY2024", "FY21-24", "FY 2021 to FY 2024", "fiscal years 2021-2024"
    def _fiscal_ranges(self) -> None:
        fy = r"(?:FY|F\.Y\.)\s?'?(\d{4}|\d{2})"
        patterns = [
            rf"(?<![\w]){fy}\s*(?:-|–|—|to|through|until)\s*(?:FY|F\.Y\.)?\s?'?(\d{{4}}|\d{{2}})(?![\w])",
            r"(?<![\w])(?:fiscal|financial)\s+years?\s+(\d{4})\s*(?:-|–|—|to|through)\s*(\d{4}|\d{2})(?![\w])",
        ]
        for pattern in patterns:
            for m in re.finditer(pattern, self.text, re.I if "fiscal" in pattern else 0):
                first = _year4(m.group(1))
                second = _year4(m.group(2), first)
                if (
                    pattern.startswith("(?<![\\w])(?:FY")
                    and len(m.group(1)) == 4
                    and len(m.group(2)) == 2
                    and second == first + 1
                ):
                    # "FY2023-24" is one fiscal year (ending 2024), not a range of two
                    start, end = _fy_bounds(second, self._fy_start())
                    self._add(m, start, end, "year", fiscal=self._fy_start(), label=f"FY{second}")
                    continue
                if second < first:
                    continue
                start, _ = _fy_bounds(first, self._fy_start())
                _, end = _fy_bounds(second, self._fy_start())
                self._add(m, start, end, "year", is_range=True, fiscal=self._fy_start(), label=f"FY{first}-FY{second}")

    # -- "the 12 months ending March 2024", "the first six months of 2024", "the last 3 months of 2023"
    def _spans_of_months(self) -> None:
        numbers = {str(k).lower(): v for k, v in self.lex.words.get("number_words", {}).items()}
        num = r"(\d+|" + "|".join(sorted((re.escape(k) for k in numbers if " " not in k), key=len, reverse=True)) + ")"
        ending = rf"(?<![\w])(?:the\s+)?{num}\s+months?\s+(?:ending|ended|to|up\s+to|through|until)\s+(?:in\s+)?"
        ending += rf"({MONTH_RE})\s*,?\s*((?:19|20)\d{{2}})(?![\w])"
        for m in re.finditer(ending, self.text, re.I):
            n = _number(m.group(1), numbers)
            year, month = int(m.group(3)), MONTHS[m.group(2).rstrip(".").lower()]
            sy, sm = _add_months(year, month, 1 - n)
            self._add(m, dt.date(sy, sm, 1), _month_end(year, month), "month", is_range=n > 1)
        part = rf"(?<![\w])(?:the\s+)?(first|last|final)\s+{num}\s+months?\s+of\s+((?:19|20)\d{{2}})(?![\w])"
        for m in re.finditer(part, self.text, re.I):
            n, year = min(_number(m.group(2), numbers), 12), int(m.group(3))
            first_month = 1 if m.group(1).lower() == "first" else 13 - n
            start, end = dt.date(year, first_month, 1), _month_end(year, first_month + n - 1)
            self._add(m, start, end, "month", is_range=n > 1)

    def _fy_start(self) -> int:
        return self.fiscal or 1

    # -- "Q3 2023", "Q3 FY2024", "Q1-Q3 2024", "third quarter of 2023", "2023 Q3"
    def _quarters(self) -> None:
        q = r"Q([1-4])"
        patterns = [
            (rf"(?<![\w]){q}\s*(?:-|–|to|through)\s*{q}\s*(FY\s?)?'?(\d{{4}}|\d{{2}})(?![\w])", "range"),
            (rf"(?<![\w]){q}\s*(FY\s?)?'?(\d{{4}}|\d{{2}})(?![\w%])", "single"),
            (r"(?<![\w])(\d{4})\s*Q([1-4])(?![\w])", "yearfirst"),
            (
                r"(?<![\w])(first|second|third|fourth|last|1st|2nd|3rd|4th)\s+quarter\s+(?:of\s+)?(FY\s?)?(\d{4})(?![\w])",
                "words",
            ),
        ]
        for pattern, shape in patterns:
            for m in re.finditer(pattern, self.text, re.I if shape == "words" else 0):
                if shape == "range":
                    q1, q2, fiscal, year = int(m.group(1)), int(m.group(2)), bool(m.group(3)), _year4(m.group(4))
                elif shape == "single":
                    q1 = q2 = int(m.group(1))
                    fiscal, year = bool(m.group(2)), _year4(m.group(3))
                elif shape == "yearfirst":
                    q1 = q2 = int(m.group(2))
                    fiscal, year = False, int(m.group(1))
                else:
                    q1 = q2 = ORDINALS[m.group(1).lower()]
                    fiscal, year = bool(m.group(2)), int(m.group(3))
                start, end = self._quarter_bounds(q1, q2, year, fiscal)
                label = f"Q{q1}" + (f"-Q{q2}" if q2 != q1 else "") + (f" FY{year}" if fiscal else f" {year}")
                self._add(
                    m,
                    start,
                    end,
                    "quarter",
                    is_range=q2 != q1,
                    label=label,
                    fiscal=self._fy_start() if fiscal else None,
                )

    # -- "early 2024", "mid-2023", "in mid 2024", "late 2023": a third of the year
    def _parts_of_years(self) -> None:
        thirds = {"early": 1, "mid": 5, "middle of": 5, "late": 9, "end of": 9}
        pattern = r"(?<![\w])(early|mid|middle\s+of|late|end\s+of)[\s-]+((?:19|20)\d{2})(?![\w])"
        for m in re.finditer(pattern, self.text, re.I):
            first = thirds[re.sub(r"\s+", " ", m.group(1).lower())]
            year = int(m.group(2))
            self._add(m, dt.date(year, first, 1), _month_end(year, first + 3), "month", is_range=True)

    def _quarter_bounds(self, q1: int, q2: int, year: int, fiscal: bool) -> tuple[dt.date, dt.date]:
        if fiscal:
            fy_start, _ = _fy_bounds(year, self._fy_start())
            base_year, base_month = fy_start.year, fy_start.month
        else:
            base_year, base_month = year, 1
        sy, sm = _add_months(base_year, base_month, (q1 - 1) * 3)
        ey, em = _add_months(base_year, base_month, q2 * 3 - 1)
        return dt.date(sy, sm, 1), _month_end(ey, em)

    # -- "January 2023 to June 2024", "January to August 2024", "Nov 2023 - Feb 2024", "Jan-Apr",
    #    "between March and May 2024"
    def _month_ranges(self) -> None:
        day = r"(?:(\d{1,2})(?:st|nd|rd|th)?\s+)?"
        one = rf"{day}({MONTH_RE})(?:\s+(\d{{1,2}})(?:st|nd|rd|th)?,?)?(?:,?\s*('\d{{2}}|(?:19|20)\d{{2}}))?"
        pattern = rf"(?<![\w])(?:(?:from|between)\s+)?{one}{SEP_RE}{one}(?![\w])"
        for m in re.finditer(pattern, self.text):
            d1, m1, d1b, y1, d2, m2, d2b, y2 = m.groups()
            if " and " in m.group(0) and not m.group(0).lower().startswith("between"):
                continue  # "March and May" is two months, not a range, unless "between"
            month1, month2 = MONTHS[m1.rstrip(".").lower()], MONTHS[m2.rstrip(".").lower()]
            year2 = _year4(y2) if y2 else (_year4(y1) if y1 else None)
            if year2 is None:
                # no year: kept for before/after comparisons ("Jan-Apr vs Jun-Sep"), which take the event's year
                year2 = 0
            year1 = _year4(y1) if y1 else (year2 - 1 if month1 > month2 and year2 else year2)
            if year2 and (year1, month1) > (year2, month2):
                continue
            if not year2:
                self._add(m, dt.date(2000, month1, 1), _month_end(2000, month2), "month-noyear", is_range=True)
                continue
            first_day = int(d1 or d1b or 1)
            start = dt.date(year1, month1, min(first_day, calendar.monthrange(year1, month1)[1]))
            end = _month_end(year2, month2)
            if d2 or d2b:
                end = dt.date(year2, month2, min(int(d2 or d2b), end.day))
            self._add(m, start, end, "day" if (d1 or d1b or d2 or d2b) else "month", is_range=True)

    # -- "2019-2023", "2019 to 2023", "between 2019 and 2023", "2023-24" (two years)
    def _year_ranges(self) -> None:
        sep = rf"(?:{SEP_RE}|/)"  # "2023/24" too
        pattern = rf"(?<![\w/-])(?:(?:from|between)\s+)?((?:19|20)\d{{2}}){sep}((?:19|20)\d{{2}}|\d{{2}})(?![\w%/-])"
        for m in re.finditer(pattern, self.text):
            if re.search(r"(?:FY|F\.Y\.|fiscal|financial)\s?$", self.text[max(0, m.start() - 10) : m.start()], re.I):
                continue  # "FY 2023/24" is one fiscal year (the fiscal readers take it)
            first, raw = int(m.group(1)), m.group(2)
            if len(raw) == 2:
                second = _year4(raw, first)
                if second != first + 1:
                    continue  # "2024-03" is a month (left to the single atoms), "2023-24" a two-year span
            else:
                second = int(raw)
            if second < first or second - first > 50:
                continue
            if " and " in m.group(0) and not m.group(0).lower().startswith("between"):
                continue
            self._add(m, dt.date(first, 1, 1), dt.date(second, 12, 31), "year", is_range=True)

    # -- "the 2023 summer", "summer 2023", "summer of 2023", "the 2024 monsoon"
    def _seasons(self) -> None:
        names = sorted(self.lex.seasons, key=len, reverse=True)
        alt = "|".join(re.escape(n) for n in names)
        patterns = [
            rf"(?<![\w])((?:19|20)\d{{2}})\s+({alt})(?![\w])",
            rf"(?<![\w])({alt})\s+(?:of\s+)?((?:19|20)\d{{2}})(?![\w])",
        ]
        for i, pattern in enumerate(patterns):
            for m in re.finditer(pattern, self.text, re.I):
                year, name = (int(m.group(1)), m.group(2)) if i == 0 else (int(m.group(2)), m.group(1))
                months = self.lex.seasons[name.lower()]
                first, last = months.get(self.locale or "", months.get("default", [1, 12]))
                start_year = year - 1 if last < first else year  # winter 2023: Dec 2022 - Feb 2023
                start = dt.date(start_year, first, 1)
                self._add(m, start, _month_end(year, last), "season", label=f"{name.lower()} {year}")

    # -- "last year", "the past two years", "last quarter", "the last 6 months", "this year", "YTD", "since 2022"
    def _relative(self) -> None:
        numbers = {str(k).lower(): v for k, v in self.lex.words.get("number_words", {}).items()}
        number_alt = "|".join(sorted((re.escape(k) for k in numbers if " " not in k), key=len, reverse=True))
        t = self.today
        # "the last two financial years", "last FY", "this fiscal year": whole fiscal years (start month by locale)
        fiscal = rf"(?<![\w])(?:the\s+)?(last|past|previous|prior|this|current)\s+(?:(\d+|{number_alt})\s+)?"
        fiscal += r"(?:(?:fiscal|financial)\s+years?|FYs?)(?![\w])"
        for m in re.finditer(fiscal, self.text, re.I):
            which, n_text = m.group(1).lower(), m.group(2)
            n = int(n_text) if n_text and n_text.isdigit() else numbers.get((n_text or "").lower(), 1)
            start_month = self._fy_start()
            current_end = t.year + (1 if start_month > 1 and t.month >= start_month else 0)  # FY named by its end
            first, last = (
                (current_end, current_end) if which in ("this", "current") else (current_end - n, current_end - 1)
            )
            start, _ = _fy_bounds(first, start_month)
            _, end = _fy_bounds(last, start_month)
            label = f"FY{first}" + (f"-FY{last}" if last != first else "")
            self._add(m, start, end, "relative", is_range=last != first, fiscal=start_month, label=label)
        pattern = (
            rf"(?<![\w])(?:the\s+)?(last|past|previous|prior|preceding)\s+(?:(\d+|{number_alt})\s+)?"
            r"(years?|quarters?|months?|weeks?|decade)(?![\w])"
        )
        for m in re.finditer(pattern, self.text, re.I):
            which, n_text, unit = m.group(1).lower(), m.group(2), m.group(3).lower().rstrip("s")
            n = int(n_text) if n_text and n_text.isdigit() else numbers.get((n_text or "").lower(), 1)
            if unit == "decade":
                unit, n = "year", 10 * n
            if unit == "year" and not n_text and which == "past":
                start_y, start_m = _add_months(t.year, t.month, -12)  # "the past year": the last twelve months
                end_y, end_m = _add_months(t.year, t.month, -1)
                start, end = dt.date(start_y, start_m, 1), _month_end(end_y, end_m)
            elif unit == "year":
                start, end = dt.date(t.year - n, 1, 1), dt.date(t.year - 1, 12, 31)
            elif unit == "quarter":
                q_start_month = (t.month - 1) // 3 * 3 + 1
                sy, sm = _add_months(t.year, q_start_month, -3 * n)
                ey, em = _add_months(t.year, q_start_month, -1)
                start, end = dt.date(sy, sm, 1), _month_end(ey, em)
            elif unit == "month":
                sy, sm = _add_months(t.year, t.month, -n)
                ey, em = _add_months(t.year, t.month, -1)
                start, end = dt.date(sy, sm, 1), _month_end(ey, em)
            else:  # weeks: whole weeks ending last Sunday
                end = t - dt.timedelta(days=t.weekday() + 1)
                start = end - dt.timedelta(days=7 * n - 1)
            self._add(m, start, end, "relative", is_range=n > 1, label=_month_label(start, end))
        # "three months of sales", "two years of data": the last whole months or years before today
        held = rf"(?<![\w])(\d+|{number_alt})\s+(months?|years?)\s+of\s+(?:\w+\s+)?"
        held += r"(?:data|sales|orders|transactions|records|history|bookings|visits|receipts)(?![\w])"
        for m in re.finditer(held, self.text, re.I):
            n_text, unit = m.group(1), m.group(2).lower().rstrip("s")
            n = int(n_text) if n_text.isdigit() else numbers.get(n_text.lower(), 1)
            months = n * (12 if unit == "year" else 1)
            sy, sm = _add_months(t.year, t.month, -months)
            ey, em = _add_months(t.year, t.month, -1)
            start, end = dt.date(sy, sm, 1), _month_end(ey, em)
            self._add(m, start, end, "relative", is_range=months > 1, label=_month_label(start, end))
        for m in re.finditer(r"(?<![\w])(?:this\s+year|year[\s-]to[\s-]date|YTD)(?![\w])", self.text, re.I):
            ey, em = _add_months(t.year, t.month, -1) if t.month > 1 else (t.year, 1)
            self._add(m, dt.date(t.year, 1, 1), _month_end(ey, em), "relative", label=f"{t.year} to date")
        for m in re.finditer(rf"(?<![\w])since\s+(?:({MONTH_RE})\s+)?((?:19|20)\d{{2}})(?![\w])", self.text):
            month = MONTHS[m.group(1).rstrip(".").lower()] if m.group(1) else 1
            ey, em = _add_months(t.year, t.month, -1)
            start = dt.date(int(m.group(2)), month, 1)
            if start <= _month_end(ey, em):
                self._add(m, start, _month_end(ey, em), "relative", is_range=True)

    # -- "January 2024", "Jan '24", "March 15, 2024", "15 March 2024", "2024-03", and a bare month ("in May")
    def _single_months(self) -> None:
        patterns = [
            rf"(?<![\w])(\d{{1,2}})(?:st|nd|rd|th)?\s+({MONTH_RE}),?\s*((?:19|20)\d{{2}})(?![\w])",
            rf"(?<![\w])({MONTH_RE})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s*((?:19|20)\d{{2}})(?![\w])",
            rf"(?<![\w])({MONTH_RE}),?\s*('\d{{2}}|(?:19|20)\d{{2}})(?![\w])",
            r"(?<![\w/-])((?:19|20)\d{2})-(0[1-9]|1[0-2])(?:-(\d{2}))?(?![\w/-])",
        ]

        for i, pattern in enumerate(patterns):
            for m in re.finditer(pattern, self.text):
                if i == 0:
                    day, month, year = int(m.group(1)), MONTHS[m.group(2).rstrip(".").lower()], int(m.group(3))
                elif i == 1:
                    month, day, year = MONTHS[m.group(1).rstrip(".").lower()], int(m.group(2)), int(m.group(3))
                elif i == 2:
                    month, day, year = MONTHS[m.group(1).rstrip(".").lower()], None, _year4(m.group(2))
                else:
                    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None
                    if year and (year + 1) % 100 == month:
                        continue  # "2011-12" is two years (handled by the year ranges)
                if day is not None and 1 <= day <= calendar.monthrange(year, month)[1]:
                    when = dt.date(year, month, day)
                    self._add(m, when, when, "day")
                else:
                    self._add(m, dt.date(year, month, 1), _month_end(year, month), "month")

    # -- "FY2024", "FY24", "FY 2023-24", "fiscal 2024", "fiscal year 2024", "2023-24 fiscal year"
    def _fiscal_single(self) -> None:
        patterns = [
            r"(?<![\w])(?:FY|F\.Y\.)\s?'?(\d{4}|\d{2})(?:\s*[-–/]\s*(\d{2}))?(?![\w])",
            r"(?<![\w])(?:fiscal|financial)(?:\s+year)?\s+(\d{4})(?:\s*[-–/]\s*(\d{2,4}))?(?![\w])",
            r"(?<![\w])(\d{4})\s*[-–/]\s*(\d{2,4})\s+(?:fiscal|financial)\s+year(?![\w])",
        ]
        for i, pattern in enumerate(patterns):
            for m in re.finditer(pattern, self.text, 0 if i == 0 else re.I):
                first = _year4(m.group(1))
                end_year = _year4(m.group(2), first) if m.group(2) else first
                if m.group(2) and end_year != first + 1:
                    continue
                start, end = _fy_bounds(end_year, self._fy_start())
                self._add(m, start, end, "year", fiscal=self._fy_start(), label=f"FY{end_year}")

    # -- "H1 2024", "first half of 2023"
    def _halves(self) -> None:
        for m in re.finditer(
            r"(?<![\w])H([12])\s*'?(\d{4}|\d{2})(?![\w])|(?<![\w])(first|second)\s+half\s+of\s+(\d{4})(?![\w])",
            self.text,
            re.I,
        ):
            half = int(m.group(1)) if m.group(1) else (1 if m.group(3).lower() == "first" else 2)
            year = _year4(m.group(2)) if m.group(2) else int(m.group(4))
            sm = 1 if half == 1 else 7
            self._add(m, dt.date(year, sm, 1), _month_end(year, sm + 5), "half", label=f"H{half} {year}")

    # -- "2024" on its own ("for 2024", "in 2023"); a year followed by a plural noun is a count ("2000 stores")
    def _single_years(self) -> None:
        for m in re.finditer(YEAR_RE, self.text):
            after = self.text[m.end() : m.end() + 30]
            if re.match(r"\s+[a-z]+s\b", after) and not re.match(r"\s+(?:data|sales|results|figures|numbers)\b", after):
                before = self.text[max(0, m.start() - 12) : m.start()].lower()
                if not re.search(r"(?:in|for|of|since|from|during|by|to)\s+$", before):
                    continue
            year = int(m.group(0))
            self._add(m, dt.date(year, 1, 1), dt.date(year, 12, 31), "year")


def festival_dates(fest: Festival, year: int) -> tuple[dt.date, dt.date, bool]:
    """The first and last day of a festival in a year (and whether it is the typical month only)."""
    day: dt.date | None = None
    if year in fest.dates:
        day = fest.dates[year]
    elif fest.fixed:
        day = dt.date(year, fest.fixed[0], fest.fixed[1])
    elif fest.rule == "easter":
        day = _easter(year)
    elif isinstance(fest.rule, dict):
        day = _nth_weekday(year, int(fest.rule["month"]), int(fest.rule["weekday"]), int(fest.rule["n"]))
        day += dt.timedelta(days=int(fest.rule.get("offset", 0)))
    if day is None:
        return dt.date(year, fest.month, 1), _month_end(year, fest.month), True
    return day + dt.timedelta(days=fest.span[0]), day + dt.timedelta(days=fest.span[1]), False


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _easter(year: int) -> dt.date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


# --------------------------------------------------------------------------- events


@dataclass
class TriggerHit:
    span: Span
    kind: str
    noun: str | None
    text: str
    sentence: int


def _find_triggers(text: str, lex: Lexicon, sentences: list[Span], taken: list[Span]) -> list[TriggerHit]:
    hits: list[TriggerHit] = []
    for trig in lex.triggers:
        for m in trig.pattern.finditer(text):
            span = Span(m.start(), m.end())
            if any(s.overlaps(span) for s in taken):
                continue
            hits.append(TriggerHit(span, trig.kind, trig.noun, m.group(0), _sentence_of(sentences, m.start())))
    # overlapping triggers: the longer wins; of equal length, the kind earlier in the precedence list
    rank = {k: i for i, k in enumerate(lex.precedence)}
    hits.sort(key=lambda h: (-(h.span.end - h.span.start), rank.get(h.kind, 99), h.span.start))
    kept: list[TriggerHit] = []
    for hit in hits:
        if not any(k.span.overlaps(hit.span) for k in kept):
            kept.append(hit)
    kept.sort(key=lambda h: h.span.start)
    # triggers close together in one clause name one event ("launched a Diwali campaign"): precedence decides
    merged: list[TriggerHit] = []
    for hit in kept:
        prev = merged[-1] if merged else None
        if prev and prev.sentence == hit.sentence:
            between = text[prev.span.end : hit.span.start]
            if len(_words_between(between)) <= 3 and not re.search(r"[.;]|\b(?:and|while|but|then)\b", between):
                winner = prev if rank.get(prev.kind, 99) <= rank.get(hit.kind, 99) else hit
                merged[-1] = TriggerHit(
                    Span(prev.span.start, hit.span.end), winner.kind, winner.noun,
                    text[prev.span.start : hit.span.end], prev.sentence,
                )  # fmt: skip
                continue
        merged.append(hit)
    return merged


def _date_for(trigger: TriggerHit, times: list[TimeExpr], text: str, sentences: list[Span]) -> TimeExpr | None:
    """The date next to an event: 'in January 2024' after it, 'the 2023 summer' before it, 'In May 2024, ...'."""
    sentence = sentences[trigger.sentence]
    best: tuple[int, TimeExpr] | None = None
    for t in times:
        if t.used_by or not (sentence.start <= t.span.start <= sentence.end):
            continue
        if t.precision == "month-noyear":
            continue
        if t.span.start >= trigger.span.end:
            between = text[trigger.span.end : t.span.start]
            words = [w.lower() for w in _words_between(between)]
            if re.search(r"[.;]", between) or len(words) > 9:
                continue
            if words and words[-1] not in PREPS_BEFORE_DATE:
                continue
            if words and words[-1] in {"for", "over", "between"} or (words and words[-1] == "from" and len(words) > 4):
                continue  # "for 2022-2024", "over 2023" name the data's period, not the event's date
            if re.search(r"\b(?:wants?|asks?|needs?|compare|analy[sz]e|use|using|show|measure)\b", between, re.I):
                continue
            distance = len(words)
        elif t.span.end <= trigger.span.start:
            between = text[t.span.end : trigger.span.start]
            words = _words_between(between)
            sentence_start = text[sentence.start : t.span.start].strip().lower()
            relational = {w.lower() for w in words} & (PREPS_BEFORE_DATE | {"after", "before", "until", "following"})
            if len(words) <= 2 and not re.search(r"[,.;]", between) and not relational:
                distance = len(words)  # "the 2023 summer heatwave", "Diwali 2023 sale"; not "2023 after removing"
            elif (
                sentence_start in {"in", "on", "during", "since"}
                and len(words) <= 8
                or (sentence_start == "" and "," in between and len(words) <= 8)
            ):
                distance = 5 + len(words)  # "In May 2024, Nestwood redesigned ...", "In 2022 the council introduced"
            else:
                continue
        else:
            continue
        if best is None or distance < best[0]:
            best = (distance, t)
    return best[1] if best else None


def _event_name(
    trigger: TriggerHit, text: str, sentence: Span, date: TimeExpr | None, irregular: dict, stop: frozenset
) -> tuple[str, Span]:
    """A short name for the event from the brief's words ('membership price increase', 'checkout page redesign')."""
    # to the right: the object, up to a date, a preposition that starts a new part, or punctuation
    limit = date.span.start if date and date.span.start > trigger.span.end else sentence.end
    right_text = text[trigger.span.end : limit]
    cut = re.search(
        r"[,.;:!?()]|\s(?:by|in|on|during|from|since|at|for|after|before|while|and|but|so|which|that|with|against|when)\s",
        right_text + " ",
    )
    right_text = right_text[: cut.start()] if cut else right_text
    right = _words_between(right_text)[:6]
    # to the left: modifiers of a noun trigger ("membership" price increase, "service" crisis)
    left: list[str] = []
    left_start = trigger.span.start
    for m in reversed(list(WORD_RE.finditer(text, sentence.start, trigger.span.start))):
        word = m.group(0)
        gap = text[m.end() : left_start]
        if re.search(r"[,.;:!?()]", gap) or len(left) >= 3:
            break
        if word.lower() in stop or word.lower() in DETERMINERS or word.lower() in PREPS_BEFORE_DATE:
            break
        left.insert(0, word)
        left_start = m.start()
    first_word = trigger.text.split()[0].lower()
    if trigger.noun and trigger.noun.startswith("^"):
        # a subject-first trigger ("prices rose"): the subject names the event ("price increase")
        return f"{lemma(first_word, irregular)} {trigger.noun[1:]}", Span(left_start, trigger.span.end)
    is_verb = trigger.noun is not None and (
        first_word.endswith(("ed", "es", "ing")) or first_word in {"cut", "ran", "set", "hike"}
    )
    trigger_words = _words_between(trigger.text)
    if is_verb and trigger.noun:
        obj = [w for w in trigger_words[1:] + right if w.lower() not in DETERMINERS]
        if obj:
            obj[-1] = lemma(obj[-1].lower(), irregular) if obj[-1].islower() else obj[-1]
            name = " ".join([*obj, trigger.noun])
        else:
            name = " ".join([*left, *trigger_words])
    else:
        name = " ".join(w for w in [*left, *trigger_words, *right] if w.lower() not in DETERMINERS)
    end = trigger.span.end + (cut.start() if cut else len(right_text)) if right else trigger.span.end
    return name.strip(), Span(left_start, end)


def _magnitudes(region: str) -> tuple[float | None, float | None, float | None]:
    pct = re.search(
        r"(?:by|of)\s+(\d+(?:\.\d+)?)\s?%|(\d+(?:\.\d+)?)\s?%\s+(?:\w+\s+)?(?:increase|hike|rise|cut|drop|reduction|discount)",
        region,
    )
    change = re.search(
        r"from\s+(?:₹|\$|Rs\.?\s?)?(\d+(?:\.\d+)?)\s*(?:%|\w+)?\s+to\s+(?:₹|\$|Rs\.?\s?)?(\d+(?:\.\d+)?)", region
    )
    magnitude = float(pct.group(1) or pct.group(2)) if pct else None
    return magnitude, (float(change.group(1)) if change else None), (float(change.group(2)) if change else None)


# --------------------------------------------------------------------------- the reader


def read_brief(brief: str, *, today: dt.date | None = None, domains_dir: Path | None = None) -> BriefFrame:
    """Read a brief into a ``BriefFrame``; relative phrases ('last year') are resolved against ``today``.

    Args:
        brief: the author's text (any length; empty gives an empty frame).
        today: the date 'last year' is counted from (``date.today()`` when omitted).
        domains_dir: the blueprint library whose ``lexicon/`` to use (settings' ``domains_dir`` when omitted).

    Raises:
        InputError: the lexicon files are missing or invalid (never for the brief's own text).
    """
    lex = load_lexicon(domains_dir)
    today = today or dt.date.today()
    text = brief or ""
    if not text.strip():
        return BriefFrame(brief=text)
    return _Reader(text, today, lex).read()


class _Reader:
    def __init__(self, text: str, today: dt.date, lex: Lexicon) -> None:
        self.text = text
        self.today = today
        self.lex = lex
        self.sentences = _sentences(text)
        self.irregular = {str(k).lower(): str(v).lower() for k, v in lex.words.get("irregular_plurals", {}).items()}
        self.stop = lex.word_set("stop_words")

    def read(self) -> BriefFrame:
        text, lex = self.text, self.lex
        places = _find_places(text, lex)
        fiscal_def = _find_fiscal_start(text)
        locale = _locale(text, places, lex, fiscal_def[0] if fiscal_def else None)
        fiscal_start = fiscal_def[0] if fiscal_def else self._default_fiscal(places, locale)
        times = _TimeParser(text, self.today, fiscal_start, lex, locale).parse()
        if fiscal_def:
            for t in times:
                if t.span.overlaps(Span(text.find(fiscal_def[1]), text.find(fiscal_def[1]) + len(fiscal_def[1]))):
                    t.used_by = "fiscal"
        horizon = self._horizon(times)
        events = self._events(times)
        self._before_after(events, times)
        window = self._window(times, fiscal_start if self._speaks_fiscal(times, fiscal_def) else None)
        counts = self._counts(times, places)
        nouns = self._nouns(places, times)
        stakeholder, role_span = self._stakeholder()
        kpis = self._kpis(set(nouns), [role_span] if role_span else [])
        company = self._company(places)
        fiscal_fact = None
        if fiscal_def:
            fiscal_fact = FiscalYearFact(start_month=fiscal_def[0], source=fiscal_def[1])
        elif any(t.fiscal and t.fiscal != 1 for t in times):
            first = next(t for t in times if t.fiscal and t.fiscal != 1)
            fiscal_fact = FiscalYearFact(start_month=first.fiscal, source=first.text)
        messiness, messy_source = self._messiness()
        company_words = set(company.name.lower().replace("'s", "").split()) if company else set()
        return BriefFrame(
            brief=text,
            company=company,
            stakeholder=stakeholder,
            nouns=[n for n in nouns if n not in company_words],
            geography=_geography(text, places, counts),
            window=window,
            fiscal_year=fiscal_fact,
            horizon=horizon,
            counts=counts,
            events=events,
            kpis=kpis,
            locale=locale,
            messiness=messiness,
            messiness_source=messy_source,
        )

    # -- fiscal years
    def _default_fiscal(self, places: list[PlaceHit], locale: str | None) -> int | None:
        countries = _unique(h.place.country for h in places)
        for country in countries:
            start = self.lex.countries.get(country, {}).get("fiscal_year_start_month")
            if start:
                return int(start)
        if locale:
            for info in self.lex.countries.values():
                if info.get("locale") == locale and info.get("fiscal_year_start_month"):
                    return int(info["fiscal_year_start_month"])
        return None

    def _speaks_fiscal(self, times: list[TimeExpr], fiscal_def: tuple[int, str] | None) -> bool:
        return bool(fiscal_def) or any(t.fiscal for t in times)

    # -- a projection: "project FY2027 installations", "forecast 2025"
    def _horizon(self, times: list[TimeExpr]) -> WindowFact | None:
        cues = sorted((str(c) for c in self.lex.words.get("forecast_cues", [])), key=len, reverse=True)
        # a cue after a determiner is a noun ("this project covers 2024"), not a request to project
        pattern = re.compile(
            r"(?<!\ba\s)(?<!\bthe\s)(?<!\bthis\s)(?<!\bour\s)(?<!\bits\s)(?<!\byour\s)(?<!\bmy\s)(?<![\w-])(?:"
            + "|".join(re.escape(c) for c in cues)
            + r")(?:\s+\w+){0,2}\s*(?:for|to|in|until|till|through)?\s*$",
            re.I,
        )
        for t in times:
            if t.used_by:
                continue
            before = self.text[max(0, t.span.start - 40) : t.span.start]
            if pattern.search(before):
                t.used_by = "horizon"
                return WindowFact(
                    start=t.start,
                    end=t.end,
                    fiscal_year_start_month=t.fiscal if t.fiscal and t.fiscal != 1 else None,
                    source=t.text,
                )
        return None

    # -- events
    def _events(self, times: list[TimeExpr]) -> list[EventFact]:
        text, lex = self.text, self.lex
        festival_spans = [t for t in times if t.precision == "festival"]
        bare_festivals = self._bare_festivals(times)
        taken = [t.span for t in festival_spans] + [s for s, _ in bare_festivals]
        triggers = _find_triggers(text, lex, self.sentences, taken)
        events: list[EventFact] = []
        used_triggers: set[int] = set()
        # festivals: one event each; a promotion word of the same sentence makes it a promotion
        for fest_span, fest_text, fest_time in [(t.span, t.text, t) for t in festival_spans] + [
            (s, txt, None) for s, txt in bare_festivals
        ]:
            sentence = _sentence_of(self.sentences, fest_span.start)
            promos = [i for i, tr in enumerate(triggers) if tr.sentence == sentence and tr.kind == "promotion"]
            kind = "promotion" if promos else "other"
            what = fest_text
            source_span = fest_span
            if promos:
                used_triggers.update(promos)
                promo = triggers[promos[-1]]
                what = f"{fest_text} {promo.text.split()[-1].lower()}"
            if fest_time is not None:
                fest_time.used_by = "event"
            start, end = (fest_time.start, fest_time.end) if fest_time else self._festival_in_window(fest_text, times)
            events.append(
                EventFact(what=what, kind=kind, start=start, end=end, source=text[source_span.start : source_span.end])
            )
        for i, trig in enumerate(triggers):
            if i in used_triggers:
                continue
            date = _date_for(trig, times, text, self.sentences)
            before_text = text[self.sentences[trig.sentence].start : trig.span.start]
            if date is None:
                if lex.plan_cues.search(before_text[-40:]):
                    continue  # "before launching its cold-brew range": a plan, not in the data
                if any(e.kind == trig.kind for e in events) and re.search(
                    r"\b(?:each|every|the|which|these|those|this|that)\s+(?:\w+\s+)?$", before_text[-25:], re.I
                ):
                    continue  # "the week before each campaign": a dated event named again
                if any(e.kind == trig.kind and e.start is None for e in events):
                    continue
            if date is not None:
                date.used_by = "event"
            name, span = _event_name(trig, text, self.sentences[trig.sentence], date, self.irregular, self.stop)
            if date is not None:
                span = Span(min(span.start, date.span.start), max(span.end, date.span.end))
            region = text[
                trig.span.start : (
                    date.span.start if date and date.span.start > trig.span.end else self.sentences[trig.sentence].end
                )
            ]
            magnitude, change_from, change_to = _magnitudes(region)
            events.append(
                EventFact(
                    what=name,
                    kind=trig.kind,  # type: ignore[arg-type]
                    start=date.start if date else None,
                    end=date.end if date else None,
                    magnitude_pct=magnitude,
                    change_from=change_from,
                    change_to=change_to,
                    source=text[span.start : span.end],
                )
            )
        return sorted(events, key=lambda e: text.find(e.source))

    def _bare_festivals(self, times: list[TimeExpr]) -> list[tuple[Span, str]]:
        found: list[tuple[Span, str]] = []
        for fest in self.lex.festivals:
            for m in fest.pattern.finditer(self.text):
                span = Span(m.start(), m.end())
                if any(t.span.overlaps(span) for t in times) or any(s.overlaps(span) for s, _ in found):
                    continue
                found.append((span, m.group(0)))
        return found

    def _festival_in_window(self, name: str, times: list[TimeExpr]) -> tuple[dt.date | None, dt.date | None]:
        """A festival named without a year takes the year of a one-year window ('Diwali' in 'for 2024')."""
        fest = next(f for f in self.lex.festivals if f.pattern.fullmatch(name))
        years = {t.start.year for t in times if not t.used_by and t.precision != "month-noyear"} | {
            t.end.year for t in times if not t.used_by and t.precision != "month-noyear"
        }
        if len(years) != 1:
            return None, None
        start, end, _ = festival_dates(fest, years.pop())
        return start, end

    # -- before/after periods the brief states
    def _before_after(self, events: list[EventFact], times: list[TimeExpr]) -> None:
        text = self.text
        dated = [e for e in events if e.start]
        if not dated:
            return
        numbers = {str(k).lower(): v for k, v in self.lex.words.get("number_words", {}).items()}
        num = r"(\d+|" + "|".join(re.escape(k) for k in numbers if " " not in k) + r")"
        # "the six months before and after", "3 weeks before and after the launch"
        for m in re.finditer(
            rf"(?:the\s+)?{num}?\s*(months?|weeks?|days?|quarters?|years?)\s+before\s+and\s+after", text, re.I
        ):
            n = _number(m.group(1), numbers) if m.group(1) else 1
            event = self._event_near(dated, m.start())
            event.before, event.after = _periods_around(event, n, m.group(2).lower().rstrip("s"))
            event.periods_source = m.group(0)
        # "the week before each campaign", "the month before the launch": before = that stretch, after = the event
        for m in re.finditer(
            rf"(?:the\s+)?(?:{num}\s+)?(months?|weeks?|days?)\s+before\s+(each|every|the|its)\s+(\w+)", text, re.I
        ):
            if re.match(r"\s*and\s+after", text[m.end() - len(m.group(4)) - 1 :]):
                continue
            n = _number(m.group(1), numbers) if m.group(1) else 1
            unit = m.group(2).lower().rstrip("s")
            targets = dated if m.group(3).lower() in {"each", "every"} else [self._event_near(dated, m.start())]
            for event in targets:
                if event.before is None:
                    event.before = _period_before(event, n, unit)
                    event.after = Period(start=event.start, end=event.end or event.start, label=f"during {event.what}")
                    event.periods_source = m.group(0)
        # "Jan-Apr vs Jun-Sep", "January-April 2024 compared with June-September 2024"
        periods = [t for t in times if t.used_by is None and t.precision != "relative"]
        for a, b in zip(periods, periods[1:], strict=False):
            between = text[a.span.end : b.span.start]
            if not re.fullmatch(r"\s*(?:vs\.?|versus|against|compared\s+(?:with|to)|and)\s*", between, re.I):
                continue
            if re.fullmatch(r"\s*and\s*", between) and not re.search(
                r"compare", text[max(0, a.span.start - 30) : a.span.start], re.I
            ):
                continue
            event = self._event_near(dated, a.span.start)
            # a side without a year takes the other side's ("April vs June 2024"), else the event's
            year = next((t.end.year for t in (b, a) if t.precision != "month-noyear"), event.start.year)
            first, second = _with_year(a, year), _with_year(b, year)
            if first.end < second.start:
                event.before, event.after = first, second
                a.used_by = b.used_by = "comparison"
                event.periods_source = text[a.span.start : b.span.end]

    def _event_near(self, dated: list[EventFact], pos: int) -> EventFact:
        """The dated event a period phrase refers to: the last one named before it, else the first after it."""
        before = [e for e in dated if self.text.find(e.source) <= pos]
        return before[-1] if before else dated[0]

    # -- the window
    def _window(self, times: list[TimeExpr], fiscal_start: int | None) -> WindowFact | None:
        free = [t for t in times if t.used_by is None and t.precision not in ("month-noyear",)]
        # "they have been in business for the past 20 years" is a tenure, not the data's period
        free = [
            t
            for t in free
            if not (
                t.precision == "relative"
                and re.search(
                    r"\b(?:been|existed|operating)\b[^.;]{0,60}$", self.text[max(0, t.span.start - 70) : t.span.start]
                )
            )
        ]
        if not free:
            return None
        ranges = [t for t in free if t.is_range and t.precision != "relative"]
        singles = [t for t in free if not t.is_range and t.precision not in ("relative", "day")]
        relative = [t for t in free if t.precision == "relative"]
        chosen = ranges or singles or relative or [t for t in free if t.precision == "day"]
        start = min(t.start for t in chosen)
        end = max(t.end for t in chosen)
        start = dt.date(start.year, start.month, 1)
        end = _month_end(end.year, end.month)
        same_sentence = len({_sentence_of(self.sentences, t.span.start) for t in chosen}) == 1
        if same_sentence:
            source = self.text[chosen[0].span.start : chosen[-1].span.end]
        else:
            source = max(chosen, key=lambda t: (t.end - t.start, -t.span.start)).text
        baseline = None
        lead = self.text[max(0, chosen[0].span.start - 30) : chosen[0].span.start]
        if re.search(
            rf"\b(?:{CHANGE_VERBS})\s+(?:\w+ly\s+)?(?:in\s+|during\s+|over\s+|since\s+)?(?:the\s+)?$", lead, re.I
        ):
            months = (end.year - start.year) * 12 + end.month - start.month + 1
            by, bm = _add_months(start.year, start.month, -months)
            ey, em = _add_months(start.year, start.month, -1)
            b_start, b_end = dt.date(by, bm, 1), _month_end(ey, em)
            baseline = Period(start=b_start, end=b_end, label=_month_label(b_start, b_end))
        fiscal = fiscal_start if fiscal_start and fiscal_start != 1 else None
        return WindowFact(
            start=start,
            end=end,
            fiscal_year_start_month=fiscal,
            relative=all(t.precision == "relative" for t in chosen),
            baseline=baseline,
            source=source,
        )

    # -- counts
    def _counts(self, times: list[TimeExpr], places: list[PlaceHit]) -> list[CountFact]:
        words = self.lex.words
        numbers = {
            str(k).lower(): int(v)
            for k, v in words.get("number_words", {}).items()
            if str(k).lower() not in {"a", "an"}
        }
        multipliers = {str(k): int(v) for k, v in words.get("multipliers", {}).items()}
        units = {str(u).lower() for u in words.get("unit_nouns", [])}
        survey = {str(v).lower() for v in words.get("survey_verbs", [])}
        persons = {str(v).lower() for v in words.get("person_nouns", [])}
        invariant = {str(v).lower() for v in words.get("invariant_plurals", [])}
        money = [str(w) for ws in words.get("currency_words", {}).values() for w in ws]
        number_words = "|".join(sorted((re.escape(k) for k in numbers), key=len, reverse=True))
        mult = "|".join(sorted((re.escape(k) for k in multipliers), key=len, reverse=True))
        pattern = re.compile(
            rf"(?<![\w.,/%$₹£€-])(\d{{1,3}}(?:,\d{{2,3}})+|\d+(?:\.\d+)?|(?i:(?:{number_words})(?:-(?:{number_words}))?))"
            rf"\+?(?:\s?({mult})(?![\w]))?\+?((?:\s+[A-Za-z][\w'-]*){{1,4}})"
        )
        taken = [t.span for t in times] + [h.span for h in places]
        counts: list[CountFact] = []
        for m in pattern.finditer(self.text):
            if any(s.overlaps(Span(m.start(1), m.end(1))) for s in taken):
                continue
            raw, multiplier, tail = m.group(1), m.group(2), m.group(3)
            before = self.text[max(0, m.start() - 6) : m.start()]
            if any(before.rstrip().endswith(w) for w in money if not w[-1].isalpha()) or re.search(
                r"(?:Rs\.?|INR|USD)\s*$", before
            ):
                continue
            value = _count_value(raw, numbers)
            if value is None:
                continue
            if PLANNED_COUNT.search(self.text[max(0, m.start() - 30) : m.start()]):
                continue  # "before entering three new states", "plans to open 5 stores": the plan, not the data
            if multiplier:
                value *= multipliers[multiplier]
            value_int = int(round(value))
            noun_words, length = self._count_noun(tail, invariant)
            end = m.start(3) + length
            if not noun_words:
                continue
            head = noun_words[-1].lower()
            if head in COUNT_MODIFIERS:
                continue
            entity = lemma(head, self.irregular)
            plural = entity != head or head in invariant
            if entity in units or head in units or (not plural and value_int != 1):
                continue
            if any(w.lower() in {w2.lower() for w2 in money} for w in noun_words):
                continue
            if re.match(r"\s*(?:-|%|x\b)", self.text[m.end(1) : m.end(1) + 2]):
                continue
            lead = self.text[max(0, m.start() - 25) : m.start()].lower().split()
            if entity in persons and lead and lead[-1] in survey:
                entity = str(words.get("survey_entity", "respondent"))
            counts.append(CountFact(entity=entity, value=value_int, source=self.text[m.start() : end]))
        return counts

    def _count_noun(self, tail: str, invariant: set[str]) -> tuple[list[str], int]:
        """The noun phrase after a number and its length in ``tail``: ' fitness clubs in Pune' -> fitness clubs."""
        words: list[str] = []
        length = 0
        for wm in re.finditer(r"\s+([A-Za-z][\w'-]*)", tail):
            word = wm.group(1)
            low = word.lower()
            if low in self.stop and low not in COUNT_MODIFIERS or low in DETERMINERS:
                break
            if word[0].isupper() and words:
                break
            words.append(word)
            length = wm.end()
            if lemma(low, self.irregular) != low or low in invariant:
                break  # a plural ends the noun phrase: "12 fitness clubs in ..."
        return words, length

    # -- KPIs
    def _kpis(self, nouns: set[str], taken: list[Span]) -> list[KpiFact]:
        matches: list[tuple[Span, Alias, str]] = []
        lower = self.text.lower()
        for alias in self.lex.aliases:
            if alias.probe not in lower and alias.probe != "...":
                continue
            for m in alias.pattern.finditer(self.text):
                matches.append((Span(m.start(), m.end()), alias, m.group(0)))
        matches.sort(key=lambda x: (-(x[0].end - x[0].start), bool(not x[1].when), x[0].start))
        kept: list[tuple[Span, Alias, str]] = []
        for span, alias, words in matches:
            if alias.when and not (set(alias.when) & nouns):
                continue
            if any(k[0].overlaps(span) for k in kept) or any(t.overlaps(span) for t in taken):
                continue  # "head of growth" is a person, not the growth KPI
            kept.append((span, alias, words))
        kept.sort(key=lambda x: x[0].start)
        kpis: dict[str, KpiFact] = {}
        for span, alias, words in kept:
            for key in alias.keys:
                if key in kpis:
                    continue
                entry = self.lex.kpis[key]
                target = None
                tm = re.match(
                    r"[\s-]*targets?\s+(?:of|at)\s+(\d+(?:\.\d+)?)\s?%", self.text[span.end : span.end + 30], re.I
                )
                if tm:
                    target = float(tm.group(1))
                kpis[key] = KpiFact(
                    key=key, name=entry.name, formula=entry.formula, parts=list(entry.parts), kind=entry.kind,
                    target=target, source=words.strip(),
                )  # fmt: skip
        return list(kpis.values())

    # -- the company
    def _company(self, places: list[PlaceHit]) -> CompanyFact | None:
        text, words = self.text, self.lex.words
        not_names = {str(w) for w in words.get("not_names", [])}
        titles = {str(w) for w in words.get("titles", [])}
        verbs = {str(w).lower() for w in words.get("company_verbs", [])}
        suffixes = {str(w) for w in words.get("company_suffixes", [])}
        cues = {str(w).lower() for w in words.get("name_cues", [])}
        place_spans = [h.span for h in places]
        months = {k.capitalize() for k in MONTHS}
        kpi_caps = {
            m.group(0) for a in self.lex.aliases if not a.pattern.flags & re.I for m in a.pattern.finditer(text)
        }
        festival_spans = [Span(m.start(), m.end()) for f in self.lex.festivals for m in f.pattern.finditer(text)]
        best: tuple[int, int, str, Span] | None = None
        for sentence in self.sentences:
            tokens = list(re.finditer(r"[A-Za-z][\w'’&.-]*[\w]|[A-Za-z]", text[sentence.start : sentence.end]))
            i = 0
            while i < len(tokens):
                tok = tokens[i]
                if not tok.group(0)[0].isupper():
                    i += 1
                    continue
                j = i
                while (
                    j + 1 < len(tokens)
                    and tokens[j + 1].group(0)[0].isupper()
                    and re.fullmatch(
                        r"\s+|\s*&\s*", text[sentence.start + tokens[j].end() : sentence.start + tokens[j + 1].start()]
                    )
                ):
                    j += 1
                group = tokens[i : j + 1]
                i = j + 1
                # leading words that are never a name ("The COO", "During Pongal", "After")
                # (a sentence's first word only: mid-sentence "Mobile Bharat" is a name)
                while group and (
                    group[0].group(0) in titles
                    or group[0].group(0) in not_names
                    and group[0].start() == tokens[0].start()
                ):
                    group = group[1:]
                if not group:
                    continue
                start = sentence.start + group[0].start()
                end = sentence.start + group[-1].end()
                name = text[start:end]
                name = re.sub(r"['’]s$", "", name)
                end = start + len(name)
                span = Span(start, end)
                parts = name.split()
                if any(s.overlaps(span) for s in place_spans + festival_spans):
                    continue
                if all(p.rstrip(".") in months or p in not_names or p in titles or p in kpi_caps for p in parts):
                    continue
                score = self._name_score(name, parts, start, end, sentence, verbs, suffixes, cues)
                if score <= 0:
                    continue
                if best is None or score > best[0]:
                    best = (score, start, name, span)
        if best is None:
            return None
        _, start, name, span = best
        return self._person_business(name, span) or CompanyFact(name=name, source=name)

    def _name_score(
        self,
        name: str,
        parts: list[str],
        start: int,
        end: int,
        sentence: Span,
        verbs: set[str],
        suffixes: set[str],
        cues: set[str],
    ) -> int:
        text = self.text
        after = text[end : end + 40]
        before = text[max(sentence.start, start - 20) : start]
        score = 0
        camel = any(re.search(r"[a-z][A-Z]", p) for p in parts)
        if camel:
            score = 3
        if len(parts) > 1 and (parts[-1] in suffixes or all(p[0].isupper() for p in parts)):
            score = max(score, 3)
        if re.match(r"['’]s?\s*,\s+(?:a|an|the)\s+|\s*,\s+(?:a|an|the)\s+|\s*\((?:a|an)\s+", after):
            score = max(score, 3)
        if re.search(r"\b(?:" + "|".join(re.escape(c) for c in cues) + r")\s+$", before, re.I):
            score = max(score, 3)
        next_word = re.match(r"\s+([a-z]+)", after)
        after_preposition = re.search(
            r"\b(?:on|via|from|with|at|to|for|like|using|than|against|by|of|in|into|through|over|about|as)\s+$", before
        )
        if next_word and next_word.group(1) in verbs and not after_preposition:
            score = max(score, 2)  # "Pedalo operates ...", "service Tunely saw ..."; not "a brand on Shopify wants"
        if score and re.match(
            r"\s*(?:After|Before|When|While|Since|Although|Because|If|Once)\b", text[sentence.start :]
        ):
            first_comma = text.find(",", sentence.start, sentence.end)
            if first_comma > end:
                score -= 1  # "After Reliance Jio launched 5G, Mobile Bharat lost ...": the main clause's name wins
        if score == 0:
            return 0
        # a common word that starts a sentence ("Attendance dropped") is not a name: names that pass are
        # CamelCase, several capitalised words, or cued by an apposition, a name cue or a company verb
        if parts[0].isupper() and len(parts[0]) <= 2 and len(parts) == 1:
            return 0
        if len(parts) == 1 and parts[0].lower() in self.stop:
            return 0
        return score

    def _person_business(self, name: str, span: Span) -> CompanyFact | None:
        """'Rosa runs a small bakery' -> "Rosa's Bakery": a given name that runs a business names it."""
        if name not in self.lex.first_names:
            return None
        verbs = "|".join(re.escape(str(v)) for v in self.lex.words.get("person_business_verbs", []))
        m = re.match(rf"\s+(?:{verbs})\s+(?:a|an|the|her|his|their)\s+", self.text[span.end :])
        if not m:
            return None
        noun, end = None, span.end + m.end()
        # the business is the last word before a function word: "a small bakery with a loyalty card" -> bakery
        for w in re.finditer(r"([A-Za-z][\w-]*)(\s+|$)", self.text[end : end + 60]):
            word = w.group(1).lower()
            if (
                word in self.stop
                and noun is not None
                or word in PREPS_BEFORE_DATE
                or word in {"with", "and", "that", "which"}
            ):
                break
            if word not in self.stop:
                noun, stop_at = word, end + w.end(1)
        if noun is None:
            return None
        source = self.text[span.start : stop_at]
        return CompanyFact(name=f"{name}'s {noun.capitalize()}", source=source)

    # -- the stakeholder
    def _stakeholder(self) -> tuple[StakeholderFact | None, Span | None]:
        words = self.lex.words
        titles = sorted((str(t) for t in words.get("titles", [])), key=len, reverse=True)
        heads = "|".join(re.escape(str(h)) for h in words.get("role_heads", []))
        role_words = "|".join(sorted((re.escape(str(w)) for w in words.get("role_words", [])), key=len, reverse=True))
        role_of = "|".join(re.escape(str(w)) for w in words.get("role_of", []))
        candidates: list[tuple[int, str]] = []
        for title in titles:
            flags = 0 if any(c.isupper() for c in title) else re.I
            for m in re.finditer(r"(?<![\w-])" + re.escape(title) + r"(?![\w-])", self.text, flags):
                candidates.append((m.start(), m.group(0)))
        for m in re.finditer(
            rf"(?<![\w-])(?:{role_of})\s+(?:the\s+)?[a-z][\w-]*(?:\s+(?:and\s+)?[a-z][\w-]*)?", self.text, re.I
        ):
            role = m.group(0)
            tail = role.split()
            while tail and (
                tail[-1].lower() in self.stop and tail[-1].lower() not in {"data"} or tail[-1].lower() == "and"
            ):
                tail.pop()
            candidates.append((m.start(), " ".join(tail)))
        for m in re.finditer(
            rf"(?<![\w-])(?:{role_words})(?:\s+(?:{role_words}))?\s+(?:{heads})(?![\w-])", self.text, re.I
        ):
            candidates.append((m.start(), m.group(0)))
        if not candidates:
            return None, None
        # the one who asks ("The COO wants ...") over one merely mentioned; overlapping finds: the longest
        candidates.sort(key=lambda c: (c[0], -len(c[1])))
        kept: list[tuple[int, str]] = []
        for pos, role in candidates:
            if any(pos < p + len(r) and p < pos + len(role) for p, r in kept):
                continue
            kept.append((pos, role))
        asking = [
            c
            for c in kept
            if re.match(
                r"\s+(?:\w+\s+)?(?:wants|asks|needs|would like|is asking|has asked|requests|wishes)\b",
                self.text[c[0] + len(c[1]) :],
            )
        ]
        pos, role = (asking or kept)[0]
        normal = role if role.isupper() or any(c.isupper() for c in role[1:]) else role.lower()
        return StakeholderFact(role=normal, source=role), Span(pos, pos + len(role))

    # -- business nouns
    def _nouns(self, places: list[PlaceHit], times: list[TimeExpr]) -> list[str]:
        taken = [h.span for h in places] + [t.span for t in times]
        out: list[str] = []
        number_words = {str(k).lower() for k in self.lex.words.get("number_words", {})}
        for m in re.finditer(r"(?<![\w'-])[A-Za-z][\w'-]*[A-Za-z](?![\w'-])", self.text):
            if re.search(r"[a-z][A-Z]|\d|_", m.group(0)):
                continue  # CamelCase and codes are names ("FitNation", "Q3"), not nouns
            if any(s.overlaps(Span(m.start(), m.end())) for s in taken):
                continue
            word = m.group(0).lower().strip("'-")
            if word.endswith("'s"):
                word = word[:-2]
            if len(word) < 3 or word in self.stop or word in number_words or word in MONTHS:
                continue
            if word.endswith("ly") or (word.endswith("ed") and not word.endswith("eed") and len(word) > 4):
                continue
            if m.group(0)[0].isupper() and m.start() not in {s.start for s in self.sentences}:
                continue  # a name, not a noun
            noun = lemma(word, self.irregular)
            if noun not in self.stop and noun not in out:
                out.append(noun)
        return out

    # -- messiness
    def _messiness(self) -> tuple[str | None, str | None]:
        """The level the brief asks for, read by the messiness planner (one reading of its phrases), and its words."""
        level = messiness_from_text(self.text)
        if level is None:
            return None, None
        phrases = load_messiness_lexicon().phrases
        for group in (level, "any"):
            for phrase in sorted(phrases.get(group, ()), key=len, reverse=True):
                words = re.findall(r"[a-z0-9']+", phrase.lower())
                pattern = r"(?<![A-Za-z0-9])" + r"[^A-Za-z0-9']+".join(map(re.escape, words)) + r"(?![A-Za-z0-9])"
                m = re.search(pattern, self.text, re.I)
                if m:
                    return level, m.group(0)
        return level, None


def _count_value(raw: str, numbers: dict[str, int]) -> float | None:
    """'1,20,000' -> 120000, 'six' -> 6, 'twenty-five' -> 25; None for a compound that is no number ('six-eight')."""
    if raw[0].isdigit():
        return float(raw.replace(",", ""))
    parts = [numbers[p] for p in raw.lower().split("-")]
    if len(parts) == 2 and not (parts[0] % 10 == 0 and 20 <= parts[0] <= 90 and parts[1] < 10):
        return None
    return float(sum(parts))


def _number(word: str, numbers: dict[str, int]) -> int:
    return int(word) if word.isdigit() else numbers.get(word.lower(), 1)


def _periods_around(event: EventFact, n: int, unit: str) -> tuple[Period, Period]:
    start = event.start
    assert start is not None
    end = event.end or start
    if unit in ("month", "quarter", "year"):
        months = n * {"month": 1, "quarter": 3, "year": 12}[unit]
        by, bm = _add_months(start.year, start.month, -months)
        ey, em = _add_months(start.year, start.month, -1)
        ay, am = _add_months(end.year, end.month, 1)
        zy, zm = _add_months(end.year, end.month, months)
        b = (dt.date(by, bm, 1), _month_end(ey, em))
        a = (dt.date(ay, am, 1), _month_end(zy, zm))
    else:
        days = n * (7 if unit == "week" else 1)
        b = (start - dt.timedelta(days=days), start - dt.timedelta(days=1))
        a = (end + dt.timedelta(days=1), end + dt.timedelta(days=days))
    return (
        Period(start=b[0], end=b[1], label=f"{n} {unit}(s) before: {_month_label(*b)}"),
        Period(start=a[0], end=a[1], label=f"{n} {unit}(s) after: {_month_label(*a)}"),
    )


def _period_before(event: EventFact, n: int, unit: str) -> Period:
    start = event.start
    assert start is not None
    if unit == "month":
        by, bm = _add_months(start.year, start.month, -n)
        first = dt.date(by, bm, min(start.day, calendar.monthrange(by, bm)[1]))
    else:
        first = start - dt.timedelta(days=n * (7 if unit == "week" else 1))
    last = start - dt.timedelta(days=1)
    return Period(start=first, end=last, label=f"{n} {unit}(s) before {event.what}")


def _with_year(t: TimeExpr, year: int) -> Period:
    if t.precision != "month-noyear":
        return t.period()
    first, last = t.start.month, t.end.month
    start_year = year - 1 if first > last else year
    start, end = dt.date(start_year, first, 1), _month_end(year, last)
    return Period(start=start, end=end, label=_month_label(start, end))
