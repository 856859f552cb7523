"""Learn-from-sample mode, step 3: the questions a learned schema can answer.

When the learned schema matches the chosen domain's blueprint (at least ``MIN_BLUEPRINT_QUESTIONS``
of its questions run on it), the blueprint's questions are kept, their years moved to the sample's;
planted-scenario questions are left out, since a sample has no planted story, and derived questions
complete fewer than ``TARGET_QUESTIONS``. Otherwise questions are derived from the schema itself:
top-N of a measure by a dimension, the monthly trend, share of total by category, year-over-year
change, and the same through a join to a parent's category. Every question is checked as in
phase 2 (parsed, resolved, run on empty tables of the spec) and, in addition, run on the sample:
a question with no answer there is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from schemas.serialize import spec_to_data
from schemas.spec import ChallengeSpec, ColumnSpec, ForeignKeyGenerator, QuestionSpec, TableSpec
from tasks.engine.types import to_arrow
from tasks.schema_check import check_question
from tasks.sql_sandbox import empty_tables, run_query, sandbox
from tasks.variation import shift_sql_years, shift_text_years, year_range

MIN_BLUEPRINT_QUESTIONS = 5
TARGET_QUESTIONS = 8  # fewer kept blueprint questions are completed with derived ones (a challenge asks 8-12)
YEAR_SEARCH = 30  # the most whole years a blueprint's questions are moved to meet the sample's window
_YEAR = re.compile(r"(?<![\d])((?:19|20)\d{2})(?![\d])")
MAX_QUESTIONS = 12
_MEASURE_KINDS = {"numeric", "lookup"}
_DIMENSION_KINDS = {"categorical", "conditional", "lookup"}


@dataclass
class LearnedQuestions:
    """The spec with its questions, where they came from (``blueprint``, ``derived``), and notes."""

    spec: ChallengeSpec
    source: str
    notes: list[str] = field(default_factory=list)


def questions_for_sample(
    spec: ChallengeSpec, sample: dict[str, pd.DataFrame] | None = None, *, settings: object = None
) -> LearnedQuestions:
    """Give a learned spec its questions: the blueprint's when it matches, else derived from the schema.

    Args:
        spec: the learned spec (``LearnedSample.spec``).
        sample: the typed sample tables; questions with no answer on them are dropped.
        settings: runtime settings (reserved for the LLM designer; see the module notes).

    Returns:
        The spec with checked questions, their source, and notes on what was kept or dropped.

    Raises:
        SampleError: no question at all can be asked of this schema (no measure, no date, no category).
    """
    del settings
    notes: list[str] = []
    kept = _blueprint_questions(spec, sample, notes)
    source = "blueprint"
    if len(kept) < MIN_BLUEPRINT_QUESTIONS:
        if spec.challenge.domain != "learned":
            notes.append(
                f"the sample does not match the {spec.challenge.domain} blueprint ({len(kept)} of its questions run "
                "on it): questions are derived from the schema"
            )
        kept = _checked(spec, derive_questions(spec), sample, notes)
        source = "derived"
    elif len(kept) < TARGET_QUESTIONS:  # a blueprint whose other questions are about planted scenarios
        extra = _checked(spec, derive_questions(spec), sample, [])[: TARGET_QUESTIONS - len(kept)]
        used = {q.id for q in kept}
        free = (f"q{n:02d}" for n in range(1, 100) if f"q{n:02d}" not in used)
        kept += [q.model_copy(update={"id": next(free)}) for q in extra]
        if extra:
            notes.append(f"{len(extra)} question(s) derived from the schema complete the blueprint's")
    if not kept:
        from tasks.sample_learning import SampleError

        raise SampleError(
            "no question can be asked of this sample: it needs at least a numeric measure or a date and a category "
            "column in one table; bring those columns or write the questions in the spec at the gate"
        )
    return LearnedQuestions(spec.model_copy(update={"questions": kept[:MAX_QUESTIONS]}), source, notes)


# --------------------------------------------------------------------------- blueprint


def _blueprint_questions(
    spec: ChallengeSpec, sample: dict[str, pd.DataFrame] | None, notes: list[str]
) -> list[QuestionSpec]:
    from tasks.domains import load_blueprints

    blueprint = load_blueprints().get(spec.challenge.domain)
    if blueprint is None:
        return []
    candidates = [q.model_copy(update={"scenario": None}) for q in blueprint.spec.questions if q.scenario is None]
    skipped = len(blueprint.spec.questions) - len(candidates)
    candidates, moved = _in_the_samples_years(spec, blueprint.spec, candidates)
    kept = _checked(spec, candidates, sample, [])
    if len(kept) >= MIN_BLUEPRINT_QUESTIONS:
        notes.append(
            f"{len(kept)} of the {spec.challenge.domain} blueprint's questions run on the learned schema and are kept"
            + (f"; {skipped} about planted scenarios left out" if skipped else "")
            + (f"; their years moved by {moved:+d} to the sample's" if moved else "")
        )
    return kept


def _in_the_samples_years(
    spec: ChallengeSpec, blueprint: ChallengeSpec, questions: list[QuestionSpec]
) -> tuple[list[QuestionSpec], int]:
    """The blueprint's questions with their years moved into the sample's window; those still outside dropped.

    A blueprint asks about its own years (2023 vs 2024); a sample (a package made in a shifted window,
    an author's 2019-2021 data) holds others. The move is the smallest whole-year shift that puts
    every year the questions name inside the learned window; questions naming a year outside it
    after the move are left out (their answers would be empty or about years the data lacks).
    """
    window = spec.challenge.time_window
    low, high = year_range(spec_to_data(blueprint))

    def named(question: QuestionSpec, years: int) -> list[int]:
        texts = (question.text, question.sql)  # prose years and the SQL's dates and year numbers
        return [int(y) + years for t in texts for y in _YEAR.findall(t) if low <= int(y) <= high]

    def outside(years: int) -> int:
        return sum(not window.start.year <= y <= window.end.year for q in questions for y in named(q, years))

    moved = min(range(-YEAR_SEARCH, YEAR_SEARCH + 1), key=lambda years: (outside(years), abs(years), years))
    shifted = [
        q.model_copy(
            update={
                "text": shift_text_years(q.text, moved, low, high),
                "sql": shift_sql_years(q.sql, moved, low, high),
            }
        )
        for q in questions
    ]
    inside = [
        new
        for old, new in zip(questions, shifted, strict=True)
        if all(window.start.year <= y <= window.end.year for y in named(old, moved))
    ]
    return inside, moved


# --------------------------------------------------------------------------- checks


def _checked(
    spec: ChallengeSpec, questions: list[QuestionSpec], sample: dict[str, pd.DataFrame] | None, notes: list[str]
) -> list[QuestionSpec]:
    """Questions that pass the phase-2 check on empty tables and return rows on the sample."""
    probe = spec.model_copy(update={"questions": questions})
    con = sandbox(empty_tables(probe))
    try:
        verdicts = [check_question(con, probe, q) for q in questions]
    finally:
        con.close()
    kept = []
    for question, verdict in zip(questions, verdicts, strict=True):
        if verdict.answerable:
            kept.append(question)
        else:
            notes.append(f"question {question.id} dropped: {verdict.error}")
    if sample is None or not kept:
        return kept
    typed = {t.name: to_arrow(sample[t.name], t) for t in spec.tables if t.name in sample}
    con = sandbox(typed)
    try:
        answered = []
        for question in kept:
            try:
                rows = len(run_query(con, question.sql, label=question.id))
            except Exception as exc:  # noqa: BLE001 - any failure on real rows disqualifies the question
                notes.append(f"question {question.id} dropped: fails on the sample ({str(exc).splitlines()[0]})")
                continue
            if rows:
                answered.append(question)
            else:
                notes.append(f"question {question.id} dropped: no answer on the sample")
    finally:
        con.close()
    return answered


# --------------------------------------------------------------------------- derived questions


@dataclass(frozen=True)
class _Fact:
    table: TableSpec
    measure: ColumnSpec | None
    date: ColumnSpec | None
    categories: list[ColumnSpec]
    parents: list[tuple[ColumnSpec, TableSpec, ColumnSpec]]  # (fk, parent table, parent category)


def derive_questions(spec: ChallengeSpec) -> list[QuestionSpec]:
    """Questions from the schema's shape: measures by dimensions, over months and years, shares, joins.

    The main table (ratio 1) comes first with every kind of question; the other tables follow,
    largest first, one question of each in turn.
    """
    ordered = sorted(spec.tables, key=lambda t: (t.ratio != 1.0, -(t.ratio or 0), t.name))
    rounds = [_questions_for(_fact(spec, t)) for t in ordered]
    out: list[QuestionSpec] = list(rounds[0]) if rounds else []
    rounds = rounds[1:]
    for i in range(max((len(r) for r in rounds), default=0)):
        for questions in rounds:
            if i < len(questions):
                out.append(questions[i])
    for number, question in enumerate(out, 1):
        out[number - 1] = question.model_copy(update={"id": f"q{number:02d}"})
    return out


def _fact(spec: ChallengeSpec, table: TableSpec) -> _Fact:
    keys = set(table.primary_key)
    measures = [
        c
        for c in table.columns
        if c.type in ("int", "float", "decimal") and c.generator.kind in _MEASURE_KINDS and c.name not in keys
    ]
    measure = max(measures, key=lambda c: _spread(c), default=None)
    date = next((c for c in table.columns if c.type in ("date", "datetime") and c.generator.kind == "date"), None)
    categories = [c for c in table.columns if c.type in ("category", "string", "bool") and _is_dimension(c)]
    parents = []
    for column in table.columns:
        gen = column.generator
        if isinstance(gen, ForeignKeyGenerator):
            parent = spec.table(gen.parent_table)
            parents.extend((column, parent, c) for c in parent.columns if c.type == "category" and _is_dimension(c))
    return _Fact(table, measure, date, categories, parents)


def _spread(column: ColumnSpec) -> float:
    gen = column.generator
    return float(getattr(gen, "max", None) or 0.0) - float(getattr(gen, "min", None) or 0.0)


def _is_dimension(column: ColumnSpec) -> bool:
    gen = column.generator
    if gen.kind not in _DIMENSION_KINDS:
        return False
    values = getattr(gen, "values", None) or getattr(gen, "cases", None)
    return values is None or 2 <= len(values) <= 30


def _questions_for(fact: _Fact) -> list[QuestionSpec]:  # noqa: C901 - one block per question kind
    t, m, d = fact.table.name, fact.measure, fact.date
    label = t.replace("_", " ")
    out: list[QuestionSpec] = []
    value = f"ROUND(SUM({m.name}), 2)" if m else "COUNT(*)"
    what = f"total {m.name.replace('_', ' ')}" if m else "row count"
    alias = f"total_{m.name}" if m else f"{t}_count"
    if fact.categories:
        c = fact.categories[0].name
        out.append(
            _q(
                f"Which 10 {c.replace('_', ' ')} values have the highest {what} in {label}, and how do they rank?",
                f"SELECT {c}, {value} AS {alias}, RANK() OVER (ORDER BY {value} DESC) AS rank_by_{alias}\n"
                f"FROM {t}\nWHERE {c} IS NOT NULL\nGROUP BY {c}\nORDER BY {alias} DESC\nLIMIT 10",
                ["aggregation", "top_n", "ranking"],
                "easy",
                "table",
                "bar",
            )
        )
    if d:
        out.append(
            _q(
                f"How did the {what} of {label} evolve month by month?",
                f"SELECT DATE_TRUNC('month', {d.name}) AS month, COUNT(*) AS {t}_count, {value} AS {alias}\n"
                f"FROM {t}\nWHERE {d.name} IS NOT NULL\nGROUP BY DATE_TRUNC('month', {d.name})\nORDER BY month",
                ["aggregation", "date_functions", "seasonality"],
                "medium",
                "time_series",
                "line",
            )
        )
    share_of = fact.categories[1] if len(fact.categories) > 1 else (fact.categories[0] if fact.categories else None)
    if share_of is not None:
        c = share_of.name
        out.append(
            _q(
                f"What share of the {what} of {label} does each {c.replace('_', ' ')} contribute?",
                f"SELECT {c}, {value} AS {alias},\n"
                f"       ROUND(100.0 * {value} / SUM({value}) OVER (), 1) AS share_pct\n"
                f"FROM {t}\nWHERE {c} IS NOT NULL\nGROUP BY {c}\nORDER BY {alias} DESC",
                ["aggregation", "share_of_total", "window_functions"],
                "medium",
                "table",
                "pie",
            )
        )
    if d:
        out.append(
            _q(
                f"What was the {what} of {label} each year, and how much did it change year over year?",
                f"WITH yearly AS (\n  SELECT EXTRACT(YEAR FROM {d.name}) AS year, {value} AS {alias}\n"
                f"  FROM {t}\n  WHERE {d.name} IS NOT NULL\n  GROUP BY EXTRACT(YEAR FROM {d.name})\n)\n"
                f"SELECT year, {alias},\n"
                f"       ROUND(100.0 * ({alias} - LAG({alias}) OVER (ORDER BY year)) / "
                f"NULLIF(LAG({alias}) OVER (ORDER BY year), 0), 1) AS yoy_change_pct\n"
                f"FROM yearly\nORDER BY year",
                ["aggregation", "yoy_growth", "window_functions", "ctes"],
                "medium",
                "table",
                "column",
            )
        )
    if fact.parents:
        fk, parent, pc = fact.parents[0]
        pk = fk.generator.parent_column
        pvalue = f"ROUND(SUM(f.{m.name}), 2)" if m else "COUNT(*)"
        out.append(
            _q(
                f"Which {pc.name.replace('_', ' ')} of {parent.name.replace('_', ' ')} has the highest {what} in "
                f"{label}?",
                f"SELECT p.{pc.name}, {pvalue} AS {alias}, COUNT(*) AS {t}_count\n"
                f"FROM {t} f\nJOIN {parent.name} p ON p.{pk} = f.{fk.name}\n"
                f"GROUP BY p.{pc.name}\nORDER BY {alias} DESC",
                ["joins", "aggregation"],
                "medium",
                "table",
                "bar",
            )
        )
    if m and fact.categories:
        c = fact.categories[-1].name
        out.append(
            _q(
                f"What is the average {m.name.replace('_', ' ')} of {label} for each {c.replace('_', ' ')}?",
                f"SELECT {c}, COUNT(*) AS {t}_count, ROUND(AVG({m.name}), 2) AS avg_{m.name}\n"
                f"FROM {t}\nWHERE {c} IS NOT NULL\nGROUP BY {c}\nORDER BY avg_{m.name} DESC",
                ["aggregation", "segmentation"],
                "easy",
                "table",
                "bar",
            )
        )
    return out


def _q(text: str, sql: str, skills: list[str], difficulty: str, shape: str, chart: str) -> QuestionSpec:
    return QuestionSpec(
        id="q00", text=text, sql=sql, skills=skills, difficulty=difficulty, answer_shape=shape, chart=chart
    )
