"""Every blueprint in domains/ validates, generates, and answers every question with real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tasks.domains import load_blueprint
from tasks.engine import generate_dataset
from tasks.sql_sandbox import run_query, sandbox

DOMAINS = sorted((Path(__file__).resolve().parent.parent / "domains").glob("*.yaml"))


def _degenerate(frame: pd.DataFrame) -> str | None:
    if frame.empty:
        return "returned no rows"
    if frame.isna().all().all():
        return "returned only nulls"
    values = frame.drop_duplicates()
    if len(frame) > 1 and len(values) == 1:
        return "returned one repeated row"
    return None


@pytest.mark.parametrize("path", DOMAINS, ids=[p.stem for p in DOMAINS])
def test_blueprint_answers_every_question_with_non_degenerate_results(path: Path) -> None:
    """A blueprint is only useful if its 10,000-row dataset answers every question it asks."""
    # Setup
    spec = load_blueprint(path).spec.model_copy(update={"scale": 10_000})
    # Run
    tables = generate_dataset(spec)
    con = sandbox(tables, spec)
    # Assert
    problems = []
    for question in spec.questions:
        try:
            result = run_query(con, question.sql)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not just the first
            problems.append(f"{question.id}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        if reason := _degenerate(result):
            problems.append(f"{question.id}: {reason}")
    assert not problems, "\n".join(problems)
