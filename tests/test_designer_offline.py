"""The offline designer: seeded variation, consistent time shifts, locale, dropping parts, feedback."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from schemas.serialize import spec_from_data, spec_to_data
from tasks.designer_offline import apply_feedback, design_offline
from tasks.domains import get_blueprint
from tasks.engine import generate_dataset
from tasks.schema_check import validate_schema
from tasks.sql_sandbox import run_query, sandbox
from tasks.variation import plan_removal, shift_sql_years, shift_text_years, shift_years, try_removal

BRIEF = "An online store is losing customers in the West"
FEEDBACK_DOC = Path(__file__).resolve().parent.parent / "docs" / "FEEDBACK.md"


def _run(spec, question_id: str, rows: int = 4_000):
    spec = spec.model_copy(update={"scale": rows})
    con = sandbox(generate_dataset(spec), spec)
    question = next(q for q in spec.questions if q.id == question_id)
    return run_query(con, question.sql)


def test_same_inputs_give_the_same_design() -> None:
    first = design_offline(BRIEF, seed=11)
    second = design_offline(BRIEF, seed=11)
    assert spec_to_data(first.spec) == spec_to_data(second.spec)


def test_seeds_vary_company_window_questions_and_scenarios() -> None:
    """Each challenge should be distinct: several seeds must not all give the same choices."""
    designs = [design_offline(BRIEF, seed=s).spec for s in range(8)]
    assert len({d.challenge.company.name for d in designs}) > 1
    assert len({d.challenge.time_window.start for d in designs}) > 1
    assert len({tuple(q.id for q in d.questions) for d in designs}) > 1
    assert len({tuple(s.name for s in d.scenarios) for d in designs}) > 1
    for spec in designs:
        assert 8 <= len(spec.questions) <= 12
        planted = {s.name for s in spec.scenarios}
        assert planted and all(q.scenario in planted for q in spec.questions if q.scenario)
        assert validate_schema(spec).score == 10.0


def test_regeneration_attempt_draws_a_different_variation() -> None:
    designs = {design_offline(BRIEF, seed=5, attempt=a).spec.model_dump_json() for a in range(4)}
    assert len(designs) > 1


def test_sql_year_shift_rewrites_dates_and_year_comparisons_only() -> None:
    sql = (
        "SELECT EXTRACT(YEAR FROM d) AS y, COUNT(*) AS n FROM t\n"
        "WHERE d >= DATE '2024-02-29' AND EXTRACT(YEAR FROM d) = 2024 AND amount > 100 LIMIT 5"
    )
    shifted = shift_sql_years(sql, -1, 2013, 2034)
    assert shifted == sql.replace("DATE '2024-02-29'", "DATE '2023-02-28'").replace("= 2024", "= 2023")
    assert shift_text_years("Q3 2024 vs 2023, 150 units", 1, 2013, 2034) == "Q3 2025 vs 2024, 150 units"


def test_shifted_spec_still_reveals_its_scenario_in_generated_data(retail_spec) -> None:
    """A whole-year shift moves window, generators, scenarios and SQL together, so q06 still finds the West slump."""
    # Setup
    data = spec_to_data(retail_spec)
    # Run
    notes = shift_years(data, -2)
    spec = spec_from_data(data)
    # Assert
    assert notes and str(spec.challenge.time_window.start) == "2021-01-01"
    scenario = next(s for s in spec.scenarios if s.name == "west_q3_slump")
    assert str(scenario.condition.start) == "2022-07-01"
    q06 = next(q for q in spec.questions if q.id == "q06")
    assert "DATE '2022-07-01'" in q06.sql and "2024" not in q06.sql and "Q3 2022" in q06.text
    assert validate_schema(spec).score == 10.0
    result = _run(spec, "q06")
    worst = result.sort_values("change_pct").iloc[0]
    assert worst["ship_region"] == "West" and worst["change_pct"] < -25


def test_india_locale_uses_inr_and_indian_cities() -> None:
    result = design_offline("An online store in Mumbai is losing customers", seed=2)
    spec = result.spec
    assert spec.challenge.locale == "en_IN" and spec.challenge.currency == "INR"
    city = spec.table("customers").column("city").generator
    assert "Mumbai" in city.values and "New York" not in city.values
    assert spec.table("orders").column("shipping_fee").unit == "INR"
    assert design_offline(BRIEF, seed=2, locale="en_IN").spec.challenge.currency == "INR"
    assert design_offline("An online store in Mumbai", seed=2, locale="en_US").spec.challenge.currency == "USD"


def test_dropping_a_column_takes_its_scenario_and_questions(retail_spec) -> None:
    """Dropping orders.channel must remove the channel scenario and every question that reads it."""
    removal = plan_removal(retail_spec, columns=[("orders", "channel")], only_optional=False)
    assert removal.scenarios == {"mobile_app_surge"}
    assert "q07" in removal.questions
    blocked = plan_removal(retail_spec, columns=[("orders", "channel")], only_optional=True)
    assert blocked.blocked


def test_a_removal_that_leaves_too_few_questions_is_refused(retail_spec) -> None:
    data = spec_to_data(retail_spec)
    removal = plan_removal(retail_spec, tables=["order_items"], only_optional=False)
    reason = try_removal(data, removal, min_questions=8)
    assert reason is not None and "question(s) would remain" in reason
    assert spec_to_data(retail_spec) == data  # untouched


# --------------------------------------------------------------------------- feedback


@functools.lru_cache(maxsize=1)
def _roomy_seed() -> int:
    """A seed whose design has room to drop a table and keep 8 questions (the draw of 8-12 is seeded)."""
    return next(seed for seed in range(100) if len(design_offline(BRIEF, seed=seed).spec.questions) >= 11)


def _design_data(seed: int | None = None) -> dict:
    return spec_to_data(design_offline(BRIEF, seed=_roomy_seed() if seed is None else seed).spec)


def test_feedback_more_questions_on_returns_adds_return_questions() -> None:
    data = _design_data()
    data["questions"] = [q for q in data["questions"] if "return" not in q["text"].lower()]
    notes = apply_feedback(data, "more questions on returns")
    assert notes[0].startswith("applied"), notes
    assert any("return" in q["text"].lower() for q in data["questions"])
    sqls = [" ".join(q["sql"].split()) for q in data["questions"]]
    assert len(sqls) == len(set(sqls)), "a blueprint question was added twice"
    assert [q["id"] for q in data["questions"]] == [f"q{i:02d}" for i in range(1, len(sqls) + 1)]
    assert len(data["questions"]) <= 12


def test_feedback_price_increase_builds_a_scenario_the_data_reveals() -> None:
    data = _design_data()
    notes = apply_feedback(data, "add a scenario about a price increase")
    assert notes[0].startswith("applied"), notes
    spec = spec_from_data(data)
    scenario = spec.scenarios[-1]
    assert scenario.effect.kind == "scale" and scenario.effect.factor > 1
    question = next(q for q in spec.questions if q.scenario == scenario.name)
    assert validate_schema(spec).score == 10.0
    result = _run(spec, question.id, rows=3_000)
    averages = result.iloc[:, 2].tolist()
    assert len(averages) == 2 and averages[1] / averages[0] > 1.1


def test_feedback_drops_a_table_with_its_questions() -> None:
    data = _design_data()
    notes = apply_feedback(data, "drop the returns table")
    assert notes[0].startswith("applied"), notes
    spec = spec_from_data(data)
    assert "returns" not in spec.table_names
    assert all("returns" not in q.sql for q in spec.questions) and len(spec.questions) >= 8


def test_feedback_naming_a_missing_table_says_which_tables_exist() -> None:
    notes = apply_feedback(_design_data(), "drop the reviews table")
    assert notes[0].startswith("could not apply") and "tables are: customers" in notes[0]


def test_feedback_window_difficulty_tables_and_rows() -> None:
    data = _design_data()
    tables_before = len(data["tables"])
    notes = apply_feedback(data, "Use 2021 to 2022. Make it harder; fewer tables. 50k rows")
    assert all(n.startswith("applied") for n in notes), notes
    spec = spec_from_data(data)
    assert (spec.challenge.time_window.start.year, spec.challenge.time_window.end.year) == (2021, 2022)
    assert spec.challenge.difficulty == "hard"
    assert len(spec.tables) == tables_before - 1
    assert spec.scale == 50_000
    assert validate_schema(spec).score == 10.0


def test_feedback_it_does_not_understand_is_reported() -> None:
    data = _design_data()
    before = spec_to_data(spec_from_data(data))
    notes = apply_feedback(data, "make the story about pirates")
    assert notes == [
        "not understood: 'make the story about pirates'; edit the spec at the gate instead (see docs/FEEDBACK.md)"
    ]
    assert data == before


def test_feedback_on_the_previous_spec_keeps_the_rest() -> None:
    first = design_offline(BRIEF, seed=9)
    second = design_offline(BRIEF, seed=9, attempt=1, feedback="make it harder", previous=first.spec)
    assert second.spec.challenge.company == first.spec.challenge.company
    assert second.spec.challenge.difficulty == "hard"


def test_every_documented_feedback_example_is_understood() -> None:
    """docs/FEEDBACK.md promises these phrases; each must at least be recognised."""
    phrases = FEEDBACK_DOC.read_text().split("## Phrases", 1)[1].split("## What is not understood", 1)[0]
    examples = re.findall(r"^- `([^`]+)`", phrases, flags=re.M)
    assert len(examples) >= 10
    for example in examples:
        notes = apply_feedback(_design_data(), example, get_blueprint("retail_ecommerce"))
        assert not any(n.startswith("not understood") for n in notes), (example, notes)


def test_the_challenge_id_names_the_brief_s_company_or_else_the_domain() -> None:
    from schemas.brief import BriefFrame, CompanyFact
    from tasks.designer_offline import challenge_id

    named = BriefFrame(brief="x", company=CompanyFact(name="Jyoti Telecom", source="Jyoti Telecom"))
    assert challenge_id(named, "telecom", 7) == "jyoti-telecom-7"
    assert challenge_id(BriefFrame(brief="x"), "retail_ecommerce", 11, variant=2) == "retail-ecommerce-11-v2"


def test_a_statement_that_tells_a_story_not_planted_gives_way_to_one_that_does_not() -> None:
    """A statement about a competitor 'in mid-2024' must not outlive that scenario; its years move with the window."""
    from schemas.blueprint import ProblemStatement
    from schemas.brief import BriefFrame
    from schemas.serialize import spec_to_data
    from tasks.designer_offline import fit_statement
    from tasks.domains import get_blueprint
    from tasks.variation import shift_years

    bp = get_blueprint("hospitality")
    told = ProblemStatement(text="{company} lost business travellers to a competitor in mid-2024.",
                            tells=["business_hotel_competitor"])  # fmt: skip
    plain = ProblemStatement(text="{company} wants a revenue review of 2024 before next year's budget.")
    bp = bp.model_copy(update={"problem_statements": [told, plain], "locales": {}})
    data = spec_to_data(bp.spec)
    data["scenarios"] = [s for s in data["scenarios"] if s["name"] != "business_hotel_competitor"]
    data["challenge"]["company"]["name"] = "Silverpine"
    data["challenge"]["problem_statement"] = "Silverpine lost business travellers to a competitor in mid-2024."
    shift_years(data, -3)
    notes = fit_statement(data, bp, None, -3, BriefFrame(brief="x"))
    expected = "Silverpine wants a revenue review of 2021 before next year's budget."
    assert data["challenge"]["problem_statement"] == expected
    assert notes and "planted" in notes[0]
    bp_only_told = bp.model_copy(update={"problem_statements": [told]})
    fit_statement(data, bp_only_told, None, -3, BriefFrame(brief="x"))
    assert "competitor" not in data["challenge"]["problem_statement"]  # written from the spec instead
