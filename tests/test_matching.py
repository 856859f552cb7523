"""Briefs in different wordings land on the expected domain; the score explains itself; overrides work."""

from __future__ import annotations

import pytest

from schemas.errors import InputError
from tasks.designer_offline import choose_domain, design_offline, detect_locale
from tasks.domains import load_blueprints, rank_domains

# (expected domain, brief): two wordings per domain, none copied from a blueprint's keyword list
BRIEFS = [
    ("retail_ecommerce", "Our online store saw fewer orders and more returns in the West after Q2."),
    ("retail_ecommerce", "An e-commerce shop wants to know which products drive revenue and why customers churn."),
    ("consumer_goods", "An FMCG company misses its sales targets with distributors in modern trade."),
    ("consumer_goods", "A consumer packaged goods maker wants to analyse secondary sales of snacks and beverages."),
    ("hospitality", "A hotel chain is losing occupancy and revenue per available room to new competitors."),
    ("hospitality", "Our resorts see more booking cancellations from online travel agencies every season."),
    ("banking_cards", "A bank wants to understand credit card spending, declined transactions and card fraud."),
    ("banking_cards", "The cards division of our bank sees rising delinquency among credit card holders."),
    ("telecom", "A mobile operator is losing prepaid subscribers and wants to study churn and data usage."),
    ("telecom", "A telecom company sees dropped calls and falling ARPU across its network circles."),
    ("food_delivery", "A food delivery app wants to cut late deliveries and understand restaurant partner ratings."),
    ("food_delivery", "Orders on our meal delivery platform drop on rainy days; riders take longer to deliver."),
    ("ride_hailing", "A ride-hailing company sees more cancelled rides and long driver wait times at airports."),
    ("ride_hailing", "Our cab booking app wants to analyse surge pricing, trips and driver earnings."),
    ("healthcare", "A hospital network wants to reduce patient readmissions and emergency wait times."),
    ("healthcare", "A chain of clinics analyses appointments, no-shows and treatment costs by department."),
    ("hr_workforce", "HR wants to understand employee attrition and the pay gap across departments."),
    ("hr_workforce", "Our people analytics team studies hiring, headcount and resignations after the reorg."),
    ("saas_subscriptions", "A SaaS company wants to reduce subscription churn and grow monthly recurring revenue."),
    ("saas_subscriptions", "Our B2B software startup tracks trial conversions, plan upgrades and MRR."),
    ("airline", "An airline wants to understand flight delays, load factor and lost baggage."),
    ("airline", "A low-cost carrier sees falling seat occupancy on domestic routes and more delayed flights."),
    (
        "supply_chain",
        "A manufacturer's supply chain suffers stockouts, late shipments from suppliers and high inventory.",
    ),
    ("supply_chain", "Our warehouses and logistics network need better lead times and purchase order fill rates."),
    ("insurance", "An insurance company sees rising claims and wants to analyse policies, premiums and fraud."),
    ("insurance", "Our motor insurer wants to understand claim settlement times and policy renewals."),
    ("education", "An online learning platform wants to raise course completion and student engagement."),
    ("education", "A university analyses enrollment, student grades and dropout rates across programs."),
    ("media_streaming", "A video streaming service is losing subscribers and wants to analyse watch time by genre."),
    ("media_streaming", "Our music streaming app studies listening hours, playlists and premium cancellations."),
    ("restaurant", "A restaurant chain wants to understand table turnover, menu item sales and dine-in footfall."),
    ("restaurant", "Our cafes see lower average bills at lunch; which dishes and outlets drive sales?"),
]


@pytest.mark.parametrize(("expected", "brief"), BRIEFS, ids=[f"{d}-{i % 2}" for i, (d, _) in enumerate(BRIEFS)])
def test_brief_lands_on_expected_domain(expected: str, brief: str) -> None:
    """The designer is only useful if a plainly worded brief picks the right blueprint."""
    if expected not in load_blueprints():
        pytest.skip("blueprint not present")
    ranked = rank_domains(brief)
    assert ranked[0].domain == expected, "\n".join(f"{m.domain}: {m.explanation}" for m in ranked[:4])
    assert ranked[0].score > 0 and ranked[0].matched


def test_score_is_the_sum_of_matched_keyword_weights() -> None:
    """The artifact shows the matched keywords; their weights must add up to the score."""
    best = rank_domains("An online store with customers, orders and returns")[0]
    assert best.domain == "retail_ecommerce"
    assert "online store" in best.matched
    assert best.score == pytest.approx(sum(best.weights), abs=1e-3)
    assert best.explanation.endswith(f"= {best.score:.2f}")
    assert 0 < best.share <= 1


def test_plural_and_phrase_words_count_once() -> None:
    """'online stores' matches 'online store' (plural) and its words are not counted again as 'store'."""
    best = rank_domains("two online stores")[0]
    assert "online store" in best.matched
    assert best.matched.count("online store") == 1


def test_domain_override_wins_over_the_brief() -> None:
    domain, ranked = choose_domain("An online store is losing customers", "retail_ecommerce")
    assert domain == "retail_ecommerce" and ranked[0].domain == "retail_ecommerce"
    with pytest.raises(InputError, match="unknown domain 'spaceships'; available domains: .*retail_ecommerce"):
        choose_domain("An online store", "spaceships")


def test_unmatched_brief_asks_for_a_domain() -> None:
    with pytest.raises(InputError, match="does not match any domain; .* or pass --domain"):
        design_offline("Quarterly zzzz qqqq report")


def test_design_lists_the_chosen_domain_first_with_runner_ups() -> None:
    result = design_offline("An online store is losing customers", seed=1)
    assert result.matches[0].domain == result.domain == "retail_ecommerce"
    assert len(result.matches) == min(4, len(load_blueprints()))


@pytest.mark.parametrize(
    ("brief", "locale"),
    [
        ("An online store in Mumbai and Pune is losing customers", "en_IN"),
        ("A Bengaluru food delivery app reports revenue in crore", "en_IN"),
        ("An online store in Ohio is losing customers", "en_US"),
    ],
)
def test_locale_follows_the_brief(brief: str, locale: str) -> None:
    assert detect_locale(brief) == locale
