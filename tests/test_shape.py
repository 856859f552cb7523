"""The brief's frame shapes the spec: window, company, counts, places, events (planted and asked), KPIs.

Frames are built by hand here, so these tests pin the shaping rules apart from the reader's parsing.
"""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest

from schemas.brief import BriefFrame, CompanyFact, CountFact, EventFact, GeographyFact, KpiFact, WindowFact
from schemas.serialize import spec_from_data
from tasks.design import shape
from tasks.design.carried import carried_facts
from tasks.designer_offline import vary_blueprint
from tasks.domains import get_blueprint
from tasks.preview import make_preview

TODAY = dt.date(2026, 12, 1)


def _vary(domain: str, frame: BriefFrame, seed: int = 3) -> tuple[dict, list[str]]:
    return vary_blueprint(
        get_blueprint(domain),
        random.Random(seed),
        seed=seed,
        variant=0,
        locale=frame.locale or "en_US",
        rows=2000,
        brief=frame.brief,
        frame=frame,
        today=TODAY,
    )


def _telecom_frame() -> BriefFrame:
    brief = "Jyoti Telecom raised prepaid tariffs by 20% in December 2021. Compare June 2021 to June 2022 ARPU."
    return BriefFrame(
        brief=brief,
        company=CompanyFact(source="Jyoti Telecom", name="Jyoti Telecom"),
        window=WindowFact(source="June 2021 to June 2022", start=dt.date(2021, 6, 1), end=dt.date(2022, 6, 30)),
        events=[
            EventFact(
                source="raised prepaid tariffs by 20% in December 2021",
                what="prepaid tariff increase",
                kind="price_change",
                start=dt.date(2021, 12, 1),
                magnitude_pct=20,
            )
        ],
        kpis=[
            KpiFact(source="ARPU", key="arpu", name="ARPU", formula="revenue / active_users", parts=[], kind="ratio")
        ],
    )


def test_window_company_and_event_come_from_the_frame() -> None:
    """The brief's window replaces the blueprint's, and its event is planted at its month with a question."""
    data, notes = _vary("telecom", _telecom_frame())
    spec = spec_from_data(data)
    assert spec.challenge.company.name == "Jyoti Telecom"
    assert (spec.challenge.time_window.start, spec.challenge.time_window.end) == (
        dt.date(2021, 6, 1),
        dt.date(2022, 6, 30),
    )
    planted = [s for s in spec.scenarios if s.condition.start == dt.date(2021, 12, 1)]
    assert len(planted) == 1, notes
    linked = [q for q in spec.questions if q.scenario == planted[0].name]
    assert linked and "December 2021" in linked[0].text
    # the statement is rendered from the spec: its company, window and the planted event; no stale year
    statement = spec.challenge.problem_statement
    assert "Jyoti Telecom" in statement and "June 2021" in statement and "June 2022" in statement
    assert "2024" not in statement and "2023" not in statement


def test_every_question_and_scenario_lies_inside_the_brief_window() -> None:
    data, _ = _vary("telecom", _telecom_frame())
    spec = spec_from_data(data)
    start, end = spec.challenge.time_window.start, spec.challenge.time_window.end
    for scenario in spec.scenarios:
        if scenario.condition.start:
            assert start <= scenario.condition.start <= end
    for question in spec.questions:
        dates, years = shape.sql_dates(question.sql)
        assert all(start.year <= y <= end.year for y in years), question.id
        assert all(d <= end + dt.timedelta(days=1) for d in dates), question.id


def test_the_event_question_shows_the_planted_change_on_preview_data() -> None:
    """The before/after question runs and its two periods differ in the planted direction."""
    data, _ = _vary("telecom", _telecom_frame())
    spec = spec_from_data(data).model_copy(update={"scale": 3000})
    tables, check = make_preview(spec, 3000)
    assert all(q.answerable for q in check.questions), [q for q in check.questions if not q.answerable]
    scenario = next(s for s in spec.scenarios if s.condition.start == dt.date(2021, 12, 1))
    question = next(q for q in spec.questions if q.scenario == scenario.name)
    con = duckdb.connect()
    for name, frame in tables.items():
        con.register(name, frame)
    result = con.execute(question.sql).df()
    assert list(result["period"].str.split(" ").str[0]) == ["before", "after"]


def test_counts_size_their_tables_and_cities_are_the_briefs() -> None:
    brief = "Stayfine runs 25 hotels in Goa and Jaipur."
    frame = BriefFrame(
        brief=brief,
        company=CompanyFact(source="Stayfine", name="Stayfine"),
        counts=[CountFact(source="25 hotels", entity="hotel", value=25)],
        geography=GeographyFact(cities=["Goa", "Jaipur"], sources=["Goa and Jaipur"]),
        locale="en_IN",
    )
    data, notes = _vary("hospitality", frame)
    spec = spec_from_data(data)
    assert any(t.rows == 25 and t.role == "dimension" for t in spec.tables), notes
    result = carried_facts(spec, {"company": "Stayfine", "counts": {"hotels": 25}, "cities": ["Goa", "Jaipur"]})
    assert all(c.ok for c in result), result


def test_fiscal_years_add_fiscal_calendar_columns() -> None:
    frame = BriefFrame(
        brief="FY2021-FY2024 (April-March fiscal years)",
        window=WindowFact(
            source="FY2021-FY2024", start=dt.date(2020, 4, 1), end=dt.date(2024, 3, 31), fiscal_year_start_month=4
        ),
    )
    data, _ = _vary("telecom", frame)
    spec = spec_from_data(data)
    assert spec.challenge.fiscal_year_start_month == 4
    calendars = [t for t in spec.tables if t.column("fiscal_year") is not None]
    if not calendars:
        pytest.skip("this blueprint has no calendar dimension")
    tables, _ = make_preview(spec, 400)
    cal = tables[calendars[0].name]
    key = next(c.name for c in calendars[0].columns if c.generator.kind == "date_sequence")
    april = cal[cal[key].astype(str) == "2021-04-01"]
    march = cal[cal[key].astype(str) == "2021-03-31"]
    if len(april) and len(march):
        assert int(april["fiscal_year"].iloc[0]) == 2022 and int(march["fiscal_year"].iloc[0]) == 2021
        assert int(april["fiscal_quarter"].iloc[0]) == 1 and int(march["fiscal_quarter"].iloc[0]) == 4


def test_an_event_without_a_date_is_planted_inside_the_window_and_said() -> None:
    frame = BriefFrame(
        brief="A food delivery company saw orders fall after a service crisis.",
        events=[EventFact(source="after a service crisis", what="service crisis", kind="crisis")],
    )
    data, notes = _vary("food_delivery", frame)
    assert any("gives no date" in n for n in notes), notes
    spec = spec_from_data(data)
    crisis = [s for s in spec.scenarios if s.name.startswith("service_crisis")]
    assert crisis and any(q.scenario == crisis[0].name for q in spec.questions)
    window = spec.challenge.time_window
    assert window.start < crisis[0].condition.start < window.end


def test_kpi_questions_compute_from_named_columns_and_never_from_lookalikes() -> None:
    """A no-show rate is not the share of 'No' answers; a repeat purchase rate counts people with 2+ orders."""
    from tasks.design.kpi_questions import ask_kpis

    data, _ = _vary("retail_ecommerce", BriefFrame(brief="an online store"))
    repeat = KpiFact(
        source="repeat purchases",
        key="repeat_purchase_rate",
        name="Repeat purchase rate",
        formula="customers_with_2plus_orders / customers",
        parts=["customers_with_2plus_orders", "customers"],
        kind="rate",
    )
    no_show = KpiFact(
        source="no-shows",
        key="no_show_rate",
        name="No-show rate",
        formula="no_shows / bookings",
        parts=["no_shows", "bookings"],
        kind="rate",
    )
    before = len(data["questions"])
    notes = ask_kpis(data, [repeat, no_show])
    added = data["questions"][before:]
    assert len(added) == 1 and "two or more" in added[0]["text"], notes
    assert "no question asks it" in notes[1]
    spec = spec_from_data(data)
    tables, check = make_preview(spec.model_copy(update={"scale": 400}), 400)
    assert all(q.answerable for q in check.questions)


@pytest.mark.parametrize(
    ("feedback", "check"),
    [
        ("the company is called Nimbus Retail", lambda spec: spec.challenge.company.name == "Nimbus Retail"),
        ("use FY2023-FY2025", lambda spec: spec.challenge.time_window.end.year == 2025),
        ("add the Black Friday campaign", lambda spec: any("black_friday" in s.name for s in spec.scenarios)),
    ],
)
def test_gate_feedback_is_read_like_a_brief(feedback, check) -> None:
    """Sentences no phrase rule knows are read with the brief reader: company, window, events, counts."""
    from tasks.designer_offline import apply_feedback

    data, _ = _vary("retail_ecommerce", BriefFrame(brief="an online store"))
    notes = apply_feedback(data, feedback)
    assert notes[0].startswith("applied"), notes
    assert check(spec_from_data(data)), notes


def test_the_brief_s_own_description_of_the_company_is_its_profile() -> None:
    from tasks.designer_offline import design_offline

    design = design_offline(
        "Cloudnote, a note-taking SaaS, changed its free trial from 30 to 14 days in July 2023.", rows=1000
    )
    assert design.spec.challenge.company.profile == "a note-taking SaaS"
    assert design.spec.challenge.problem_statement.startswith("Cloudnote is a note-taking SaaS.")


def test_growth_questions_the_window_is_too_short_for_are_left_out() -> None:
    import datetime as dt

    from tasks.design.shape import drop_growth_questions

    data = {
        "questions": [
            {"id": "q01", "text": "Year over year?", "skills": ["yoy_growth"], "sql": "SELECT 1"},
            {"id": "q02", "text": "CAGR?", "skills": ["cagr"], "sql": "SELECT 1"},
            {"id": "q03", "text": "Monthly?", "skills": ["mom_growth"], "sql": "SELECT 1"},
        ]
    }
    notes = drop_growth_questions(data, dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    assert [q["id"] for q in data["questions"]] == ["q03"] and "1 calendar year" in notes[0]
    data["questions"].append({"id": "q04", "text": "YoY", "skills": ["yoy_growth"], "sql": "SELECT 1"})
    assert drop_growth_questions(data, dt.date(2023, 1, 1), dt.date(2024, 12, 31)) == []


def test_a_planted_story_no_question_asks_about_is_not_planted() -> None:
    from tasks.designer_offline import drop_unasked_scenarios

    data = {
        "scenarios": [
            {"name": "asked", "optional": True},
            {"name": "orphan", "optional": True},
            {"name": "brief_event", "optional": False},
        ],
        "questions": [{"id": "q01", "scenario": "asked"}, {"id": "q02"}],
    }
    notes = drop_unasked_scenarios(data)
    assert [s["name"] for s in data["scenarios"]] == ["asked", "brief_event"]
    assert len(notes) == 1 and "orphan" in notes[0]


def test_a_kpi_whose_question_would_repeat_another_gets_none() -> None:
    from tasks.design.kpi_questions import same_result

    monthly = (
        "SELECT date_trunc('month', ticket_date) AS month, COUNT(*) AS tickets FROM fact_tickets GROUP BY 1 ORDER BY 1"
    )
    filtered = (
        "SELECT date_trunc('month', ticket_date) AS month,\n       COUNT(*) AS n\nFROM fact_tickets\n"
        "WHERE ticket_date IS NOT NULL\nGROUP BY 1\nORDER BY 1"
    )
    assert same_result(monthly, filtered)  # aliases and a NOT NULL filter on the grouped date change nothing
    assert not same_result(monthly, filtered.replace("COUNT(*)", "SUM(quantity)"))
    assert not same_result(monthly, monthly.replace("FROM fact_tickets", "FROM fact_tickets WHERE city = 'Pune'"))


SAAS_BRIEF = (
    "Cloudnote, a note-taking SaaS, changed its free trial from 30 to 14 days in July 2023. Did trial-to-paid "
    "conversion improve, and did early churn change? Use 2022-2024 data by plan, country and acquisition channel."
)


def test_an_event_moves_the_kpi_the_brief_asks_about_beside_it() -> None:
    """The trial change is planted on what the conversion question counts (trial_outcome = 'Converted', a
    conditional column), not on a blueprint story that only shares the word 'trial' (a partner programme)."""
    import pandas as pd

    from tasks.designer import design
    from tasks.engine import generate_dataset

    spec = design(SAAS_BRIEF, rows=3000, seed=5).spec
    planted = next(s for s in spec.scenarios if s.name.startswith("free_trial"))
    assert planted.table == "dim_account" and planted.effect.kind == "shift_weights"
    assert planted.effect.column == "trial_outcome" and planted.effect.multipliers["Converted"] > 1
    accounts = generate_dataset(spec)["dim_account"]
    signup = pd.to_datetime(accounts["signup_date"])
    converted = accounts["trial_outcome"].astype(str) == "Converted"
    start = pd.Timestamp(planted.condition.start)
    before = converted[(signup < start) & (signup >= start - pd.DateOffset(years=1))].mean()
    after = converted[signup >= start].mean()
    assert after > before * 1.15  # re-drawn case by case (activated or not), the share of conversions rises


def test_a_kpi_the_brief_says_fell_is_planted_falling() -> None:
    from tasks.design.brief_reader import read_brief
    from tasks.design.shape import kpi_effect

    brief = SAAS_BRIEF.replace("Did trial-to-paid conversion improve, and did early churn change?",
                               "Trial-to-paid conversion fell afterwards.")  # fmt: skip
    frame = read_brief(brief)
    data = {
        "tables": [
            {"name": "dim_account", "role": "dimension", "columns": [
                {"name": "signup_date", "type": "date", "generator": {"kind": "date"}},
                {"name": "trial_outcome", "type": "category", "generator": {
                    "kind": "categorical", "values": ["Converted", "Expired"], "weights": [0.4, 0.6]}},
            ]},
        ],
        "questions": [{"id": "q01", "text": "What was the monthly trial-to-paid conversion rate?",
                       "sql": "SELECT SUM(CASE WHEN trial_outcome = 'Converted' THEN 1 ELSE 0 END) FROM dim_account"}],
    }  # fmt: skip
    table, effect, date_column = kpi_effect(data, frame.events[0], frame.kpis, brief)
    assert (table["name"], date_column) == ("dim_account", "signup_date")
    assert effect == {"kind": "shift_weights", "column": "trial_outcome", "multipliers": {"Converted": 0.6}}


def test_a_kpi_s_direction_is_read_in_its_own_clause() -> None:
    from tasks.design.shape import _FALLING, _clause_of

    brief = "After a membership price increase in January 2024, cancellations rose and new sign-ups slowed."
    assert not _FALLING.search(_clause_of(brief, "cancellations"))  # rose: the slowing is the sign-ups'
    assert _FALLING.search(_clause_of(brief, "new sign-ups"))
