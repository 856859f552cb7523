"""The survey and store_promotion composition shapes (issue 14, point 4): chosen by their briefs only, tables
in the brief's nouns and counts, data with the grain the shape promises and segment differences the questions
read, every question answered."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pytest
import yaml

from tasks.answers import compute_answers
from tasks.design.brief_reader import read_brief
from tasks.design.compose import choose_shape, load_parts
from tasks.designer_offline import design_offline
from tasks.engine import generate_dataset

BRIEFS = yaml.safe_load((Path(__file__).parent / "fixtures" / "dev_briefs.yaml").read_text())
SHAPED = {"coffee-survey": "survey", "pharmacy-promotions": "store_promotion"}


@functools.cache
def _built(brief_id: str):
    brief = next(b["brief"] for b in BRIEFS if b["id"] == brief_id)
    design = design_offline(brief, rows=2000, seed=11)
    return design, generate_dataset(design.spec)


@pytest.mark.parametrize("entry", BRIEFS, ids=[b["id"] for b in BRIEFS])
def test_only_survey_and_promotion_briefs_take_these_shapes(entry: dict) -> None:
    shape, _ = choose_shape(read_brief(entry["brief"]), load_parts())
    if entry["id"] in SHAPED:
        assert shape.shape == SHAPED[entry["id"]]
    else:
        assert shape.shape not in SHAPED.values(), entry["id"]


@pytest.mark.parametrize("brief_id", list(SHAPED))
def test_the_shape_answers_every_question(brief_id: str) -> None:
    design, tables = _built(brief_id)
    assert any(f"shape {SHAPED[brief_id]}" in n for n in design.notes), design.notes
    assert 8 <= len(design.spec.questions) <= 12
    key = compute_answers(design.spec, tables)
    for answer in key.answers:
        assert answer.error is None, (answer.question_id, answer.error)
        assert answer.rows, answer.question_id


def test_a_survey_has_one_response_per_respondent_and_answers_that_differ_by_segment() -> None:
    _, tables = _built("coffee-survey")
    people, responses, channels = (
        tables["dim_respondents"],
        tables["fact_survey_responses"],
        tables["fact_survey_channels"],
    )
    assert len(people) == 6000  # "surveyed 6,000 people"
    assert people["city"].nunique() == 8
    assert len(responses) == len(people) and responses["respondent_id"].is_unique
    # the multi-select grid: each respondent sees each of the six channel options once
    assert len(channels) == 6 * len(people)
    assert not channels.duplicated(["respondent_id", "channel"]).any()
    aware = responses.groupby("age_group", observed=True)["aware_of_product"].mean()
    assert aware["18-24"] > aware["55+"] + 0.2
    price = responses.groupby("income_band", observed=True)["stated_price"].mean()
    assert price["High"] > price["Low"] * 1.5
    assert not (responses["tried_product"] & ~responses["aware_of_product"]).any()
    tried = responses[responses["tried_product"]]
    assert (tried["reason_not_tried"].fillna("") == "").all()


def test_a_promotion_study_holds_each_outlet_campaign_and_item_once_with_the_brief_campaigns() -> None:
    design, tables = _built("pharmacy-promotions")
    campaigns = tables["dim_campaigns"].sort_values("campaign_id")
    assert list(campaigns["campaign_name"]) == ["Pongal 2024", "Onam 2024"]
    assert pd_date(campaigns["start_date"].iloc[0]) == dt.date(2024, 1, 14)
    assert pd_date(campaigns["end_date"].iloc[1]) == dt.date(2024, 9, 15)
    facts, stores, items = tables["fact_promotions"], tables["dim_pharmacies"], tables["dim_products"]
    assert len(stores) == 40  # "40 pharmacies"
    assert len(facts) == len(stores) * len(campaigns) * len(items)
    assert not facts.duplicated(["pharmacy_id", "campaign_id", "product_id"]).any()
    assert set(facts["pharmacy_id"]) == set(stores["pharmacy_id"])
    # units during depend on the promo type: BOGOF lifts units most, cashback least
    baseline = facts["units_before"] * facts["promo_days"] / 7
    uplift = facts["units_during"].groupby(facts["promo_type"]).sum() / baseline.groupby(facts["promo_type"]).sum()
    assert uplift["BOGOF"] > uplift["25% OFF"] > uplift["Cashback"] > 1
    # the brief's festivals are planted where a before/after question can show them
    dated = {s.name for s in design.spec.scenarios if s.condition.start}
    assert {s.condition.start for s in design.spec.scenarios if s.condition.start} == {
        dt.date(2024, 1, 14),
        dt.date(2024, 9, 6),
    }
    assert dated <= {q.scenario for q in design.spec.questions if q.scenario}


def pd_date(value) -> dt.date:
    return value.date() if hasattr(value, "date") else dt.date.fromisoformat(str(value)[:10])
