"""Shape a blueprint variation from the brief's frame: its company, window, places, counts, events and KPIs.

Works on spec *data* (``spec_to_data`` output) in place, like ``tasks.variation``, and returns notes for the
gate-1 artifact saying what was carried and what could not be. Promises:

- the window (and fiscal year start) is the brief's; dated parts of the blueprint move with it, and questions
  or scenarios whose dates fall outside it are left out (never shown with empty answers);
- each dated event of the brief is a planted scenario at its date, asked by a before/after question whose SQL
  and wording are rendered from the scenario's own fields;
- counts size the tables they name, named places are the places in the data;
- the problem statement is rendered from spec fields (company, window, places, planted brief events, KPIs
  asked) and names nothing the data does not hold.
Domain knowledge (entity words, event effects) lives in ``domains/lexicon/shaping.yaml``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlglot
import yaml
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from schemas.brief import BriefFrame, EventFact, KpiFact
from schemas.errors import SpecError
from schemas.expressions import expression_names
from schemas.serialize import spec_from_data
from tasks.design.kpi_questions import asked_by
from tasks.domains import tokens
from tasks.settings import get_settings
from tasks.variation import drop_scenario, shift_years

CITY_COLUMNS = ("city", "city_name", "town")
STATE_COLUMNS = ("state", "state_name", "province")


@dataclass(frozen=True)
class Lexicon:
    entity_groups: dict[str, list[str]]
    event_kinds: dict[str, dict]
    before_after_months: int


@lru_cache(maxsize=4)
def _load_lexicon(path: str, stamp: float) -> Lexicon:
    del stamp  # cache key only
    data = yaml.safe_load(Path(path).read_text())
    return Lexicon(data["entity_groups"], data["event_kinds"], int(data.get("before_after_months", 6)))


def lexicon(directory: Path | None = None) -> Lexicon:
    """The shaping lexicon of the configured blueprint library (reloaded when the file changes)."""
    path = Path(directory or get_settings().domains_dir) / "lexicon" / "shaping.yaml"
    return _load_lexicon(str(path), path.stat().st_mtime)


# --------------------------------------------------------------------------- dates


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from the month of ``start`` to the month of ``end`` (0 when the same month)."""
    return (end.year - start.year) * 12 + end.month - start.month


def month_label(day: dt.date) -> str:
    return f"{day:%B %Y}"


def period_label(start: dt.date, end_exclusive: dt.date) -> str:
    """``Jan-Jun 2024``, ``Nov 2023-Feb 2024`` or ``Mar 2024`` for [start, end_exclusive); days when shorter
    than a month (``1-7 Nov 2023``)."""
    last = end_exclusive - dt.timedelta(days=1)
    if (end_exclusive - start).days < 28:
        if (start.year, start.month) == (last.year, last.month):
            return f"{start.day}-{last.day} {last:%b %Y}" if start != last else f"{last.day} {last:%b %Y}"
        return f"{start.day} {start:%b}-{last.day} {last:%b %Y}"
    if (start.year, start.month) == (last.year, last.month):
        return f"{start:%b %Y}"
    if start.year == last.year:
        return f"{start:%b}-{last:%b %Y}"
    return f"{start:%b %Y}-{last:%b %Y}"


def _window(data: dict) -> tuple[dt.date, dt.date]:
    window = data["challenge"]["time_window"]
    return dt.date.fromisoformat(str(window["start"])), dt.date.fromisoformat(str(window["end"]))


# --------------------------------------------------------------------------- window


def fit_window(data: dict, start: dt.date, end: dt.date, fiscal_start: int | None = None) -> list[str]:
    """Move the blueprint to the brief's window: whole years first (everything dated moves), then the exact
    months; date bounds are clamped into it; scenarios and questions dated outside it are left out."""
    _, old_end = _window(data)
    notes = shift_years(data, end.year - old_end.year)
    data["challenge"]["time_window"] = {"start": start.isoformat(), "end": end.isoformat()}
    if fiscal_start and fiscal_start != 1:
        data["challenge"]["fiscal_year_start_month"] = fiscal_start
        notes += add_fiscal_calendar(data, fiscal_start)
    for table in data["tables"]:
        for column in table["columns"]:
            _clamp_dates(column["generator"], start, end, whole=table.get("role") in ("fact", "bridge"))
    notes += drop_questions_outside(data, start, end)
    notes += drop_growth_questions(data, start, end)
    notes.append(f"time window set to the brief's {month_label(start)} to {month_label(end)}")
    return notes


# growth across years needs that many calendar years in the window, else its growth column is empty
YEARS_NEEDED = {"yoy_growth": 2, "cagr": 3}


def drop_growth_questions(data: dict, start: dt.date, end: dt.date) -> list[str]:
    """Leave out year-over-year and CAGR questions the brief's window is too short for (January to June 2024
    has no year before it), unless a planted scenario needs the question."""
    years = end.year - start.year + 1
    dropped = []
    for question in list(data["questions"]):
        needed = max((YEARS_NEEDED.get(s, 0) for s in question.get("skills", [])), default=0)
        if needed > years and not question.get("scenario"):
            data["questions"].remove(question)
            dropped.append(question["id"])
    if not dropped:
        return []
    return [f"left out {', '.join(dropped)}: growth across years, and the window has {years} calendar year(s)"]


def _clamp_dates(gen: dict, start: dt.date, end: dt.date, *, whole: bool) -> None:
    """Date bounds inside the window: facts happen in it; dimensions (sign-ups, openings) may start earlier."""
    kind = gen.get("kind")
    if kind in ("date", "date_sequence"):
        for key in ("start", "end"):
            if gen.get(key) is None:
                continue
            day = dt.date.fromisoformat(str(gen[key])[:10])
            if day > end:
                day = end
            if whole and day < start:
                day = start
            gen[key] = day.isoformat()
        if gen.get("start") and gen.get("end") and gen["start"] >= gen["end"]:
            # both bounds fell past the window's end: keep a month of room before it (openings, sign-ups)
            last = dt.date.fromisoformat(gen["end"][:10])
            gen["start"] = (start if whole else min(start, last - dt.timedelta(days=30))).isoformat()
    elif kind == "conditional":
        for case in [*gen["cases"].values(), gen.get("default")]:
            if case:
                _clamp_dates(case, start, end, whole=whole)
    elif kind == "date_offset":
        return


def drop_scenarios_outside(data: dict) -> list[str]:
    """Blueprint scenarios dated outside the window go (after the brief's events took the ones they need)."""
    start, end = _window(data)
    notes = []
    for scenario in list(data.get("scenarios", [])):
        condition = scenario["condition"]
        if not condition.get("start") and not condition.get("end"):
            continue  # a segment effect over the whole window
        s_start = dt.date.fromisoformat(str(condition.get("start") or start))
        s_end = dt.date.fromisoformat(str(condition.get("end") or end))
        if s_start > end or s_end < start or (condition.get("start") and s_start < start):
            # an effect already running when the brief's data begins has no "before" to be found against
            notes.append(drop_scenario(data, scenario["name"], 0) + " (its dates fall outside the brief's window)")
            continue
        condition["end"] = min(s_end, end).isoformat()
    return notes


def sql_dates(sql: str) -> tuple[list[dt.date], list[int]]:
    """The quoted dates and bare year numbers (1990-2100) a query compares with."""
    dates, years = [], []
    try:
        found = DuckDB().tokenize(sql)
    except sqlglot.errors.SqlglotError:
        return dates, years
    for token in found:
        text = token.text
        if token.token_type == TokenType.STRING:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text):
                with contextlib.suppress(ValueError):
                    dates.append(dt.date.fromisoformat(text[:10]))
            elif re.fullmatch(r"\d{4}(-\d{2})?", text) and 1990 <= int(text[:4]) <= 2100:
                years.append(int(text[:4]))
        elif token.token_type == TokenType.NUMBER and re.fullmatch(r"\d{4}", text) and 1990 <= int(text) <= 2100:
            years.append(int(text))
    return dates, years


def _outside(question: dict, start: dt.date, end: dt.date) -> str | None:
    dates, years = sql_dates(question["sql"])
    years += [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", question["text"])]
    for day in dates:
        if day > end + dt.timedelta(days=1) or day.year < start.year:
            return f"it compares with {day}"
    for year in years:
        if not start.year <= year <= end.year:
            return f"it is about {year}"
    return None


def outside_window(question: dict, data: dict) -> str | None:
    """Why ``question`` is dated outside the spec's window, or None when it fits."""
    return _outside(question, *_window(data))


def drop_questions_outside(data: dict, start: dt.date, end: dt.date) -> list[str]:
    """Leave out questions whose dates or years lie outside the window (their answers would be empty)."""
    dropped = []
    for question in list(data["questions"]):
        if why := _outside(question, start, end):
            data["questions"].remove(question)
            dropped.append(f"{question['id']} ({why})")
    return [f"left out question(s) dated outside the window: {', '.join(dropped)}"] if dropped else []


def add_fiscal_calendar(data: dict, fiscal_start: int) -> list[str]:
    """Fiscal year and quarter columns on every calendar dimension (a table keyed by a date sequence)."""
    notes = []
    # FY2024 is the fiscal year that ends in calendar 2024 (the Indian and most corporate conventions)
    year = f"year(date_key) + (1 if month(date_key) >= {fiscal_start} else 0)"
    quarter = f"floor(((month(date_key) + 12 - {fiscal_start}) % 12) / 3) + 1"
    for table in data["tables"]:
        keys = [c for c in table["columns"] if c["generator"].get("kind") == "date_sequence"]
        names = {c["name"] for c in table["columns"]}
        if len(keys) != 1 or "fiscal_year" in names:
            continue
        key = keys[0]["name"]
        table["columns"] += [
            {
                "name": "fiscal_year",
                "type": "int",
                "description": f"Fiscal year (starts in {dt.date(2000, fiscal_start, 1):%B}; FY2024 ends in 2024).",
                "generator": {"kind": "derived", "expression": year.replace("date_key", key)},
            },
            {
                "name": "fiscal_quarter",
                "type": "int",
                "description": "Fiscal quarter (1-4), counted from the fiscal year's first month.",
                "generator": {"kind": "derived", "expression": quarter.replace("date_key", key)},
            },
        ]
        notes.append(f"{table['name']}: fiscal_year and fiscal_quarter added (fiscal year from month {fiscal_start})")
    return notes


def window_from_events(data: dict, events: list[EventFact], today: dt.date) -> tuple[dt.date, dt.date] | None:
    """A window around the brief's dated events when it states none: the blueprint's length, the events inside."""
    days = [e.start for e in events if e.start]
    if not days:
        return None
    first, last = min(days), max(days)
    periods = [p for e in events for p in (e.before, e.after) if p is not None]
    if periods:
        # the brief's own comparison periods span the data ("the six months before and after")
        low = min([p.start for p in periods] + days)
        high = max([p.end for p in periods] + days)
        return month_start(low), add_months(month_start(high), 1) - dt.timedelta(days=1)
    if len(days) > 1:
        return month_start(first), add_months(month_start(last), 1) - dt.timedelta(days=1)
    del today  # one event: half a year either side, as many months of "before" as of "after"
    return add_months(month_start(first), -6), add_months(month_start(first), 6) - dt.timedelta(days=1)


# --------------------------------------------------------------------------- places and counts


def _columns_named(data: dict, names: tuple[str, ...]) -> list[tuple[dict, dict]]:
    found = []
    for table in data["tables"]:
        for column in table["columns"]:
            name = column["name"]
            named = name in names or any(name.endswith("_" + n) for n in names)
            if named and column["generator"].get("kind") in ("categorical", "faker"):
                found.append((table, column))
    return found


def place_values(gen: dict) -> list[str]:
    """The places a city/state column can hold: categorical values, or the values of a conditional's cases."""
    if gen.get("kind") == "categorical":
        return [str(v) for v in gen["values"]]
    if gen.get("kind") == "conditional":
        found: list[str] = []
        for case in [*gen["cases"].values(), gen.get("default")]:
            for value in place_values(case or {}):
                if value not in found and value != "Other":
                    found.append(value)
        return found
    return []


def _rename(node: object, pattern: re.Pattern, mapping: dict[str, str]) -> object:
    """Every string (and dict key) of ``node`` with the old place names replaced; lists lose the duplicates."""
    if isinstance(node, str):
        return pattern.sub(lambda m: mapping[m.group(0)], node)
    if isinstance(node, list):
        renamed = [_rename(v, pattern, mapping) for v in node]
        return renamed
    if isinstance(node, dict):
        return {_rename(k, pattern, mapping): _rename(v, pattern, mapping) for k, v in node.items()}
    return node


def _dedupe_categoricals(node: object) -> None:
    """Merge values a rename made equal (their weights add up)."""
    if isinstance(node, dict):
        if node.get("kind") == "categorical" and len(set(map(str, node["values"]))) < len(node["values"]):
            weights = node.get("weights") or [1.0] * len(node["values"])
            merged: dict = {}
            for value, weight in zip(node["values"], weights, strict=True):
                merged[value] = merged.get(value, 0.0) + weight
            node["values"] = list(merged)
            if node.get("weights"):
                node["weights"] = [round(w, 6) for w in merged.values()]
        for value in node.values():
            _dedupe_categoricals(value)
    elif isinstance(node, list):
        for value in node:
            _dedupe_categoricals(value)


def set_places(data: dict, values: list[str], names: tuple[str, ...], what: str) -> list[str]:
    """The brief's places replace the blueprint's everywhere they are named (values, property names, segments,
    questions, scenario texts): each old place maps to a new one in turn, so stories about a place stay."""
    notes = []
    for table, column in _columns_named(data, names) + _conditional_columns(data, names):
        old = [v for v in place_values(column["generator"]) if v not in values]
        if not old:
            continue
        mapping = {o: values[i % len(values)] for i, o in enumerate(old)}
        pattern = re.compile(
            r"(?<![A-Za-z])(" + "|".join(re.escape(o) for o in sorted(old, key=len, reverse=True)) + r")(?![A-Za-z])"
        )
        for key in ("tables", "scenarios", "questions"):
            data[key] = _rename(data.get(key, []), pattern, mapping)
        _dedupe_categoricals(data["tables"])
        if column["generator"].get("kind") == "categorical" and len(values) > len(old):
            column["generator"] = {"kind": "categorical", "values": list(values)}
        notes.append(
            f"{table['name']}.{column['name']}: the brief's {what} ({', '.join(values)}) replace {', '.join(old)}"
        )
    return notes


def _conditional_columns(data: dict, names: tuple[str, ...]) -> list[tuple[dict, dict]]:
    return [
        (table, column)
        for table in data["tables"]
        for column in table["columns"]
        if (column["name"] in names or any(column["name"].endswith("_" + n) for n in names))
        and column["generator"].get("kind") == "conditional"
    ]


def limit_places(data: dict, count: int, names: tuple[str, ...], what: str) -> list[str]:
    """Keep ``count`` values of the city (or state) columns when the brief gives a number of them."""
    notes = []
    for table, column in _columns_named(data, names):
        gen = column["generator"]
        if gen.get("kind") != "categorical":
            continue
        values = list(gen["values"])
        if len(values) < count:
            notes.append(
                f"{table['name']}.{column['name']} has {len(values)} {what}, fewer than the brief's {count}; kept them"
            )
            continue
        gone = values[count:]
        weights = gen.get("weights")
        gen["values"] = values[:count]
        if weights:
            gen["weights"] = weights[:count]
        if column.get("unique") or table.get("primary_key") == [column["name"]]:
            table.pop("ratio", None)
            table["rows"] = count  # one row per place
        notes.append(f"{table['name']}.{column['name']}: {count} {what} as in the brief")
        notes += _drop_readers(data, table["name"], column["name"], [str(v) for v in gone])
    return notes


def _drop_readers(data: dict, table: str, column: str, gone: list[str]) -> list[str]:
    """Scenarios and questions that name a value no longer in the data are left out."""
    if not gone:
        return []
    notes = []
    pattern = re.compile("|".join(re.escape(f"'{v}'") for v in gone))
    for scenario in list(data.get("scenarios", [])):
        where = scenario["condition"].get("where") or ""
        if scenario["table"] == table and pattern.search(where):
            notes.append(drop_scenario(data, scenario["name"], 0) + " (it named a place the brief does not have)")
    for question in list(data["questions"]):
        if pattern.search(question["sql"]):
            data["questions"].remove(question)
            notes.append(f"left out {question['id']} (it named a place the brief does not have)")
    return notes


def _singular(word: str) -> str:
    stem = tokens(word)
    return stem[0] if stem else word.lower()


def table_for_entity(data: dict, entity: str, lex: Lexicon) -> dict | None:
    """The table a brief's count names: its own word in the table's name first, then a word of its group."""
    word = _singular(entity)
    group = next((set(map(_singular, ws)) for ws in lex.entity_groups.values() if word in map(_singular, ws)), set())

    def words(table: dict) -> set[str]:
        return set(tokens(table["name"].replace("_", " "))) - {"dim", "fact", "bridge"}

    for wanted in ({word}, group):
        hits = [t for t in data["tables"] if words(t) & wanted and t.get("role") != "aggregate"]
        if hits:
            hits.sort(key=lambda t: (t.get("role") != "dimension", len(t["name"])))
            return hits[0]
    return None


def widen_unique_values(table: dict, rows: int) -> list[str]:
    """A unique list of names shorter than the brief's count gets numbered second and third uses
    ('Harborlight Grand Chicago 2'), so twelve hotels never fail on six names."""
    notes = []
    for column in table["columns"]:
        gen = column["generator"]
        if not column.get("unique") or gen.get("kind") != "categorical" or len(gen["values"]) >= rows:
            continue
        base = [str(v) for v in gen["values"]]
        values = list(base)
        round_ = 2
        while len(values) < rows:
            values += [f"{v} {round_}" for v in base][: rows - len(values)]
            round_ += 1
        gen["values"], gen["weights"] = values, None
        gen.pop("weights")
        notes.append(f"{table['name']}.{column['name']}: {len(base)} names for {rows} rows; numbered the extra ones")
    return notes


def apply_counts(data: dict, frame: BriefFrame, *, rows_given: bool) -> list[str]:
    """Counts of the brief size the tables (and number of cities) they name."""
    lex = lexicon()
    notes = []
    for count in frame.counts:
        word = _singular(count.entity)
        if word in {"city", "town"}:
            notes += limit_places(data, count.value, CITY_COLUMNS, "cities")
            continue
        if word in {"state", "province"}:
            notes += limit_places(data, count.value, STATE_COLUMNS, "states")
            continue
        table = table_for_entity(data, count.entity, lex)
        if table is None:
            notes.append(f"count '{count.source}': no table holds {count.entity}; not applied")
            continue
        if table.get("ratio") == 1.0:
            if rows_given and data["scale"] != count.value:
                notes.append(
                    f"count '{count.source}': {table['name']} is the main table; --rows {data['scale']:,} was used"
                )
                continue
            data["scale"] = count.value
        else:
            table.pop("ratio", None)
            table["rows"] = count.value
            notes += widen_unique_values(table, count.value)
        notes.append(f"{table['name']}: {count.value:,} rows, from '{count.source}'")
    return notes


# --------------------------------------------------------------------------- events


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit].strip("_")
    return slug if slug and slug[0].isalpha() else f"event_{slug}".strip("_")


def _scenario_words(scenario: dict) -> set[str]:
    text = f"{scenario['name'].replace('_', ' ')} {scenario['description']} {scenario['effect'].get('column', '')}"
    return set(tokens(text.replace("_", " ")))


def _event_words(event: EventFact, lex: Lexicon) -> set[str]:
    kind_words = set(map(_singular, lex.event_kinds.get(event.kind, {}).get("words", [])))
    return kind_words | set(tokens(event.what))


def _fact_tables(data: dict) -> list[tuple[dict, str]]:
    """Fact tables with a date column, the main one (ratio 1) first: where an event can show."""
    found = []
    for table in data["tables"]:
        if table.get("role") not in ("fact", None):
            continue
        dates = [c["name"] for c in table["columns"] if c["type"] in ("date", "datetime")]
        if dates:
            found.append((table, dates[0]))
    found.sort(key=lambda item: (item[0].get("ratio") != 1.0, -(item[0].get("ratio") or 0)))
    return found


def _scale_column(table: dict, hints: list[str], currency: str) -> str | None:
    numeric = [
        c
        for c in table["columns"]
        if c["type"] in ("int", "float", "decimal")
        and c["generator"].get("kind") in ("numeric", "categorical", "conditional", "lookup")
        and c["name"] not in table.get("primary_key", [])
    ]
    for hint in hints:
        for column in numeric:
            if hint in column["name"]:
                return column["name"]
    money = [c["name"] for c in numeric if c.get("unit") == currency]
    return money[0] if money else None


def event_effect(event: EventFact, data: dict, lex: Lexicon) -> tuple[dict, dict, str] | None:
    """(table, effect, date column) for a new scenario of ``event``'s kind, or None when nothing can show it."""
    kind = lex.event_kinds.get(event.kind) or lex.event_kinds["other"]
    facts = _fact_tables(data)
    if not facts:
        return None
    table, date_column = facts[0]
    factor = float(kind.get("factor", 0.8))
    if kind.get("effect") == "scale":
        column = _scale_column(table, kind.get("column_hints", []), data["challenge"].get("currency", "USD"))
        if column:
            if event.magnitude_pct and 0 < abs(event.magnitude_pct) < 90:
                falling = set(tokens(event.source)) & {"cut", "lower", "reduce", "reduced", "drop", "decrease"}
                factor = 1 + (-1 if falling else 1) * abs(event.magnitude_pct) / 100
            return table, {"kind": "scale", "column": column, "factor": round(factor, 3)}, date_column
        factor = 0.85  # a price rise with no price column shows as lost volume
    return table, {"kind": "volume", "factor": round(factor, 3)}, date_column


def _effect_words(effect: dict, table: str) -> str:
    noun = table.removeprefix("fact_").removeprefix("dim_").replace("_", " ")
    change = abs(effect.get("factor", 1) - 1) * 100
    if effect["kind"] == "scale":
        direction = "higher" if effect["factor"] > 1 else "lower"
        return f"{effect['column'].replace('_', ' ')} about {change:.0f}% {direction} than before"
    if effect["kind"] == "volume":
        direction = "more" if effect["factor"] > 1 else "fewer"
        return f"about {change:.0f}% {direction} {noun} than before"
    column = effect["column"].replace("_", " ")
    if len(effect.get("multipliers", {})) == 1:
        ((value, multiplier),) = effect["multipliers"].items()
        many = noun if noun.endswith("s") else re.sub(r"([^aeiou])y$", r"\1ie", noun) + "s"
        return f"a {'higher' if multiplier > 1 else 'lower'} share of {many} with {column} '{value}' than before"
    return f"a shift in the mix of {column}"


_FALLING = re.compile(r"\b(fell|fall|falls|drop|dropped|declin\w*|lower|worse|slow\w*|decreas\w*|lost)\b", re.I)
_CASE_VALUE = re.compile(r"CASE\s+WHEN\s+(?:\w+\.)?(\w+)\s*=\s*'([^']+)'", re.I)


def _clause_of(text: str, words: str) -> str:
    """The clause of ``text`` that holds ``words``: in "cancellations rose and new sign-ups slowed" the
    cancellations rose; the slowing is the sign-ups'."""
    clauses = re.split(r"[.?!;,]|\b(?:and|but|while|whereas)\b", text)
    return next((c for c in clauses if words.lower() in c.lower()), "")


def _sentence_of(text: str, words: str) -> int | None:
    sentences = re.split(r"(?<=[.?!])\s+", text)
    return next((i for i, sentence in enumerate(sentences) if words.lower() in sentence.lower()), None)


def _category_values(generator: dict) -> list:
    """The values a categorical column draws, across the cases of a conditional one."""
    if generator.get("kind") == "conditional":
        cases = [*generator.get("cases", {}).values(), generator.get("default") or {}]
        return [v for case in cases for v in _category_values(case)] if cases else []
    return list(generator.get("values", [])) if generator.get("kind") == "categorical" else []


def kpi_effect(data: dict, event: EventFact, kpis: list[KpiFact], brief: str) -> tuple[dict, dict, str] | None:
    """(table, effect, date column) that moves the KPI the brief asks about beside the event ("changed its free
    trial ... Did trial-to-paid conversion improve?"): the value the KPI's question counts (``CASE WHEN
    trial_outcome = 'Converted'``) gets a higher share from the event on, or a lower one when the brief says the KPI
    fell. None when no KPI of the event's sentences is asked by such a question."""
    at = _sentence_of(brief, event.source)
    dated = {t["name"]: (t, d) for t, d in _fact_tables(data)}
    for table in data["tables"]:  # a dimension with a date (accounts by signup date) can carry it too
        dates = [c["name"] for c in table["columns"] if c["type"] in ("date", "datetime")]
        if dates and table["name"] not in dated:
            dated[table["name"]] = (table, dates[0])
    for kpi in kpis:
        near = _sentence_of(brief, kpi.source)
        asked = asked_by(kpi, data["questions"], [event.what])
        if at is None or near is None or abs(near - at) > 1 or not asked:
            continue
        question = next(q for q in data["questions"] if q["id"] == asked)
        for column, value in _CASE_VALUE.findall(question["sql"]):
            for table, date_column in dated.values():
                spec_column = next((c for c in table["columns"] if c["name"] == column), None)
                if value in _category_values((spec_column or {}).get("generator", {})):
                    multiplier = 0.6 if _FALLING.search(_clause_of(brief, kpi.source)) else 1.6
                    effect = {"kind": "shift_weights", "column": column, "multipliers": {value: multiplier}}
                    return table, effect, date_column
    return None


def plant_event(
    data: dict,
    event: EventFact,
    lex: Lexicon,
    taken: set[str],
    anchor: dt.date | None = None,
    kpis: list[KpiFact] = (),
    brief: str = "",
) -> list[str]:
    """Plant ``event`` as a scenario at its date (moving the blueprint scenario that tells the same story, else a
    new one), with a before/after question over the brief's periods."""
    start, end = _window(data)
    undated = ""
    if event.start is None:
        # the story needs a "before": beside the brief's dated event ("while a rival gained share"), else 60%
        # into the window; said at gate 1
        at = anchor or add_months(month_start(start), round(0.6 * months_between(start, end)))
        event = event.model_copy(update={"start": at})
        undated = f" (the brief gives no date: planted in {month_label(at)}; say when it happened at the gate)"
    at = event.start
    if not start < at <= end:
        return [f"event '{event.source}' ({month_label(at)}) is outside the window; not planted"]
    wanted = _event_words(event, lex)
    kind_words = set(map(_singular, lex.event_kinds.get(event.kind, {}).get("words", [])))

    def same_story(scenario: dict) -> int:
        # a shared noun alone ("memberships") is not the same story: the kind of event must meet too
        words = _scenario_words(scenario)
        shared = wanted & words
        return len(shared) if (kind_words & words or len(shared) >= 2) else 0

    dated = {t["name"]: d for t, d in _fact_tables(data)}

    def movable(scenario: dict) -> bool:
        # a scenario moves to the event's date only on a table with a date column to put it on
        return scenario["name"] not in taken and bool(
            scenario["condition"].get("date_column") or dated.get(scenario["table"])
        )

    scored = sorted(((same_story(s), s["name"]) for s in data.get("scenarios", []) if movable(s)), reverse=True)
    name = _slug(f"{event.what} {at:%Y %m}", 60)
    # a promotion lasts its own dates; a price change, launch, crisis or rival stays in the data from then on
    until = min(event.end or end, end) if _temporary(event) else end
    # a price change shows in the price (its side effects in shaping.yaml move the KPI); other kinds have no
    # measure of their own, so the KPI the brief asks about beside them is what they move
    direct = (lex.event_kinds.get(event.kind) or {}).get("effect") == "scale"
    moves_kpi = None if direct else kpi_effect(data, event, list(kpis), brief)
    if moves_kpi is not None and scored and scored[0][0] > 0:
        best = next(s for s in data["scenarios"] if s["name"] == scored[0][1])
        if best["effect"].get("column") != moves_kpi[1]["column"]:
            scored = []  # the blueprint's story shares words, not the KPI the brief asks the event about
    if scored and scored[0][0] > 0:
        scenario = next(s for s in data["scenarios"] if s["name"] == scored[0][1])
        old_name = scenario["name"]
        for question in list(data["questions"]):
            if question.get("scenario") == old_name:
                # its SQL compares the blueprint's own dates; the event's question below replaces it
                data["questions"].remove(question)
        scenario["condition"].setdefault("date_column", dated.get(scenario["table"]))
        scenario["condition"]["start"] = at.isoformat()
        scenario["condition"]["end"] = until.isoformat()
        if event.magnitude_pct and scenario["effect"]["kind"] == "scale":
            # the brief's own size ("by 20%") in the direction the blueprint planted
            rising = scenario["effect"]["factor"] >= 1
            scenario["effect"]["factor"] = round(1 + (1 if rising else -1) * abs(event.magnitude_pct) / 100, 3)
        note = f"event '{event.source}': moved scenario {old_name} to {month_label(at)} as {name}"
    else:
        built = moves_kpi or event_effect(event, data, lex)
        if built is None:
            return [f"event '{event.source}': no fact table with a date can show it; not planted"]
        table, effect, date_column = built
        scenario = {
            "table": table["name"],
            "condition": {"date_column": date_column, "start": at.isoformat(), "end": until.isoformat()},
            "effect": effect,
        }
        data.setdefault("scenarios", []).append(scenario)
        note = f"event '{event.source}': planted as {name} on {table['name']}"
    scenario["name"] = name
    scenario["optional"] = False
    scenario["description"] = (
        f"{_event_name(event)[0].upper()}{_event_name(event)[1:]} in {month_label(at)}: "
        f"{_effect_words(scenario['effect'], scenario['table'])}"
        + (f" ({_where_words(scenario['condition']['where'])})" if scenario["condition"].get("where") else "")
        + "."
    )
    taken.add(name)
    question = before_after_question(data, scenario, event, lex)
    data["questions"].append(question)
    return [note + f", asked by {question['id']}" + undated] + _plant_side_effects(data, event, scenario, lex, taken)


def _plant_side_effects(data: dict, event: EventFact, primary: dict, lex: Lexicon, taken: set[str]) -> list[str]:
    """What else the event's kind does where the table can show it (a price rise also drives cancellations):
    ``also`` entries of the kind in shaping.yaml, each a mix shift of one value of a categorical column."""
    kind = lex.event_kinds.get(event.kind) or {}
    table = next((t for t in data["tables"] if t["name"] == primary["table"]), None)
    notes = []
    for side in kind.get("also", []) if table else []:
        column = next((c for c in table["columns"] if c["name"] == side["column"]), None)
        values = column["generator"].get("values", []) if column else []
        if side["value"] not in values:
            continue
        name = _slug(f"{primary['name']} {side['value']}", 60)
        if name in taken:
            continue
        more = side["multiplier"] >= 1
        scenario = {
            "name": name,
            "description": (
                f"{_event_name(event)[0].upper()}{_event_name(event)[1:]} in {month_label(event.start)}: "
                f"a {'higher' if more else 'lower'} share of {primary['table'].removeprefix('fact_').replace('_', ' ')}"
                f" with {side['column'].replace('_', ' ')} '{side['value']}' than before."
            ),
            "table": primary["table"],
            "condition": {k: v for k, v in primary["condition"].items() if k != "where"},
            "effect": {
                "kind": "shift_weights",
                "column": side["column"],
                "multipliers": {side["value"]: side["multiplier"]},
            },
            "optional": False,
        }
        data["scenarios"].append(scenario)
        taken.add(name)
        question = before_after_question(data, scenario, event, lex)
        data["questions"].append(question)
        notes.append(
            f"event '{event.source}': also planted {name} (mix of {side['column']}), asked by {question['id']}"
        )
    return notes


def _where_words(where: str) -> str:
    """``region == 'South'`` -> ``region South``; ``route_id in ['RT-02', 'RT-03']`` -> ``route id RT-02 or RT-03``."""
    text = re.sub(
        r"\bin\s*[\[(]([^\])]*)[\])]", lambda m: "is " + " or ".join(v.strip() for v in m.group(1).split(",")), where
    )
    text = re.sub(r"\s*==\s*", " ", text).replace("'", "").replace('"', "")
    return re.sub(r"\b([a-z]+)_([a-z]+)\b", r"\1 \2", text)


def _event_name(event: EventFact) -> str:
    """The event as a noun phrase: the reader's words without a leading 'after', 'since' or 'before'."""
    return re.sub(r"^(?:after|since|before|following)\s+(?:the\s+)?", "", event.what.strip(), flags=re.I) or event.what


def _sql_condition(where: str | None) -> str:
    """A scenario's segment expression as SQL (the spec grammar is Python-like: ==, and, or, not, in)."""
    if not where:
        return ""
    sql = re.sub(r"==", "=", where).replace("!=", "<>")
    sql = re.sub(r"\bin\s*\[([^\]]*)\]", r"IN (\1)", sql)
    return sql


def _temporary(event: EventFact) -> bool:
    """A campaign, festival, pilot or test lasts its own dates; a price change or crisis stays from then on."""
    if event.kind in ("promotion", "pilot", "experiment"):
        return True
    short = event.start and event.end and (event.end - event.start).days <= 31
    return bool(event.kind == "other" and short and event.end != _month_end(event.start))


def _month_end(day: dt.date) -> dt.date:
    return add_months(month_start(day), 1) - dt.timedelta(days=1)


def _periods(event: EventFact, data: dict, lex: Lexicon) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """[before_start, before_end) and [after_start, after_end): the brief's periods, else equal months around it
    (for a short campaign: its own days against as many days just before it)."""
    start, end = _window(data)
    if event.before and event.after:
        return (
            max(event.before.start, start),
            event.before.end + dt.timedelta(days=1),
            event.after.start,
            min(event.after.end, end) + dt.timedelta(days=1),
        )
    if _temporary(event) and event.end and (event.end - event.start).days <= 31:
        days = (event.end - event.start).days + 1
        return max(start, event.start - dt.timedelta(days=days)), event.start, event.start, event.end + dt.timedelta(1)
    at = month_start(event.start)
    months = min(lex.before_after_months, months_between(start, at), months_between(at, end) + 1)
    months = max(months, 1)
    return add_months(at, -months), at, at, add_months(at, months)


def _next_id(data: dict) -> str:
    ids = {q["id"] for q in data["questions"]}
    return next(f"q{n:02d}" for n in range(len(ids) + 1, 400) if f"q{n:02d}" not in ids)


def before_after_question(data: dict, scenario: dict, event: EventFact, lex: Lexicon) -> dict:
    """A before/after question rendered from the scenario's fields (table, date column, effect, segment)."""
    b0, b1, a0, a1 = _periods(event, data, lex)
    table = scenario["table"]
    date_column = scenario["condition"]["date_column"]
    effect = scenario["effect"]
    before, after = period_label(b0, b1), period_label(a0, a1)
    noun = table.removeprefix("fact_").removeprefix("dim_").replace("_", " ")
    noun = noun if noun.endswith("s") else noun + "s"
    segment_sql = _sql_condition(scenario["condition"].get("where"))
    segment_cols = sorted(expression_names(scenario["condition"]["where"])) if segment_sql else []
    group = ", ".join(segment_cols)
    daily = (a1 - a0).days < 60
    unit = "day" if daily else "month"
    per = (
        f"ROUND(COUNT(*) * 1.0 / COUNT(DISTINCT CAST({date_column} AS DATE)), 1)"
        if daily
        else f"ROUND(COUNT(*) * 1.0 / COUNT(DISTINCT date_trunc('month', {date_column})), 1)"
    )
    # the measure the effect changes comes first: the answer key compares the first relative column
    measures = [f"{per} AS {_slug(noun, 30)}_per_{unit}", f"COUNT(*) AS {_slug(noun, 30)}_count"]
    if effect["kind"] == "scale":
        column = effect["column"]
        measures = [
            f"ROUND(AVG({column}), 2) AS avg_{column}",
            f"COUNT(*) AS {_slug(noun, 30)}_count",
        ]
    period = f"CASE WHEN {date_column} < DATE '{a0}' THEN 'before ({before})' ELSE 'after ({after})' END AS period"
    # a date beside the label lets the answer key tell the periods inside and outside the scenario apart
    starts = f"CAST(MIN({date_column}) AS DATE) AS period_start"
    select = ",\n       ".join([period, starts, *segment_cols, *measures])
    where = f"{date_column} >= DATE '{b0}' AND {date_column} < DATE '{a1}'"
    if b1 != a0:
        where += f"\n  AND NOT ({date_column} >= DATE '{b1}' AND {date_column} < DATE '{a0}')"
    group_by = "1" + "".join(f", {i + 3}" for i in range(len(segment_cols)))
    order = (f"{group}, " if group else "") + f"MIN({date_column})"
    sql = f"SELECT {select}\nFROM {table}\nWHERE {where}\nGROUP BY {group_by}\nORDER BY {order}"
    if effect["kind"] == "shift_weights":
        column = effect["column"]
        count = f"{_slug(noun, 30)}_count"
        sql = (
            f"WITH periods AS (\n  SELECT CASE WHEN {date_column} < DATE '{a0}' THEN 'before ({before})' "
            f"ELSE 'after ({after})' END AS period,\n         {date_column}, {column}\n  FROM {table}\n"
            f"  WHERE {where}\n)\n"
            f"SELECT period,\n       CAST(MIN({date_column}) AS DATE) AS period_start,\n       {column},\n"
            f"       COUNT(*) AS {count},\n"
            f"       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY period), 1) AS share_pct\n"
            f"FROM periods\nGROUP BY period, {column}\nORDER BY period_start, {count} DESC"
        )
        measure_words = f"the mix of {column.replace('_', ' ')}"
    elif effect["kind"] == "scale":
        measure_words = f"the average {effect['column'].removeprefix('avg_').replace('_', ' ')}"
    else:
        measure_words = f"the number of {noun}"
    segment_words = f" in {_where_words(scenario['condition']['where'])}" if segment_sql else ""
    if daily:
        text = (
            f"How did {measure_words}{segment_words} during the {_event_name(event)} ({after}) compare with "
            f"the days just before it ({before})?"
        )
    else:
        text = (
            f"How did {measure_words}{segment_words} change after the {_event_name(event)} in "
            f"{month_label(event.start)}? Compare {before} with {after}."
        )
    return {
        "id": _next_id(data),
        "text": text,
        "difficulty": "medium",
        "skills": ["before_after", "case_when", "aggregation"],
        "answer_shape": "table",
        "chart": "column",
        "scenario": scenario["name"],
        "sql": sql,
    }


def within_window(data: dict, event: EventFact) -> EventFact:
    """An event named without its year ("add the Black Friday campaign") at its last date inside the window."""
    start, end = _window(data)
    if event.start is None or start < event.start <= end or re.search(r"(?:19|20)\d{2}", event.source):
        return event
    for year in range(end.year, start.year - 1, -1):
        with contextlib.suppress(ValueError):
            moved = event.start.replace(year=year)
            if start < moved <= end:
                shift = moved.year - event.start.year
                until = event.end.replace(year=event.end.year + shift) if event.end else None
                return event.model_copy(update={"start": moved, "end": until, "before": None, "after": None})
    return event


def plant_events(data: dict, frame: BriefFrame) -> list[str]:
    lex = lexicon()
    taken: set[str] = set()
    notes = []
    anchor = next((e.start for e in frame.events if e.start), None)
    for event in frame.events:
        backup = copy.deepcopy(data)
        try:
            notes += plant_event(data, event, lex, taken, anchor, frame.kpis, frame.brief)
            spec_from_data(data)
        except SpecError as exc:
            data.clear()
            data.update(backup)
            notes.append(f"event '{event.source}': could not be planted ({exc.problems[0]})")
    return notes


# --------------------------------------------------------------------------- statement


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _values_of(data: dict, names: tuple[str, ...]) -> list[str]:
    for _, column in _columns_named(data, names) + _conditional_columns(data, names):
        if found := place_values(column["generator"]):
            return found
    return []


_NUMBER_PHRASE = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|eighteen|twenty"
    r"|thirty|forty|fifty|hundreds?|thousands?)(?:-\w+)?\s+(?=[a-z])",
    re.IGNORECASE,
)


def render_statement(data: dict, frame: BriefFrame, brief_scenarios: list[str]) -> str:
    """The problem statement from spec fields: who, where, when, what happened (planted brief events only)."""
    profile = data["challenge"]
    company = profile["company"]["name"]
    about = profile["company"].get("profile", "").strip().rstrip(".")
    if any(t.get("rows") == c.value for c in frame.counts for t in data["tables"]):
        # the blueprint's own sizes ("a chain of eighteen restaurants") would contradict the brief's counts
        about = _NUMBER_PHRASE.sub("", about)
    lead = f"{company} is {about[0].lower()}{about[1:]}." if re.match(r"(?i)^an?\s", about) else f"{company}."
    cities = _values_of(data, CITY_COLUMNS)
    named = [c for c in frame.geography.cities if c in cities]
    sizes = []
    for count in frame.counts:
        table = next((t for t in data["tables"] if t.get("rows") == count.value), None)
        if table is not None:
            sizes.append(count.source)
    where = f" in {_join(named)}" if named else (f" in {len(cities)} cities" if frame.geography.city_count else "")
    operates = f" It has {_join(sizes)}{where}." if sizes else (f" It works{where}." if where else "")
    by_name = {s["name"]: s for s in data.get("scenarios", [])}
    described = [by_name[n]["description"].strip() for n in brief_scenarios if n in by_name]
    # a brief event's description starts with its name ("Membership price increase in January 2024: ..."); a
    # blueprint story's is a sentence of its own
    happened = list(dict.fromkeys(d.split(":")[0] for d in described if ":" in d))
    stories = [d.rstrip(".") for d in described if ":" not in d]
    events = ""
    if happened:
        listed = [happened[0], *(_in_sentence(h) for h in happened[1:])]
        events = f" Key event{'s' if len(happened) > 1 else ''}: {_join(listed)}."
    if stories:
        # told as what the team believes, for the learner to test, not as the answer
        beliefs = ", and that ".join(_in_sentence(story) for story in stories)
        test = "these beliefs" if len(stories) > 1 else "this"
        events += f" The management team believes that {beliefs}; test {test}."
    start, end = _window(data)
    kpis = [_in_sentence(k.name) for k in frame.kpis if asked_by(k, data["questions"], [e.what for e in frame.events])]
    measure = f", measure {_join(kpis)}" if kpis else ""
    stakeholder = profile.get("stakeholder") or "management"
    # a public body has results that improve or fall behind, not a business that gains or loses
    where = "results improved or fell behind" if about == PUBLIC_BODY_PROFILE else "the business gained or lost"
    ask = (
        f" As the analyst for the {stakeholder}, use the data from {month_label(start)} to {month_label(end)}"
        f"{measure}, find where {where}, and recommend what to do."
    )
    return (lead + operates + events + ask).strip()


# the profile the composer gives a department, ministry or council (tasks.design.compose)
PUBLIC_BODY_PROFILE = "a public body that publishes its data for analysis"


def _in_sentence(name: str) -> str:
    """A KPI's name inside a sentence: ``churn rate``, but ``ARPU`` and ``RevPAR`` keep their capitals."""
    first = name.split(" ", 1)[0]
    return name if any(ch.isupper() for ch in first[1:]) else name[:1].lower() + name[1:]


# --------------------------------------------------------------------------- entry point


def has_facts(frame: BriefFrame) -> bool:
    """Facts the blueprint's own statement cannot hold (a KPI or a stakeholder alone keeps its template)."""
    return bool(
        frame.company
        or frame.window
        or frame.counts
        or frame.events
        or frame.geography.cities
        or frame.geography.states
    )


def shape_window(data: dict, frame: BriefFrame, today: dt.date) -> list[str]:
    """The brief's window, else one around its dated events; None of both keeps the blueprint's."""
    fiscal = frame.fiscal_year.start_month if frame.fiscal_year else None
    if frame.window is not None:
        window = frame.window
        # "rose in 2024" needs 2023 beside it: the baseline the reader found is part of the data
        start = min(window.start, window.baseline.start) if window.baseline else window.start
        return fit_window(data, start, window.end, window.fiscal_year_start_month or fiscal)
    if fiscal and fiscal != 1:
        data["challenge"]["fiscal_year_start_month"] = fiscal
        return add_fiscal_calendar(data, fiscal) + shape_window_from_events(data, frame, today)
    return shape_window_from_events(data, frame, today)


def shape_window_from_events(data: dict, frame: BriefFrame, today: dt.date) -> list[str]:
    around = window_from_events(data, frame.events, today)
    if around is None:
        return []
    return fit_window(data, *around) + ["(the brief states no window: one around its events)"]


def appositive(frame: BriefFrame) -> str | None:
    """'Brewline, a coffee-chain startup, surveyed ...' -> 'a coffee-chain startup': the brief's own words."""
    if frame.company is None:
        return None
    match = re.search(rf"{re.escape(frame.company.name)},\s+(an?\s+[^,.;:]{{3,60}}?)\s*[,.;:]", frame.brief)
    if not match:
        return None
    # "a last-mile courier in Delhi NCR": the place is said from the data's own values, not the brief's alias
    return re.sub(r"\s+(?:in|across|from|based in)\s+[A-Z].*$", "", match.group(1))


def shape_identity(data: dict, frame: BriefFrame) -> list[str]:
    """Company and stakeholder of the brief; the brief's own description of the company ('Cloudnote, a
    note-taking SaaS, ...') replaces the blueprint's."""
    notes = []
    profile = data["challenge"]
    if own := appositive(frame):
        profile["company"]["profile"] = own
        notes.append(f"company profile: '{own}', from the brief")
    if frame.company:
        old = profile["company"]["name"]
        profile["company"]["name"] = frame.company.name
        profile["title"] = profile["title"].replace(old, frame.company.name)
        notes.append(f"company: {frame.company.name}, from '{frame.company.source}'")
    if frame.stakeholder:
        profile["stakeholder"] = frame.stakeholder.role
        notes.append(f"stakeholder: {frame.stakeholder.role}, from '{frame.stakeholder.source}'")
    return notes


def shape_places(data: dict, frame: BriefFrame) -> list[str]:
    geo = frame.geography
    notes = []
    if geo.cities:
        notes += set_places(data, geo.cities, CITY_COLUMNS, "cities")
    if geo.states:
        notes += set_places(data, geo.states, STATE_COLUMNS, "states")
    return notes
