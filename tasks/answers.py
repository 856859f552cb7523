"""The answer key: every question's SQL run in the sandbox, with a short written analysis of its result.

Contract: numbers come only from the query result (run by ``tasks.sql_sandbox``); the analysis is
drawn from that result by ``tasks.reports.findings`` (the leader and its margin, share of total, change
and trend, with formatted numbers), rewritten by the LLM when one is configured; any LLM failure
falls back to those and is noted. A question linked to a planted scenario states the finding, the stated and measured
size, and whether this answer shows it. Everything is derived from the spec: no per-domain code.
"""

from __future__ import annotations

import contextlib
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
from tasks.reports import findings
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
    if scenarios is not None:
        scenarios = within_segment(spec, con, scenarios)
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


def _segment_and_window(scenario: ScenarioSpec) -> bool:
    cond = scenario.condition
    return scenario.effect.kind != "volume" and bool(cond.where and cond.date_column and (cond.start or cond.end))


def segment_effect(scenario: ScenarioSpec, columns: Mapping[str, pd.Series], n: int) -> tuple[float | None, str] | None:
    """A scenario with a segment and a window, measured within its segment: inside vs outside the window.

    The engine's measure compares the scenario's rows with every other row, so a segment that differs
    anyway (Home Care's list prices are higher all year) inflates it; the planted effect is the change
    of the segment's own values in the window. None when the scenario has no segment and window, or its
    effect is a volume (the odds ratio already isolates it).
    """
    from tasks.engine.scenarios import scenario_mask

    effect = scenario.effect
    if not _segment_and_window(scenario):
        return None
    inside = scenario_mask(scenario, dict(columns), n)
    outside = scenario_mask(scenario, dict(columns), n, window=False) & ~inside
    method = "its segment inside vs outside the window"
    if not inside.any() or not outside.any():
        return None
    values = pd.Series(columns[effect.column]).reset_index(drop=True)
    if effect.kind == "scale":
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        mean_in, mean_out = np.nanmean(x[inside]), np.nanmean(x[outside])
        if not (np.isfinite(mean_in) and np.isfinite(mean_out)) or mean_out == 0:
            return None, f"mean {effect.column}, {method}"
        return float(mean_in / mean_out), f"mean {effect.column}, {method}"
    top = max(effect.multipliers, key=lambda k: effect.multipliers[k])
    hit = (values.astype(str) == top).to_numpy()
    cells = [(hit & inside).sum(), (~hit & inside).sum(), (hit & outside).sum(), (~hit & outside).sum()]
    method = f"odds of '{top}', {method}"
    if not all(cells):
        return None, method
    return float((cells[0] / cells[1]) / (cells[2] / cells[3])), method


def within_segment(spec: ChallengeSpec, con: duckdb.DuckDBPyConnection, scenarios: list[dict]) -> list[dict]:
    """The scenarios' measured sizes, with those of a segment and a window measured within the segment."""
    out = []
    for entry in scenarios:
        scenario = next((s for s in spec.scenarios if s.name == entry.get("scenario")), None)
        entry = dict(entry)
        if scenario is not None and _segment_and_window(scenario):
            from schemas.expressions import expression_names

            cond = scenario.condition
            names = sorted(expression_names(cond.where) | {cond.date_column, scenario.effect.column})
            try:
                frame = con.execute(f"SELECT {', '.join(_q(c) for c in names)} FROM {_q(scenario.table)}").df()
                found = segment_effect(scenario, {c: frame[c] for c in frame.columns}, len(frame))
            except Exception:  # noqa: BLE001 - keep the engine's measure when the table cannot be read so
                found = None
            if found is not None and found[0] is not None:
                entry["measured"], entry["method"] = round(found[0], 4), found[1]
        out.append(entry)
    return out


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
    labels = _label_columns(columns, types, _counted_columns(question.sql))
    measure = _pick_measure(question, columns, types, labels)
    check = None
    if question.scenario:
        reading: dict = {}
        check = check_scenario(
            spec,
            question.scenario,
            frame,
            types,
            units,
            labels,
            measure,
            scenarios,
            sql=question.sql,
            con=con,
            reading=reading,
        )
        if reading.get("direction") is not None and reading.get("target") != measure:
            # the question is about its planted finding: its measure is the column that carries it
            # (avg_peak_surge, not the off-peak control column beside it)
            measure = reading["target"]
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
    # the words come from tasks.reports.findings (shared with the reports), over the whole result, not the kept rows
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
    ratio = _per_unit(expression, spec_units, aliases, depth)
    if ratio is not None:
        return ratio or None
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


def _per_unit(
    expression: exp.Expression, spec_units: dict[str, set[str]], aliases: dict[str, exp.Expression], depth: int
) -> str | None:
    """A quantity per something keeps the quantity's unit: money per ticket (SUM(net_sales) / COUNT(*)) or per
    cover is money, minutes per visit are minutes. None when ``expression`` is no such ratio; "" when it is a
    ratio without a unit (money over money)."""
    while isinstance(expression, (exp.Round, exp.Cast, exp.Paren)):
        expression = expression.this
    if not isinstance(expression, exp.Div):
        return None
    top = _unit_of("", expression.this, spec_units, aliases, depth + 1)
    bottom = _unit_of("", expression.expression, spec_units, aliases, depth + 1)
    if top and findings.is_money(top):
        return "" if bottom and findings.is_money(bottom) else top
    if top and top not in ("count", "%") and bottom in (None, "count"):
        return top
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


def _label_columns(columns: list[str], types: list[str], counted: frozenset[str] = frozenset()) -> list[str]:
    """The columns that name a row (text, dates, periods, keys); ``counted`` columns (a SUM or COUNT) never do,
    whatever their name says: ``hires_last_year`` is a number of hires, not a year."""
    labels = []
    for name, kind in zip(columns, types, strict=True):
        if _RANK_NAME.search(name):
            continue
        if kind in {"string", "date", "datetime", "bool"} or (
            kind == "int" and name not in counted and (_PERIOD_NAME.search(name) or _KEY_NAME.search(name))
        ):
            labels.append(name)
    return labels


def _counted_columns(sql: str) -> frozenset[str]:
    """Result columns computed by an additive aggregate (SUM, COUNT), directly or through a CTE's alias."""
    aliases, projections = _sql_parts(_parse_sql(sql))
    counted = set()
    for name, expression in projections.items():
        if isinstance(expression, exp.Column) and expression.name in aliases:
            expression = aliases[expression.name]
        if expression.find(exp.Sum, exp.Count) is not None:
            counted.add(name)
    return frozenset(counted)


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
    tree = _parse_sql(question.sql)
    order = tree.args.get("order") if tree is not None else None
    for ordered in order.expressions if order else []:
        key = ordered.this
        if isinstance(key, exp.Column) and key.name in candidates:
            return key.name
    words = set(re.findall(r"[a-z]+", question.text.lower()))

    def mentions(column: str) -> int:
        return sum(part in words for part in column.lower().split("_"))

    _, projections = _sql_parts(tree)
    # a LAG/LEAD column is the comparison's baseline (same_month_last_year), not what the question measures
    shifted = {c for c, e in projections.items() if e.find(exp.Lag, exp.Lead) is not None}
    absolute = [c for c in candidates if not _RELATIVE_NAME.search(c)] or candidates
    absolute = [c for c in absolute if c not in shifted] or absolute
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
    """A number in a sentence (``findings.fmt``, compact: ``₹15,118``, ``56.4 memberships``); dates as ISO dates."""
    if isinstance(value, (pd.Timestamp, dt.date)):
        return pd.Timestamp(value).date().isoformat()
    return findings.fmt(value, unit, compact=True)


def _is_time(name: str, kind: str) -> bool:
    """A period that runs forward (a date, a year, a cohort), so a trend over it means something."""
    return kind in {"date", "datetime"} or (kind == "int" and bool(_TREND_NAME.search(name)))


# --------------------------------------------------------------------------- planted scenarios


# A scenario's finding is read from the answer in three steps, each from the spec, not from names:
# which rows are about its segment (the `where` literals, and the attribute values only the segment's
# rows carry, such as the route names of the route ids it lists), which rows or columns fall inside its
# window (period labels, and the date conditions of the SQL's CASE labels and conditional aggregates),
# and which measure carries its effect, in which direction (the SQL lineage of each result column).

_SEGMENT_VALUES_MAX = 500  # a column with more distinct values (an id, a timestamp) names no segment
_UNKNOWN_CHANGE_MIN = 0.05  # a measure of unknown direction "shows" a change of at least 5 %
# a count per period is a volume rate: it moves with a volume change and needs no per-day division
_RATE_NAME = re.compile(r"per_(day|week|month|quarter|year)", re.IGNORECASE)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _where_literals(scenario: ScenarioSpec) -> list[str]:
    where = scenario.condition.where or ""
    return [a or b for a, b in re.findall(r"'([^']*)'|\"([^\"]*)\"", where)]


def _top_category(scenario: ScenarioSpec) -> str | None:
    effect = scenario.effect
    if effect.kind != "shift_weights":
        return None
    return max(effect.multipliers, key=lambda k: abs(math.log(effect.multipliers[k])))


def _scenario_keys(scenario: ScenarioSpec) -> tuple[list[str], int]:
    """The segment values a scenario is about (its ``where`` literals), and the planted direction (+1/-1)."""
    effect = scenario.effect
    if effect.kind == "shift_weights":
        top = _top_category(scenario)
        return _where_literals(scenario), 1 if effect.multipliers[top] > 1 else -1
    return _where_literals(scenario), 1 if effect.factor > 1 else -1


def segment_values(
    spec: ChallengeSpec, scenario: ScenarioSpec, con: duckdb.DuckDBPyConnection | None
) -> dict[str, set[str]]:
    """Column name -> lower-cased values that name the scenario's segment: its literals, and values only it carries.

    A segment stated on ids (``route_id in ('RT-02', 'RT-03')``) is shown in answers by its names
    (``ORD-LAX``) or by an attribute it alone has (hub ``DEN``): a text value of the scenario's table,
    or of a parent it references, whose every row lies inside the segment names it. Values are kept
    per column, since a value can be exclusive in one column and not in another (``ORD`` as the
    destination of a Denver route, and as the origin of the Chicago ones). Literals are under ``*``
    when the condition names several columns.
    """
    from schemas.expressions import expression_names
    from tasks.engine.evaluate import evaluate

    where = scenario.condition.where
    literals = {v.lower() for v in _where_literals(scenario)}
    names = sorted(expression_names(where)) if where else []
    out: dict[str, set[str]] = {}
    if literals:
        out[names[0] if len(names) == 1 else "*"] = set(literals)
    table = next((t for t in spec.tables if t.name == scenario.table), None)
    if not where or con is None or table is None:
        return out
    names = [n for n in names if n in {c.name for c in table.columns}]
    if not names:
        return out
    sources = [("", "t", c.name) for c in table.columns if c.type in ("string", "category")]
    for column, parent_name, key in _parents(spec, table):
        parent = next(t for t in spec.tables if t.name == parent_name)
        join = f"JOIN {_q(parent_name)} p ON p.{_q(key)} = t.{_q(column)}"
        sources += [(join, "p", c.name) for c in parent.columns if c.type in ("string", "category")]
    selected = ", ".join(f"t.{_q(n)} AS {_q(n)}" for n in names)
    for join, alias, name in sources:
        ref = f"{alias}.{_q(name)}"
        try:
            rows = con.execute(
                f"SELECT DISTINCT {selected}, CAST({ref} AS VARCHAR) AS __value FROM {_q(table.name)} t {join} "
                f"WHERE {ref} IS NOT NULL LIMIT {_SEGMENT_VALUES_MAX * 20}"
            ).df()
        except duckdb.Error:
            continue  # a column the shipped tables lack: its values name nothing
        if rows.empty or rows["__value"].nunique() > _SEGMENT_VALUES_MAX:
            continue
        columns = {n: rows[n].reset_index(drop=True) for n in names}
        try:
            inside = evaluate(where, columns, len(rows)).fillna(False).astype(bool).to_numpy()
        except Exception:  # noqa: BLE001 - an expression the distinct rows cannot evaluate names nothing
            continue
        exclusive = pd.Series(inside).groupby(rows["__value"].to_numpy()).all()
        if exclusive.all():
            continue  # every value lies inside: the segment is the whole table, its values name nothing
        out.setdefault(name, set()).update(str(v).lower() for v in exclusive[exclusive].index)
    return out


def _parents(spec: ChallengeSpec, table: Any) -> list[tuple[str, str, str]]:
    """(column, parent table, parent key) for the tables a table's rows name: its foreign keys, and the
    columns copied from one (a ``lookup`` of ``warehouse_id``) that are another table's whole primary key."""
    out: dict[tuple[str, str], str] = {}
    tables = {t.name: t for t in spec.tables}
    for column in table.columns:
        ref = getattr(column.generator, "references", None)
        if column.generator.kind == "foreign_key" and ref and ref.split(".", 1)[0] in tables:
            parent, key = ref.split(".", 1)
            out[(column.name, parent)] = key
        for other in spec.tables:
            if other.name != table.name and list(other.primary_key) == [column.name]:
                out.setdefault((column.name, other.name), column.name)
    return [(column, parent, key) for (column, parent), key in out.items()]


def segment_columns(
    numeric: list[str],
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
    keys: dict[str, set[str]],
) -> tuple[list[str], list[str]]:
    """(result columns computed over the segment only, columns computed over the rest): a segment shown as
    columns (``SUM(CASE WHEN division = 'Technology' THEN exits END)`` beside ``... <> 'Technology'``)."""
    seg: list[str] = []
    rest: list[str] = []
    for name in numeric:
        expression = projections.get(name)
        if expression is None:
            continue
        sides: set[bool] = set()
        for node in _lineage(expression, aliases):
            if isinstance(node, exp.If) and isinstance(node.parent, exp.Case):
                condition = node.this
            elif isinstance(node, exp.Filter):
                condition = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
            else:
                continue
            for test in condition.find_all(exp.EQ, exp.NEQ, exp.In):
                column = next((n for n in (test.this, test.args.get("expression")) if isinstance(n, exp.Column)), None)
                if column is None or not (keys.get(column.name) or keys.get("*")):
                    continue
                found = test.expressions if isinstance(test, exp.In) else [test.this, test.args.get("expression")]
                literals = {str(n.this).lower() for n in found if isinstance(n, exp.Literal) and n.is_string}
                if not literals:
                    continue
                allowed = keys.get(column.name, set()) | keys.get("*", set())
                negated = isinstance(test, exp.NEQ) or isinstance(test.parent, exp.Not)
                sides.add((literals <= allowed) != negated)
        if sides == {True}:
            seg.append(name)
        elif sides == {False}:
            rest.append(name)
    return seg, rest


def _filters_segment(tree: exp.Expression | None, keys: dict[str, set[str]]) -> bool:
    """Whether the query's WHERE keeps only segment values (``WHERE plan_name = 'Starter'``): every row is in it."""
    if tree is None:
        return False
    for where in tree.find_all(exp.Where):
        for node in where.find_all(exp.EQ, exp.In):
            column = next((n for n in (node.this, node.args.get("expression")) if isinstance(n, exp.Column)), None)
            if column is None:
                continue
            found = node.args.get("expressions") if isinstance(node, exp.In) else [node.args.get("expression")]
            if isinstance(node, exp.EQ) and isinstance(node.this, exp.Literal):
                found = [node.this]
            literals = {str(n.this).lower() for n in found or [] if isinstance(n, exp.Literal) and n.is_string}
            allowed = keys.get(column.name, set()) | keys.get("*", set())
            if literals and literals <= allowed and not _negated(node, where):
                return True
    return False


def _negated(node: exp.Expression, stop: exp.Expression) -> bool:
    """Whether a condition sits under a NOT or an OR (then it does not restrict every row)."""
    parent = node.parent
    while parent is not None and parent is not stop:
        if isinstance(parent, (exp.Not, exp.Or)):
            return True
        parent = parent.parent
    return False


def _segment_rows(
    frame: pd.DataFrame,
    segment_labels: list[str],
    keys: dict[str, set[str]],
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
) -> tuple[np.ndarray, list[str]]:
    """Rows whose label names the segment, reading each label column for the source columns it comes from."""
    matched = np.zeros(len(frame), dtype=bool)
    names: set[str] = set()
    for label in segment_labels:
        expression = projections.get(label)
        sources = (
            {n.name for n in _lineage(expression, aliases) if isinstance(n, exp.Column)} | {label}
            if expression is not None
            else set(keys)
        )
        allowed = set().union(*(keys.get(s, set()) for s in sources | {"*"}))
        if not allowed:
            continue
        cells = frame[label].astype(str).str.strip()
        hit = cells.str.lower().isin(allowed).to_numpy()
        matched |= hit
        names |= set(cells[hit])
    return matched, sorted(names)


# --------------------------------------------------------------------------- periods in the SQL


def _parse_sql(sql: str | None) -> exp.Expression | None:
    if not sql:
        return None
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return None


def _date_literal(node: exp.Expression) -> pd.Timestamp | None:
    """DATE '2023-04-01', TIMESTAMP '...', '2023-04-01'::DATE or a plain '2023-04-01' text."""
    if isinstance(node, exp.Cast):
        node = node.this
    if isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and node.is_string and re.match(r"^\d{4}-\d{2}-\d{2}", node.this):
        try:
            return pd.Timestamp(node.this[:10])
        except ValueError:
            return None
    return None


def _is_year_of(node: exp.Expression) -> bool:
    """``EXTRACT(YEAR FROM d)``, ``year(d)`` or ``date_part('year', d)``."""
    if isinstance(node, exp.Year):
        return True
    if isinstance(node, exp.Extract):
        return node.this.name.upper() == "YEAR"
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "date_part" and node.expressions:
        first = node.expressions[0]
        return isinstance(first, exp.Literal) and str(first.this).lower() == "year"
    return False


def _int_literal(node: exp.Expression) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d{4}", node.this):
        return int(node.this)
    return None


def _comparison_interval(node: exp.Expression) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """The days a comparison of a date (or its year) with a literal keeps, or None when it is no such thing."""
    one_day = pd.Timedelta(days=1)
    ops = {exp.GTE: ">=", exp.GT: ">", exp.LT: "<", exp.LTE: "<=", exp.EQ: "="}
    op = next((sym for cls, sym in ops.items() if isinstance(node, cls)), None)
    if op is None:
        return None
    left, right = node.this, node.expression
    flip = {">=": "<=", ">": "<", "<": ">", "<=": ">=", "=": "="}
    for date_side, literal, sym in ((left, right, op), (right, left, flip[op])):
        year = _int_literal(literal)
        year_column = isinstance(date_side, exp.Column) and re.search(r"(^|_)(year|yr)$", date_side.name.lower())
        if year is not None and (_is_year_of(date_side) or year_column):
            first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
        else:
            day = _date_literal(literal)
            if day is None or _date_literal(date_side) is not None or isinstance(date_side, exp.Literal):
                continue
            first = last = day
        return {
            ">=": (first, None),
            ">": (last + one_day, None),
            "<": (None, first - one_day),
            "<=": (None, last),
            "=": (first, last),
        }[sym]
    return None


def _intersect(a, b):
    lo = max((x for x in (a[0], b[0]) if x is not None), default=None)
    hi = min((x for x in (a[1], b[1]) if x is not None), default=None)
    return lo, hi


def condition_interval(node: exp.Expression) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """The days a SQL condition keeps (None bounds: open), or None when it says nothing about dates."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        parts = [condition_interval(node.this), condition_interval(node.expression)]
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        out = parts[0]
        for part in parts[1:]:
            out = _intersect(out, part)
        return out
    if isinstance(node, exp.Between):
        low = _comparison_interval(exp.GTE(this=node.this, expression=node.args["low"]))
        high = _comparison_interval(exp.LTE(this=node.this, expression=node.args["high"]))
        if low is None or high is None:
            return None
        return _intersect(low, high)
    return _comparison_interval(node)


def _case_labels(case: exp.Case) -> dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]]:
    """Label text -> the days its CASE branch covers (a branch's days exclude the branches before it)."""
    out: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = {}
    remaining: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = (None, None)
    one_day = pd.Timedelta(days=1)
    for branch in case.args.get("ifs") or []:
        label = branch.args.get("true")
        days = condition_interval(branch.this)
        if isinstance(label, exp.Literal) and days is not None and remaining is not None:
            out.setdefault(str(label.this), _intersect(days, remaining))
        if days is None or remaining is None:
            remaining = None
        elif days[1] is None and days[0] is not None:  # ">= a": what follows lies before a
            remaining = _intersect(remaining, (None, days[0] - one_day))
        elif days[0] is None and days[1] is not None:
            remaining = _intersect(remaining, (days[1] + one_day, None))
        else:
            remaining = None
    default = case.args.get("default")
    if isinstance(default, exp.Literal) and remaining is not None:
        out.setdefault(str(default.this), remaining)
    return out


def _lineage(node: exp.Expression, aliases: dict[str, exp.Expression], depth: int = 0):
    """The nodes a result value is computed from, following column references into CTE and subquery aliases."""
    for child in node.walk():
        yield child
        if isinstance(child, exp.Column) and child.name in aliases and depth < 6:
            target = aliases[child.name]
            if target is not node and not (isinstance(target, exp.Column) and target.name == child.name):
                yield from _lineage(target, aliases, depth + 1)


def _sql_parts(tree: exp.Expression | None) -> tuple[dict[str, exp.Expression], dict[str, exp.Expression]]:
    """(alias -> expression anywhere in the query, result column -> its outer projection)."""
    aliases: dict[str, exp.Expression] = {}
    projections: dict[str, exp.Expression] = {}
    if tree is None:
        return aliases, projections
    for alias in tree.find_all(exp.Alias):
        aliases.setdefault(alias.alias, alias.this)
    top = tree
    while isinstance(top, exp.SetOperation):
        top = top.this
    if isinstance(top, exp.Select):
        for projection in top.expressions:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            projections[projection.alias_or_name] = inner
    return aliases, projections


def _column_days(
    name: str, projections: dict[str, exp.Expression], aliases: dict[str, exp.Expression]
) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """The days a conditional aggregate column covers (``AVG(CASE WHEN d >= DATE '...' THEN x END)``), if one span."""
    expression = projections.get(name)
    if expression is None:
        return None
    spans = set()
    for node in _lineage(expression, aliases):
        condition = None
        if isinstance(node, exp.If) and isinstance(node.parent, exp.Case):
            condition = node.this
        elif isinstance(node, exp.Filter):
            condition = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        if condition is not None:
            days = condition_interval(condition)
            if days is not None:
                spans.add(days)
    return next(iter(spans)) if len(spans) == 1 else None


def _label_days(
    value: Any,
    name: str,
    kind: str,
    step: pd.DateOffset | None,
    case_days: dict[str, tuple] | None,
    part: str | None = None,
    year: int | None = None,
) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """The days a period label covers: a date and its step, a year, a 'YYYY-MM' / 'YYYY-Qn' text, a CASE label,
    or a quarter or month number (``part``) of ``year`` (the one year the query or the data covers)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if part in ("quarter", "month") and kind in {"int", "float"}:
        number = int(value)
        if year is None or not 1 <= number <= (4 if part == "quarter" else 12):
            return None
        months = 3 if part == "quarter" else 1
        first = pd.Timestamp(year, months * (number - 1) + 1, 1)
        return first, first + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    if kind in {"date", "datetime"}:
        first = pd.Timestamp(value).normalize()
        return first, (first + step - pd.Timedelta(days=1)) if step is not None else first
    if kind == "int" and _TREND_NAME.search(name) and 1800 <= int(value) <= 2200:
        return pd.Timestamp(int(value), 1, 1), pd.Timestamp(int(value), 12, 31)
    if kind != "string":
        return None
    text = str(value)
    if case_days and text in case_days:
        return case_days[text]
    match = re.fullmatch(r"((?:19|20)\d{2})(?:[-/ ]?(?:(Q)([1-4])|(\d{1,2})))?", text.strip(), re.IGNORECASE)
    if not match:
        return None
    year = int(match.group(1))
    if match.group(3):
        first = pd.Timestamp(year, 3 * int(match.group(3)) - 2, 1)
        return first, first + pd.DateOffset(months=3) - pd.Timedelta(days=1)
    if match.group(4) and 1 <= int(match.group(4)) <= 12:
        first = pd.Timestamp(year, int(match.group(4)), 1)
        return first, first + pd.DateOffset(months=1) - pd.Timedelta(days=1)
    return pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)


def _calendar_part(
    projections: dict[str, exp.Expression], aliases: dict[str, exp.Expression], column: str
) -> str | None:
    """'quarter' or 'month' when a result column is ``EXTRACT(QUARTER FROM d)`` (or ``month(d)``), else None."""
    named = re.search(r"(^|_)(quarter|qtr|month)($|_)", column.lower())
    by_name = ("month" if named.group(2) == "month" else "quarter") if named else None
    expression = projections.get(column)
    if expression is None:
        return by_name  # an int label named for a quarter or month (its values are checked when placed)
    for node in _lineage(expression, aliases):
        if isinstance(node, exp.Extract) and node.this.name.upper() in ("QUARTER", "MONTH"):
            return node.this.name.lower()
        if isinstance(node, exp.Quarter):
            return "quarter"
        if isinstance(node, exp.Month):
            return "month"
        if isinstance(node, (exp.AggFunc, exp.Case)):
            return None  # a value computed from months, not a month
    return by_name


def _kept_days(tree: exp.Expression | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """The days the query's WHERE clauses keep ((None, None): all); None when one filters dates in a way no
    range states (``EXTRACT(MONTH FROM d) IN (12, 1, 2)``), or when their ranges do not meet."""
    kept: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None)
    for where in tree.find_all(exp.Where) if tree is not None else []:
        parts = (exp.Extract, exp.Month, exp.Quarter, exp.DayOfWeek, exp.Year)
        if any(isinstance(node, parts) and not _is_year_of(node) for node in where.this.walk()):
            return None
        days = condition_interval(where.this)
        if days is not None:
            kept = _intersect(kept, days)
    if kept[0] is not None and kept[1] is not None and kept[0] > kept[1]:
        return None
    return kept


def _calendar_year(kept: tuple | None, spec: ChallengeSpec) -> int | None:
    """The one year a quarter or month number belongs to: the query keeps one year, or the data spans one."""
    if kept is not None and kept[0] is not None and kept[1] is not None and kept[0].year == kept[1].year:
        return kept[0].year
    window = spec.challenge.time_window
    return window.start.year if window.start.year == window.end.year else None


def _days_in_data(days: tuple[pd.Timestamp | None, pd.Timestamp | None] | None, spec: ChallengeSpec) -> int:
    """How many days of the data's window a period covers (0 for none or unknown)."""
    if days is None:
        return 0
    data = spec.challenge.time_window
    lo = max(days[0] or pd.Timestamp(data.start), pd.Timestamp(data.start))
    hi = min(days[1] or pd.Timestamp(data.end), pd.Timestamp(data.end))
    return max((hi - lo).days + 1, 0)


def _date_step(values: pd.Series) -> pd.DateOffset | None:
    """The period a column of truncated dates stands for (month, quarter, year), or None for days."""
    days = pd.to_datetime(values.dropna()).drop_duplicates().sort_values()
    if days.empty or not (days.dt.day == 1).all():
        return None
    months = sorted({d.month for d in days})
    if months == [1]:
        return pd.DateOffset(years=1)
    if all(m in (1, 4, 7, 10) for m in months):
        return pd.DateOffset(months=3)
    return pd.DateOffset(months=1)


def window_share(
    days: tuple[pd.Timestamp | None, pd.Timestamp | None] | None, scenario: ScenarioSpec, spec: ChallengeSpec
) -> float | None:
    """The share of a period's days (within the data's window) that lie inside the scenario's window."""
    if days is None:
        return None
    cond, data = scenario.condition, spec.challenge.time_window
    lo = max(days[0] or pd.Timestamp(data.start), pd.Timestamp(data.start))
    hi = min(days[1] or pd.Timestamp(data.end), pd.Timestamp(data.end))
    if hi < lo:
        return None
    start = pd.Timestamp(cond.start) if cond.start else pd.Timestamp(data.start)
    end = pd.Timestamp(cond.end) if cond.end else pd.Timestamp(data.end)
    overlap = (min(hi, end) - max(lo, start)).days + 1
    return max(overlap, 0) / ((hi - lo).days + 1)


def _sides(shares: list[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """(inside, outside) masks: mostly inside the window vs wholly outside; any overlap when none is mostly in."""
    share = np.array([np.nan if s is None else s for s in shares], dtype=float)
    outside = share == 0
    inside = share >= 0.5
    if not inside.any():
        inside = share > 0
    return inside, outside


# --------------------------------------------------------------------------- which measure, which direction


def downstream_signs(
    spec: ChallengeSpec, scenario: ScenarioSpec, con: duckdb.DuckDBPyConnection | None
) -> dict[str, int]:
    """Column -> +1/-1: how a scale effect moves its column and each derived column computed from it.

    A derived column may move against the factor (``is_on_time`` from ``transit_days``), so each one is
    probed: its expression is evaluated on a sample of the table with the effect's column as it is and
    scaled by the factor, and the sign of the change in its mean is its direction.
    """
    from schemas.spec import DerivedGenerator

    effect = scenario.effect
    if effect.kind != "scale":
        return {}
    sign = 1 if effect.factor > 1 else -1
    signs = {effect.column: sign}
    table = next((t for t in spec.tables if t.name == scenario.table), None)
    if table is None or con is None:
        return signs
    derived = [c for c in table.columns if isinstance(c.generator, DerivedGenerator)]
    if not derived:
        return signs
    try:
        sample = con.execute(f"SELECT * FROM {_q(table.name)} LIMIT 5000").df()
    except duckdb.Error:
        return signs
    if effect.column not in sample.columns or sample.empty:
        return signs
    base = {c: sample[c].reset_index(drop=True) for c in sample.columns}
    scaled = dict(base)
    scaled[effect.column] = pd.to_numeric(base[effect.column], errors="coerce") * effect.factor
    for name, diff in _rederive(table, base, scaled, {effect.column}).items():
        if math.isfinite(diff) and diff != 0:
            signs[name] = 1 if diff > 0 else -1
    return signs


def _rederive(table: Any, base: dict[str, pd.Series], changed_columns: dict[str, pd.Series], changed: set[str]):
    """Recompute, in ``changed_columns``, the derived columns that read a changed one; name -> change of its mean."""
    from schemas.expressions import expression_names
    from schemas.spec import DerivedGenerator

    n = len(next(iter(base.values()))) if base else 0
    diffs: dict[str, float] = {}
    changed = set(changed)
    for column in table.columns:  # the spec orders a table's columns so that a column follows what it reads
        gen = column.generator
        if not isinstance(gen, DerivedGenerator) or not expression_names(gen.expression) & changed:
            continue
        try:
            from tasks.engine.evaluate import evaluate

            before = evaluate(gen.expression, base, n)
            after = evaluate(gen.expression, changed_columns, n)
            diffs[column.name] = float(_as_number(after).mean() - _as_number(before).mean())
        except Exception:  # noqa: BLE001 - an expression the sample cannot evaluate has no known direction
            continue
        changed_columns[column.name] = after
        changed.add(column.name)
    return diffs


_PROBE_ROWS = 20_000  # rows per table the direction probe copies (a sample of larger tables)
_PROBE_SHARE = 0.3  # share of the segment's rows the probe changes


def _probe_copy(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A table as the probe copies it: whole up to ``_PROBE_ROWS`` rows, else a repeatable sample."""
    rows = con.execute(f"SELECT count(*) FROM {_q(name)}").fetchone()[0]
    if rows <= _PROBE_ROWS:
        return con.execute(f"SELECT * FROM {_q(name)}").df()
    return con.execute(f"SELECT * FROM {_q(name)} USING SAMPLE reservoir({_PROBE_ROWS} ROWS) REPEATABLE (0)").df()


def probe_directions(
    spec: ChallengeSpec,
    scenario: ScenarioSpec,
    sql: str | None,
    con: duckdb.DuckDBPyConnection | None,
    labels: list[str],
    category: str | None,
) -> dict[str, float]:
    """Result column -> its relative change (the sign is its direction) when the planted effect is stronger.

    The tables the query reads are copied (a sample of a large one) and the scenario's effect is applied
    once more to a share of the rows of its segment inside its window (a scale multiplies its column, a
    category shift moves rows into its boosted category, a volume change adds or drops rows), with the
    derived columns recomputed. The query runs on both copies; a column whose value rises (on the rows
    that match by label, the rows of the shifted category when the answer has them) moves with the
    effect. So an on-time share computed as ``100 - late share``, or a 'not delivered' rate, reads the
    right way whatever the SQL's form.
    """
    from tasks.engine.scenarios import scenario_mask

    if not sql or con is None:
        return {}
    table = next((t for t in spec.tables if t.name == scenario.table), None)
    read = [t.name for t in spec.tables if re.search(rf"\b{re.escape(t.name)}\b", sql)]
    if table is None or table.name not in read:
        return {}
    try:
        frames = {name: _probe_copy(con, name) for name in read}
    except duckdb.Error:
        return {}
    frame = frames[table.name].reset_index(drop=True)
    if frame.empty:
        return {}
    columns = {c: frame[c] for c in frame.columns}
    try:
        # inside the window too: a change between periods (this year vs last) moves only then
        segment = scenario_mask(scenario, columns, len(frame))
    except Exception:  # noqa: BLE001 - a condition the copy cannot evaluate: no probe
        return {}
    rng = np.random.default_rng(0)
    pick = segment & (rng.random(len(frame)) < _PROBE_SHARE)
    if not pick.any():
        return {}
    effect = scenario.effect
    changed = dict(columns)
    if effect.kind == "volume":
        changed_frame = (
            pd.concat([frame, frame[pick]], ignore_index=True)
            if effect.factor > 1
            else frame[~pick].reset_index(drop=True)
        )
    else:
        if effect.column not in frame.columns:
            return {}
        if effect.kind == "scale":
            values = pd.to_numeric(frame[effect.column], errors="coerce").astype(float)
            changed[effect.column] = values.where(~pick, values * effect.factor)
        else:
            top = _top_category(scenario)
            values = frame[effect.column].astype(object).copy()
            if effect.multipliers[top] > 1:
                values[pick] = top
            else:
                other = values[values.astype(str) != top].mode()
                if other.empty:
                    return {}
                values[pick & (values.astype(str) == top).to_numpy()] = other.iloc[0]
            if frame[effect.column].dtype.kind in "iuf":
                values = pd.to_numeric(values, errors="coerce")
            changed[effect.column] = values
        _rederive(table, columns, changed, {effect.column})
        changed_frame = pd.DataFrame(changed)
        for name in frame.columns:  # keep each column's type, so the copy loads as the original did
            if changed_frame[name].dtype != frame[name].dtype:
                with contextlib.suppress(TypeError, ValueError):
                    changed_frame[name] = changed_frame[name].astype(frame[name].dtype)
    try:
        results = []
        for tables in (frames, frames | {table.name: changed_frame}):
            probe = sandbox(tables, spec, threads=1)
            try:
                results.append(run_query(probe, sql, label="the direction probe"))
            finally:
                probe.close()
    except Exception:  # noqa: BLE001 - a probe that cannot run gives no direction; the SQL lineage still may
        return {}
    before, after = results
    keys = [c for c in labels if c in before.columns and c in after.columns]
    if keys:
        before = before.copy()
        after = after.copy()
        for key in keys:
            before[key], after[key] = before[key].astype(str), after[key].astype(str)
        merged = before.merge(after, on=keys, suffixes=("", "__after"))
        if category is not None:
            hit = merged[keys].apply(lambda col: col.str.strip().str.lower()).eq(category.lower()).any(axis=1)
            if hit.any():
                merged = merged[hit]
    elif len(before) == len(after):
        merged = before.join(after, rsuffix="__after")
    else:
        return {}
    out: dict[str, float] = {}
    for name in before.columns:
        if name in keys or f"{name}__after" not in merged.columns:
            continue
        a = pd.to_numeric(merged[name], errors="coerce").astype(float)
        b = pd.to_numeric(merged[f"{name}__after"], errors="coerce").astype(float)
        # relative to the column's scale, not the cell's: a cell near zero (-0.2 % above the others) would
        # otherwise dwarf the segment's own move
        scale = float(a.abs().mean()) if a.notna().any() else 0.0
        change = ((b - a) / max(scale, 1e-9)).dropna()
        change = change[np.isfinite(change)]
        if len(change) and float(change.abs().max()) > 1e-9:
            # the rows the strengthened effect moves most are the ones it is about (South's storm quarter,
            # not the other quarters whose index falls as the region's average rises)
            out[name] = float(change.loc[change.abs().idxmax()])
    return out


def _as_number(values: pd.Series) -> pd.Series:
    if values.dtype == bool or values.dtype == object and values.dropna().map(type).eq(bool).all():
        return values.astype(float)
    return pd.to_numeric(values, errors="coerce").astype(float)


def measure_direction(
    name: str,
    scenario: ScenarioSpec,
    spec: ChallengeSpec,
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
    units: dict[str, str],
    on_category_rows: bool,
    signs: dict[str, int] | None = None,
) -> int | None:
    """+1 when the planted effect raises this result column, -1 when it lowers it, None when the SQL does not say.

    Read from the column's SQL lineage: a scaled column (or one derived from it) moves with the factor; a
    count moves with a volume change; the share of a shifted category (a ``CASE WHEN cause = 'X'``, or a
    row of that category) moves with its multiplier, and the share of an unboosted one falls.
    """
    effect = scenario.effect
    expression = projections.get(name, exp.column(name))
    nodes = list(_lineage(expression, aliases))
    referenced = {n.name for n in nodes if isinstance(n, exp.Column)} | {name}
    relative = units.get(name) == "%" or bool(_RELATIVE_NAME.search(name))
    if effect.kind == "scale":
        signs = signs if signs is not None else {effect.column: 1 if effect.factor > 1 else -1}
        found = {signs[c] for c in referenced if c in signs}
        return found.pop() if len(found) == 1 else None
    if effect.kind == "volume":
        counts = any(isinstance(n, exp.Count) for n in nodes) or units.get(name) == "count"
        return (1 if effect.factor > 1 else -1) if counts and (not relative or _RATE_NAME.search(name)) else None
    top = _top_category(scenario)
    boosted = effect.multipliers[top] > 1
    if on_category_rows:
        return 1 if boosted else -1
    literals = {str(n.this).lower() for n in nodes if isinstance(n, exp.Literal) and n.is_string}
    if effect.column not in referenced and not literals & {k.lower() for k in effect.multipliers}:
        return None
    multipliers = {k.lower(): v for k, v in effect.multipliers.items()}
    named = [multipliers.get(lit) for lit in literals if lit in multipliers]
    if top.lower() in literals:
        return 1 if boosted else -1
    if named:
        return 1 if max(named) > 1 else -1
    if literals and effect.column in referenced and boosted:
        # a share of categories the effect does not boost: the boosted one takes rows from them
        return -1
    return None


# --------------------------------------------------------------------------- the verdict


def check_scenario(
    spec: ChallengeSpec,
    name: str,
    frame: pd.DataFrame,
    types: list[str],
    units: dict[str, str],
    labels: list[str],
    measure: str | None,
    measured: list[dict] | None = None,
    *,
    sql: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    reading: dict | None = None,
) -> ScenarioCheck:
    """Does this result show the planted scenario ``name``?

    The rows about the scenario's segment are found by ``segment_values`` (its literals and the names
    only its rows carry); for a category shift, the rows of the shifted category. The measure is the
    result column whose SQL carries the effect (``measure_direction``), else the question's measure.
    Then, in order: the segment inside vs outside the window by period rows; by the window's own
    columns (``AVG(CASE WHEN date >= ... )`` before/after pairs); or, without periods, the segment
    against the other rows. The verdict reads the planted direction for that measure; a measure whose
    direction the SQL does not tell shows the scenario by a clear change of either sign. ``reading``,
    when given, receives the column read (``target``) and its direction (+1, -1 or None).
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
    frame = frame.reset_index(drop=True)
    kind = dict(zip(frame.columns, types, strict=True))
    numeric = _numeric_measures(list(frame.columns), types, labels)
    if not numeric:
        check.evidence = "the answer has no numeric column to compare"
        return check
    tree = _parse_sql(sql)
    aliases, projections = _sql_parts(tree)
    parts = {c: _calendar_part(projections, aliases, c) for c in labels}
    periods = [c for c in labels if _is_time(c, kind[c]) or _period_text(c, frame, projections) or parts[c]]
    segment_labels = [c for c in labels if c not in periods]
    cells = frame[segment_labels].astype(str).apply(lambda col: col.str.strip().str.lower())
    # a category shift is read on the rows of its category, when the answer has them
    category = _top_category(scenario)
    rows = np.ones(len(frame), dtype=bool)
    on_category = False
    if category is not None and segment_labels:
        hit = cells.eq(category.lower()).any(axis=1).to_numpy()
        if hit.any():
            rows, on_category = hit, True
    keys = segment_values(spec, scenario, con)
    for found in keys.values():
        found.discard((category or "").lower())
    keys = {k: v for k, v in keys.items() if v}
    in_segment = rows.copy()
    segment_text = "all rows"
    if keys:
        matched, shown_names = _segment_rows(frame, segment_labels, keys, projections, aliases)
        matched &= rows
        if matched.any():
            in_segment = matched
            segment_text = ", ".join(shown_names[:6]) + (" ..." if len(shown_names) > 6 else "")
        elif _filters_segment(tree, keys):
            segment_text = f"{', '.join(_where_literals(scenario)[:6]) or 'its segment'} (the query keeps only it)"
        else:
            segment_text = f"all rows (no row is about {', '.join(_where_literals(scenario)[:6]) or 'its segment'})"
    elif category is None and not scenario.condition.where:
        segment_text = "the whole data"
    if on_category:
        segment_text = f"{category}, {segment_text}" if segment_text != "all rows" else category
    signs = downstream_signs(spec, scenario, con)
    probed = probe_directions(spec, scenario, sql, con, labels, category if on_category else None)
    seg_cols, rest_cols = segment_columns(numeric, projections, aliases, keys)
    target, direction = _choose_target(
        scenario, spec, numeric, measure, projections, aliases, units, on_category, signs, probed, seg_cols
    )
    if target in seg_cols and segment_text.startswith("all rows"):
        segment_text = f"{target} (its segment's column)"  # the column is the segment: every row reads it
    if reading is not None:  # the caller learns which column carries the effect, and which way it moves
        reading.update(target=target, direction=direction)
    if direction is None and tree is None:
        direction = _scenario_keys(scenario)[1]  # without the SQL, the measure is taken to move with the effect
    values = pd.to_numeric(frame[target], errors="coerce").astype(float)
    unit = units.get(target)
    # 1. period rows: the segment inside vs outside the window
    windowed = scenario.condition.start is not None or scenario.condition.end is not None
    period_rows = windowed
    # a count over periods of unequal length compares per day, over the days the query keeps
    kept = _kept_days(tree)
    per_day = (
        scenario.effect.kind == "volume"
        and direction is not None
        and units.get(target) == "count"
        and not _RATE_NAME.search(target)
    )
    if per_day and kept is None:
        # the query keeps days it does not state as a range (winter months of every year): a count has no
        # fair daily rate, so read the query's own rate per period when it has one
        rates = [c for c in numeric if _RATE_NAME.search(c)]
        if rates:
            target, per_day = rates[0], False
            moved = (probed or {}).get(target)
            direction = (1 if moved > 0 else -1) if moved else _scenario_keys(scenario)[1]
            values = pd.to_numeric(frame[target], errors="coerce").astype(float)
            unit = units.get(target)
        else:
            # its period rows cannot be compared fairly; a pair of columns over the same months of two years
            # (transactions_prev_year beside transactions_last_year) still can
            period_rows = False
    for period in periods if period_rows else []:
        case_days = _case_days(projections, aliases, period)
        step = _date_step(frame[period]) if kind[period] in {"date", "datetime"} else None
        year = _calendar_year(kept, spec)
        spans = [_label_days(v, period, kind[period], step, case_days, parts[period], year) for v in frame[period]]
        inside, outside = _sides([window_share(days, scenario, spec) for days in spans])
        if not ((in_segment & inside).any() and (in_segment & outside).any()):
            continue
        rate = values
        if per_day:  # a count over periods of unequal length compares per day
            lengths = np.array([_days_in_data(_intersect(days, kept) if days else None, spec) for days in spans])
            rate = values / np.where(lengths > 0, lengths, np.nan)
        mean_in = rate[in_segment & inside].mean()
        mean_out = rate[in_segment & outside].mean()
        what = f"{findings.human(target)} per day" if per_day else findings.human(target)
        return _verdict(
            check,
            mean_in,
            mean_out,
            direction,
            f"for {segment_text}, {what} averages {format_value(mean_in, None if per_day else unit)} inside the "
            f"scenario window vs {format_value(mean_out, None if per_day else unit)} outside it",
        )
    # 2. the window's own columns: a before/after pair of conditional aggregates
    if windowed:
        pair = _window_pair(scenario, spec, numeric, projections, aliases, units, on_category, signs, probed)
        if pair is not None:
            col_in, col_out, pair_direction = pair
            mean_in = pd.to_numeric(frame.loc[in_segment, col_in], errors="coerce").astype(float).mean()
            mean_out = pd.to_numeric(frame.loc[in_segment, col_out], errors="coerce").astype(float).mean()
            if not (math.isnan(mean_in) or math.isnan(mean_out)):
                text = (
                    f"for {segment_text}, {findings.human(col_in)} (inside the scenario window) averages "
                    f"{format_value(mean_in, units.get(col_in))} vs {format_value(mean_out, units.get(col_out))} "
                    f"for {findings.human(col_out)} (outside it)"
                )
                others = rows & ~in_segment
                other_in = pd.to_numeric(frame.loc[others, col_in], errors="coerce").astype(float).mean()
                other_out = pd.to_numeric(frame.loc[others, col_out], errors="coerce").astype(float).mean()
                if others.any() and other_in > 0 and other_out > 0 and mean_out > 0:
                    # the segment's change against the other rows' change over the same periods
                    check = _verdict(check, mean_in / mean_out, other_in / other_out, pair_direction, text)
                    check.evidence = (
                        f"{text} ({100 * (mean_in / mean_out - 1):+.0f}%), while the other {int(others.sum())} rows "
                        f"change by {100 * (other_in / other_out - 1):+.0f}%"
                    )
                    return check
                return _verdict(check, mean_in, mean_out, pair_direction, text)
    # 3. the segment's column against the rest's column (women's average salary beside men's)
    if target in seg_cols and rest_cols:
        other = max(rest_cols, key=lambda c: len(set(c.split("_")) & set(target.split("_"))))
        mean_seg = values[rows].mean()
        mean_rest = pd.to_numeric(frame.loc[rows, other], errors="coerce").astype(float).mean()
        return _verdict(
            check,
            mean_seg,
            mean_rest,
            direction,
            f"{findings.human(target)} averages {format_value(mean_seg, unit)} vs "
            f"{format_value(mean_rest, units.get(other))} for {findings.human(other)}",
        )
    # 4. no periods: the segment against the other rows (of the same category, for a category shift)
    if not keys or segment_text.startswith("all rows"):
        check.evidence = (
            f"no row of the answer is about {', '.join(_where_literals(scenario)[:6]) or 'its segment'}"
            if keys
            else "the answer has neither a period inside and outside the window nor a segment to compare"
        )
        return check
    segment_value = values[in_segment].mean()
    others = values[rows & ~in_segment]
    if others.notna().sum() == 0:
        check.evidence = f"the answer only has rows for {segment_text}; nothing to compare with"
        return check
    return _extreme_verdict(check, segment_text, target, unit, segment_value, others, direction)


def _period_text(column: str, frame: pd.DataFrame, projections: dict[str, exp.Expression]) -> bool:
    """A text label that is a period: a CASE on dates in the SQL, or 'YYYY-MM' / 'YYYY-Qn' values."""
    if frame[column].dtype.kind in "iufbM":
        return False
    if projections.get(column) is not None and any(
        isinstance(node, exp.Case) and _case_labels(node) for node in projections[column].walk()
    ):
        return True
    sample = frame[column].dropna().astype(str).head(50)
    return bool(len(sample)) and sample.str.fullmatch(r"(?:19|20)\d{2}(?:[-/ ]?(?:Q[1-4]|\d{1,2}))?", case=False).all()


def _case_days(projections: dict[str, exp.Expression], aliases: dict[str, exp.Expression], column: str) -> dict:
    expression = projections.get(column)
    if expression is None:
        return {}
    for node in _lineage(expression, aliases):
        if isinstance(node, exp.Case):
            days = _case_labels(node)
            if days:
                return days
    return {}


def _choose_target(
    scenario: ScenarioSpec,
    spec: ChallengeSpec,
    numeric: list[str],
    measure: str | None,
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
    units: dict[str, str],
    on_category: bool,
    signs: dict[str, int] | None = None,
    probed: dict[str, float] | None = None,
    seg_cols: list[str] | None = None,
) -> tuple[str, int | None]:
    """The result column that carries the effect, and its direction; else the relative or main measure."""
    relative = [c for c in numeric if units.get(c) == "%" or _RELATIVE_NAME.search(c)]
    table_columns = {c.name for t in spec.tables for c in t.columns}
    largest = max((abs(v) for v in (probed or {}).values() if v), default=0.0)
    scored = []
    for position, column in enumerate(numeric):
        moved = (probed or {}).get(column)
        direction = (1 if moved > 0 else -1) if moved else None
        direction = direction or measure_direction(
            column, scenario, spec, projections, aliases, units, on_category, signs
        )
        is_relative = column in relative
        # a volume shows in counts; a scale or a shift in rates, shares and means
        if scenario.effect.kind == "volume":  # a rate per period first, then a count (compared per day)
            prefers = 2 if _RATE_NAME.search(column) else int(not is_relative)
        else:
            prefers = int(is_relative)
        if _CHANGE_NAME.search(column):
            prefers = -1  # a month-over-month change is not where an effect's size shows
        own = column in (seg_cols or [])
        size = abs(moved or 0.0)
        scored.append(
            (
                direction is not None,
                own,
                # a column the strengthened effect leaves (nearly) unmoved cannot show it (tickets per day under
                # a price cut), however pure its formula
                not largest or size >= 0.25 * largest,
                _pure(column, projections, aliases, signs, table_columns),
                # the columns the strengthened effect moves (nearly) most show it best; among those a rate beats
                # its count (matched -7.8% beside match_rate_pct -7.5% moved alike: the rate carries a scale)
                size >= 0.75 * largest,
                prefers,
                size,
                column == measure,
                -position,
                column,
                direction,
            )
        )
    best = max(scored)
    if best[0] or best[1]:  # a direction, or the segment's own column
        return best[-2], best[-1]
    target = _fallback_target(
        scenario, spec, numeric, measure, relative, projections, aliases, signs, table_columns, units
    )
    return target, None


def _derived_from(spec: ChallengeSpec, scenario: ScenarioSpec) -> set[str]:
    """The effect's column and every column of its table derived from it, directly or through others."""
    from schemas.dependencies import column_dependencies
    from schemas.spec import DerivedGenerator

    column = getattr(scenario.effect, "column", None)
    table = next((t for t in spec.tables if t.name == scenario.table), None)
    if column is None or table is None:
        return set()
    found = {column}
    derived = [c for c in table.columns if isinstance(c.generator, DerivedGenerator)]
    grew = True
    while grew:
        grew = False
        for c in derived:
            if c.name not in found and column_dependencies(c.generator) & found:
                found.add(c.name)
                grew = True
    return found


def _fallback_target(
    scenario: ScenarioSpec,
    spec: ChallengeSpec,
    numeric: list[str],
    measure: str | None,
    relative: list[str],
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
    signs: dict[str, int] | None,
    table_columns: set[str],
    units: dict[str, str],
) -> str:
    """No column's direction is known: a volume shows in counts and rates per period, a scale or a shift in the
    relative columns computed from what it changes (avg_ticket under a price cut, not tickets per day); a
    month-over-month change column is never it."""
    levels = [c for c in numeric if not _CHANGE_NAME.search(c)] or numeric
    if scenario.effect.kind == "volume":
        rates = [c for c in levels if _RATE_NAME.search(c)]
        counts = [c for c in levels if c not in relative]
        return (rates or counts or levels)[0]
    moved = set(signs or {}) | _derived_from(spec, scenario)

    def reads_moved(column: str) -> bool:
        return bool(_table_columns_read(column, projections, aliases, table_columns) & moved)

    table = next((t for t in spec.tables if t.name == scenario.table), None)
    effect_column = table.column(getattr(scenario.effect, "column", "")) if table else None
    unit = effect_column.unit if effect_column is not None else None
    # what the effect changes, else a relative column in its unit (a price cut shows in the average ticket)
    ranked = (
        [c for c in levels if c in relative and reads_moved(c)]
        or [c for c in levels if c in relative and unit and units.get(c) == unit]
        or [c for c in levels if c in relative]
    )
    return ranked[0] if ranked else (measure if measure in levels else levels[0])


def _pure(
    column: str,
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
    signs: dict | None,
    table_columns: set[str],
) -> bool:
    """Whether a result column is computed from the effect's columns alone (premium, not premium and claims)."""
    if not signs:
        return False
    read = _table_columns_read(column, projections, aliases, table_columns)
    return bool(read) and read <= set(signs)


def _table_columns_read(
    column: str, projections: dict[str, exp.Expression], aliases: dict[str, exp.Expression], table_columns: set[str]
) -> set[str]:
    """The spec columns a result column is computed from, followed through aliases and CTEs."""
    expression = projections.get(column)
    if expression is None:
        return set()
    return {n.name for n in _lineage(expression, aliases) if isinstance(n, exp.Column)} & table_columns


def _window_pair(
    scenario: ScenarioSpec,
    spec: ChallengeSpec,
    numeric: list[str],
    projections: dict[str, exp.Expression],
    aliases: dict[str, exp.Expression],
    units: dict[str, str],
    on_category: bool,
    signs: dict[str, int] | None = None,
    probed: dict[str, float] | None = None,
) -> tuple[str, str, int | None] | None:
    """(column inside the window, its counterpart outside it, direction): ``avg_price_after``/``avg_price_before``."""
    shares = {c: window_share(_column_days(c, projections, aliases), scenario, spec) for c in numeric}
    inside = [c for c, s in shares.items() if s is not None and s >= 0.5]
    inside = inside or [c for c, s in shares.items() if s is not None and s > 0]  # a year the window half covers
    outside = [c for c, s in shares.items() if s == 0]
    best = None
    for a in inside:
        for b in outside:
            words_a, words_b = set(re.split(r"_+", a.lower())), set(re.split(r"_+", b.lower()))
            overlap = len(words_a & words_b)
            moved = (probed or {}).get(a)
            direction = (1 if moved > 0 else -1) if moved else None
            direction = direction or measure_direction(
                a, scenario, spec, projections, aliases, units, on_category, signs
            )
            score = (direction is not None, overlap, -numeric.index(a))
            if best is None or score > best[0]:
                best = (score, a, b, direction)
    return None if best is None else (best[1], best[2], best[3])


def _verdict(check: ScenarioCheck, inside: float, outside: float, direction: int | None, text: str) -> ScenarioCheck:
    """Shown when the change runs the planted way (or, direction unknown, is clear either way)."""
    if math.isnan(inside) or math.isnan(outside):
        check.evidence = text
        return check
    change = inside / outside - 1 if outside else math.inf if inside else 0.0
    if direction is None:
        check.shown = bool(abs(change) >= _UNKNOWN_CHANGE_MIN)
    else:
        check.shown = bool(inside > outside) if direction > 0 else bool(inside < outside)
    change_text = f" ({100 * change:+.0f}%)" if math.isfinite(change) else ""
    check.evidence = text + change_text
    return check


def _extreme_verdict(
    check: ScenarioCheck,
    segment_text: str,
    target: str,
    unit: str | None,
    segment_value: float,
    others: pd.Series,
    direction: int | None,
) -> ScenarioCheck:
    """The segment against the other rows: the extreme in the planted direction, or beyond their average."""
    count = int(others.notna().sum())
    mean = float(others.mean())
    if direction is None:
        direction = 1 if segment_value >= mean else -1
        unknown = True
    else:
        unknown = False
    extreme = others.max() if direction > 0 else others.min()
    word = "highest" if direction > 0 else "lowest"
    beyond_extreme = bool(segment_value > extreme) if direction > 0 else bool(segment_value < extreme)
    beyond_mean = bool(segment_value > mean) if direction > 0 else bool(segment_value < mean)
    if unknown:
        beyond_mean = beyond_mean and mean != 0 and abs(segment_value / mean - 1) >= _UNKNOWN_CHANGE_MIN
    check.shown = bool(beyond_extreme or beyond_mean)
    detail = (
        f"{format_value(segment_value, unit)}; the {word} of the other {count} rows is {format_value(extreme, unit)}"
    )
    if beyond_extreme:
        check.evidence = f"{segment_text} has the {word} {findings.human(target)} ({detail})"
    elif beyond_mean:
        comparative = "higher" if direction > 0 else "lower"
        check.evidence = (
            f"{segment_text} has a {comparative} {findings.human(target)} than the other {count} rows on average "
            f"({format_value(segment_value, unit)} vs {format_value(mean, unit)}; the {word} of them is "
            f"{format_value(extreme, unit)})"
        )
    else:
        check.evidence = f"{segment_text} does not have the {word} {findings.human(target)} ({detail})"
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
