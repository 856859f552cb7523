"""Phase 3: a small preview from the same engine and seed as the full run, with its checks.

The preview caps every table at a few dozen rows (so foreign keys still point at real parents),
checks key integrity and types, and runs every question's SQL on it.
"""

from __future__ import annotations

import pandas as pd

from schemas.results import PreviewCheck, QuestionCheck
from schemas.spec import ChallengeSpec
from tasks.engine import generate_dataset
from tasks.engine.types import to_arrow
from tasks.sql_sandbox import run_query, sandbox


def make_preview(spec: ChallengeSpec, rows: int = 20) -> tuple[dict[str, pd.DataFrame], PreviewCheck]:
    """Preview tables of at most ``rows`` rows each, and their checks."""
    tables = generate_dataset(spec, row_cap=rows)
    return tables, check_preview(spec, tables)


def integrity_problems(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Foreign keys that point nowhere and primary keys that repeat."""
    problems = []
    for rel in spec.relationships:
        child = tables[rel.child_table][rel.child_column].dropna()
        parents = set(tables[rel.parent_table][rel.parent_column].dropna())
        orphans = child[~child.isin(parents)]
        if len(orphans):
            problems.append(
                f"{rel.child_table}.{rel.child_column}: {len(orphans)} value(s) with no parent in "
                f"{rel.parent_table}.{rel.parent_column}, e.g. {orphans.iloc[0]!r}"
            )
    for table in spec.tables:
        if table.primary_key:
            dupes = tables[table.name].duplicated(subset=table.primary_key).sum()
            if dupes:
                problems.append(
                    f"{table.name}: {dupes} repeated primary key value(s) in {', '.join(table.primary_key)}"
                )
    return problems


def type_problems(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Columns whose values do not convert to the spec's type."""
    problems = []
    for table in spec.tables:
        try:
            to_arrow(tables[table.name], table)
        except Exception as exc:  # noqa: BLE001 - Arrow names the bad column in its message
            problems.append(f"{table.name}: values do not fit the declared types ({str(exc).splitlines()[0]})")
    return problems


def check_preview(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> PreviewCheck:
    """The preview checks on tables made elsewhere (e.g. sampled from a model learned from a sample)."""
    problems = integrity_problems(spec, tables) + type_problems(spec, tables)
    con = sandbox(tables, spec)
    questions = []
    for question in spec.questions:
        try:
            result = run_query(con, question.sql, label=question.id)
            questions.append(QuestionCheck(question_id=question.id, answerable=True, rows=len(result)))
        except Exception as exc:  # noqa: BLE001 - the reviewer sees every failing question
            questions.append(QuestionCheck(question_id=question.id, answerable=False, error=str(exc).splitlines()[0]))
    return PreviewCheck(row_counts={n: len(f) for n, f in tables.items()}, problems=problems, questions=questions)
