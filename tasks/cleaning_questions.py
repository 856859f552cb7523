"""Cleaning questions of a messy challenge, and their answers from the issue log.

Contract:
- ``questions_for(spec)`` derives, from the spec's messiness rules alone, one question per table with
  duplicate rows, per table with missing values, per column with mixed date formats and per column with
  outliers. Each has SQL (DuckDB) that, run on the shipped (messy) tables, returns exactly what the
  issue log says was planted: duplicates are counted by key, missing values and date formats count each
  duplicated row once, and outliers are the values at least three times the next lower distinct value
  above the column's median (planted outliers are at least three times the clean maximum).
  Text mess (casing, stray spaces, typos) is asked about in columns whose allowed values the data
  dictionary lists: the values that are not one of them, and how many rows hold each.
- ``cleaning_answers(spec, issue_log)`` answers those questions from the issue log (the answer key's
  rows), keyed by question id; the analytical questions keep their SQL answers on the clean tables.
Ids start with ``clean_`` and every cleaning question has the ``data_cleaning`` skill.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from schemas.quality import IssueLogEntry
from schemas.results import Answer
from schemas.spec import ChallengeSpec, QuestionSpec, TableSpec
from tasks.reports.data_dictionary import allowed_values

PREFIX = "clean_"
TEXT_KINDS = {"casing": "text", "whitespace": "text", "typos": "text"}
MAX_TEXT_QUESTIONS = 2  # one per table at most: the other text columns are cleaned the same way
MAX_LISTED_COLUMNS = 6
# how the engine writes dates it leaves alone; anything else is a planted format
ISO_PATTERNS = {"date": r"\d{4}-\d{2}-\d{2}", "datetime": r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?"}
# generators that never leave a value empty by themselves: with nullable 0, any empty cell was planted
_NEVER_EMPTY = {"sequence", "categorical", "numeric", "faker", "date", "foreign_key"}


@dataclass(frozen=True)
class CleaningTopic:
    """What one cleaning question is about: a kind, a table and (for dates and outliers) a column."""

    kind: str  # duplicates, missing, date_formats, outliers or text (casing, whitespace and typos)
    table: str
    column: str | None = None
    columns: tuple[str, ...] = ()  # missing: the columns the question lists


def is_cleaning_question(question: QuestionSpec) -> bool:
    return question.id.startswith(PREFIX) and "data_cleaning" in question.skills


def topics(spec: ChallengeSpec) -> list[CleaningTopic]:
    """The cleaning questions' topics, in a fixed order (duplicates, missing, dates, outliers)."""
    found: list[CleaningTopic] = []
    seen: set[tuple[str, str, str | None]] = set()
    for kind in ("duplicates", "missing", "date_formats", "outliers", "text"):
        for rule in spec.messiness:
            if (TEXT_KINDS.get(rule.kind, rule.kind)) != kind:
                continue
            if kind == "text" and allowed_values(spec.table(rule.table).column(rule.column)) is None:
                continue  # without a list of allowed values, neither SQL nor a learner can tell a typo apart
            texts = [t for t in found if t.kind == "text"]
            if kind == "text" and (len(texts) >= MAX_TEXT_QUESTIONS or rule.table in {t.table for t in texts}):
                continue
            table = spec.table(rule.table)
            if not table.primary_key:
                continue  # without a key, neither the learner nor the SQL can name the rows
            column = None if kind in ("duplicates", "missing") else rule.column
            if (kind, rule.table, column) in seen:
                continue
            seen.add((kind, rule.table, column))
            listed = _missing_columns(spec, table) if kind == "missing" else ()
            found.append(CleaningTopic(kind, rule.table, column, listed))
    return found


def _missing_columns(spec: ChallengeSpec, table: TableSpec) -> tuple[str, ...]:
    """The planted columns plus other never-empty columns of the table (so the question gives nothing away)."""
    planted = {r.column for r in spec.messiness if r.kind == "missing" and r.table == table.name}
    others = [
        c.name
        for c in table.columns
        if c.name not in planted
        and c.name not in table.primary_key
        and c.nullable == 0
        and c.generator.kind in _NEVER_EMPTY
    ]
    keep = set(planted) | set(others[: max(0, MAX_LISTED_COLUMNS - len(planted))])
    return tuple(c.name for c in table.columns if c.name in keep)


def _id(n: int) -> str:
    return f"{PREFIX}{n:02d}"


def questions_for(spec: ChallengeSpec) -> list[QuestionSpec]:
    """One question per cleaning topic of ``spec`` (none when it plants no duplicates, gaps, dates or outliers)."""
    return [_question(spec, topic, _id(i)) for i, topic in enumerate(topics(spec), 1)]


def _question(spec: ChallengeSpec, topic: CleaningTopic, qid: str) -> QuestionSpec:
    table = spec.table(topic.table)
    keys = ", ".join(table.primary_key)
    key_words = " and ".join(table.primary_key)
    has_duplicates = any(r.kind == "duplicates" and r.table == table.name for r in spec.messiness)
    once = " Count each duplicated row once." if has_duplicates else ""
    common = {"id": qid, "skills": ["data_cleaning"]}
    if topic.kind == "duplicates":
        return QuestionSpec(
            **common,
            text=f"Data cleaning: how many rows of {table.name} repeat the {key_words} of an earlier row "
            "(duplicate rows to remove)?",
            difficulty="easy",
            answer_shape="scalar",
            chart="none",
            sql=f"SELECT COUNT(*) - (SELECT COUNT(*) FROM (SELECT DISTINCT {keys} FROM {table.name})) "
            f"AS duplicate_rows\nFROM {table.name}",
        )
    if topic.kind == "missing":
        parts = "\n  UNION ALL\n".join(
            f"  SELECT '{c}' AS column_name, COUNT(*) - COUNT({c}) AS missing_values FROM t" for c in topic.columns
        )
        return QuestionSpec(
            **common,
            text=f"Data cleaning: which of the {table.name} columns {', '.join(topic.columns)} have missing "
            f"values, and how many does each have?{once}",
            difficulty="easy",
            answer_shape="table",
            chart="bar",
            sql=f"WITH t AS (SELECT DISTINCT * FROM {table.name})\nSELECT column_name, missing_values\nFROM (\n"
            f"{parts}\n) counts\nWHERE missing_values > 0\nORDER BY column_name",
        )
    column = table.column(topic.column)
    if topic.kind == "date_formats":
        written = "YYYY-MM-DD" if column.type == "date" else "YYYY-MM-DD HH:MM:SS"
        return QuestionSpec(
            **common,
            text=f"Data cleaning: which {table.name}.{column.name} values are not written as {written}, so they "
            f"do not parse as they are? List each row's {key_words} and the value.{once}",
            difficulty="medium",
            answer_shape="table",
            chart="table",
            sql=f"SELECT DISTINCT {keys}, {column.name}\nFROM {table.name}\nWHERE {column.name} IS NOT NULL\n"
            f"  AND NOT regexp_full_match(CAST({column.name} AS VARCHAR), '{ISO_PATTERNS[column.type]}')\n"
            f"ORDER BY {keys}",
        )
    c = column.name
    if topic.kind == "text":
        allowed = ", ".join("'" + str(v).replace("'", "''") + "'" for v in allowed_values(column))
        return QuestionSpec(
            **common,
            text=f"Data cleaning: which {table.name}.{c} values are not one of the allowed values listed in "
            f"data_dictionary.txt (wrong case, stray spaces or a misspelling), and how many rows hold each?{once}",
            difficulty="medium",
            answer_shape="table",
            chart="table",
            sql=f"SELECT {c} AS shipped_value, COUNT(*) AS rows_count\nFROM (SELECT DISTINCT * FROM {table.name}) t\n"
            f"WHERE {c} IS NOT NULL AND {c} NOT IN ({allowed})\nGROUP BY {c}\nORDER BY {c}",
        )
    return QuestionSpec(
        **common,
        text=f"Data cleaning: which {table.name} rows hold an outlier {c}, a value at least three times the next "
        f"lower {c} above the median? List each row's {key_words} and the value.{once}",
        difficulty="hard",
        answer_shape="table",
        chart="table",
        sql=(
            f"WITH v AS (SELECT DISTINCT {keys}, {c} FROM {table.name} WHERE {c} IS NOT NULL),\n"
            f"steps AS (SELECT {c}, LAG({c}) OVER (ORDER BY {c}) AS below FROM (SELECT DISTINCT {c} FROM v) d),\n"
            f"first_outlier AS (\n  SELECT MIN({c}) AS low FROM steps\n"
            f"  WHERE below > 0 AND {c} >= 3 * below AND below >= (SELECT MEDIAN({c}) FROM v)\n)\n"
            f"SELECT {keys}, {c}\nFROM v, first_outlier\nWHERE {c} >= first_outlier.low\nORDER BY {c} DESC, {keys}"
        ),
    )


# --------------------------------------------------------------------------- answers from the issue log


def cleaning_answers(spec: ChallengeSpec, issue_log: list[IssueLogEntry]) -> dict[str, Answer]:
    """Question id -> its answer built from ``issue_log`` (what was planted), for every cleaning question."""
    by_id = {q.id: q for q in spec.questions if is_cleaning_question(q)}
    answers = {}
    for i, topic in enumerate(topics(spec), 1):
        question = by_id.get(_id(i))
        if question is not None:
            answer = _answer(spec, topic, question, issue_log)
            answer.analysis = " ".join(answer.highlights)
            answers[question.id] = answer
    return answers


def _key_parts(table: TableSpec, row_key: str) -> list:
    parts = row_key.split("|") if len(table.primary_key) > 1 else [row_key]
    return [
        int(p) if table.column(k).type == "int" and p.lstrip("-").isdigit() else p
        for k, p in zip(table.primary_key, parts, strict=False)
    ]


def _answer(spec: ChallengeSpec, topic: CleaningTopic, question: QuestionSpec, log: list[IssueLogEntry]) -> Answer:
    table = spec.table(topic.table)
    keys = list(table.primary_key)
    mine = [e for e in log if e.table == topic.table and TEXT_KINDS.get(e.kind, e.kind) == topic.kind]
    base = {
        "question_id": question.id,
        "question": question.text,
        "sql": question.sql,
        "chart": question.chart,
        "answer_shape": question.answer_shape,
        "difficulty": question.difficulty,
        "analysis_source": "template",
    }
    if topic.kind == "duplicates":
        n = len(mine)
        return Answer(
            **base,
            columns=["duplicate_rows"],
            rows=[[n]],
            row_count=1,
            column_types=["int"],
            units={"duplicate_rows": "count"},
            measure="duplicate_rows",
            highlights=[
                f"The issue log lists {n:,} planted duplicate row(s) in {table.name}: each is an exact copy of "
                f"the row before it. Removing them leaves one row per {' and '.join(keys)}."
            ],
        )
    if topic.kind == "missing":
        counts = Counter(e.column for e in mine if e.column in topic.columns)
        rows = [[c, counts[c]] for c in sorted(counts)]
        listed = ", ".join(f"{c} ({n:,})" for c, n in rows)
        clean = [c for c in topic.columns if c not in counts]
        return Answer(
            **base,
            columns=["column_name", "missing_values"],
            rows=rows,
            row_count=len(rows),
            column_types=["string", "int"],
            units={"missing_values": "count"},
            label_columns=["column_name"],
            measure="missing_values",
            highlights=[
                f"The issue log lists the planted missing values of {table.name}: {listed}."
                + (f" {', '.join(clean)} have none." if clean else "")
                + " The original values are in the clean copy (instructor/clean_data/)."
            ],
        )
    column = table.column(topic.column)
    entries = [e for e in mine if e.column == topic.column]
    if topic.kind == "text":
        counts = Counter(e.new_value for e in entries)
        fixes = {e.new_value: e.original_value for e in entries}
        rows = [[value, counts[value]] for value in sorted(counts)]
        kinds = sorted({e.kind.replace("_", " ") for e in entries})
        sample = "; ".join(f"{v!r} should be {fixes[v]!r}" for v, _ in rows[:3])
        fact = (
            f"The issue log lists {len(entries):,} {column.name} value(s) of {table.name} changed by "
            f"{', '.join(kinds)}: {len(rows):,} distinct wrong value(s), e.g. {sample}."
        )
        return _listing(base, ["shipped_value", "rows_count"], rows, ["string", "int"], fact, measure="rows_count")
    if topic.kind == "date_formats":
        rows = sorted(([*_key_parts(table, e.row_key), e.new_value] for e in entries), key=lambda r: r[:-1])
        example = entries[0] if entries else None
        fact = (
            f"The issue log lists {len(rows):,} {column.name} value(s) of {table.name} written in other formats"
            + (f", e.g. {example.new_value!r} for {example.original_value}" if example else "")
            + "; every other value is ISO (YYYY-MM-DD)."
        )
        types = [table.column(k).type for k in keys] + ["string"]
        return _listing(base, keys + [column.name], rows, types, fact)
    whole = column.type == "int"
    rows = sorted(
        ([*_key_parts(table, e.row_key), _number(e.new_value, whole)] for e in entries),
        key=lambda r: (-r[-1], r[:-1]),
    )
    originals = [_number(e.original_value, whole) for e in entries]
    number = "{:,.0f}" if whole else "{:,.2f}"
    fact = (
        f"The issue log lists {len(rows):,} planted outlier(s) in {table.name}.{column.name}"
        + (
            f", from {number.format(min(r[-1] for r in rows))} to {number.format(max(r[-1] for r in rows))}; "
            f"their original values were {number.format(min(originals))} to {number.format(max(originals))} "
            "(kept in the clean copy)"
            if rows
            else ""
        )
        + "."
    )
    types = [table.column(k).type for k in keys] + ["int" if whole else "float"]
    return _listing(base, keys + [column.name], rows, types, fact, measure=column.name)


def _listing(base: dict, columns: list[str], rows: list[list], types: list[str], fact: str, measure=None) -> Answer:
    return Answer(
        **base,
        columns=columns,
        rows=rows,
        row_count=len(rows),
        column_types=[t if t in ("int", "float", "date", "datetime", "bool") else "string" for t in types],
        label_columns=columns[:-1],
        measure=measure,
        highlights=[fact],
    )


def _number(text: str, whole: bool) -> float | int:
    value = float(text)
    return int(value) if whole else value


def planted_counts(issue_log: list[IssueLogEntry]) -> dict[str, Counter]:
    """Table -> kind -> planted cases, for summaries."""
    out: dict[str, Counter] = defaultdict(Counter)
    for e in issue_log:
        out[e.table][e.kind] += 1
    return dict(out)
