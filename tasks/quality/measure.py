"""Compute every check's metric: batched scans in the sandboxed DuckDB, plus vectorised pandas recomputes.

Row predicates and aggregates of one table and category share one scan; unexpected-row queries
run as ``count(*)``; examples are fetched only for checks that fail. Nothing here decides pass or
fail: GX does, on the metrics (see ``tasks.quality.gx_suites``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import duckdb
import numpy as np
import pandas as pd

from schemas.results import Answer
from schemas.spec import ChallengeSpec, QuestionSpec
from tasks.answers import answer_question
from tasks.engine.evaluate import evaluate
from tasks.engine.messiness import row_keys
from tasks.quality.categories.common import Schema, q
from tasks.quality.categories.story import scenario_measures
from tasks.quality.checks import Check, Measured
from tasks.sql_sandbox import run_query

EXAMPLES = 3


class MeasureContext:
    """What a Python measure may use: the sandbox connection, the frames and the schema.

    It also holds, computed once per run, the planted scenarios' measured sizes and every question's
    answer as the answer key writes it (``tasks.answers.answer_question``), for the story checks.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame], schema: Schema):
        self.con = con
        self.frames = frames
        self.schema = schema
        self._answers: dict[str, Future] = {}
        self._scenarios: Future | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start_questions(self, questions: list[QuestionSpec]) -> None:
        """Measure the scenarios, then run the questions on a second cursor while the other checks run.

        DuckDB releases the GIL while it runs a query, so the questions overlap the Python parts of the
        validation (GX import and run, example rows); ``question`` then only waits for its result.
        """
        spec = self.schema.spec
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="quality-questions")
        self._scenarios = self._pool.submit(scenario_measures, spec, self.frames)
        if questions:
            cursor = self.con.cursor()
            for question in questions:
                self._answers[question.id] = self._pool.submit(_answer, cursor, spec, question, self._scenarios)
            self._pool.submit(cursor.close)
        self._pool.shutdown(wait=False)

    def close(self) -> None:
        """Wait for questions still running (the connection must outlive them)."""
        for future in self._answers.values():
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def count(self, table: str, predicate: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {q(table)} WHERE {predicate}").fetchone()[0])

    def examples(self, sql: str) -> tuple[str, ...]:
        # ordered: a scan on several threads returns matching rows in any order, and the report must not vary
        rows = self.con.execute(f"SELECT * FROM ({sql}) ORDER BY ALL LIMIT {EXAMPLES}").fetchall()
        return tuple(str(r[0]) for r in rows)

    def recompute(self, table: str, column: str, expression: str) -> Measured:
        """Rows where the stored value differs from the expression recomputed on the same row."""
        frame = self.frames[table]
        try:
            expected = evaluate(expression, {c: frame[c] for c in frame.columns}, len(frame))
        except Exception as exc:  # noqa: BLE001 - a value that cannot be recomputed is the finding itself
            return Measured(len(frame), len(frame), (f"cannot recompute: {str(exc).splitlines()[0]}",))
        actual = frame[column].reset_index(drop=True)
        bad = _differs(actual, expected)
        if self.schema.spec.table(table).column(column).type in ("int", "float", "decimal"):
            # a value that is not a number at all is schema conformity's finding (its type), not this rule's
            bad &= ~(actual.notna() & pd.to_numeric(actual, errors="coerce").isna()).to_numpy()
        return self._rows(table, frame, bad, lambda i: f"{column}={actual.iloc[i]}, expected {expected.iloc[i]}")

    def rollup(self, table: str, column: str, key: str, gen) -> Measured:
        """Rows where the parent's value differs from the aggregate of its children."""
        parent, child = self.frames[table], self.frames[gen.table]
        try:
            if gen.function == "count":
                grouped = child.groupby(gen.via).size()
            else:
                values = evaluate(gen.expression, {c: child[c] for c in child.columns}, len(child))
                grouped = pd.to_numeric(values, errors="coerce").groupby(child[gen.via].to_numpy()).agg(gen.function)
        except Exception as exc:  # noqa: BLE001
            return Measured(len(parent), len(parent), (f"cannot recompute: {str(exc).splitlines()[0]}",))
        expected = parent[key].map(grouped).reset_index(drop=True)
        if gen.function in ("sum", "count"):
            expected = expected.fillna(0)
        actual = parent[column].reset_index(drop=True)
        bad = _differs(actual, expected, tolerance=0.011)
        return self._rows(table, parent, bad, lambda i: f"{column}={actual.iloc[i]}, children give {expected.iloc[i]}")

    def question(self, question: QuestionSpec) -> Measured:
        return self._result(question)[0]

    def answer(self, question_id: str) -> Answer | None:
        """The answer key's answer to a question (None when it could not be built)."""
        question = next((q for q in self.schema.spec.questions if q.id == question_id), None)
        return None if question is None else self._result(question)[1]

    def scenario(self, name: str) -> dict | None:
        """A scenario's measured size (``tasks.quality.categories.story.scenario_measures``)."""
        if self._scenarios is None or self._scenarios.cancelled():
            self._scenarios = _done(scenario_measures(self.schema.spec, self.frames))
        return next((s for s in self._scenarios.result() if s["scenario"] == name), None)

    def _result(self, question: QuestionSpec) -> tuple[Measured, Answer | None]:
        started = self._answers.get(question.id)
        if started is None or started.cancelled():
            if self._scenarios is None or self._scenarios.cancelled():
                self._scenarios = _done(scenario_measures(self.schema.spec, self.frames))
            started = self._answers[question.id] = _done(_answer(self.con, self.schema.spec, question, self._scenarios))
        return started.result()

    def _rows(self, table: str, frame: pd.DataFrame, bad: np.ndarray, describe) -> Measured:
        count = int(bad.sum())
        if not count:
            return Measured(0)
        where = np.flatnonzero(bad)[:EXAMPLES]
        keys = row_keys(frame.iloc[where], self.schema.spec.table(table)).tolist()
        return Measured(count, count, tuple(f"{k}: {describe(i)}" for k, i in zip(keys, where, strict=True)))


def _done(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _answer(
    con: duckdb.DuckDBPyConnection, spec: ChallengeSpec, question: QuestionSpec, scenarios: Future
) -> tuple[Measured, Answer | None]:
    """The non-empty metric of a question and its answer as the answer key writes it (one run of its SQL)."""
    try:
        answer = answer_question(spec, con, question, scenarios.result())
    except Exception:  # noqa: BLE001 - the key cannot describe this result: the bare query still measures it
        answer = None
    if answer is not None and answer.error:
        return Measured(0, 1, (answer.error,)), answer
    if answer is not None:
        rows = answer.row_count
        return Measured(rows, 0 if rows else 1, () if rows else ("no rows",)), answer
    try:
        result = run_query(con, question.sql, label=question.id)
    except Exception as exc:  # noqa: BLE001 - the error is the finding
        return Measured(0, 1, (f"{type(exc).__name__}: {str(exc).splitlines()[0]}",)), None
    return Measured(len(result), 0 if len(result) else 1, () if len(result) else ("no rows",)), None


def _differs(actual: pd.Series, expected: pd.Series, tolerance: float = 0.006) -> np.ndarray:
    both = actual.notna().to_numpy() & expected.notna().to_numpy()
    numeric = [pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in (actual, expected)]
    if any(numeric):  # one side numeric: compare as numbers (text that does not parse differs)
        a_num, e_num = pd.to_numeric(actual, errors="coerce"), pd.to_numeric(expected, errors="coerce")
        diff = np.abs(a_num.astype("float64").to_numpy() - e_num.astype("float64").to_numpy())
        with np.errstate(invalid="ignore"):
            return both & ~(diff <= tolerance + 1e-9 * np.abs(e_num.astype("float64").to_numpy()))
    if pd.api.types.is_datetime64_any_dtype(actual) or pd.api.types.is_datetime64_any_dtype(expected):
        a, e = pd.to_datetime(actual, errors="coerce"), pd.to_datetime(expected, errors="coerce")
        return both & (a != e).to_numpy()
    return both & (actual.astype(str).to_numpy() != expected.astype(str).to_numpy())


def measure_checks(checks: list[Check], ctx: MeasureContext) -> tuple[dict[str, Measured], dict[str, float]]:
    """Every check's metric (without examples for rows/query checks) and the seconds per category."""
    results: dict[str, Measured] = {}
    seconds: dict[str, float] = defaultdict(float)
    batches: dict[tuple[str, str], list[Check]] = defaultdict(list)
    for check in checks:
        if check.kind in ("rows", "aggregate"):
            batches[(check.category, check.table)].append(check)
    for (category, table), batch in batches.items():
        started = time.perf_counter()
        exprs = [
            f"count(*) FILTER (WHERE coalesce({c.sql}, FALSE))" if c.kind == "rows" else f"({c.sql})" for c in batch
        ]
        values = ctx.con.execute(f"SELECT {', '.join(exprs)} FROM {q(table)}").fetchone()
        for check, value in zip(batch, values, strict=True):
            if check.kind == "rows":
                results[check.id] = Measured(int(value), int(value))
            else:
                results[check.id] = Measured(None if value is None else float(value))
        seconds[category] += time.perf_counter() - started
    for check in checks:
        if check.kind in ("rows", "aggregate"):
            continue
        started = time.perf_counter()
        if check.kind == "query":
            extra = "sum(extra)" if check.category == "uniqueness" else "count(*)"
            value = ctx.con.execute(f"SELECT coalesce({extra}, 0) FROM ({check.sql})").fetchone()[0]
            results[check.id] = Measured(int(value), int(value))
        else:
            results[check.id] = check.python(ctx)
        seconds[check.category] += time.perf_counter() - started
    return results, dict(seconds)


def add_examples(check: Check, measured: Measured, ctx: MeasureContext) -> Measured:
    """The same metric with a few example rows, for a check that failed."""
    if measured.examples:
        return measured
    if check.kind == "rows":
        sql = f"SELECT {check.example} FROM {q(check.table)} WHERE coalesce({check.sql}, FALSE)"
    elif check.kind == "query":
        sql = check.sql
    elif check.kind == "aggregate":
        shown = "NULL" if measured.observed is None else f"{float(measured.observed):.6g}"
        return Measured(measured.observed, measured.unexpected, (f"{check.column} {check.rule} = {shown}",))
    else:
        return measured
    return Measured(measured.observed, measured.unexpected, ctx.examples(sql), measured.note)
