"""The story check: a small generated package passes; each story defect planted into it is caught and located.

Mutations break one thing each (a constant measure, years or a place the data does not hold, targets
copied from actuals, a scenario's effect dropped, a verdict that cannot see its scenario, a flat answer)
and assert that the story check in its category fails, says where and why, and fails the verdict (so an
automatic run does not package). Planted messiness stays planted. The quality verdicts are decided by
each check's own rule (``gx=False``, the rule GX applies) to keep the tests fast; one test runs GX.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from schemas.results import Answer
from schemas.serialize import spec_from_yaml
from schemas.spec import MessinessRule, QuestionSpec
from tasks.engine import generate_dataset
from tasks.engine.messiness import apply_messiness
from tasks.quality import run_quality
from tasks.quality.categories.story import (
    answer_problems,
    close_everywhere,
    place_problems,
    target_pairs,
    year_problems,
)

FIXTURE = Path(__file__).absolute().parent / "fixtures" / "story_shop.yaml"


@pytest.fixture(autouse=True)
def story_gate_blocks(monkeypatch):
    """These tests pin the blocking behaviour (DATAFACTORY_STORY_GATE=block); by default it blocks only from
    DATAFACTORY_STORY_MIN_ROWS rows of a fact table (this fixture is smaller)."""
    monkeypatch.setenv("DATAFACTORY_STORY_GATE", "block")


@pytest.fixture(scope="module")
def spec():
    return spec_from_yaml(FIXTURE.read_text())


@pytest.fixture(scope="module")
def clean(spec):
    return generate_dataset(spec)


def _copy(tables):
    return {name: frame.copy() for name, frame in tables.items()}


def _story(report) -> list:
    return [f for c in report.categories for f in c.findings if f.story]


def _located(report, category: str, table: str, column: str | None, rule: str) -> list:
    return [
        f
        for f in report.category(category).findings
        if f.table == table and f.column == column and f.check_id.rsplit(":", 1)[-1].startswith(rule)
    ]


def _with_texts(spec, old: str, new: str):
    """The spec with ``old`` replaced by ``new`` in the statement, the question texts and scenario descriptions."""
    challenge = spec.challenge.model_copy(
        update={"problem_statement": spec.challenge.problem_statement.replace(old, new)}
    )
    questions = [q.model_copy(update={"text": q.text.replace(old, new)}) for q in spec.questions]
    scenarios = [s.model_copy(update={"description": s.description.replace(old, new)}) for s in spec.scenarios]
    return spec.model_copy(update={"challenge": challenge, "questions": questions, "scenarios": scenarios})


# --------------------------------------------------------------------------- clean data


def test_clean_package_passes_every_story_check(spec, clean) -> None:
    report = run_quality(spec, clean, gx=False)
    assert _story(report) == []
    assert report.verdict == "pass", [f.message for c in report.categories for f in c.findings]
    assert report.story_defects == 0


def test_planted_messiness_is_not_a_story_defect(spec, clean) -> None:
    rules = [
        MessinessRule(kind="duplicates", table="sales", rate=0.02),
        MessinessRule(kind="missing", table="sales", column="channel", rate=0.02),
        MessinessRule(kind="outliers", table="sales", column="quantity", rate=0.01),
    ]
    messy_spec = spec.model_copy(update={"messiness": rules})
    tables, log = apply_messiness(messy_spec, clean)
    report = run_quality(messy_spec, tables, issue_log=log, gx=False)
    assert _story(report) == []
    assert report.verdict == "pass", [f.message for c in report.categories for f in c.findings]


# --------------------------------------------------------------------------- mutations


def test_a_constant_measure_in_a_fact_table_is_a_story_defect(spec, clean) -> None:
    tables = _copy(clean)
    tables["sales"]["quantity"] = 3
    report = run_quality(spec, tables, gx=False)
    located = _located(report, "distribution", "sales", "quantity", "story_constant")
    assert located, [f.check_id for f in _story(report)]
    assert "observed 1" in located[0].message and located[0].fix
    assert report.verdict == "fail" and report.story_defects >= 1


def test_a_story_defect_stops_an_automatic_run(spec, clean) -> None:
    """The flow's blocking rule reads the verdict: a story failure found by the GX suites blocks packaging."""
    from flows.challenge import blocking_defects

    tables = _copy(clean)
    tables["sales"]["quantity"] = 3
    report = run_quality(spec, tables)  # GX decides
    assert report.engine.startswith("great_expectations")
    assert _located(report, "distribution", "sales", "quantity", "story_constant")
    assert blocking_defects(report, sample_mode=False)


def test_by_default_story_defects_block_only_with_enough_rows_to_show_a_story(spec, clean, monkeypatch) -> None:
    """DATAFACTORY_STORY_GATE defaults to auto: below DATAFACTORY_STORY_MIN_ROWS rows of the largest fact table
    story defects are reported without failing the verdict; from there on they fail it (bench/audit.py is at 0
    defects at 3,000 rows)."""
    monkeypatch.delenv("DATAFACTORY_STORY_GATE")
    shifted = _with_texts(_with_texts(spec, "2023", "2019"), "2024", "2020")
    report = run_quality(shifted, clean, gx=False)
    assert _located(report, "consistency", "challenge", None, "story_years")
    assert report.story_defects >= 1 and report.story_gate == "report"
    assert report.verdict == "pass"
    tables = _copy(clean)
    tables["sales"]["quantity"] = -5  # a non-story defect still fails it
    assert run_quality(spec, tables, gx=False).verdict == "fail"
    facts = max(len(clean[t.name]) for t in spec.tables if t.role == "fact")
    monkeypatch.setenv("DATAFACTORY_STORY_MIN_ROWS", str(facts))  # the same data counted as large enough
    large = run_quality(shifted, clean, gx=False)
    assert large.story_gate == "block" and large.verdict == "fail"


def test_years_the_data_does_not_hold_are_a_story_defect(spec, clean) -> None:
    shifted = _with_texts(_with_texts(spec, "2023", "2019"), "2024", "2020")
    report = run_quality(shifted, clean, gx=False)
    located = _located(report, "consistency", "challenge", None, "story_years")
    assert located
    examples = " ".join(located[0].examples)
    assert "problem statement names 2019" in examples and "2023-2024" in examples
    assert "scenario summer_promo names 2019" in examples
    assert report.verdict == "fail"


def test_places_the_data_does_not_hold_are_a_story_defect(spec, clean) -> None:
    moved = _with_texts(spec, "Denver", "Chicago")
    report = run_quality(moved, clean, gx=False)
    located = _located(report, "consistency", "challenge", None, "story_places")
    assert located
    examples = " ".join(located[0].examples)
    assert "Chicago" in examples and "Boston" not in examples
    assert report.verdict == "fail"


def test_targets_equal_to_actuals_are_a_story_defect(spec, clean) -> None:
    tables = _copy(clean)
    tables["sales"]["target_amount"] = tables["sales"]["amount"]
    report = run_quality(spec, tables, gx=False)
    assert _located(report, "consistency", "sales", "target_amount", "story_targets")
    in_answer = _located(report, "consistency", "questions", "q3", "story_targets")
    assert in_answer and "target_amount is within 1% of amount" in in_answer[0].examples[0]
    assert report.verdict == "fail"


def test_a_scenario_whose_effect_is_missing_is_a_story_defect(spec) -> None:
    scenario = spec.scenarios[0]
    no_effect = scenario.effect.model_copy(update={"factor": 1.0})
    flat = spec.model_copy(update={"scenarios": [scenario.model_copy(update={"effect": no_effect})]})
    tables = generate_dataset(flat)  # the same data without the planted lift
    report = run_quality(spec, tables, gx=False)
    located = _located(report, "distribution", "sales", "amount", "story_scenario")
    assert located, [f.check_id for f in _story(report)]
    assert "x1.5 is stated" in located[0].examples[0]
    assert report.verdict == "fail"


def test_a_verdict_that_cannot_see_a_measured_scenario_is_a_story_defect(spec, clean) -> None:
    """'cannot tell' beside a +50% lift: the linked question's result holds neither the window nor a segment."""
    questions = [q.model_copy(update={"scenario": "summer_promo"}) if q.id == "q4" else q for q in spec.questions]
    report = run_quality(spec.model_copy(update={"questions": questions}), clean, gx=False)
    located = _located(report, "consistency", "questions", "q4", "story_verdict")
    assert located and "cannot tell" in located[0].examples[0] and "x1.5" in located[0].examples[0]
    assert not _located(report, "consistency", "questions", "q2", "story_verdict")


def test_a_scenario_no_question_asks_about_is_a_story_defect(spec, clean) -> None:
    questions = [q.model_copy(update={"scenario": None}) for q in spec.questions]
    report = run_quality(spec.model_copy(update={"questions": questions}), clean, gx=False)
    located = _located(report, "distribution", "sales", "amount", "story_scenario")
    assert located and "no question is linked" in located[0].examples[0]


def test_a_flat_answer_is_a_story_defect(spec, clean) -> None:
    flat = QuestionSpec(
        id="q5",
        text="How many stores sold through each channel?",
        sql="SELECT channel, COUNT(DISTINCT store_id) AS stores FROM sales GROUP BY 1 ORDER BY 1",
    )
    report = run_quality(spec.model_copy(update={"questions": [*spec.questions, flat]}), clean, gx=False)
    located = _located(report, "coverage", "questions", "q5", "story_answer")
    assert located and "stores is 6 in every one of the 2 rows" in located[0].examples[0]
    assert report.verdict == "fail"


# --------------------------------------------------------------------------- the rules themselves


def _answer(rows: list[list], columns: list[str], measure: str, labels: list[str]) -> Answer:
    return Answer(
        question_id="qx",
        question="What?",
        sql="SELECT 1",
        columns=columns,
        rows=rows,
        row_count=len(rows),
        measure=measure,
        label_columns=labels,
    )


def test_answer_rules_tell_degenerate_answers_from_real_differences() -> None:
    same = _answer([["North", 0.0501], ["South", 0.0502], ["East", 0.0503]], ["region", "rate"], "rate", ["region"])
    apart = _answer([["North", 0.05], ["South", 0.07]], ["region", "rate"], "rate", ["region"])
    empty = _answer([["North", None], ["South", None]], ["region", "rate"], "rate", ["region"])
    assert "differs by only" in answer_problems(same, "table")[0]
    assert answer_problems(apart, "table") == []
    assert "empty in every row" in answer_problems(empty, "table")[0]
    assert answer_problems(_answer([[12.5]], ["avg"], "avg", []), "scalar") == []


def test_year_rules_allow_the_window_fiscal_years_and_company_history() -> None:
    texts = [
        ("problem statement", "Founded in 1998, the firm wants FY2025 results for 2023 and 2024 with 2,000 stores."),
        ("question q1", "How did sales change in mid-2021?"),
    ]
    assert year_problems(texts, 2023, 2024) == ["question q1 names 2021, outside the data's 2023-2024"]


def test_a_year_some_date_of_the_data_holds_may_be_named() -> None:
    """A cohort question 'since 2019' names sign-up years a dimension holds: not a stale year."""
    texts = [("question q5", "For subscribers activated in each year since 2019, what share were still active?")]
    assert year_problems(texts, 2022, 2023) == ["question q5 names 2019, outside the data's 2022-2023"]
    assert year_problems(texts, 2022, 2023, held={2019, 2020, 2021, 2022, 2023}) == []


def test_place_rules_skip_the_company_name_and_whole_words_only() -> None:
    places = frozenset({"Chicago", "Pune", "Delhi"})
    held = "mumbai\nnew delhi dc"
    texts = [("problem statement", "Pune Traders sells in Delhi and Chicagoland; Chicago lags.")]
    found = place_problems(texts, places, held, "Pune Traders")
    assert found == ["problem statement names Chicago, which no column of the data holds"]


def test_target_pairs_and_closeness() -> None:
    assert target_pairs(["month", "net_sales", "target_net_sales", "plan_code"]) == [("target_net_sales", "net_sales")]
    assert target_pairs(["actual_cases", "cases_target"]) == [("cases_target", "actual_cases")]
    assert close_everywhere(pd.Series([100.0, 200.0]), pd.Series([100.5, 199.0]))
    assert not close_everywhere(pd.Series([100.0, 230.0]), pd.Series([100.5, 199.0]))


def test_an_answer_of_several_measures_shows_a_difference_when_one_of_them_differs() -> None:
    yearly = _answer(
        [[2023, 1200, 5544, 4.62], [2024, 1390, 6463, 4.65]],
        ["year", "admissions", "patient_days", "alos_days"], "alos_days", ["year"],
    )  # fmt: skip
    assert answer_problems(yearly, "table") == []  # ALOS is flat, admissions grew 16%
    flat = _answer([[2023, 1200, 4.62], [2024, 1201, 4.65]], ["year", "admissions", "alos_days"], "alos_days", ["year"])
    assert "differs by only" in answer_problems(flat, "table")[0]
