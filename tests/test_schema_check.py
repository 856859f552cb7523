"""Phase-2 validation: every blueprint scores 10/10; broken SQL and unsound schemas are found and explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.serialize import spec_from_data, spec_to_data
from tasks.domains import load_blueprint
from tasks.schema_check import SCORE_FORMULA, sql_references, validate_schema
from tasks.sql_sandbox import SqlRefused, empty_tables, run_query, sandbox

DOMAINS = sorted((Path(__file__).resolve().parent.parent / "domains").glob("*.yaml"))


@pytest.mark.parametrize("path", DOMAINS, ids=[p.stem for p in DOMAINS])
def test_every_blueprint_validates_at_ten(path: Path) -> None:
    """A blueprint that does not score 10 would hand the reviewer a broken challenge."""
    validation = validate_schema(load_blueprint(path).spec)
    failing = [f"{q.question_id}: {q.error}" for q in validation.questions if not q.answerable]
    assert validation.score == 10.0, "\n".join(validation.problems + failing)


def _retail(retail_spec, edit) -> object:
    data = spec_to_data(retail_spec)
    edit(data)
    return spec_from_data(data)


def test_unanswerable_question_is_reported_with_its_error_and_lowers_the_score(retail_spec) -> None:
    # Setup
    def edit(data: dict) -> None:
        data["questions"][0]["sql"] = "SELECT SUM(o.revenue_total) FROM orders o"

    spec = _retail(retail_spec, edit)
    # Run
    validation = validate_schema(spec)
    # Assert
    bad = validation.questions[0]
    assert not bad.answerable and "revenue_total" in bad.error
    assert validation.score == round(7 * (len(spec.questions) - 1) / len(spec.questions) + 3, 1)
    assert any(r.startswith("fix question q01:") for r in validation.recommendations)
    assert validation.formula == SCORE_FORMULA


def test_question_columns_are_resolved_through_aliases_and_ctes(retail_spec) -> None:
    validation = validate_schema(retail_spec)
    q01 = next(q for q in validation.questions if q.question_id == "q01")
    assert q01.answerable
    assert {"orders.order_date", "order_items.net_amount", "orders.status"} <= set(q01.columns)
    assert q01.tables == ["order_items", "orders"]
    assert "revenue_growth_pct" in q01.result_columns


def test_disconnected_table_and_missing_key_are_structural_problems(retail_spec) -> None:
    # Setup
    def edit(data: dict) -> None:
        data["tables"].append(
            {
                "name": "weather",
                "rows": 10,
                "columns": [
                    {
                        "name": "temp",
                        "type": "float",
                        "generator": {"kind": "numeric", "distribution": "uniform", "low": 0, "high": 30},
                    }
                ],
            }
        )

    # Run
    validation = validate_schema(_retail(retail_spec, edit))
    # Assert
    assert any(p.startswith("tables.weather: no primary key") for p in validation.problems)
    assert any("falls apart into 2 groups" in p for p in validation.problems)
    assert validation.score == 7.0  # all questions answerable, two structural problems
    assert any("'weather' is not used by any question" in r for r in validation.recommendations)


def test_scenario_outside_the_time_window_is_a_problem(retail_spec) -> None:
    def edit(data: dict) -> None:
        data["scenarios"][0]["condition"].update({"start": "2030-07-01", "end": "2030-09-30"})

    validation = validate_schema(_retail(retail_spec, edit))
    assert any(p.startswith("scenarios.west_q3_slump.condition: window") for p in validation.problems)


def test_categorical_values_must_fit_the_column_type(retail_spec) -> None:
    def edit(data: dict) -> None:
        column = next(c for c in data["tables"][3]["columns"] if c["name"] == "discount_rate")
        column["generator"]["values"] = ["none", 0.05, 0.1, 0.15, 0.2]

    validation = validate_schema(_retail(retail_spec, edit))
    assert any("discount_rate: categorical values ['none']" in p for p in validation.problems)


def test_unused_scenario_is_recommended_for_a_question(retail_spec) -> None:
    def edit(data: dict) -> None:
        for question in data["questions"]:
            question.pop("scenario", None)

    validation = validate_schema(_retail(retail_spec, edit))
    assert validation.score == 10.0
    assert any("scenario 'west_q3_slump' has no question" in r for r in validation.recommendations)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('data/*.parquet')",
        "SELECT * FROM 'https://example.com/data.csv'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "COPY orders TO '/tmp/out.csv'",
        "SELECT 1; SELECT 2",
    ],
)
def test_sandbox_refuses_files_extensions_and_more_than_one_select(retail_spec, sql: str) -> None:
    """Question SQL may come from a model: it must not read files, load extensions or change settings."""
    con = sandbox(empty_tables(retail_spec))
    with pytest.raises(SqlRefused):
        run_query(con, sql)


def test_question_that_reads_a_file_is_unanswerable(retail_spec) -> None:
    def edit(data: dict) -> None:
        data["questions"][1]["sql"] = "SELECT COUNT(*) AS n FROM read_csv('/etc/passwd')"

    validation = validate_schema(_retail(retail_spec, edit))
    bad = validation.questions[1]
    assert not bad.answerable and "outside its tables" in bad.error


def test_sql_references_without_a_spec_gives_bare_names() -> None:
    tables, columns = sql_references("WITH t AS (SELECT a FROM x) SELECT t.a, y.b FROM t JOIN y ON t.a = y.a")
    assert tables == ["x", "y"]
    assert columns == ["a", "b"]
