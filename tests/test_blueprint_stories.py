"""Planted stories of the blueprints survive a small dataset (3,000 rows), in the seeds that lost them before.

Each case generates one blueprint at the audit's size (``bench/audit.py``) and asserts the specific story
the story check (``tasks/quality/categories/story.py``) found missing: a planted scenario measurable at its
stated size, a measure that varies, a yearly figure that moves.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from tasks.designer import design
from tasks.engine import generate_dataset
from tasks.quality.categories.story import DIFFERENCE_MIN, scenario_measures, size_problems

ROWS = 3_000


def _build(domain: str, seed: int, locale: str = "en_US"):
    spec = design(f"{domain.replace('_', ' ')} challenge", domain=domain, rows=ROWS, seed=seed, locale=locale).spec
    return spec, generate_dataset(spec)


def _scenario_problems(domain: str, seed: int, scenario: str, locale: str = "en_US") -> list[str]:
    spec, tables = _build(domain, seed, locale)
    planted = next((s for s in spec.scenarios if s.name == scenario), None)
    assert planted is not None, f"{domain} seed {seed} no longer plants {scenario}; pick a seed that does"
    stats = next(m for m in scenario_measures(spec, tables) if m["scenario"] == scenario)
    return size_problems(planted, stats)


@pytest.mark.parametrize(
    ("domain", "seed", "locale", "scenario"),
    [
        ("ride_hailing", 2, "en_US", "premium_fleet_partnership"),  # no Premium driver at 18 drivers
        ("ride_hailing", 5, "en_US", "premium_fleet_partnership"),
        ("banking_cards", 4, "en_IN", "instant_approval_vintage_risk"),  # 15 cards in the 2024 vintage
        ("banking_cards", 5, "en_US", "instant_approval_vintage_risk"),
        ("hr_workforce", 5, "en_US", "hiring_freeze_h1_2024"),  # the hiring trend hid the freeze
        ("hr_workforce", 1, "en_IN", "hiring_freeze_h1_2024"),
    ],
)
def test_planted_scenario_is_measurable_at_its_size(domain: str, seed: int, locale: str, scenario: str) -> None:
    assert _scenario_problems(domain, seed, scenario, locale) == []


@pytest.mark.parametrize("seed", [3, 4])
def test_insurance_has_open_claims_with_reserves_that_follow_claim_size(seed: int) -> None:
    _, tables = _build("insurance", seed)
    claims = tables["fact_claim"]
    open_claims = claims[claims["claim_status"] == "Open"]
    assert len(open_claims) >= 3, "no open claims at the extract date: reserve_amount is constant"
    assert claims["reserve_amount"].nunique() > 2
    assert (open_claims["reserve_amount"] > 0).all()
    assert open_claims["reserve_amount"].corr(open_claims["claimed_amount"]) > 0.9


def _yearly(frame: pd.DataFrame, sql: str) -> list[float]:
    con = duckdb.connect()
    try:
        con.register("t", frame)
        return [float(v) for (v,) in con.execute(sql).fetchall()]
    finally:
        con.close()


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / (sum(abs(v) for v in values) / len(values))


@pytest.mark.parametrize(("seed", "locale"), [(2, "en_IN"), (3, "en_US")])
def test_hr_closing_headcount_moves_between_years(seed: int, locale: str) -> None:
    spec, tables = _build("hr_workforce", seed, locale)
    end = spec.challenge.time_window.end.year
    staff = tables["dim_employee"]
    closing = []
    for year in (end - 1, end):
        y_end = pd.Timestamp(f"{year}-12-31")
        stayed = staff["termination_date"].isna() | (staff["termination_date"] > y_end)
        on_payroll = (staff["hire_date"] <= y_end) & stayed
        closing.append(float(on_payroll.sum()))
    assert _spread(closing) >= DIFFERENCE_MIN, closing


@pytest.mark.parametrize("seed", [5])
def test_telecom_arpu_moves_between_years_without_a_tariff_hike(seed: int) -> None:
    spec, tables = _build("telecom", seed)
    assert "tariff_hike_july_2024" not in {s.name for s in spec.scenarios}  # the case that was flat
    arpu = _yearly(
        tables["fact_monthly_region_kpis"],
        "SELECT SUM(revenue) / SUM(active_subscribers) FROM t GROUP BY year(month_start) ORDER BY year(month_start)",
    )
    assert len(arpu) >= 2 and _spread(arpu) >= DIFFERENCE_MIN, arpu
