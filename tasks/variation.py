"""Seeded variation of a blueprint's spec data: time window, optional parts, scenarios, questions, locale.

Every function edits spec *data* (``spec_to_data`` output, JSON types) in place and returns notes
saying what it did; the caller validates the result with ``spec_from_data``. Same inputs and the
same ``random.Random`` state -> same edits. Nothing here knows a domain: blueprints say what is
optional, which locale values apply, and which questions reveal which scenario.

Time shifts move *everything* dated by whole years, consistently: the window, date generator
bounds, scenario windows, quoted dates and year numbers in expressions, question SQL
(``DATE '2024-07-01'``, ``EXTRACT(YEAR FROM d) = 2024``) and years in texts.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from schemas.blueprint import Blueprint
from schemas.errors import SpecError
from schemas.serialize import spec_from_data
from schemas.spec import ChallengeSpec, ForeignKeyGenerator
from tasks.schema_check import resolve_references

YEAR_SHIFTS = (-2, -1, 0)  # whole-year moves of the time window a variation may draw
WEIGHT_JITTER = 0.15  # sigma of the lognormal factor applied to categorical weights
_ISO = re.compile(r"^(\d{4})(-\d{2}(?:-\d{2})?)(.*)$", re.S)
_TEXT_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")  # "mid-2024" and "2023-2024" move too
_QUOTED_DATE = re.compile(r"(['\"])(\d{4})(-\d{2}-\d{2}[^'\"]*)\1")

# --------------------------------------------------------------------------- time shift


def _shift_date_text(text: str, years: int) -> str:
    """``2024-02-29`` + 1 year -> ``2025-02-28``; keeps any time part."""
    match = _ISO.match(text)
    if not match:
        return text
    year, rest, tail = int(match.group(1)), match.group(2), match.group(3)
    if len(rest) == 6:  # -MM-DD
        month, day = int(rest[1:3]), int(rest[4:6])
        day = min(day, 28) if (month, day) == (2, 29) and not _leap(year + years) else day
        return f"{year + years:04d}-{month:02d}-{day:02d}{tail}"
    return f"{year + years:04d}{rest}{tail}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def shift_text_years(text: str, years: int, low: int, high: int) -> str:
    """Move every four-digit year in ``[low, high]`` that stands alone in prose by ``years``."""

    def move(match: re.Match) -> str:
        year = int(match.group(1))
        return str(year + years) if low <= year <= high else match.group(0)

    return _TEXT_YEAR.sub(move, text)


def shift_sql_years(sql: str, years: int, low: int, high: int) -> str:
    """Move dates and years in a query by ``years``, leaving every other character as written.

    Quoted ISO dates (``DATE '2024-07-01'``, ``'2024-07'``, ``'2024'``) always move; bare numbers
    move when they lie in ``[low, high]`` (year comparisons such as ``EXTRACT(YEAR FROM d) = 2024``).

    Raises:
        sqlglot.errors.TokenError: the SQL cannot be tokenised.
    """
    if years == 0:
        return sql
    edits: list[tuple[int, int, str]] = []
    for token in DuckDB().tokenize(sql):
        if token.token_type == TokenType.STRING:
            text = token.text
            if re.fullmatch(r"\d{4}", text) and low <= int(text) <= high:
                edits.append((token.start, token.end, f"'{int(text) + years}'"))
            elif _ISO.match(text) and low - 50 <= int(text[:4]) <= high + 50:
                edits.append((token.start, token.end, f"'{_shift_date_text(text, years)}'"))
        elif (
            token.token_type == TokenType.NUMBER
            and re.fullmatch(r"\d{4}", token.text)
            and low <= int(token.text) <= high
        ):
            edits.append((token.start, token.end, str(int(token.text) + years)))
    for start, end, new in sorted(edits, reverse=True):
        sql = sql[:start] + new + sql[end + 1 :]
    return sql


def _shift_expression(text: str, years: int, low: int, high: int) -> str:
    text = _QUOTED_DATE.sub(lambda m: m.group(1) + _shift_date_text(m.group(2) + m.group(3), years) + m.group(1), text)
    return re.sub(
        r"(?<![\d.'\"-])((?:19|20)\d{2})(?![\d.-])",
        lambda m: str(int(m.group(1)) + years) if low <= int(m.group(1)) <= high else m.group(0),
        text,
    )


def year_range(data: dict) -> tuple[int, int]:
    """The years a shift moves in SQL and prose: the window's years, widened by ten on each side."""
    window = data["challenge"]["time_window"]
    return int(str(window["start"])[:4]) - 10, int(str(window["end"])[:4]) + 10


def shift_years(data: dict, years: int) -> list[str]:
    """Move the whole spec by ``years`` (see the module docstring); returns a note."""
    if years == 0:
        return []
    low, high = year_range(data)
    old = dict(data["challenge"]["time_window"])
    _shift_tree(data, years, low, high)
    for question in data.get("questions", []):
        question["sql"] = shift_sql_years(question["sql"], years, low, high)
        question["text"] = shift_text_years(question["text"], years, low, high)
    for scenario in data.get("scenarios", []):
        scenario["description"] = shift_text_years(scenario["description"], years, low, high)
    profile = data["challenge"]
    for key in ("title", "problem_statement"):
        profile[key] = shift_text_years(profile[key], years, low, high)
    profile["company"]["profile"] = shift_text_years(profile["company"].get("profile", ""), years, low, high)
    new = profile["time_window"]
    return [f"time window moved from {old['start']}..{old['end']} to {new['start']}..{new['end']}"]


def _shift_tree(node: object, years: int, low: int, high: int) -> None:
    """Shift dates in ``start``/``end`` fields and in ``where``/``expression`` texts, recursively."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("start", "end") and isinstance(value, str) and _ISO.match(value):
                node[key] = _shift_date_text(value, years)
            elif key in ("where", "expression") and isinstance(value, str):
                node[key] = _shift_expression(value, years, low, high)
            elif key not in ("questions",):
                _shift_tree(value, years, low, high)
    elif isinstance(node, list):
        for item in node:
            _shift_tree(item, years, low, high)


def set_window(data: dict, start_year: int, end_year: int) -> list[str]:
    """Move the spec so its window covers ``start_year`` to ``end_year`` (end years aligned).

    Raises:
        ValueError: the range is reversed.
    """
    if start_year > end_year:
        raise ValueError(f"{start_year} is after {end_year}; give the earlier year first")
    window = data["challenge"]["time_window"]
    old_start = dt.date.fromisoformat(str(window["start"]))
    old_end = dt.date.fromisoformat(str(window["end"]))
    notes = shift_years(data, end_year - old_end.year)
    if start_year != old_start.year + (end_year - old_end.year):
        window["start"] = dt.date(start_year, 1, 1).isoformat()
        notes.append(f"time window now starts on {window['start']}")
    return notes or [f"time window already {window['start']}..{window['end']}"]


# --------------------------------------------------------------------------- weights and locale


def jitter_weights(data: dict, rng: random.Random, sigma: float = WEIGHT_JITTER) -> None:
    """Multiply every categorical weight by a seeded lognormal factor (shares move, values stay)."""
    for table in data["tables"]:
        for column in table["columns"]:
            _jitter(column["generator"], rng, sigma)


def _jitter(gen: dict, rng: random.Random, sigma: float) -> None:
    if gen.get("kind") == "categorical" and gen.get("weights") and len(gen["weights"]) > 1:
        gen["weights"] = [round(w * math.exp(rng.gauss(0.0, sigma)), 6) for w in gen["weights"]]
    elif gen.get("kind") == "conditional":
        for case in [*gen["cases"].values(), gen.get("default")]:
            if case:
                _jitter(case, rng, sigma)


def apply_locale(data: dict, blueprint: Blueprint, locale: str) -> list[str]:
    """Apply the blueprint's variant for ``locale``: currency, units, values, generators, questions."""
    local = blueprint.locales.get(locale)
    profile = data["challenge"]
    profile["locale"] = locale
    if local is None:
        if locale == blueprint.spec.challenge.locale:
            return []
        return [f"locale {locale}: the blueprint has no {locale} variant; names follow the locale, values do not"]
    base = profile.get("currency", "USD")
    profile["currency"] = local.currency
    for table in data["tables"]:
        for column in table["columns"]:
            if column.get("unit") == base:
                column["unit"] = local.currency
                if local.currency_factor:
                    _scale_money(column["generator"], local.currency_factor)
    for ref, values in local.values.items():
        _edit_column(data, ref, lambda c, v=values: _replace_values(c, v))
    for ref, generator in local.generators.items():
        dumped = generator.model_dump(mode="json", exclude_none=True)
        _edit_column(data, ref, lambda c, g=dumped: c.__setitem__("generator", copy.deepcopy(g)))
    for ref, unit in local.units.items():
        _edit_column(data, ref, lambda c, u=unit: c.__setitem__("unit", u))
    by_id = {q.id: q.model_dump(mode="json", exclude_none=True) for q in local.questions}
    data["questions"] = [by_id.get(q["id"], q) for q in data["questions"]]
    if local.problem_statements:
        company = profile["company"]["name"]
        profile["problem_statement"] = local.problem_statements[0].text.format(company=company).strip()
    return [f"locale {locale}: currency {local.currency}"]


def _replace_values(column: dict, values: list) -> None:
    if column["generator"].get("kind") == "categorical":
        column["generator"]["values"] = list(values)
        column["generator"].pop("weights", None)


def _edit_column(data: dict, ref: str, edit) -> None:
    table_name, column_name = ref.split(".", 1)
    for table in data["tables"]:
        for column in table["columns"] if table["name"] == table_name else []:
            if column["name"] == column_name:
                edit(column)


_MONEY_PARAMS = ("mean", "std", "median", "low", "high", "mode", "min", "max")


def _scale_money(gen: dict, factor: float) -> None:
    kind = gen.get("kind")
    if kind == "numeric":
        for key in _MONEY_PARAMS:
            if gen.get(key) is not None:
                gen[key] = round(gen[key] * factor, 2)
        if gen.get("distribution") in ("pareto", "exponential", "gamma") and gen.get("scale"):
            gen["scale"] = round(gen["scale"] * factor, 4)
    elif kind == "categorical" and all(isinstance(v, (int, float)) for v in gen["values"]):
        gen["values"] = [round(v * factor, 2) for v in gen["values"]]
    elif kind == "conditional":
        for case in [*gen["cases"].values(), gen.get("default")]:
            if case:
                _scale_money(case, factor)


# --------------------------------------------------------------------------- dropping parts


@dataclass
class Removal:
    """What dropping some tables and columns takes with it."""

    tables: set[str] = field(default_factory=set)
    columns: set[tuple[str, str]] = field(default_factory=set)
    scenarios: set[str] = field(default_factory=set)
    questions: set[str] = field(default_factory=set)
    blocked: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        if self.tables:
            parts.append("tables " + ", ".join(sorted(self.tables)))
        if self.columns:
            parts.append("columns " + ", ".join(f"{t}.{c}" for t, c in sorted(self.columns)))
        if self.scenarios:
            parts.append("scenarios " + ", ".join(sorted(self.scenarios)))
        if self.questions:
            parts.append("questions " + ", ".join(sorted(self.questions)))
        return "; ".join(parts) or "nothing"


def _generator_refs(spec: ChallengeSpec, table_name: str, gen) -> set[tuple[str, str]]:
    """(table, column) pairs a generator reads, across tables."""
    from schemas.dependencies import column_dependencies

    refs = {(table_name, c) for c in column_dependencies(gen)}
    table = spec.table(table_name)

    def parent_of(fk: str) -> str | None:
        column = table.column(fk)
        return column.generator.parent_table if column and isinstance(column.generator, ForeignKeyGenerator) else None

    match gen.kind:
        case "foreign_key":
            refs.add((gen.parent_table, gen.parent_column))
        case "lookup":
            if parent := parent_of(gen.via):
                refs.add((parent, gen.column))
        case "date_offset" | "date":
            ref = gen.from_column if gen.kind == "date_offset" else gen.after
            if ref and "." in ref and (parent := parent_of(ref.split(".", 1)[0])):
                refs.add((parent, ref.split(".", 1)[1]))
        case "rollup":
            refs.add((gen.table, gen.via))
            if gen.expression:
                refs |= {(gen.table, n) for n in _names(gen.expression)}
        case "group_key" | "measure":
            if table.aggregate_of and gen.expression:
                refs |= {(table.aggregate_of, n) for n in _names(gen.expression)}
        case "conditional":
            for case in [*gen.cases.values(), gen.default]:
                if case is not None:
                    refs |= _generator_refs(spec, table_name, case)
    return refs


def _names(expression: str) -> set[str]:
    from schemas.expressions import expression_names

    try:
        return expression_names(expression)
    except SpecError:
        return set()


def plan_removal(
    spec: ChallengeSpec,
    tables: Iterable[str] = (),
    columns: Iterable[tuple[str, str]] = (),
    *,
    only_optional: bool,
) -> Removal:
    """Everything that must go with ``tables`` and ``columns``: dependent columns (and tables, when a
    key or a required column depends on them), scenarios and the questions reading any of it.

    With ``only_optional``, anything required (not ``optional``) in the closure blocks the removal
    and is named in ``blocked``.
    """
    removal = Removal(set(tables), set(columns))
    refs = {(t.name, c.name): _generator_refs(spec, t.name, c.generator) for t in spec.tables for c in t.columns}
    changed = True
    while changed:
        changed = False
        for (t_name, c_name), uses in refs.items():
            if t_name in removal.tables or (t_name, c_name) in removal.columns:
                continue
            if any(u[0] in removal.tables or u in removal.columns for u in uses):
                table = spec.table(t_name)
                column = table.column(c_name)
                required = c_name in table.primary_key or not column.optional
                if required:
                    if only_optional and not table.optional:
                        removal.blocked.append(f"{t_name}.{c_name} needs it")
                        return removal
                    removal.tables.add(t_name)
                else:
                    removal.columns.add((t_name, c_name))
                changed = True
        for table in spec.tables:
            if table.aggregate_of in removal.tables and table.name not in removal.tables:
                removal.tables.add(table.name)
                changed = True
    for t_name, c_name in removal.columns:
        if c_name in spec.table(t_name).primary_key:
            removal.blocked.append(f"{t_name}.{c_name} is the primary key")
    if only_optional:
        removal.blocked += [f"table {t} is required" for t in removal.tables if not spec.table(t).optional]
        removal.blocked += [f"{t}.{c} is required" for t, c in removal.columns if not spec.table(t).column(c).optional]
    for scenario in spec.scenarios:
        used = {scenario.condition.date_column, getattr(scenario.effect, "column", None)}
        used |= _names(scenario.condition.where) if scenario.condition.where else set()
        if scenario.table in removal.tables or any((scenario.table, c) in removal.columns for c in used if c):
            removal.scenarios.add(scenario.name)
    for question in spec.questions:
        try:
            refs_q = resolve_references(question.sql, spec)
        except sqlglot.errors.SqlglotError:
            continue
        reads = {tuple(c.split(".", 1)) for c in refs_q.columns if "." in c}
        if set(refs_q.tables) & removal.tables or reads & removal.columns or question.scenario in removal.scenarios:
            removal.questions.add(question.id)
    return removal


def apply_removal(data: dict, removal: Removal) -> None:
    """Remove what ``plan_removal`` found from spec data."""
    data["tables"] = [t for t in data["tables"] if t["name"] not in removal.tables]
    for table in data["tables"]:
        table["columns"] = [c for c in table["columns"] if (table["name"], c["name"]) not in removal.columns]
        table["unique_together"] = [
            g for g in table.get("unique_together", []) if not any((table["name"], c) in removal.columns for c in g)
        ]
    data["scenarios"] = [s for s in data.get("scenarios", []) if s["name"] not in removal.scenarios]
    data["questions"] = [q for q in data.get("questions", []) if q["id"] not in removal.questions]
    data["messiness"] = [
        m
        for m in data.get("messiness", [])
        if m["table"] not in removal.tables and (m["table"], m.get("column")) not in removal.columns
    ]


def try_removal(data: dict, removal: Removal, min_questions: int) -> str | None:
    """Apply ``removal`` if the spec stays valid with at least ``min_questions``; else say why not."""
    if removal.blocked:
        return "; ".join(removal.blocked)
    remaining = len(data.get("questions", [])) - len(removal.questions)
    if remaining < min_questions:
        return f"only {remaining} question(s) would remain (at least {min_questions} needed)"
    trial = copy.deepcopy(data)
    apply_removal(trial, removal)
    try:
        spec_from_data(trial)
    except SpecError as exc:
        return f"the spec would become invalid: {exc.problems[0]}"
    data.clear()
    data.update(trial)
    return None


def drop_optional_parts(data: dict, rng: random.Random, min_questions: int) -> list[str]:
    """Leave out each optional table and column with probability 1/2 (with what depends on it)."""
    notes = []
    spec = spec_from_data(data)
    candidates = [(t.name, None) for t in spec.tables if t.optional]
    candidates += [(t.name, c.name) for t in spec.tables for c in t.columns if c.optional and not t.optional]
    for table_name, column_name in candidates:
        if rng.random() >= 0.5:
            continue
        spec = spec_from_data(data)
        if table_name not in spec.table_names or (column_name and spec.table(table_name).column(column_name) is None):
            continue
        removal = plan_removal(
            spec,
            tables=[] if column_name else [table_name],
            columns=[(table_name, column_name)] if column_name else [],
            only_optional=True,
        )
        if try_removal(data, removal, min_questions) is None:
            notes.append(f"variation left out {removal.describe()}")
    return notes


# --------------------------------------------------------------------------- scenarios and questions


def choose_scenarios(data: dict, rng: random.Random, min_questions: int) -> list[str]:
    """Plant a seeded subset of the optional scenarios (at least one scenario stays)."""
    scenarios = data.get("scenarios", [])
    optional = [s for s in scenarios if s.get("optional", True)]
    required = len(scenarios) - len(optional)
    if len(optional) <= 1:
        return []
    keep_count = rng.randint(1 if required == 0 else 0, len(optional))
    # one draw for the whole subset: a fresh sample per scenario could keep none of them
    kept = {s["name"] for s in rng.sample(optional, keep_count)}
    dropped = [s["name"] for s in optional if s["name"] not in kept]
    notes = []
    for name in dropped:
        notes.append(drop_scenario(data, name, min_questions))
    return notes


def drop_scenario(data: dict, name: str, min_questions: int) -> str:
    """Remove scenario ``name``; its questions go too, or are unlinked when too few would remain."""
    data["scenarios"] = [s for s in data.get("scenarios", []) if s["name"] != name]
    linked = [q["id"] for q in data["questions"] if q.get("scenario") == name]
    if len(data["questions"]) - len(linked) >= min_questions:
        data["questions"] = [q for q in data["questions"] if q.get("scenario") != name]
        return f"scenario {name} not planted; its question(s) {', '.join(linked) or 'none'} left out"
    for question in data["questions"]:
        if question.get("scenario") == name:
            question.pop("scenario")
    return f"scenario {name} not planted; question(s) {', '.join(linked)} kept without the link"


def choose_questions(data: dict, low: int, high: int, rng: random.Random) -> None:
    """Keep every question that reveals a planted scenario, then a seeded pick of the rest, in order.

    The kept questions are renumbered q01, q02 ... in order, so an id is the number a learner sees
    in the README and questions.txt (q05 as question 3 reads as a mistake).
    """
    questions = data["questions"]
    count = min(len(questions), rng.randint(low, high))
    linked = [q for q in questions if q.get("scenario")]
    others = [q for q in questions if not q.get("scenario")]
    picked = rng.sample(others, max(0, min(len(others), count - len(linked))))
    keep = {q["id"] for q in linked} | {q["id"] for q in picked}
    data["questions"] = [q for q in questions if q["id"] in keep]
    renumber_questions(data)


def renumber_questions(data: dict) -> dict[str, str]:
    """Give the questions ids q01..qNN in their order; returns old id -> new id.

    Nothing else in a spec names a question by id (a question names its scenario, not the reverse),
    so the ids are the only thing to change.
    """
    # other ids (the cleaning questions' clean_*) name what they are about and keep their own order
    numbered = [q for q in data["questions"] if re.fullmatch(r"q\d+", q["id"])]
    width = max(2, len(str(len(numbered))))
    moved = {}
    for number, question in enumerate(numbered, 1):
        new_id = f"q{number:0{width}d}"
        moved[question["id"]] = new_id
        question["id"] = new_id
    return moved
