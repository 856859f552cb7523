"""Clean generated data passes all 8 quality categories on every blueprint, and each loosened rule still bites.

The flow's automatic approval fails a run on any unplanned defect, so a false alarm on clean data
breaks the product. Every domain is designed (variation included) at a small and a medium size with
two seeds. Each rule changed to stop a false alarm has a mutation test: the defect it exists for is
still reported, in its category, located.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from schemas.quality import CATEGORIES
from tasks.designer import design
from tasks.engine import generate_dataset
from tasks.engine.evaluate import evaluate
from tasks.quality import run_quality
from tasks.quality.sqlexpr import translate

DOMAINS = sorted(p.stem for p in (Path(__file__).absolute().parent.parent / "domains").glob("*.yaml"))
SIZES = (300, 5_000)
SEEDS = (3, 11)


@cache
def _designed(domain: str, rows: int, seed: int):
    spec = design("x", domain=domain, rows=rows, seed=seed).spec
    return spec, generate_dataset(spec)


def _copy(tables):
    return {name: frame.copy() for name, frame in tables.items()}


def _unplanned(report) -> dict[str, list[str]]:
    """Unplanned findings of the eight categories' own rules. Story-check findings are real defects of the
    blueprints' stories (bench/audit.py counts them; from DATAFACTORY_STORY_MIN_ROWS rows they stop a run), not
    false alarms of a rule, so they are left out here."""
    return {
        c.category: [f"{f.check_id}: {f.message} e.g. {f.examples[:2]}" for f in c.findings if not f.story]
        for c in report.categories
        if any(not f.story for f in c.findings)
    }


# Questions whose answer is genuinely empty on a 300-row dataset: the coverage rule is right to say so
# (a learner would get no answer); the blueprint question, not the check, needs a decision. Every other
# rule is still enforced on these datasets.
# keyed by what the question's SQL filters on: question ids are renumbered after the seeded selection
EMPTY_AT_SMALL_SCALE = {
    ("hospitality", "hotel_type = 'Resort'"): "some seeds draw no resort bookings in 300 rows",
    ("supply_chain", "customer_tier = 'Key account'"): "some seeds give the few key accounts no lines in 300 rows",
}


def _small_scale_reason(domain: str, spec, question_id: str) -> str | None:
    sql = next((q.sql for q in spec.questions if q.id == question_id), "")
    return next((why for (d, where), why in EMPTY_AT_SMALL_SCALE.items() if d == domain and where in sql), None)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_clean_generated_data_passes_every_category(domain: str, rows: int, seed: int) -> None:
    """Generated data follows its own spec: any finding here is a false alarm that fails auto-approval."""
    spec, tables = _designed(domain, rows, seed)
    report = run_quality(spec, tables)
    known = [
        f
        for f in report.category("coverage").findings
        if rows <= 300 and f.table == "questions" and _small_scale_reason(domain, spec, f.column)
    ]
    others = {k: v for k, v in _unplanned(report).items() if k != "coverage" or len(v) > len(known)}
    assert others == {}
    assert [c.category for c in report.categories] == list(CATEGORIES)
    if known:
        pytest.xfail("; ".join(f"{f.column}: {_small_scale_reason(domain, spec, f.column)}" for f in known))
    assert report.verdict == "pass"


# --------------------------------------------------------------------------- mutations of the loosened rules


def _assert_only(report, category: str, table: str, column: str | None, example: str | None = None) -> None:
    found = _unplanned(report)
    assert category in found, f"{category} did not notice the defect; findings: {found}"
    located = [f for f in report.category(category).findings if f.table == table and f.column == column]
    assert located, found[category]
    if example is not None:
        assert any(example in x for f in located for x in f.examples), [f.examples for f in located]
    assert set(found) == {category}, found


def test_derived_null_where_the_expression_gives_a_date_is_a_completeness_defect() -> None:
    """end_date = where(start + tenure <= window end, start + tenure, None): empty only where the expression is."""
    spec, clean = _designed("saas_subscriptions", 300, 3)
    tables = _copy(clean)
    subs = tables["fact_subscription"]
    i = subs.index[subs["end_date"].notna()][0]
    subs.loc[i, "end_date"] = pd.NaT
    report = run_quality(spec, tables)
    located = [f for f in report.category("completeness").findings if f.column == "end_date"]
    assert located and subs.loc[i, "subscription_id"] in " ".join(located[0].examples)
    # status = where(end_date <= ..., 'Churned', 'Active') now disagrees with the emptied end_date, rightly
    others = {f.check_id for c in report.categories if c.category != "completeness" for f in c.findings}
    assert others <= {"consistency:fact_subscription.status:derived"}, others


def test_derived_value_where_the_expression_gives_none_is_a_consistency_defect() -> None:
    spec, clean = _designed("saas_subscriptions", 300, 3)
    tables = _copy(clean)
    subs = tables["fact_subscription"]
    i = subs.index[subs["end_date"].isna() & (subs["status"] == "Active")][0]
    subs.loc[i, "end_date"] = subs.loc[i, "start_date"]
    # status follows end_date in the spec; keep it as generated so only end_date is wrong
    report = run_quality(spec, tables)
    found = _unplanned(report)
    assert "consistency" in found
    assert any(f.column in ("end_date", "status") for f in report.category("consistency").findings)
    assert subs.loc[i, "subscription_id"] in " ".join(
        x for f in report.category("consistency").findings for x in f.examples
    )


def test_bool_conditional_keys_still_decide_where_a_value_may_be_empty() -> None:
    """customer_rating is a conditional on the bool is_late; a rating missing far too often is a defect."""
    spec, clean = _designed("food_delivery", 5_000, 3)
    tables = _copy(clean)
    orders = tables["fact_orders"]
    orders["customer_rating"] = orders["customer_rating"].astype("Float64")
    orders.loc[orders.index[: len(orders) * 3 // 4], "customer_rating"] = None
    report = run_quality(spec, tables)
    assert not report.category("completeness").passed
    assert any(f.column == "customer_rating" for f in report.category("completeness").findings)


def test_bool_category_shares_are_measured_as_python_writes_them() -> None:
    """is_online_merchant = True everywhere: its share of True is far from the weight."""
    spec, clean = _designed("banking_cards", 5_000, 3)
    tables = _copy(clean)
    tables["dim_merchants"]["is_online_merchant"] = True
    report = run_quality(spec, tables)
    _assert_only(report, "distribution", "dim_merchants", "is_online_merchant")


def test_scaled_categorical_accepts_scaled_values_but_not_others() -> None:
    """surge_multiplier may be 2.2 x 1.2 = 2.64 (a planted scale scenario) but never 1.3."""
    spec, clean = _designed("ride_hailing", 300, 3)
    tables = _copy(clean)
    trips = tables["fact_trips"]
    i = trips.index[trips["surge_multiplier"] == 1.0][0]
    old = trips.loc[i, "surge_multiplier"]
    trips.loc[i, "surge_multiplier"] = 1.3
    # keep what is derived from it consistent, so only validity breaks
    derived = [c for c in spec.table("fact_trips").columns if c.generator.kind == "derived"]
    for column in derived:
        row = {c: trips.loc[[i], c].reset_index(drop=True) for c in trips.columns}
        trips.loc[i, column.name] = evaluate(column.generator.expression, row, 1).iloc[0]
    assert old != 1.3
    report = run_quality(spec, tables)
    assert "validity" in _unplanned(report)
    located = [f for f in report.category("validity").findings if f.column == "surge_multiplier"]
    assert located and any("1.3" in x for f in located for x in f.examples)


def test_recomputed_total_with_imprecise_inputs_still_catches_a_wrong_total() -> None:
    """passenger_revenue reads avg_fare, which a scenario scales without rounding: slack of a cent, not a dollar."""
    spec, clean = _designed("airline", 300, 3)
    tables = _copy(clean)
    flights = tables["fact_flight"]
    flights.loc[5, "passenger_revenue"] = flights.loc[5, "passenger_revenue"] + 5.0
    report = run_quality(spec, tables)
    _assert_only(report, "consistency", "fact_flight", "passenger_revenue", flights.loc[5, "flight_id"])


def test_recomputed_total_with_exact_inputs_catches_two_cents() -> None:
    spec, clean = _designed("retail_ecommerce", 300, 3)
    tables = _copy(clean)
    items = tables["order_items"]
    items.loc[4, "net_amount"] = round(items.loc[4, "net_amount"] + 0.02, 2)
    report = run_quality(spec, tables)
    found = _unplanned(report)
    located = [f for f in report.category("consistency").findings if f.column == "net_amount"]
    assert located, found
    assert any(f"{items.loc[4, 'order_item_id']}: net_amount=" in x for x in located[0].examples), located[0].examples


def test_measure_that_cannot_be_empty_is_still_checked_in_an_aggregate_table() -> None:
    """A sum measure is never empty (mean of an empty group may be): emptying one is a completeness defect."""
    spec, clean = _designed("hr_workforce", 300, 3)
    tables = _copy(clean)
    table = next(t for t in spec.tables if t.aggregate_of is not None)
    column = next(c for c in table.columns if c.generator.kind == "measure" and c.generator.function == "sum")
    frame = tables[table.name]
    frame[column.name] = frame[column.name].astype("Float64")
    frame.loc[0, column.name] = None
    report = run_quality(spec, tables)
    _assert_only(report, "completeness", table.name, column.name)


def test_month_without_rows_is_found_where_seasonality_expects_many() -> None:
    """Reviews peak in March (weights, after the hire date): removing March 2024 leaves a hole."""
    spec, clean = _designed("hr_workforce", 5_000, 3)
    tables = _copy(clean)
    reviews = tables["fact_performance_review"]
    march = reviews["review_date"].dt.strftime("%Y-%m") == f"{spec.challenge.time_window.end.year}-03"
    assert march.sum() >= 20
    tables["fact_performance_review"] = reviews[~march].reset_index(drop=True)
    report = run_quality(spec, tables)
    located = [f for f in report.category("coverage").findings if f.column == "review_date"]
    assert located, _unplanned(report)
    assert any("-03 has no rows" in x for f in located for x in f.examples)


def test_row_count_with_a_volume_scenario_has_binomial_slack_only() -> None:
    """A volume scenario makes the row count random, within a few standard errors; a fifth missing is a defect."""
    spec, clean = _designed("ride_hailing", 5_000, 3)
    tables = _copy(clean)
    trips = tables["fact_trips"]
    tables["fact_trips"] = trips.iloc[: int(len(trips) * 0.8)].reset_index(drop=True)
    report = run_quality(spec, tables)
    assert any(f.check_id == "coverage:fact_trips.*:row_count" for f in report.category("coverage").findings)


# --------------------------------------------------------------------------- the SQL translation of expressions

EXPRESSIONS = [
    "round(quantity * unit_price * (1 - discount), 2)",
    "round(7 * hours / weekly, 0)",
    "where(status == 'Closed', add_days(start, days), None)",
    "where(add_days(start, days) <= to_date('2024-06-30'), 'Churned', 'Active')",
    "days_between(start, add_days(start, days))",
    "year(start) * 100 + month(start)",
    "quantity // 3 + quantity % 3",
    "max(unit_price, 20) - min(unit_price, 20)",
    "clip(unit_price, 10, 50)",
    "is_weekend(start)",
    "concat(lower(name), '.', slug(city), '@example.com')",
    "where(flag, 1, 0) + where(quantity > 5 and status != 'Closed', 2, 0)",
    "lower(name) + '-' + upper(city)",
    "month_name(start)",
    "quantity in (1, 2, 3)",
    "coalesce(maybe, 0.0) * 2",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_sql_translation_gives_the_engine_value(expression: str) -> None:
    """The consistency check recomputes derived columns in DuckDB: it must agree with the engine row by row."""
    rng = np.random.default_rng(7)
    n = 5_000
    frame = pd.DataFrame(
        {
            "quantity": rng.integers(1, 10, n),
            "unit_price": np.round(rng.lognormal(3, 1, n), 2),
            "discount": rng.choice([0.0, 0.05, 0.1, 0.15, 0.2], n),
            "hours": np.round(rng.lognormal(2, 0.5, n), 1),
            "weekly": rng.choice([2.0, 3.5, 5.0, 7.0], n),
            "status": rng.choice(["Open", "Closed"], n).astype(object),
            "start": pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "days": rng.integers(0, 400, n),
            "flag": rng.random(n) < 0.3,
            "name": rng.choice(["Ana", "Élodie", "O'Brien", "Zoë"], n).astype(object),
            "city": rng.choice(["São Paulo", "New York", "Köln"], n).astype(object),
            "maybe": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
        }
    )
    kinds = {"status": "text", "name": "text", "city": "text", "start": "date", "flag": "bool"}
    sql = translate(
        expression, lambda c: (f'"{c}"', kinds.get(c, "num"), c == "maybe") if c in frame.columns else 1 / 0
    )
    assert sql is not None, expression
    expected = evaluate(expression, {c: frame[c] for c in frame.columns}, n)
    got = duckdb.connect().execute(f"SELECT {sql[0]} AS v FROM frame").df()["v"]
    if pd.api.types.is_datetime64_any_dtype(expected):
        assert (pd.to_datetime(got).fillna(pd.Timestamp(0)) == expected.fillna(pd.Timestamp(0))).all()
    elif pd.api.types.is_numeric_dtype(expected) and not pd.api.types.is_bool_dtype(expected):
        np.testing.assert_array_equal(got.to_numpy(dtype=float), expected.to_numpy(dtype=float))
    else:
        assert [None if pd.isna(x) else x for x in got] == [None if pd.isna(x) else x for x in expected]


def test_text_that_may_be_empty_is_not_translated() -> None:
    """pandas writes an empty value as 'nan' inside text: SQL cannot imitate that, so the engine recomputes it."""
    assert translate("concat(name, '!')", lambda c: ('"name"', "text", True)) is None
    assert translate("concat(name, '!')", lambda c: ('"name"', "text", False)) is not None
