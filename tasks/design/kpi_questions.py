"""A question for each KPI the brief names that no blueprint question computes yet, from the spec's own columns.

Recipes by the KPI's kind (``domains/lexicon/kpis.yaml``): a rate or share is the monthly share of rows holding
the status value the KPI speaks of (``Cancelled`` for a cancellation rate, ``No-show`` for a no-show rate) or
of a true flag; an average or a duration is the monthly mean of the column (or the days between the two dates)
it names; a count or a sum is the monthly total of the table or column it names. A KPI whose parts the spec
does not hold gets no question, and the designer says so at gate 1: nothing is computed from columns that
merely look alike.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from schemas.brief import KpiFact
from tasks.design.brief_reader import load_lexicon
from tasks.domains import tokens

GENERIC = {
    "rate",
    "average",
    "avg",
    "total",
    "per",
    "count",
    "time",
    "share",
    "pct",
    "percent",
    "value",
    "number",
    "of",
}


def _words(text: str) -> set[str]:
    # two-letter words ("no" of "no-show", "on" of "on-time") would meet any "No" or "On" value
    return {w for w in tokens(re.sub(r"[_%/()-]", " ", text)) if w not in GENERIC and len(w) > 2}


def _alike(a: str, b: str) -> bool:
    """Same word up to its ending: cancelled/cancellation, churn/churned, wait/waiting, settle/settlement."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) < 4:
        return False
    if len(short) < 5:
        return long.startswith(short)
    return short[:5] == long[:5]


def _meets(words: set[str], others: set[str]) -> bool:
    return any(_alike(a, b) for a in words for b in others)


def kpi_words(kpi: KpiFact) -> set[str]:
    """What the KPI is about: its key and name, minus the generic words ('rate', 'average' ...)."""
    return _words(f"{kpi.key} {kpi.name}")


def asked_by(kpi: KpiFact, questions: list[dict], events: list[str] = ()) -> str | None:
    """The id of a question whose text names the KPI by one of its lexicon aliases (or its own name).

    The brief's event names are blanked first: "after the rival gained share" does not ask for market share.
    """
    aliases = [a.pattern for a in load_lexicon().aliases if kpi.key in a.keys]
    for question in questions:
        text = question["text"]
        for event in events:
            text = re.sub(re.escape(event), " ", text, flags=re.IGNORECASE)
        if any(p.search(text) for p in aliases) or kpi.name.lower() in text.lower():
            return question["id"]
    return None


def _dated_tables(data: dict) -> list[tuple[dict, str]]:
    found = []
    for table in data["tables"]:
        if table.get("role") == "dimension":
            continue
        dates = [c["name"] for c in table["columns"] if c["type"] in ("date", "datetime")]
        if dates:
            found.append((table, dates[0]))
    found.sort(key=lambda item: (item[0].get("role") != "fact", item[0].get("ratio") != 1.0))
    return found


def _noun(table: dict) -> str:
    return table["name"].removeprefix("fact_").removeprefix("agg_").replace("_", " ")


def _status_value(table: dict, words: set[str]) -> tuple[str, str] | None:
    """(column, value) of a categorical value the KPI speaks of, e.g. ('status', 'Cancelled')."""
    for column in table["columns"]:
        gen = column["generator"]
        values = gen.get("values", []) if gen.get("kind") == "categorical" else []
        for value in values:
            if isinstance(value, str) and _meets(words, _words(value)):
                return column["name"], value
    return None


def _flag(table: dict, words: set[str]) -> str | None:
    for column in table["columns"]:
        if column["type"] == "bool" and _meets(words, _words(column["name"])):
            return column["name"]
    return None


def _numeric(table: dict, words: set[str]) -> str | None:
    for column in table["columns"]:
        numeric = column["type"] in ("int", "float", "decimal") and column["generator"].get("kind") != "foreign_key"
        if numeric and column["name"] not in table.get("primary_key", []) and _meets(words, _words(column["name"])):
            return column["name"]
    return None


def _monthly(table: str, date_column: str, measures: list[str]) -> str:
    select = ",\n       ".join([f"date_trunc('month', {date_column}) AS month", *measures])
    return f"SELECT {select}\nFROM {table}\nWHERE {date_column} IS NOT NULL\nGROUP BY 1\nORDER BY 1"


def _question(data: dict, kpi: KpiFact, text: str, sql: str, skills: list[str]) -> dict:
    ids = {q["id"] for q in data["questions"]}
    number = next(n for n in range(len(ids) + 1, 400) if f"q{n:02d}" not in ids)
    return {
        "id": f"q{number:02d}",
        "text": text,
        "difficulty": "medium",
        "skills": skills,
        "answer_shape": "time_series",
        "chart": "line",
        "sql": sql,
    }


def _date_columns(table: dict) -> list[dict]:
    return [c for c in table["columns"] if c["type"] in ("date", "datetime")]


def _duration_question(data: dict, kpi: KpiFact) -> dict | None:
    """avg(end - start) where the table holds a date column named like the formula's end part."""
    if len(kpi.parts) < 2:
        return None
    start_words, end_words = _words(kpi.parts[0]) - {"at"}, _words(kpi.parts[-1]) - {"at"}
    for table, date_column in _dated_tables(data):
        dates = _date_columns(table)
        ends = [c for c in dates if _meets(end_words, _words(c["name"]))]
        starts = [c for c in dates if _meets(start_words, _words(c["name"])) and c not in ends]
        if not ends:
            continue
        start = starts[0] if starts else next((c for c in dates if c["name"] == date_column), None)
        if start is None or start["name"] == ends[0]["name"]:
            continue
        both_times = start["type"] == ends[0]["type"] == "datetime"
        unit = "minute" if both_times else "day"
        diff = f"date_diff('{unit}', {start['name']}, {ends[0]['name']})"
        sql = _monthly(table["name"], start["name"], [f"ROUND(AVG({diff}), 1) AS avg_{unit}s", "COUNT(*) AS cases"])
        text = (
            f"What was the {kpi.name.lower()} (average {unit}s from {start['name'].replace('_', ' ')} to "
            f"{ends[0]['name'].replace('_', ' ')}) of {_noun(table)} each month?"
        )
        return _question(data, kpi, text, sql, ["date_functions", "aggregation"])
    return None


def _ratio_question(data: dict, kpi: KpiFact) -> dict | None:
    """sum(numerator) / sum(denominator) where one table holds a column for each of the two parts."""
    if len(kpi.parts) != 2:
        return None
    top, bottom = (_words(p) for p in kpi.parts)
    for table, date_column in _dated_tables(data):
        numerator, denominator = _numeric(table, top), _numeric(table, bottom)
        if numerator and denominator and numerator != denominator:
            ratio = f"ROUND(100.0 * SUM({numerator}) / NULLIF(SUM({denominator}), 0), 1) AS {kpi.key}_pct"
            sql = _monthly(table["name"], date_column, [ratio, f"SUM({numerator}) AS {numerator}"])
            text = (
                f"What was the {kpi.name.lower()} ({numerator.replace('_', ' ')} as a share of "
                f"{denominator.replace('_', ' ')}) each month?"
            )
            return _question(data, kpi, text, sql, ["aggregation", "ratios"])
    return None


def _person_key(data: dict, table: dict) -> str | None:
    """The foreign key of a fact that points at a person-like dimension (customer, member, rider ...)."""
    for column in table["columns"]:
        gen = column["generator"]
        if gen.get("kind") == "foreign_key" and re.search(
            r"customer|member|user|rider|client|patient|learner|subscriber|account|guest|passenger",
            gen.get("references", ""),
        ):
            return column["name"]
    return None


def _repeat_question(data: dict, kpi: KpiFact) -> dict | None:
    """Share of people with two or more rows in a period (repeat purchase / rider / visit rate)."""
    if not _meets(kpi_words(kpi), {"repeat", "returning", "regular"}):
        return None
    for table, date_column in _dated_tables(data):
        if (person := _person_key(data, table)) is None:
            continue
        sql = (
            f"WITH per_person AS (\n  SELECT EXTRACT(YEAR FROM {date_column}) AS year, {person}, COUNT(*) AS n\n"
            f"  FROM {table['name']}\n  WHERE {date_column} IS NOT NULL\n  GROUP BY 1, 2\n)\n"
            "SELECT year, COUNT(*) AS people, SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS repeat_people,\n"
            f"       ROUND(100.0 * AVG(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 1) AS {kpi.key}_pct\n"
            "FROM per_person\nGROUP BY year\nORDER BY year"
        )
        text = (
            f"What was the {kpi.name.lower()} (share of {person.removesuffix('_id').replace('_', ' ')}s with two or "
            f"more {_noun(table)} in the year) each year, and how did it change?"
        )
        question = _question(data, kpi, text, sql, ["ctes", "aggregation", "ratios", "yoy_growth"])
        question["answer_shape"], question["chart"] = "table", "column"
        return question
    return None


def kpi_question(data: dict, kpi: KpiFact) -> dict | None:
    """A monthly question computing ``kpi`` from the spec's columns, or None when the spec lacks its parts."""
    words = kpi_words(kpi) | _words(" ".join(kpi.parts))
    own = kpi_words(kpi)
    for recipe in (_repeat_question,) + ((_duration_question,) if kpi.kind == "duration" else ()):
        if question := recipe(data, kpi):
            return question
    if kpi.kind in ("ratio", "rate") and (question := _ratio_question(data, kpi)):
        return question
    for table, date_column in _dated_tables(data):
        noun = _noun(table)
        name = table["name"]
        if kpi.kind in ("rate", "share"):
            if found := _status_value(table, own):
                column, value = found
                sql = _monthly(
                    name,
                    date_column,
                    [
                        f"COUNT(*) AS {name.removeprefix('fact_')}",
                        f"ROUND(100.0 * AVG(CASE WHEN {column} = '{value}' THEN 1 ELSE 0 END), 1) AS {kpi.key}_pct",
                    ],
                )
                share = f"share of {noun} with {column.replace('_', ' ')} '{value}'"
                text = f"What was the {kpi.name.lower()} ({share}) each month?"
                return _question(data, kpi, text, sql, ["aggregation", "case_when", "ratios"])
            if flag := _flag(table, own):
                sql = _monthly(
                    name, date_column, [f"ROUND(100.0 * AVG(CASE WHEN {flag} THEN 1 ELSE 0 END), 1) AS {kpi.key}_pct"]
                )
                text = f"What was the {kpi.name.lower()} (share of {noun} where {flag.replace('_', ' ')}) each month?"
                return _question(data, kpi, text, sql, ["aggregation", "case_when", "ratios"])
        if kpi.kind in ("average", "duration", "sum") and (column := _numeric(table, words)):
            function = "SUM" if kpi.kind == "sum" else "AVG"
            sql = _monthly(name, date_column, [f"ROUND({function}({column}), 2) AS {function.lower()}_{column}"])
            what = "total" if kpi.kind == "sum" else "average"
            text = f"What was the {kpi.name.lower()} ({what} {column.replace('_', ' ')} of {noun}) each month?"
            return _question(data, kpi, text, sql, ["aggregation", "date_functions"])
        if kpi.kind == "count" and _meets(own, _words(noun)):
            sql = _monthly(name, date_column, [f"COUNT(*) AS {name.removeprefix('fact_')}"])
            text = f"How many {noun} were there each month ({kpi.name.lower()}), and how did the number move?"
            return _question(data, kpi, text, sql, ["aggregation", "date_functions"])
    return None


def same_result(a: str, b: str) -> bool:
    """Do two questions compute one result? Equal once aliases and ``x IS NOT NULL`` filters are set aside
    (a grouped count skips NULL periods either way)."""
    key_a = _query_key(a)
    return key_a is not None and key_a == _query_key(b)


def same_question(sql: str, questions: list[dict]) -> dict | None:
    """The first of ``questions`` that computes what ``sql`` computes (``same_result``), its key built once."""
    key = _query_key(sql)
    return None if key is None else next((q for q in questions if _query_key(q["sql"]) == key), None)


def _query_key(sql: str) -> str | None:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    where = tree.args.get("where")
    if where is not None:
        conditions = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
        if all(isinstance(c, exp.Not) and isinstance(c.this, exp.Is) for c in conditions):
            where.pop()
    for projection in tree.expressions if isinstance(tree, exp.Select) else []:
        if isinstance(projection, exp.Alias):
            projection.replace(projection.this)
    return tree.sql(dialect="duckdb", normalize=True)


def ask_kpis(data: dict, kpis: list[KpiFact], events: list[str] = ()) -> list[str]:
    """Add a question for each KPI not asked yet, where the spec can compute it; one note per KPI."""
    notes = []
    for kpi in kpis:
        if asked := asked_by(kpi, data["questions"], events):
            notes.append(f"KPI {kpi.name}: asked by {asked}")
            continue
        question = kpi_question(data, kpi)
        if question is None:
            notes.append(f"KPI {kpi.name} ({kpi.formula}): the tables hold none of its parts; no question asks it")
            continue
        if same := same_question(question["sql"], data["questions"]):
            notes.append(f"KPI {kpi.name}: computed by {same['id']} ({same['text']})")
            continue
        data["questions"].append(question)
        notes.append(f"KPI {kpi.name}: added {question['id']} ({question['text']})")
    return notes
