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
    return {w for w in tokens(re.sub(r"[_%/()-]", " ", text)) if w not in GENERIC and len(w) > 1}


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


def kpi_question(data: dict, kpi: KpiFact) -> dict | None:
    """A monthly question computing ``kpi`` from the spec's columns, or None when the spec lacks its parts."""
    words = kpi_words(kpi) | _words(" ".join(kpi.parts))
    own = kpi_words(kpi)
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
        data["questions"].append(question)
        notes.append(f"KPI {kpi.name}: added {question['id']} ({question['text']})")
    return notes
