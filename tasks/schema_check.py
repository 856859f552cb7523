"""Phase-2 validation: can this schema answer every question, and is it sound?

Contract: ``validate_schema(spec) -> SchemaValidation``. Each question's SQL is parsed (sqlglot,
DuckDB dialect) and resolved against the spec to find the ``table.column`` pairs it reads, then run
on zero-row tables built from the spec in the sandboxed DuckDB (no file, extension or network
access). Structural checks cover keys, the foreign-key graph (acyclic, connected), generator/type
coherence, and scenarios and questions that refer to existing columns and the time window. The graph
counts foreign keys, ``aggregate_of`` and a date dimension (a table keyed by one ``date_sequence``
column), which joins every table with a date column.

Score (0-10), see ``SCORE_FORMULA``: 7 points for the share of answerable questions, 3 points for
structural health, which loses 0.5 per structural problem (never below 0). A sound blueprint
scores 10. Recommendations never lower the score: they say what would make the challenge better.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from schemas.checks import connected_components, find_cycle
from schemas.results import QuestionCheck, SchemaValidation
from schemas.spec import (
    CategoricalGenerator,
    ChallengeSpec,
    ConditionalGenerator,
    ForeignKeyGenerator,
    LookupGenerator,
    QuestionSpec,
    TableSpec,
)
from tasks.sql_sandbox import SqlRefused, empty_tables, run_query, sandbox

SCORE_FORMULA = (
    "score = 7 x (answerable questions / questions) + 3 x max(0, 1 - 0.5 x structural problems), "
    "rounded to one decimal; no questions counts as 0 answerable"
)

_DUCKDB_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DOUBLE",
    "string": "VARCHAR",
    "category": "VARCHAR",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
_FAMILY = {"int": "number", "float": "number", "decimal": "number", "category": "string"}


@dataclass(frozen=True)
class SqlReferences:
    """What a query reads: base tables, and ``table.column`` pairs (bare names when unresolved)."""

    tables: list[str]
    columns: list[str]


def sql_references(sql: str, spec: ChallengeSpec | None = None) -> tuple[list[str], list[str]]:
    """Tables and columns a query reads (CTE names excluded).

    Args:
        sql: one query, DuckDB dialect.
        spec: when given, columns are resolved to ``table.column`` through aliases, CTEs and
            subqueries; without it (or when resolution fails) they are bare column names.

    Returns:
        (tables, columns), each sorted.

    Raises:
        sqlglot.errors.ParseError: the SQL does not parse.
    """
    refs = resolve_references(sql, spec)
    return refs.tables, refs.columns


def resolve_references(sql: str, spec: ChallengeSpec | None = None) -> SqlReferences:
    """Like ``sql_references``, as a small record."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = sorted({t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes})
    if spec is not None:
        resolved = _resolved_columns(tree, spec)
        if resolved is not None:
            return SqlReferences(tables, resolved)
    return SqlReferences(tables, sorted({c.name for c in tree.find_all(exp.Column) if c.name}))


def _resolved_columns(tree: exp.Expression, spec: ChallengeSpec) -> list[str] | None:
    schema = {t.name: {c.name: _DUCKDB_TYPES[c.type] for c in t.columns} for t in spec.tables}
    try:
        qualified = qualify(tree.copy(), schema=schema, dialect="duckdb", validate_qualify_columns=False)
        found: set[str] = set()
        for scope in traverse_scope(qualified):
            for column in scope.columns:
                source = scope.sources.get(column.table)
                if isinstance(source, exp.Table) and source.name in schema and column.name in schema[source.name]:
                    found.add(f"{source.name}.{column.name}")
        return sorted(found)
    except (sqlglot.errors.SqlglotError, KeyError, ValueError):
        return None


def check_question(con: duckdb.DuckDBPyConnection, spec: ChallengeSpec, question: QuestionSpec) -> QuestionCheck:
    """Parse, resolve and run one question on the sandbox of empty tables.

    Returns:
        The verdict: answerable or not, the first error line, tables and ``table.column`` pairs read,
        and the result's column names.
    """
    try:
        refs = resolve_references(question.sql, spec)
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0]
        return QuestionCheck(question_id=question.id, answerable=False, error=f"SQL does not parse: {first}")
    base = {"question_id": question.id, "tables": refs.tables, "columns": refs.columns}
    unknown = [t for t in refs.tables if t not in spec.table_names]
    if unknown:
        return QuestionCheck(
            **base,
            answerable=False,
            error=f"reads unknown table(s) {', '.join(unknown)} (tables are: {', '.join(spec.table_names)})",
        )
    try:
        result = run_query(con, question.sql, label=question.id)
    except SqlRefused as exc:
        return QuestionCheck(**base, answerable=False, error=str(exc))
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        return QuestionCheck(**base, answerable=False, error=first)
    return QuestionCheck(**base, answerable=True, result_columns=[str(c) for c in result.columns])


# --------------------------------------------------------------------------- structural checks


def generation_problems(spec: ChallengeSpec) -> list[str]:
    """What the engine's plan refuses before any row exists, one problem per line (empty when it plans).

    ``resolve_plan`` runs ``tasks.engine.feasibility`` (a unique column over too few values, bounds
    no draw meets, row counts a cardinality cannot meet); an approved spec must pass it, or phase 3
    or 4 would end the run and lose the approvals.
    """
    from tasks.engine.planner import resolve_plan

    try:
        resolve_plan(spec)
    except Exception as exc:  # noqa: BLE001 - any refusal of the plan is a problem to show, not a crash
        text = str(exc)
        numbered = re.findall(r"^\s+\d+\. (.+)$", text, flags=re.MULTILINE)  # feasibility lists them "  1. ..."
        return [f"cannot be generated: {p}" for p in numbered] or [f"cannot be generated: {text}"]
    return []


def structural_problems(spec: ChallengeSpec) -> list[str]:
    """Problems that make the schema unsound, each as ``location: what; how to fix``."""
    problems: list[str] = []
    for check in (_check_keys, _check_graph, _check_types, _check_scenarios, _check_question_links):
        problems.extend(check(spec))
    return problems


def _check_keys(spec: ChallengeSpec) -> list[str]:
    problems = []
    for table in spec.tables:
        if table.role == "aggregate":
            continue
        if not table.primary_key:
            problems.append(f"tables.{table.name}: no primary key; set primary_key so rows can be told apart")
        elif len(table.primary_key) == 1:
            column = table.column(table.primary_key[0])
            if column is not None and not (column.unique or column.generator.kind in ("sequence", "date_sequence")):
                problems.append(
                    f"tables.{table.name}.columns.{column.name}: primary key is neither unique nor a sequence; "
                    "set unique: true or use a sequence generator"
                )
    return problems


def _table_edges(spec: ChallengeSpec) -> dict[str, set[str]]:
    graph = {t.name: set() for t in spec.tables}
    for rel in spec.relationships:
        if rel.parent_table in graph:
            graph[rel.child_table].add(rel.parent_table)
    for table in spec.tables:
        if table.aggregate_of in graph:
            graph[table.name].add(table.aggregate_of)
    return graph


def _date_dimension_edges(spec: ChallengeSpec) -> dict[str, set[str]]:
    """A date dimension (one date_sequence key) joins every table with a date column, as in a star schema."""
    edges: dict[str, set[str]] = {t.name: set() for t in spec.tables}
    for dim in spec.tables:
        key = dim.column(dim.primary_key[0]) if len(dim.primary_key) == 1 else None
        if key is None or key.generator.kind != "date_sequence":
            continue
        for table in spec.tables:
            if table.name != dim.name and any(c.type in ("date", "datetime") for c in table.columns):
                edges[table.name].add(dim.name)
    return edges


def _check_graph(spec: ChallengeSpec) -> list[str]:
    graph = _table_edges(spec)
    problems = []
    cycle = find_cycle(graph)
    if cycle:
        problems.append(f"tables: foreign keys form a cycle ({' -> '.join(cycle)}); drop or reverse one key")
    dates = _date_dimension_edges(spec)
    components = connected_components({name: graph[name] | dates[name] for name in graph})
    if len(components) > 1:
        listed = "; ".join(", ".join(sorted(c)) for c in components)
        problems.append(
            f"tables: the foreign-key graph falls apart into {len(components)} groups ({listed}); "
            "link each group to the rest with a foreign key, or drop the tables no question joins"
        )
    return problems


def _family(column_type: str) -> str:
    return _FAMILY.get(column_type, column_type)


def _value_fits(value: object, column_type: str) -> bool:
    if column_type == "bool":
        return isinstance(value, bool)
    if column_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type in ("float", "decimal"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if column_type in ("date", "datetime"):
        return isinstance(value, str) and _is_iso_date(value)
    return True  # strings and categories accept any value (it is written as text)


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _categoricals(gen: object) -> list[CategoricalGenerator]:
    if isinstance(gen, CategoricalGenerator):
        return [gen]
    if isinstance(gen, ConditionalGenerator):
        found = [g for case in gen.cases.values() for g in _categoricals(case)]
        return found + (_categoricals(gen.default) if gen.default is not None else [])
    return []


def _check_types(spec: ChallengeSpec) -> list[str]:
    problems = []
    for table in spec.tables:
        for column in table.columns:
            path = f"tables.{table.name}.columns.{column.name}"
            gen = column.generator
            if isinstance(gen, (ForeignKeyGenerator, LookupGenerator)):
                source = _source_column(spec, table, gen)
                if source is not None and _family(source[1].type) != _family(column.type):
                    problems.append(
                        f"{path}: type {column.type} does not match {source[0]} ({source[1].type}); "
                        "use the same type on both sides"
                    )
            for categorical in _categoricals(gen):
                bad = [v for v in categorical.values if not _value_fits(v, column.type)]
                if bad:
                    problems.append(
                        f"{path}: categorical values {bad[:3]} do not fit type {column.type}; "
                        f"change the values or the column type"
                    )
            if column.type == "int" and getattr(gen, "decimals", None):
                problems.append(f"{path}: an int column with decimals={gen.decimals}; drop decimals or use decimal")
    return problems


def _source_column(spec: ChallengeSpec, table: TableSpec, gen: ForeignKeyGenerator | LookupGenerator):
    if isinstance(gen, ForeignKeyGenerator):
        if gen.parent_table not in spec.table_names:
            return None
        column = spec.table(gen.parent_table).column(gen.parent_column)
        return (gen.references, column) if column is not None else None
    via = table.column(gen.via)
    if via is None or not isinstance(via.generator, ForeignKeyGenerator):
        return None
    if via.generator.parent_table not in spec.table_names:
        return None
    column = spec.table(via.generator.parent_table).column(gen.column)
    return (f"{via.generator.parent_table}.{gen.column}", column) if column is not None else None


def _check_scenarios(spec: ChallengeSpec) -> list[str]:
    window = spec.challenge.time_window
    problems = []
    for scenario in spec.scenarios:
        cond = scenario.condition
        path = f"scenarios.{scenario.name}.condition"
        if cond.start and cond.start > window.end or cond.end and cond.end < window.start:
            problems.append(
                f"{path}: window {cond.start} to {cond.end} lies outside the challenge's time window "
                f"{window.start} to {window.end}; move it inside so the data can show it"
            )
    return problems


def _check_question_links(spec: ChallengeSpec) -> list[str]:
    problems = []
    if not spec.questions:
        problems.append("questions: none; a challenge asks 8-12 questions")
    return problems


# --------------------------------------------------------------------------- recommendations and score


def recommendations(spec: ChallengeSpec, checks: list[QuestionCheck]) -> list[str]:
    """Concrete changes that would make the challenge better (they do not lower the score)."""
    notes = [f"fix question {c.question_id}: {c.error}" for c in checks if not c.answerable]
    used = {t for c in checks for t in c.tables}
    for table in spec.tables:
        if table.name not in used:
            notes.append(f"table '{table.name}' is not used by any question; add a question that needs it or drop it")
    linked = {q.scenario for q in spec.questions if q.scenario}
    for scenario in spec.scenarios:
        if scenario.name not in linked:
            notes.append(f"scenario '{scenario.name}' has no question that reveals it; link one with 'scenario:'")
    by_id = {c.question_id: c for c in checks}
    for question in spec.questions:
        check = by_id.get(question.id)
        if not question.scenario or check is None or not check.answerable:
            continue
        scenario = next((s for s in spec.scenarios if s.name == question.scenario), None)
        if scenario is not None and scenario.table not in check.tables:
            notes.append(
                f"question {question.id} is linked to scenario '{scenario.name}' but does not read "
                f"'{scenario.table}', where the scenario is planted; query that table"
            )
        if question.answer_shape == "scalar" and len(check.result_columns) > 2:
            notes.append(
                f"question {question.id} is a scalar answer but returns {len(check.result_columns)} columns; "
                "set answer_shape: table or select one value"
            )
    if spec.questions and len(spec.questions) < 8:
        notes.append(f"only {len(spec.questions)} questions; a challenge usually asks 8-12")
    return notes


def score(answerable: int, total: int, problems: int) -> float:
    """The documented score: see ``SCORE_FORMULA``."""
    share = answerable / total if total else 0.0
    return round(7 * share + 3 * max(0.0, 1 - 0.5 * problems), 1)


def validate_schema(spec: ChallengeSpec) -> SchemaValidation:
    """Check every question against empty tables of the spec and score the schema 0-10.

    Args:
        spec: a validated challenge spec.

    Returns:
        Per-question verdicts, structural problems, recommendations, the score and its formula.
    """
    con = sandbox(empty_tables(spec))
    try:
        checks = [check_question(con, spec, q) for q in spec.questions]
    finally:
        con.close()
    # the engine's own feasibility (unique domains, bounds, cardinalities): refused here, before approval
    problems = structural_problems(spec) + generation_problems(spec)
    return SchemaValidation(
        score=score(sum(c.answerable for c in checks), len(checks), len(problems)),
        questions=checks,
        problems=problems,
        recommendations=recommendations(spec, checks),
        formula=SCORE_FORMULA,
    )
