"""tasks.reports.findings: numbers as people read them, weekday names, findings and chart shapes per answer."""

from __future__ import annotations

import pytest

from schemas.results import Answer, AnswerKey, ScenarioCheck
from tasks.reports.findings import (
    analyse,
    answer_shape,
    excel_format,
    excel_value,
    executive_summary,
    fmt,
    label_namer,
    series_name,
)


def _answer(qid: str, question: str, columns, rows, types, units=None, labels=None, measure=None, chart="bar", **kw):
    return Answer(
        question_id=qid,
        question=question,
        sql=kw.pop("sql", "SELECT 1"),
        columns=columns,
        rows=rows,
        row_count=len(rows),
        column_types=types,
        units=units or {},
        label_columns=labels or [],
        measure=measure,
        chart=chart,
        **kw,
    )


def test_numbers_read_as_money_percent_counts_and_years() -> None:
    assert fmt(1234.5, "USD") == "$1,234.50"
    assert fmt(1234.5, "BRL") == "1,234.50 BRL"
    assert fmt(2_500_000, "INR", compact=True) == "₹2.50M"
    assert fmt(-12.34, "%", signed=True) == "-12.3%" and fmt(3.0, "%", signed=True) == "+3.0%"
    assert fmt(0.02, "%", signed=True) == "+0.02%"  # not "+0.0%"
    assert fmt(2.0, "count") == "2" and fmt(12345, None) == "12,345"
    assert fmt(None) == "n/a" and fmt(4.5, "days") == "4.50 days"
    assert excel_format("int", None, "order_year") == "0"  # never 2,021
    assert excel_format("float", "%") == "0.0%" and excel_value(14.6, "%") == pytest.approx(0.146)
    assert excel_format("float", "USD") == '"$"#,##0.00'
    assert excel_format("float", "count") == "#,##0.00" and excel_format("int", "count") == "#,##0"


def test_weekday_and_month_numbers_become_names() -> None:
    import pandas as pd

    sunday_first = label_namer("day_of_week_number", pd.Series([0, 3, 6]), "SELECT EXTRACT(DOW FROM d)")
    assert [sunday_first(v) for v in (0, 6)] == ["Sunday", "Saturday"]
    iso = label_namer("weekday", pd.Series([1, 7]), "SELECT isodow(d)")
    assert [iso(v) for v in (1, 7)] == ["Monday", "Sunday"]
    assert label_namer("order_month", pd.Series([1, 12]))(3) == "March"
    assert label_namer("order_year", pd.Series([2021, 2022])) is None
    answer = _answer(
        "q12", "On which day of the week are the most orders placed?", ["day_of_week_number", "orders"],
        [[6, 346], [0, 314], [1, 248]], ["int", "int"], {"orders": "count"}, ["day_of_week_number"], "orders",
        chart="column", sql="SELECT EXTRACT(DOW FROM order_date) AS day_of_week_number",
    )  # fmt: skip
    text = " ".join(f.text for f in analyse(answer))
    assert "Saturday" in text and "Monday" in text and "(6)" not in text
    shape = answer_shape(answer)
    assert shape.kind == "bars" and shape.order == "day_of_week_number"


def test_long_result_is_one_series_per_group_and_share_questions_plot_shares() -> None:
    shares = ((2023, [("App", 27.0), ("Web", 73.0)]), (2024, [("App", 46.5), ("Web", 53.5)]))
    rows = [[year, channel, 100, share] for year, parts in shares for channel, share in parts]
    answer = _answer(
        "q07", "How did each channel's share of orders change between 2023 and 2024?",
        ["order_year", "channel", "orders", "order_share_pct"], rows, ["int", "string", "int", "float"],
        {"orders": "count", "order_share_pct": "%"}, ["order_year", "channel"], "orders", chart="column",
    )  # fmt: skip
    shape = answer_shape(answer)
    assert (shape.kind, shape.group, shape.measure, shape.category) == (
        "stacked100",
        "channel",
        "order_share_pct",
        ["order_year"],
    )
    text = analyse(answer)[0].text
    assert "App" in text and "+19.5 points" in text and "2023" in text and "2,023" not in text
    months = [[f"2024-{m:02d}-01", r, float(m * 10 + i)] for m in range(1, 13) for i, r in enumerate("NSEW")]
    monthly = _answer(
        "m", "Monthly revenue by region", ["month", "region", "revenue"], months, ["date", "string", "float"],
        {"revenue": "USD"}, ["month", "region"], "revenue", chart="line",
    )  # fmt: skip
    shape = answer_shape(monthly)
    assert shape.kind == "lines" and shape.group == "region"


def test_before_after_ranking_and_the_summary() -> None:
    rows = [["West", 100, 55, -45.0], ["East", 100, 98, -2.0], ["North", 80, 84, 5.0]]
    before = _answer(
        "q06", "Compare orders per region in Q2 and Q3. Which region fell the most?",
        ["region", "q2_orders", "q3_orders", "change_pct"], rows, ["string", "int", "int", "float"],
        {"q2_orders": "count", "q3_orders": "count", "change_pct": "%"}, ["region"], "change_pct", chart="column",
        scenario="slump", scenario_finding="Planted finding (slump): West fell.",
        scenario_check=ScenarioCheck(scenario="slump", description="West fell", effect="scale", shown=True),
    )  # fmt: skip
    shape = answer_shape(before)
    assert shape.kind == "clustered" and shape.series == ["q2_orders", "q3_orders"]
    findings = analyse(before)
    assert (
        findings[0].text.startswith("West fell the most (-45.0%, 100 to 55)")
        and "q2 orders 280 against q3 orders 237 (-15.4%)" in findings[0].text
    )
    assert findings[-1].kind == "planted"
    products = [[f"P{i}", f"Product {i}", 1000.0 - 50 * i, i + 1] for i in range(10)]
    ranking = _answer(
        "q02", "Which 10 products generated the most revenue?", ["product_id", "product_name", "revenue", "rank"],
        products, ["string", "string", "float", "int"], {"revenue": "USD"}, ["product_id", "product_name"],
        "revenue",
    )  # fmt: skip
    shape = answer_shape(ranking)
    assert shape.kind == "ranking" and shape.horizontal
    assert "$1,000 (Product 0)" in analyse(ranking)[0].text
    scalar = _answer("s1", "How many?", ["invoices", "invoiced"], [[12, 3456.5]], ["int", "float"],
                     {"invoices": "count", "invoiced": "USD"}, measure="invoiced", answer_shape="scalar")  # fmt: skip
    assert analyse(scalar)[0].text == "The answer is invoices = 12 and invoiced = $3,456.50."
    summary = executive_summary(
        AnswerKey(answers=[before, ranking, scalar, before.model_copy(update={"question_id": "x"})])
    )
    # the copy of q06 says the same sentence: the summary states it once
    assert len(summary) == 3 and len({f.text for f in summary}) == 3
    assert summary[0].question_id in {"q06", "x"}  # a planted finding the answer shows ranks first


def test_hours_read_as_clock_times_and_buckets_name_their_rows() -> None:
    import pandas as pd

    assert label_namer("hour_of_day", pd.Series([0, 19, 23]))(19) == "19:00"
    buckets = _answer(
        "q5", "What share of net sales does each quartile hold?", ["quartile", "net_sales_share_pct"],
        [[1, 52.2], [2, 21.5], [3, 15.4], [4, 10.9]], ["int", "float"], {"net_sales_share_pct": "%"}, [],
        "net_sales_share_pct", chart="pie",
    )  # fmt: skip
    text = analyse(buckets)[0].text
    assert "quartile 1 has the largest share of net sales (52.2%)" in text and "row 1" not in text


def test_a_top_n_result_is_not_a_share_of_its_own_rows() -> None:
    rows = [["Club 07", 12.5e6, 22.0], ["Club 12", 9.2e6, 16.2], ["Club 10", 5.9e6, 10.3]]
    answer = _answer(
        "q02",
        "Which five clubs brought in the most revenue, and what share of the total did each take?",
        ["club_name", "revenue", "share_pct"],
        rows,
        ["string", "float", "float"],
        units={"revenue": "USD", "share_pct": "%"},
        labels=["club_name"],
        measure="revenue",
        sql="SELECT club_name, SUM(amount) AS revenue, ... FROM f GROUP BY 1 ORDER BY revenue DESC LIMIT 5",
    )
    text = " ".join(f.text for f in analyse(answer))
    assert "22.0%" in text  # the share the query computed over all clubs
    assert "45.3%" not in text  # not 12.5 of the 27.6 million the visible rows sum to


def test_periods_named_in_words_are_the_time_axis() -> None:
    """``before (Jul-Dec 2023)`` beside its ``period_start`` is one period: sorted by the date, named by the text."""
    mix = _answer(
        "q12", "How did the mix of status change after the price increase?",
        ["period", "period_start", "status", "memberships", "share_pct"],
        [["after (Jan-Jun 2024)", "2024-01-01", "Cancelled", 300, 22.3],
         ["after (Jan-Jun 2024)", "2024-01-01", "Completed", 1045, 77.7],
         ["before (Jul-Dec 2023)", "2023-07-01", "Cancelled", 190, 14.8],
         ["before (Jul-Dec 2023)", "2023-07-01", "Completed", 1094, 85.2]],
        ["string", "date", "string", "int", "float"], {"memberships": "count", "share_pct": "%"},
        ["period", "period_start", "status"], "share_pct", chart="column",
    )  # fmt: skip
    shape = answer_shape(mix)
    assert shape.kind == "stacked100" and shape.category == ["period"] and shape.group == "status"
    first = analyse(mix)[0].text
    assert first.startswith("From before (Jul-Dec 2023) to after (Jan-Jun 2024)")  # the date orders, not the text
    assert "Cancelled (14.8% to 22.3%, +7.5 points)" in first and "2023-07-01" not in first
    price = _answer(
        "q11", "How did the average unit price change after the price increase?",
        ["period", "avg_unit_price"], [["after", 15118.3], ["before", 13122.2]], ["string", "float"],
        {"avg_unit_price": "INR"}, ["period"], "avg_unit_price", chart="column",
    )  # fmt: skip
    assert analyse(price)[0].text == "From before to after, avg unit price went from ₹13,122 to ₹15,118 (+15.2%)."


def test_two_share_columns_are_drawn_side_by_side_and_each_says_what_it_is_of() -> None:
    plans = _answer(
        "q03", "What share of memberships and of revenue does each plan category account for?",
        ["category", "memberships", "share_of_memberships_pct", "share_of_revenue_pct"],
        [["Annual", 9117, 45.9, 80.0], ["Monthly", 5273, 26.6, 5.4], ["Quarterly", 2688, 13.5, 8.8]],
        ["string", "int", "float", "float"],
        {"memberships": "count", "share_of_memberships_pct": "%", "share_of_revenue_pct": "%"},
        ["category"], "share_of_revenue_pct", chart="pie",
    )  # fmt: skip
    shape = answer_shape(plans)
    assert shape.kind == "clustered" and shape.series == ["share_of_memberships_pct", "share_of_revenue_pct"]
    texts = [f.text for f in analyse(plans)]
    assert "Annual has the largest share of memberships (45.9%)" in texts[0]
    assert "Annual has the largest share of revenue (80.0%)" in texts[1]
    assert series_name(shape.series) == "share"


def test_an_actual_beside_its_target_says_how_often_it_met_it() -> None:
    factors = [72, 80, 86, 88, 83, 90]
    months = [[f"2023-{m:02d}-01", lf, 84.0, round(lf - 84.0, 1)] for m, lf in enumerate(factors, start=1)]
    answer = _answer(
        "q02", "What was the load factor each month, and did it reach the load factor target?",
        ["month_start", "load_factor_pct", "target_load_factor_pct", "gap_pts"], months,
        ["date", "float", "float", "float"], {"load_factor_pct": "%", "target_load_factor_pct": "%"},
        ["month_start"], "gap_pts", chart="line",
    )  # fmt: skip
    texts = [f.text for f in analyse(answer)]
    assert texts[0] == (
        "Load factor met its target in 3 of 6 months; the widest shortfall is Jan 2023 (72.0% against 84.0%); "
        "the best is Jun 2023 (90.0% against 84.0%)."
    )
    assert "(+18.0 percentage points)" in texts[1]  # the load factor, not a percentage change of a gap crossing zero


def test_a_rate_per_thousand_is_what_its_question_is_about() -> None:
    answer = _answer(
        "q08", "How many bags were mishandled per 1,000 passengers who checked bags, by hub?",
        ["hub", "passengers_with_bags", "mishandled", "mishandled_per_1000"],
        [["ORD", 10371, 73, 7.04], ["DEN", 11731, 69, 5.88]], ["string", "int", "int", "float"],
        {"passengers_with_bags": "count", "mishandled": "count", "mishandled_per_1000": "count"}, ["hub"],
        "passengers_with_bags",
    )  # fmt: skip
    assert analyse(answer)[0].text.startswith("Highest mishandled per 1000: 7.0 (ORD)")


def test_a_period_s_first_day_per_group_and_numbered_period_labels_still_name_one_period() -> None:
    channels = _answer(
        "q12", "How did the mix of acquisition channel change after the free trial change?",
        ["period", "period_start", "channel", "accounts", "share_pct"],
        [["before (Jan-Jun 2023)", "2023-01-02", "Partner", 20, 6.6],
         ["before (Jan-Jun 2023)", "2023-01-05", "Organic", 90, 93.4],
         ["after (Jul-Dec 2023)", "2023-07-01", "Partner", 80, 25.5],
         ["after (Jul-Dec 2023)", "2023-07-04", "Organic", 230, 74.5]],
        ["string", "date", "string", "int", "float"], {"accounts": "count", "share_pct": "%"},
        ["period", "period_start", "channel"], "share_pct", chart="column",
    )  # fmt: skip
    assert answer_shape(channels).category == ["period"]  # MIN(signup_date) per period and channel
    assert analyse(channels)[0].text.startswith(
        "From before (Jan-Jun 2023) to after (Jul-Dec 2023), share rose most for Partner (6.6% to 25.5%"
    )
    reasons = _answer(
        "q02", "What were the most common cancellation reasons before and after the price change?",
        ["period", "reason", "cancellations"],
        [["2: after", "Price", 375], ["1: before", "Price", 232],
         ["2: after", "Usage", 414], ["1: before", "Usage", 300]],
        ["string", "string", "int"], {"cancellations": "count"}, ["period", "reason"], "cancellations", chart="bar",
    )  # fmt: skip
    assert analyse(reasons)[0].text.startswith("From 1: before to 2: after, cancellations rose most for Price")


def test_a_question_about_the_lowest_leads_with_the_lowest_and_a_rate_names_its_measure() -> None:
    lowest = _answer(
        "q02", "Which five districts had the lowest coverage in the latest year?",
        ["district", "coverage_pct"], [["Hillside", 71.7], ["Harbour", 82.1], ["Lake", 84.0]],
        ["string", "float"], {"coverage_pct": "%"}, ["district"], "coverage_pct",
    )  # fmt: skip
    assert analyse(lowest)[0].text == (
        "Lowest coverage: 71.7% (Hillside), 7.6 points below the average of the 3 shown (79.3%); "
        "next is Harbour (82.1%)."
    )
    per_capita = _answer(
        "q06", "Which districts have the most admissions per 100,000 people?",
        ["district", "admissions", "per_100k"], [["Central", 612, 61.2], ["East", 342, 34.2]],
        ["string", "int", "float"], {"admissions": "admissions"}, ["district"], "admissions",
    )  # fmt: skip
    assert analyse(per_capita)[0].text.startswith("Highest admissions per 100k: 61.20 (Central)")
