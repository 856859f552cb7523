"""The answer key: its numbers equal an independent pandas computation on the package CSVs, its
analysis is drawn from the result, planted scenarios are checked, the LLM path works and falls back."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from schemas.errors import InputError
from schemas.serialize import spec_from_data
from schemas.spec import ChallengeSpec, QuestionSpec
from tasks.answers import check_scenario, compute_answers, result_units, scenario_text
from tasks.domains import load_blueprint
from tasks.engine.output import generate_to_files
from tasks.engine.types import ARROW_TYPES
from tasks.settings import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DOMAINS = sorted((Path(__file__).resolve().parent.parent / "domains").glob("*.yaml"))


def _fixture_spec() -> ChallengeSpec:
    return spec_from_data(yaml.safe_load((FIXTURES / "reports_subscriptions.yaml").read_text()))


def _build(spec: ChallengeSpec, work: Path):
    files = generate_to_files(spec, work)
    key = compute_answers(spec, files.parquet, scenarios=files.scenarios)
    csv = {
        name: pd.read_csv(
            path, parse_dates=[c.name for c in spec.table(name).columns if c.type in ("date", "datetime")]
        )
        for name, path in files.csv.items()
    }
    return key, csv, files


@pytest.fixture(scope="module")
def retail(tmp_path_factory, retail_spec):
    spec = retail_spec.model_copy(update={"scale": 10_000})  # enough rows for the planted slump to beat noise
    key, csv, files = _build(spec, tmp_path_factory.mktemp("retail"))
    return spec, key, csv, files


@pytest.fixture(scope="module")
def subscriptions(tmp_path_factory):
    spec = _fixture_spec()
    key, csv, files = _build(spec, tmp_path_factory.mktemp("subs"))
    return spec, key, csv, files


def assert_same(answer, expected: pd.DataFrame, sort_by: list[str] | None = None) -> None:
    """Answer rows equal ``expected`` column by column (numbers within the queries' rounding)."""
    got = answer.frame()
    assert list(got.columns) == list(expected.columns), answer.question_id
    assert answer.row_count == len(expected), answer.question_id
    if sort_by:
        got = got.sort_values(sort_by).reset_index(drop=True)
        expected = expected.sort_values(sort_by).reset_index(drop=True)
    for column in expected.columns:
        want, have = expected[column], got[column]
        if pd.api.types.is_numeric_dtype(want) and not pd.api.types.is_bool_dtype(want):
            np.testing.assert_allclose(
                have.astype(float), want.astype(float), rtol=1e-9, atol=0.051, err_msg=f"{answer.question_id}.{column}"
            )
        else:
            assert have.astype(str).tolist() == want.astype(str).tolist(), f"{answer.question_id}.{column}"


def _lines(csv) -> pd.DataFrame:
    lines = csv["order_items"].merge(csv["orders"], on="order_id", suffixes=("", "_order"))
    return lines[lines["status"] != "Cancelled"].merge(csv["products"], on="product_id", suffixes=("", "_product"))


# --------------------------------------------------------------------------- retail, by hand in pandas


def test_retail_yearly_revenue_and_growth_match_pandas(retail) -> None:
    """q01: orders, revenue and YoY growth per year, recomputed from the CSVs."""
    _, key, csv, _ = retail
    lines = _lines(csv)
    lines["order_year"] = lines["order_date"].dt.year
    yearly = lines.groupby("order_year").agg(orders=("order_id", "nunique"), revenue=("net_amount", "sum"))
    yearly["revenue"] = yearly["revenue"].round(2)
    yearly["revenue_growth_pct"] = (100 * yearly["revenue"].pct_change()).round(1)
    assert_same(key.answer("q01"), yearly.reset_index())


def test_retail_top_products_match_pandas(retail) -> None:
    """q02: the 10 products with most revenue, in order, with their revenue and rank."""
    _, key, csv, _ = retail
    lines = _lines(csv)
    top = (
        lines.groupby(["product_id", "product_name", "category"], as_index=False)["net_amount"]
        .sum()
        .rename(columns={"net_amount": "revenue"})
        .sort_values("revenue", ascending=False)
        .head(10)
    )
    top["revenue_rank"] = np.arange(1, 11)
    top["revenue"] = top["revenue"].round(2)
    assert_same(key.answer("q02"), top.reset_index(drop=True))


def test_retail_category_share_matches_pandas(retail) -> None:
    """q03: revenue and share of total per category."""
    _, key, csv, _ = retail
    by_category = _lines(csv).groupby("category", as_index=False)["net_amount"].sum()
    by_category["revenue_share_pct"] = (100 * by_category["net_amount"] / by_category["net_amount"].sum()).round(1)
    by_category = by_category.rename(columns={"net_amount": "revenue"}).sort_values("revenue", ascending=False)
    by_category["revenue"] = by_category["revenue"].round(2)
    assert_same(key.answer("q03"), by_category.reset_index(drop=True))


def test_retail_return_rate_matches_pandas(retail) -> None:
    """q05: shipped lines, returned lines and return rate per category."""
    _, key, csv, _ = retail
    lines = csv["order_items"].merge(csv["orders"], on="order_id").merge(csv["products"], on="product_id")
    lines = lines[lines["status"].isin(["Delivered", "Returned"])]
    rates = lines.groupby("category").agg(
        shipped_lines=("order_id", "size"), returned_lines=("status", lambda s: int((s == "Returned").sum()))
    )
    rates["return_rate_pct"] = (100 * rates["returned_lines"] / rates["shipped_lines"]).round(2)
    assert_same(key.answer("q05"), rates.reset_index(), sort_by=["category"])


def test_retail_quarter_change_by_region_matches_pandas(retail) -> None:
    """q06: Q2 vs Q3 2024 orders per region and the change in %."""
    _, key, csv, _ = retail
    orders = csv["orders"]
    q2 = orders["order_date"].between("2024-04-01", "2024-06-30")
    q3 = orders["order_date"].between("2024-07-01", "2024-09-30")
    frame = orders.assign(q2_orders=q2.astype(int), q3_orders=q3.astype(int))
    regions = frame.groupby("ship_region")[["q2_orders", "q3_orders"]].sum()
    regions["change_pct"] = (100 * (regions["q3_orders"] - regions["q2_orders"]) / regions["q2_orders"]).round(1)
    assert_same(key.answer("q06"), regions.reset_index().sort_values("change_pct").reset_index(drop=True))


def test_retail_delivery_days_and_weekdays_and_returns_match_pandas(retail) -> None:
    """q08, q12, q13: average delivery days per region, orders per weekday, returns per reason."""
    _, key, csv, _ = retail
    orders = csv["orders"]
    delivered = orders[orders["delivery_date"].notna()].copy()
    delivered["days"] = (delivered["delivery_date"] - delivered["order_date"]).dt.days
    q08 = delivered.groupby("ship_region").agg(avg_delivery_days=("days", "mean"), delivered_orders=("days", "size"))
    q08["avg_delivery_days"] = q08["avg_delivery_days"].round(2)
    assert_same(key.answer("q08"), q08.reset_index(), sort_by=["ship_region"])

    # DuckDB's DOW counts from Sunday = 0, pandas' dayofweek from Monday = 0
    weekday = ((orders["order_date"].dt.dayofweek + 1) % 7).rename("day_of_week_number")
    q12 = weekday.value_counts().rename("orders").reset_index()
    assert_same(key.answer("q12"), q12, sort_by=["day_of_week_number"])

    returns = csv["returns"]
    q13 = returns.groupby("reason").agg(returns=("return_id", "size"), refunded=("refund_amount", "sum"))
    q13["refunded"] = q13["refunded"].round(2)
    assert_same(key.answer("q13"), q13.reset_index(), sort_by=["reason"])


def test_retail_segment_order_value_matches_pandas(retail) -> None:
    """q10: orders and average order value per customer segment."""
    _, key, csv, _ = retail
    orders = csv["orders"][csv["orders"]["status"] != "Cancelled"].merge(csv["customers"], on="customer_id")
    q10 = orders.groupby("segment").agg(orders=("order_id", "size"), avg_order_value=("order_total", "mean"))
    q10["avg_order_value"] = q10["avg_order_value"].round(2)
    assert_same(key.answer("q10"), q10.reset_index(), sort_by=["segment"])


# --------------------------------------------------------------------------- the fixture domain, by hand


def test_fixture_scalar_and_plan_share_match_pandas(subscriptions) -> None:
    """s1 (a scalar) and s2 (share of total per plan) recomputed from the CSVs."""
    _, key, csv, _ = subscriptions
    invoices = csv["invoices"]
    s1 = pd.DataFrame({"invoices": [len(invoices)], "invoiced": [round(invoices["amount"].sum(), 2)]})
    assert_same(key.answer("s1"), s1)
    assert key.answer("s1").highlights[0].startswith("The answer is invoices = ")

    s2 = invoices.groupby("plan_name", as_index=False)["amount"].sum()
    s2["invoiced_share_pct"] = (100 * s2["amount"] / s2["amount"].sum()).round(1)
    s2 = s2.rename(columns={"amount": "invoiced"}).sort_values("invoiced", ascending=False).reset_index(drop=True)
    s2["invoiced"] = s2["invoiced"].round(2)
    assert_same(key.answer("s2"), s2)


def test_fixture_monthly_unpaid_and_spring_match_pandas(subscriptions) -> None:
    """s3 (time series), s4 (rate via a join) and s5 (before/after) recomputed from the CSVs."""
    _, key, csv, _ = subscriptions
    invoices = csv["invoices"]
    s3 = invoices.groupby(invoices["invoice_date"].dt.to_period("M")).size().rename("invoices").reset_index()
    s3["invoice_month"] = s3["invoice_date"].dt.to_timestamp().dt.date.astype(str)
    assert_same(key.answer("s3"), s3[["invoice_month", "invoices"]])

    joined = invoices.merge(csv["accounts"], on="account_id")
    s4 = joined.groupby("country").agg(invoices=("invoice_id", "size"), unpaid=("paid", lambda s: int((~s).sum())))
    s4["unpaid_rate_pct"] = (100 * s4.pop("unpaid") / s4["invoices"]).round(2)
    assert_same(key.answer("s4"), s4.reset_index(), sort_by=["country"])

    spring = invoices.assign(
        spring_2023=invoices["invoice_date"].between("2023-03-01", "2023-05-31").astype(int),
        spring_2024=invoices["invoice_date"].between("2024-03-01", "2024-05-31").astype(int),
    )
    s5 = spring.groupby("plan_name")[["spring_2023", "spring_2024"]].sum()
    s5["change_pct"] = (100 * (s5["spring_2024"] - s5["spring_2023"]) / s5["spring_2023"]).round(1)
    assert_same(key.answer("s5"), s5.reset_index(), sort_by=["plan_name"])


# --------------------------------------------------------------------------- every shipped domain


def _duckdb_type(kind: str) -> str:
    return {"int": "BIGINT", "float": "DOUBLE", "decimal": "DOUBLE", "bool": "BOOLEAN", "date": "DATE"}.get(
        kind, "TIMESTAMP" if kind == "datetime" else "VARCHAR"
    )


@pytest.mark.parametrize("path", DOMAINS, ids=[p.stem for p in DOMAINS])
def test_every_domain_answer_key_equals_the_sql_run_on_its_csvs(path: Path, tmp_path: Path) -> None:
    """For any domain: the answer key equals the same SQL run by a separate DuckDB reading the CSVs
    with the spec's types, so nothing is lost between the query and the key (rounding, dates, nulls)."""
    # Setup
    spec = load_blueprint(path).spec.model_copy(update={"scale": 1_500})
    assert set(ARROW_TYPES) >= {c.type for t in spec.tables for c in t.columns}
    files = generate_to_files(spec, tmp_path)
    # Run
    key = compute_answers(spec, files.parquet, scenarios=files.scenarios)
    # Assert
    con = duckdb.connect(":memory:", config={"threads": 1})  # ties under ORDER BY keep one order, as in the key
    for table in spec.tables:
        types = ", ".join(f"'{c.name}': '{_duckdb_type(c.type)}'" for c in table.columns)
        con.execute(
            f"CREATE TABLE {table.name} AS SELECT * FROM read_csv('{files.csv[table.name]}', header=true, "
            f"columns={{{types}}})"
        )
    for question in spec.questions:
        answer = key.answer(question.id)
        assert answer.error is None, answer.error
        expected = con.execute(question.sql).df()
        for column, kind in zip(answer.columns, answer.column_types, strict=True):
            if kind in ("date", "datetime"):
                values = pd.to_datetime(expected[column])
                text = values.dt.date.astype(str) if kind == "date" else values.map(lambda v: v.isoformat())
                expected[column] = text.where(values.notna(), None)
        assert_same(answer, expected.head(len(answer.rows)))


# --------------------------------------------------------------------------- analysis and scenarios


def test_retail_units_follow_the_sql_to_the_spec_columns(retail_spec) -> None:
    """Revenue in q01 is a SUM of net_amount (USD) through a CTE; orders are a count; growth is in %."""
    question = next(q for q in retail_spec.questions if q.id == "q01")
    units = result_units(retail_spec, question.sql, ["order_year", "orders", "revenue", "revenue_growth_pct"])
    assert units == {"orders": "count", "revenue": "USD", "revenue_growth_pct": "%"}


def test_retail_analysis_names_extremes_share_and_trend(retail) -> None:
    """The template analysis is drawn from the result: largest and smallest, share of total, trend."""
    _, key, _, _ = retail
    q03 = key.answer("q03")
    frame = q03.frame()
    top = frame.loc[frame["revenue"].idxmax()]
    assert f"({top['category']})" in q03.analysis
    assert f"{100 * top['revenue'] / frame['revenue'].sum():.1f}% of the total revenue" in q03.analysis
    q04 = key.answer("q04")
    assert "The trend is " in q04.analysis and "went from" in q04.analysis
    assert q04.units["revenue"] == "USD" and q04.column_types[0] == "date"
    assert key.analysis_source == "template"


def test_retail_scenario_questions_state_the_planted_finding_and_its_size(retail) -> None:
    """q06 and q07 are linked to planted scenarios: the finding, stated and measured size, and a verdict."""
    _, key, _, files = retail
    measured = {s["scenario"]: s for s in files.scenarios}
    q06 = key.answer("q06")
    assert q06.scenario_check.shown is True
    assert q06.scenario_check.measured == pytest.approx(measured["west_q3_slump"]["measured"])
    assert "Planted finding (west_q3_slump)" in q06.analysis
    # q06 has Q2 and Q3 columns: West's change between them is set against the other regions' change
    assert "for West, q3 orders (inside the scenario window)" in q06.analysis
    assert "while the other 3 rows change by" in q06.analysis
    assert "measured in the generated data x" in q06.scenario_finding
    q07 = key.answer("q07")
    assert q07.scenario_check.shown is True
    assert "Mobile App" in q07.scenario_check.evidence
    assert key.answer("q01").scenario_check is None


def test_fixture_scenario_is_shown_by_its_question(subscriptions) -> None:
    """s5 compares spring 2024 with spring 2023 per plan: Pro's spring falls, the other plans' does not."""
    _, key, _, _ = subscriptions
    check = key.answer("s5").scenario_check
    assert check.shown is True
    assert check.evidence.startswith("for Pro, spring 2024 (inside the scenario window)")
    assert "while the other 3 rows change by" in check.evidence


def test_scenario_not_shown_when_the_segment_is_not_the_extreme(retail_spec) -> None:
    """An answer where West did not fall the most does not 'show' the West slump, and says so."""
    # Setup
    frame = pd.DataFrame({"ship_region": ["West", "South", "Midwest"], "change_pct": [-5.0, -30.0, 4.0]})
    # Run
    check = check_scenario(
        retail_spec, "west_q3_slump", frame, ["string", "float"], {"change_pct": "%"}, ["ship_region"], "change_pct"
    )
    # Assert
    assert check.shown is False
    assert "does not show it clearly" in scenario_text(check)
    assert "measured size not available" in scenario_text(check)


def test_failing_or_escaping_question_is_recorded_not_raised(retail, retail_spec) -> None:
    """A broken question (unknown column) or one that reads a file gets an error and a note; others still run."""
    # Setup
    _, _, _, files = retail
    broken = QuestionSpec(id="bad1", text="A question with a typo in it", sql="SELECT no_such_column FROM orders")
    escaping = QuestionSpec(id="bad2", text="A question that reads a file", sql="SELECT * FROM read_csv('/etc/passwd')")
    spec = retail_spec.model_copy(update={"questions": [broken, escaping, retail_spec.questions[0]]})
    # Run
    key = compute_answers(spec, files.parquet)
    # Assert
    assert "no_such_column" in key.answer("bad1").error and "fix this question's SQL" in key.answer("bad1").error
    assert "SqlRefused" in key.answer("bad2").error
    assert key.answer("q01").error is None and key.answer("q01").row_count >= 1
    assert [n.split(":")[0] for n in key.notes] == ["bad1", "bad2"]


def test_compute_answers_rejects_what_is_not_tables(retail_spec) -> None:
    with pytest.raises(InputError, match="sandbox connection or a mapping"):
        compute_answers(retail_spec, ["orders.parquet"])
    with pytest.raises(InputError, match="does not exist"):
        compute_answers(retail_spec, {"orders": Path("/nonexistent/orders.parquet")})


# --------------------------------------------------------------------------- the LLM path


class _ChatServer:
    """A local HTTP server speaking the OpenAI chat-completions API; ``fail`` makes it answer 500."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                if fail:
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "model crashed", "type": "server_error"}}')
                    return
                question = body["messages"][-1]["content"].split("Question: ", 1)[1].split("\n", 1)[0]
                reply = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": f"LLM analysis of: {question}"},
                        }
                    ],
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_llm_writes_the_analysis_and_the_planted_finding_stays(subscriptions) -> None:
    """With llm_base_url set, each analysis comes from the model; the computed finding is kept."""
    spec, _, _, files = subscriptions
    with _ChatServer() as server:
        settings = Settings(llm_base_url=server.url, llm_api_key="test-key", llm_model="local-model")
        key = compute_answers(spec, files.parquet, scenarios=files.scenarios, settings=settings)
    assert key.analysis_source == "llm" and not key.notes
    assert len(server.requests) == len(spec.questions)
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["body"]["model"] == "local-model"
    prompt = server.requests[1]["body"]["messages"][-1]["content"]
    assert "invoiced_share_pct" in prompt and "invoiced: EUR" in prompt  # the result and units reach the model
    s5 = key.answer("s5")
    assert s5.analysis.startswith(f"LLM analysis of: {s5.question}")
    assert "Planted finding (pro_spring_dip)" in s5.analysis and s5.analysis_source == "llm"


def test_llm_failure_falls_back_to_templates_with_a_note(subscriptions) -> None:
    """A failing endpoint does not break the key: template analyses, and a note naming the problem."""
    spec, template_key, _, files = subscriptions
    with _ChatServer(fail=True) as server:
        settings = Settings(llm_base_url=server.url, llm_api_key="test-key")
        key = compute_answers(spec, files.parquet, scenarios=files.scenarios, settings=settings)
    assert key.analysis_source == "template"
    assert len(key.notes) == 1 and "LLM analysis failed at s1" in key.notes[0] and "llm_base_url" in key.notes[0]
    assert [a.analysis for a in key.answers] == [a.analysis for a in template_key.answers]


def test_a_lagged_baseline_column_is_not_the_question_s_measure() -> None:
    from schemas.spec import QuestionSpec
    from tasks.answers import _pick_measure

    question = QuestionSpec(
        id="q01",
        text="How did admissions move month by month, and what was their growth over the same month a year earlier?",
        sql=(
            "SELECT month, admissions, LAG(admissions, 12) OVER (ORDER BY month) AS same_month_last_year FROM monthly"
        ),
    )
    columns = ["month", "admissions", "same_month_last_year"]
    assert _pick_measure(question, columns, ["date", "int", "float"], ["month"]) == "admissions"


def test_with_no_known_direction_a_volume_shows_in_counts_never_in_a_month_over_month_change(retail_spec) -> None:
    from tasks.answers import _fallback_target

    surge = next(s for s in retail_spec.scenarios if s.effect.kind == "volume")
    picked = _fallback_target(
        surge, retail_spec, ["emergency_admissions", "mom_change_pct"], "emergency_admissions",
        ["mom_change_pct"], {}, {}, None, set(), {},
    )  # fmt: skip
    assert picked == "emergency_admissions"


def test_a_quantity_per_something_keeps_the_quantity_s_unit(retail_spec) -> None:
    from tasks.answers import result_units

    money = next(c.name for t in retail_spec.tables for c in t.columns if c.unit == retail_spec.challenge.currency)
    table = next(t.name for t in retail_spec.tables if any(c.name == money for c in t.columns))
    sql = (
        f"SELECT ROUND(SUM({money}) / COUNT(*), 2) AS per_row, COUNT(*) AS n, "
        f"ROUND(SUM({money}) / SUM({money}), 2) AS r FROM {table}"
    )
    units = result_units(retail_spec, sql, ["per_row", "n", "r"])
    assert units["per_row"] == retail_spec.challenge.currency and units["n"] == "count" and "r" not in units
