"""The answer key: every question's SQL run in the sandbox, with a short written analysis of its result.

Contract: numbers come only from the query result (run by ``tasks.sql_sandbox``); the analysis is
drawn from that result by ``tasks.findings`` (the leader and its margin, share of total, change
and trend, with formatted numbers), rewritten by the LLM when one is configured; any LLM failure
falls back to those and is noted. A question linked to a planted scenario states the finding, the stated and measured
size, and whether this answer shows it. Everything is derived from the spec: no per-domain code.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import string
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from schemas.errors import InputError
from schemas.results import Answer, AnswerKey, ScenarioCheck
from schemas.spec import ChallengeSpec, QuestionSpec, ScenarioSpec
from tasks import findings
from tasks.settings import Settings
from tasks.sql_sandbox import SqlRefused, run_query, sandbox

MAX_STORED_ROWS = 500
PROMPT_PATH = Path(__file__).resolve().parent / "prompts" / "analysis.md"
MAX_LLM_ROWS = 40
MAX_ANALYSIS_CHARS = 1_500

# column names that say "this is a period" or "this names a row", not a quantity
_PERIOD_NAME = re.compile(r"(year|month|quarter|week|day|date|cohort|period|hour)", re.IGNORECASE)
_TREND_NAME = re.compile(r"(year|cohort|period)", re.IGNORECASE)
_KEY_NAME = re.compile(r"(^id$|_id$|_number$|_no$|_code$)", re.IGNORECASE)
_RANK_NAME = re.compile(r"rank", re.IGNORECASE)
# quantities that are relative (a rate, a share, a change): not additive, so no "share of total"
_RELATIVE_NAME = re.compile(r"(pct|percent|share|rate|ratio|growth|change|avg|mean|median|per_)", re.IGNORECASE)
_CHANGE_NAME = re.compile(r"(growth|change|delta|diff)", re.IGNORECASE)
_COUNT_UNITS = {"count"}


# --------------------------------------------------------------------------- entry point


def compute_answers(
    spec: ChallengeSpec,
    con_or_tables: duckdb.DuckDBPyConnection | Mapping[str, pd.DataFrame | pa.Table | Path | str],
    *,
    scenarios: list[dict] | None = None,
    settings: Settings | None = None,
    issue_log: list | None = None,
) -> AnswerKey:
    """Run every question of ``spec`` in a sandbox and write the answer key.

    Args:
        spec: the challenge spec.
        con_or_tables: a sandbox connection (``tasks.sql_sandbox.sandbox``) or table name ->
            DataFrame, Arrow table or Parquet path (file or folder of parts).
        scenarios: ``measure_scenarios`` output (stated vs measured effect sizes); measured here
            when omitted and DataFrames are given.
        settings: runtime settings; the LLM writes the analyses only when ``llm_api_key`` or
            ``llm_base_url`` is set.
        issue_log: the planted messiness (``IssueLogEntry`` list); the cleaning questions
            (``tasks.cleaning_questions``) are answered from it, not from the clean tables.

    Returns:
        One ``Answer`` per question, in spec order. A question whose SQL fails carries ``error``
        (and a note) instead of stopping the others.

    Raises:
        InputError: ``con_or_tables`` is neither a connection nor a mapping of tables.
    """
    con, owned, frames = _connection(spec, con_or_tables)
    if scenarios is None and frames is not None and spec.scenarios:
        from tasks.engine.scenarios import measure_scenarios

        scenarios = measure_scenarios(spec, frames)
    notes: list[str] = []
    from tasks.cleaning_questions import cleaning_answers

    # the tables here are the clean ones: what was planted in the learner's copy is in the issue log
    planted = cleaning_answers(spec, issue_log) if issue_log else {}
    try:
        answers = [planted.get(q.id) or answer_question(spec, con, q, scenarios) for q in spec.questions]
    finally:
        if owned:
            con.close()
    for answer in answers:
        if answer.error:
            notes.append(f"{answer.question_id}: {answer.error}")
    source = "template"
    if settings is not None and (settings.llm_api_key or settings.llm_base_url):
        source = _write_with_llm(answers, settings, notes)
    return AnswerKey(answers=answers, analysis_source=source, notes=notes)


def _connection(
    spec: ChallengeSpec, con_or_tables: Any
) -> tuple[duckdb.DuckDBPyConnection, bool, dict[str, pd.DataFrame] | None]:
    if isinstance(con_or_tables, duckdb.DuckDBPyConnection):
        return con_or_tables, False, None
    if not isinstance(con_or_tables, Mapping):
        raise InputError(
            f"compute_answers needs a sandbox connection or a mapping of table name -> data, "
            f"got {type(con_or_tables).__name__}; pass tasks.sql_sandbox.sandbox(tables, spec) or the tables"
        )
    tables: dict[str, pd.DataFrame | pa.Table] = {}
    for name, data in con_or_tables.items():
        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.exists():
                raise InputError(f"{name}: Parquet path {path} does not exist; generate the dataset first")
            data = pq.read_table(path)
        elif not isinstance(data, (pd.DataFrame, pa.Table)):
            raise InputError(f"{name}: expected a DataFrame, Arrow table or Parquet path, got {type(data).__name__}")
        tables[name] = data
    frames = tables if all(isinstance(t, pd.DataFrame) for t in tables.values()) else None
    # one thread: rows that tie under ORDER BY come out in the same order every time (a reproducible key)
    return sandbox(tables, spec, threads=1), True, frames


# --------------------------------------------------------------------------- one question


def answer_question(
    spec: ChallengeSpec,
    con: duckdb.DuckDBPyConnection,
    question: QuestionSpec,
    scenarios: list[dict] | None = None,
) -> Answer:
    """Run one question and describe its result with templates (no LLM here).

    Args:
        spec: the challenge spec (units, scenarios).
        con: a sandbox connection holding the tables.
        question: the question to answer.
        scenarios: ``measure_scenarios`` output, for the measured size of a linked scenario.
    """
    base = {
        "question_id": question.id,
        "question": question.text,
        "sql": question.sql,
        "scenario": question.scenario,
        "chart": question.chart,
        "answer_shape": question.answer_shape,
        "difficulty": question.difficulty,
    }
    try:
        frame = run_query(con, question.sql, label=question.id)
    except (SqlRefused, duckdb.Error) as exc:
        reason = str(exc).splitlines()[0]
        return Answer(
            **base,
            columns=[],
            rows=[],
            row_count=0,
            analysis_source="none",
            error=f"the query failed ({type(exc).__name__}: {reason}); fix this question's SQL in the spec",
            analysis="This question could not be answered on the generated data; see the error.",
        )
    columns = [str(c) for c in frame.columns]
    types = [_column_type(frame[c]) for c in frame.columns]
    units = result_units(spec, question.sql, columns)
    labels = _label_columns(columns, types)
    measure = _pick_measure(question, columns, types, labels)
    check = None
    if question.scenario:
        check = check_scenario(spec, question.scenario, frame, types, units, labels, measure, scenarios)
    answer = Answer(
        **base,
        columns=columns,
        rows=_json_rows(frame.head(MAX_STORED_ROWS), types),
        row_count=len(frame),
        column_types=types,
        units=units,
        label_columns=labels,
        measure=measure,
        truncated=len(frame) > MAX_STORED_ROWS,
        scenario_check=check,
    )
    answer.scenario_finding = scenario_text(check) if check else None
    # the words come from tasks.findings (shared with the reports), over the whole result, not the kept rows
    found = findings.analyse(answer, frame)
    answer.highlights = [f.text for f in found if f.kind != "planted"]
    if len(frame) > MAX_STORED_ROWS:
        answer.highlights.append(f"The result has {len(frame):,} rows; the key keeps the first {MAX_STORED_ROWS}.")
    answer.analysis = _join_analysis(" ".join(answer.highlights), answer.scenario_finding)
    return answer


def _join_analysis(narrative: str, finding: str | None) -> str:
    return f"{narrative}\n\n{finding}" if finding else narrative


# --------------------------------------------------------------------------- types and values


def _column_type(series: pd.Series) -> str:
    kind = series.dtype.kind
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind == "b":
        return "bool"
    if kind == "M":
        values = series.dropna()
        return "date" if values.empty or (values == values.dt.normalize()).all() else "datetime"
    sample = series.dropna()
    first = sample.iloc[0] if len(sample) else None
    if isinstance(first, bool):
        return "bool"
    if isinstance(first, (int, np.integer)):
        return "int"
    if isinstance(first, (float, Decimal, np.floating)):
        return "float"
    if isinstance(first, dt.datetime):
        return "datetime"
    if isinstance(first, dt.date):
        return "date"
    return "string"


def _json_value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if kind == "date" else stamp.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, Decimal)):
        number = float(value)
        return None if math.isnan(number) else number
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _json_rows(frame: pd.DataFrame, types: list[str]) -> list[list[Any]]:
    columns = list(frame.columns)
    return [
        [_json_value(value, types[i]) for i, value in enumerate(row)]
        for row in frame[columns].itertuples(index=False, name=None)
    ]


# --------------------------------------------------------------------------- units through the SQL


def result_units(spec: ChallengeSpec, sql: str, columns: list[str]) -> dict[str, str]:
    """The unit of each result column, followed through aliases and CTEs to the spec's column units.

    ``*_pct`` columns are ``%``; counts (``COUNT``, ``SUM`` of 0/1 flags) are ``count``; a column
    named for days/hours/minutes is in that unit; a ratio of two quantities has no unit.
    """
    spec_units: dict[str, set[str]] = {}
    for table in spec.tables:
        for column in table.columns:
            spec_units.setdefault(column.name, set()).add(column.unit or "")
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return {}
    aliases: dict[str, exp.Expression] = {}
    for alias in tree.find_all(exp.Alias):
        aliases.setdefault(alias.alias, alias.this)
    top = tree
    while isinstance(top, exp.SetOperation):
        top = top.this
    projections: dict[str, exp.Expression] = {}
    if isinstance(top, exp.Select):
        for projection in top.expressions:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            projections[projection.alias_or_name] = inner
    units = {}
    for name in columns:
        expression = projections.get(name, exp.column(name))
        unit = _unit_of(name, expression, spec_units, aliases, depth=0)
        if unit:
            units[name] = unit
    return units


def _unit_of(
    name: str,
    expression: exp.Expression,
    spec_units: dict[str, set[str]],
    aliases: dict[str, exp.Expression],
    depth: int,
) -> str | None:
    lowered = name.lower()
    if re.search(r"(pct|percent)", lowered):
        return "%"
    if _RANK_NAME.search(lowered):
        return None
    for word in ("days", "hours", "minutes"):
        if word in lowered:
            return word
    if isinstance(expression, exp.Column) and expression.name in spec_units and expression.name == name:
        found = spec_units[expression.name] - {""}
        return next(iter(found)) if len(found) == 1 else None
    if depth > 6:
        return None
    if any(isinstance(node, exp.Count) for node in _value_nodes(expression)):
        return "count"
    found: set[str] = set()
    columns = [node for node in _value_nodes(expression) if isinstance(node, exp.Column)]
    for column in columns:
        if column.name in spec_units:
            found |= spec_units[column.name]
        elif column.name in aliases and aliases[column.name] is not expression:
            found.add(_unit_of(column.name, aliases[column.name], spec_units, aliases, depth + 1) or "")
        else:
            found.add("")
    has_ratio = any(isinstance(node, exp.Div) for node in _value_nodes(expression))
    if not columns and any(isinstance(node, exp.Sum) for node in _value_nodes(expression)):
        return "count"  # SUM(CASE WHEN ... THEN 1 ELSE 0 END) counts rows
    if len(found) == 1 and not has_ratio:
        return next(iter(found)) or None
    return None


def _value_nodes(node: exp.Expression):
    """Nodes that make up a value: skips CASE conditions and window ORDER/PARTITION, which do not."""
    yield node
    for key, child in node.args.items():
        if isinstance(node, exp.If) and key == "this":
            continue
        if isinstance(node, exp.Window) and key != "this":
            continue
        children = child if isinstance(child, list) else [child]
        for item in children:
            if isinstance(item, exp.Expression):
                yield from _value_nodes(item)


# --------------------------------------------------------------------------- reading a result


def _label_columns(columns: list[str], types: list[str]) -> list[str]:
    labels = []
    for name, kind in zip(columns, types, strict=True):
        if _RANK_NAME.search(name):
            continue
        if kind in {"string", "date", "datetime", "bool"} or (
            kind == "int" and (_PERIOD_NAME.search(name) or _KEY_NAME.search(name))
        ):
            labels.append(name)
    return labels


def _numeric_measures(columns: list[str], types: list[str], labels: list[str]) -> list[str]:
    return [
        c
        for c, k in zip(columns, types, strict=True)
        if k in {"int", "float"} and c not in labels and not _RANK_NAME.search(c)
    ]


def _pick_measure(question: QuestionSpec, columns: list[str], types: list[str], labels: list[str]) -> str | None:
    """The quantity the question is about: what its outer ORDER BY sorts on, else the main absolute measure."""
    candidates = _numeric_measures(columns, types, labels)
    if not candidates:
        return None
    try:
        tree = sqlglot.parse_one(question.sql, read="duckdb")
        order = tree.args.get("order")
        for ordered in order.expressions if order else []:
            key = ordered.this
            if isinstance(key, exp.Column) and key.name in candidates:
                return key.name
    except sqlglot.errors.ParseError:
        pass
    words = set(re.findall(r"[a-z]+", question.text.lower()))

    def mentions(column: str) -> int:
        return sum(part in words for part in column.lower().split("_"))

    absolute = [c for c in candidates if not _RELATIVE_NAME.search(c)] or candidates
    # the most mentioned in the question; ties go to the later column (totals tend to follow counts)
    return max(reversed(absolute), key=mentions)


def display_labels(answer: Answer) -> list[str]:
    """The label column(s) that name rows in a chart or a sentence; see ``choose_labels``."""
    if not answer.label_columns:
        return []
    return choose_labels(answer.frame(), answer.label_columns)


def choose_labels(frame: pd.DataFrame, labels: list[str]) -> list[str]:
    """Name-like columns when together they tell rows apart, else the first unique label, else all labels."""
    if len(labels) <= 1:
        return labels
    named = [c for c in labels if "name" in c.lower()]
    if named and not frame.duplicated(subset=named).any():
        return named
    unique = [c for c in labels if frame[c].is_unique]
    return unique[:1] or labels


def label_text(value: Any) -> str:
    """A label cell as text: dates without a time of day, years without thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "(empty)"
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def row_labels(frame: pd.DataFrame, labels: list[str]) -> list[str]:
    """One text per row from the label columns (``2024 · Mobile App``), or row numbers without labels."""
    if not labels:
        return [f"row {i + 1}" for i in range(len(frame))]
    return [" · ".join(label_text(v) for v in row) for row in frame[labels].itertuples(index=False, name=None)]


def format_value(value: Any, unit: str | None = None) -> str:
    """A number as a person reads it: thousands separators, units, ``%`` for percentages."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer, float, np.floating)):
        number = float(value)
        if isinstance(value, (int, np.integer)) and unit is None:
            return f"{int(value):,}"
        if unit == "%":
            return f"{number:,.1f}%"
        if unit in _COUNT_UNITS or (float(number).is_integer() and abs(number) >= 1):
            text = f"{number:,.0f}"
        else:
            text = f"{number:,.2f}"
        return f"{text} {unit}" if unit and unit not in _COUNT_UNITS else text
    if isinstance(value, (pd.Timestamp, dt.date)):
        return pd.Timestamp(value).date().isoformat()
    return str(value)


def _is_time(name: str, kind: str) -> bool:
    """A period that runs forward (a date, a year, a cohort), so a trend over it means something."""
    return kind in {"date", "datetime"} or (kind == "int" and bool(_TREND_NAME.search(name)))


# --------------------------------------------------------------------------- planted scenarios


def _scenario_keys(scenario: ScenarioSpec) -> tuple[list[str], int]:
    """The segment values a scenario is about, and the expected direction (+1 more, -1 less)."""
    effect = scenario.effect
    if effect.kind == "shift_weights":
        key = max(effect.multipliers, key=lambda k: abs(math.log(effect.multipliers[k])))
        return [key], 1 if effect.multipliers[key] > 1 else -1
    direction = 1 if effect.factor > 1 else -1
    where = scenario.condition.where or ""
    literals = [a or b for a, b in re.findall(r"'([^']*)'|\"([^\"]*)\"", where)]
    return literals, direction


def _in_window(value: Any, name: str, kind: str, scenario: ScenarioSpec) -> bool | None:
    """Is a period label inside the scenario's window? None when the label is not a period."""
    cond = scenario.condition
    if cond.start is None and cond.end is None:
        return None
    start = pd.Timestamp(cond.start) if cond.start else pd.Timestamp.min
    end = pd.Timestamp(cond.end) if cond.end else pd.Timestamp.max
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind in {"date", "datetime"}:
        return bool(start <= pd.Timestamp(value) <= end)
    if kind == "int" and "year" in name.lower() and 1800 <= int(value) <= 2200:
        year_start, year_end = pd.Timestamp(int(value), 1, 1), pd.Timestamp(int(value), 12, 31)
        if year_start >= start and year_end <= end:
            return True
        if year_end < start or year_start > end:
            return False
        return None  # a year that only partly overlaps the window says neither
    return None


def check_scenario(
    spec: ChallengeSpec,
    name: str,
    frame: pd.DataFrame,
    types: list[str],
    units: dict[str, str],
    labels: list[str],
    measure: str | None,
    measured: list[dict] | None = None,
) -> ScenarioCheck:
    """Does this result show the planted scenario ``name``?

    The scenario's segment values (from its ``where`` literals, or its most shifted category) are
    looked up among the result's label cells. With a period column, the segment's measure inside the
    window is compared to outside it; otherwise the segment must be the extreme row in the expected
    direction. A relative column (``*_pct``, share, rate) is preferred as the measure when present.
    """
    scenario = next((s for s in spec.scenarios if s.name == name), None)
    if scenario is None:
        return ScenarioCheck(
            scenario=name,
            description="",
            effect="unknown",
            evidence=f"scenario '{name}' is not in this spec; link the question to one of "
            f"{[s.name for s in spec.scenarios]} or remove the link",
        )
    stats = next((m for m in measured or [] if m.get("scenario") == name), {})
    check = ScenarioCheck(
        scenario=name,
        description=scenario.description,
        effect=scenario.effect.kind,
        stated=_float(stats.get("stated", getattr(scenario.effect, "factor", None))),
        measured=_float(stats.get("measured")),
    )
    if frame.empty:
        check.evidence = "the answer has no rows"
        return check
    kind = dict(zip(frame.columns, types, strict=True))
    numeric = _numeric_measures(list(frame.columns), types, labels)
    relative = [c for c in numeric if units.get(c) == "%" or _RELATIVE_NAME.search(c)]
    target = relative[0] if relative else measure
    if target is None:
        check.evidence = "the answer has no numeric column to compare"
        return check
    values = pd.to_numeric(frame[target], errors="coerce")
    keys, direction = _scenario_keys(scenario)
    key_set = {k.lower() for k in keys}
    segment_labels = [c for c in labels if not _is_time(c, kind[c])]
    if key_set and segment_labels:
        cells = frame[segment_labels].astype(str).apply(lambda col: col.str.lower())
        in_segment = cells.isin(key_set).any(axis=1).to_numpy()
    else:
        in_segment = np.ones(len(frame), dtype=bool) if not key_set else np.zeros(len(frame), dtype=bool)
    if not in_segment.any():
        check.evidence = f"no row of the answer is about {', '.join(keys)}"
        return check
    segment_text = ", ".join(keys) if keys else "the scenario window"
    periods = [c for c in labels if _is_time(c, kind[c])]
    if periods:
        inside = np.array([_in_window(v, periods[0], kind[periods[0]], scenario) for v in frame[periods[0]]])
        rows_in = in_segment & (inside == True)  # noqa: E712 - elementwise on an object array
        rows_out = in_segment & (inside == False)  # noqa: E712
        if rows_in.any() and rows_out.any():
            mean_in, mean_out = values[rows_in].mean(), values[rows_out].mean()
            shown = bool(mean_in > mean_out) if direction > 0 else bool(mean_in < mean_out)
            unit = units.get(target)
            check.shown = shown
            check.evidence = (
                f"for {segment_text}, {target} averages {format_value(mean_in, unit)} inside the scenario window "
                f"vs {format_value(mean_out, unit)} outside it"
            )
            return check
    if not key_set:
        check.evidence = "the answer has neither a period inside and outside the window nor a segment to compare"
        return check
    segment_value = values[in_segment].mean()
    others = values[~in_segment]
    if others.notna().sum() == 0:
        check.evidence = f"the answer only has rows for {segment_text}; nothing to compare with"
        return check
    extreme = others.max() if direction > 0 else others.min()
    shown = bool(segment_value > extreme) if direction > 0 else bool(segment_value < extreme)
    word = "highest" if direction > 0 else "lowest"
    unit = units.get(target)
    check.shown = shown
    check.evidence = (
        f"{segment_text} has {'the ' + word if shown else 'not the ' + word} {target} "
        f"({format_value(segment_value, unit)}; the {word} of the other {int(others.notna().sum())} rows is "
        f"{format_value(extreme, unit)})"
    )
    return check


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _ratio_text(ratio: float) -> str:
    return f"x{ratio:.2f} ({100 * (ratio - 1):+.0f}%)"


def scenario_text(check: ScenarioCheck) -> str:
    """The planted finding as a sentence: what was planted, its stated and measured size, shown or not."""
    if check.effect == "unknown":
        return f"Planted finding: {check.evidence}."
    size = []
    if check.stated is not None:
        size.append(f"stated effect {_ratio_text(check.stated)}")
    if check.measured is not None:
        size.append(f"measured in the generated data {_ratio_text(check.measured)}")
    else:
        size.append("measured size not available (the scenarios were not measured)")
    verdict = {
        True: "This answer shows it: ",
        False: "This answer does not show it clearly: ",
        None: "This answer cannot tell: ",
    }[check.shown]
    return (
        f"Planted finding ({check.scenario}): {check.description} Size: {'; '.join(size)}. {verdict}{check.evidence}."
    )


# --------------------------------------------------------------------------- LLM analyses


def _write_with_llm(answers: list[Answer], settings: Settings, notes: list[str]) -> str:
    """Replace template narratives with the LLM's; on any error keep the template and note why."""
    from openai import OpenAI  # imported only when an LLM is configured

    client = OpenAI(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=60.0,
        max_retries=1,
    )
    template = string.Template(PROMPT_PATH.read_text())
    used = 0
    for position, answer in enumerate(answers):
        if answer.error:
            continue
        try:
            text = _llm_analysis(client, settings.llm_model, template, answer)
        except Exception as exc:  # noqa: BLE001 - any LLM failure falls back to the template analysis
            rest = [a.question_id for a in answers[position:] if not a.error]
            # one failure usually means the endpoint is down or misconfigured: stop asking, keep templates
            notes.append(
                f"LLM analysis failed at {answer.question_id} ({type(exc).__name__}: {str(exc)[:160]}); "
                f"template analyses used for {', '.join(rest)}; check llm_base_url, llm_model and llm_api_key"
            )
            break
        answer.analysis = _join_analysis(text, answer.scenario_finding)
        answer.analysis_source = "llm"
        used += 1
    if used == 0:
        return "template"
    return "llm" if used == sum(1 for a in answers if not a.error) else "mixed"


def _llm_analysis(client: Any, model: str, template: string.Template, answer: Answer) -> str:
    table = pd.DataFrame(answer.rows[:MAX_LLM_ROWS], columns=answer.columns).to_csv(index=False)
    prompt = template.substitute(
        question=answer.question,
        units=", ".join(f"{k}: {v}" for k, v in answer.units.items()) or "none stated",
        rows=answer.row_count,
        table=table,
        facts="\n".join(f"- {h}" for h in answer.highlights),
        scenario=answer.scenario_finding or "none",
    )
    response = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are a careful data analyst. Use only numbers given to you."},
            {"role": "user", "content": prompt},
        ],
        temperature=0.2,
    )
    text = (response.choices[0].message.content or "").strip()
    if not text:
        raise ValueError("the model returned an empty analysis")
    return text[:MAX_ANALYSIS_CHARS]
