"""The generation engine: relationships, uniqueness, determinism, scenarios, exact rollups, bad specs.

Small sizes only (<= 50k rows of the main fact); speed is measured by bench/generate.py.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from schemas.errors import GenerationError, SpecError
from schemas.serialize import spec_from_data, spec_to_data
from tasks.domains import get_blueprint, load_blueprint
from tasks.engine import generate_dataset, generate_to_files, resolve_plan
from tasks.sql_sandbox import run_query, sandbox

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def retail(retail_spec):
    spec = retail_spec.model_copy(update={"scale": 50_000})
    return spec, generate_dataset(spec)


@pytest.fixture(scope="module")
def small_spec():
    return spec_from_data(yaml.safe_load((FIXTURES / "engine_small.yaml").read_text()))


def _with(spec, edit) -> object:
    data = spec_to_data(spec)
    edit(data)
    return spec_from_data(data)


def _table(data: dict, name: str) -> dict:
    return next(t for t in data["tables"] if t["name"] == name)


def _column(data: dict, table: str, name: str) -> dict:
    return next(c for c in _table(data, table)["columns"] if c["name"] == name)


# --------------------------------------------------------------------------- relationships


def test_foreign_keys_point_at_existing_parents_with_the_stated_cardinality(retail):
    """Every child row has its parent, and per-parent child counts stay in min..max_children."""
    spec, t = retail
    assert t["orders"]["customer_id"].isin(t["customers"]["customer_id"]).all()
    assert t["order_items"]["product_id"].isin(t["products"]["product_id"]).all()
    per_order = t["order_items"].groupby("order_id").size().reindex(t["orders"]["order_id"], fill_value=0)
    assert per_order.between(1, 4).all()
    assert set(per_order.unique()) == {1, 2, 3, 4}
    returned = t["orders"].loc[t["orders"]["status"] == "Returned", "order_id"]
    assert t["returns"]["order_id"].is_unique
    assert set(t["returns"]["order_id"]) == set(returned)


def test_children_weights_skew_the_child_counts(small_spec):
    """Baskets of 1 item more often than of 4: each count's share follows its weight."""

    def edit(data):
        fk = {"kind": "foreign_key", "references": "stores.store_id", "min_children": 1, "max_children": 4}
        fk["children_weights"] = [5, 3, 1.5, 0.5]
        data["tables"].append(
            {
                "name": "shifts",
                "columns": [
                    {"name": "shift_id", "type": "int", "unique": True, "generator": {"kind": "sequence"}},
                    {"name": "store_id", "type": "int", "generator": fk},
                ],
            }
        )

    t = generate_dataset(_with(small_spec, edit))
    shares = t["shifts"].groupby("store_id").size().value_counts(normalize=True).sort_index()
    assert list(shares.index) == [1, 2, 3, 4]
    assert np.allclose(shares.to_numpy(), [0.5, 0.3, 0.15, 0.05], atol=0.07), shares
    with pytest.raises(SpecError, match="3 children_weights for the 4 counts"):
        _with(
            small_spec,
            lambda d: edit(d) or _column(d, "shifts", "store_id")["generator"].update(children_weights=[1, 1, 1]),
        )


def test_lookups_go_through_the_foreign_key(retail):
    """A line's price is its product's price; an order ships to its customer's region."""
    _, t = retail
    items = t["order_items"].merge(t["products"][["product_id", "unit_price"]], on="product_id", suffixes=("", "_p"))
    assert (items["unit_price"] == items["unit_price_p"]).all()
    orders = t["orders"].merge(t["customers"][["customer_id", "region"]], on="customer_id")
    assert (orders["ship_region"] == orders["region"]).all()


def test_child_dates_follow_parent_dates(retail):
    """An order after its customer's signup, shipping after ordering, delivery after shipping, returns after."""
    _, t = retail
    orders = t["orders"].merge(t["customers"][["customer_id", "signup_date"]], on="customer_id")
    assert (orders["order_date"] >= orders["signup_date"]).all()
    shipped = orders.dropna(subset=["ship_date"])
    assert (shipped["ship_date"] >= shipped["order_date"]).all()
    assert (shipped["delivery_date"] > shipped["ship_date"]).all()
    returns = t["returns"].merge(t["orders"][["order_id", "delivery_date"]], on="order_id")
    assert (returns["return_date"] > returns["delivery_date"]).all()


def test_order_dates_keep_their_seasonality_when_customers_sign_up_late(retail):
    """Drawing the customer from the order date keeps December the busiest month, as the profile says."""
    _, t = retail
    by_month = t["orders"]["order_date"].dt.month.value_counts()
    assert by_month.idxmax() == 12
    assert by_month[12] > 1.5 * by_month[2]


def test_profiles_are_consistent(retail):
    """An email is built from that person's name; a product name from its brand, sub-category and a model number."""
    _, t = retail
    c = t["customers"]
    expected = (
        c["first_name"].str.lower().str.replace(r"[^a-z0-9]+", "", regex=True)
        + "."
        + c["last_name"].str.lower().str.replace(r"[^a-z0-9]+", "", regex=True)
        + "@example.com"
    )
    ascii_names = c["first_name"].str.match(r"^[A-Za-z]+$") & c["last_name"].str.match(r"^[A-Za-z]+$")
    assert (c.loc[ascii_names, "email"] == expected[ascii_names]).all()
    p = t["products"]
    assert (p["product_name"].str.rsplit(" ", n=1).str[0] == p["brand"] + " " + p["sub_category"]).all()
    assert p["product_name"].nunique() >= 0.95 * len(p)  # a catalogue does not repeat its names


# --------------------------------------------------------------------------- rules and uniqueness


def test_rollup_totals_equal_the_sum_of_their_lines(retail):
    """An order's total equals the sum of its lines, to the cent, for every order."""
    _, t = retail
    sums = t["order_items"].groupby("order_id")["net_amount"].sum().round(2)
    totals = t["orders"].set_index("order_id")["order_total"]
    assert np.allclose(totals.loc[sums.index], sums, atol=0.0051)
    refunds = t["returns"].merge(t["orders"][["order_id", "order_total"]], on="order_id")
    assert (refunds["refund_amount"] == refunds["order_total"]).all()


def test_aggregate_table_is_computed_from_its_facts(small_spec):
    """A pre-aggregated table tells the same story as the detail it summarises."""
    t = generate_dataset(small_spec, chunk_rows=4096)
    sales = t["sales"].assign(month=t["sales"]["sale_date"].dt.to_period("M").dt.start_time)
    expected = (
        sales.groupby(["store_state", "month"])
        .agg(sales=("sale_id", "size"), revenue=("amount", "sum"), stores_selling=("store_id", "nunique"))
        .reset_index()
        .rename(columns={"store_state": "state"})
    )
    got = t["sales_by_state_month"].merge(expected, on=["state", "month"], suffixes=("", "_x"))
    assert len(got) == len(expected) == len(t["sales_by_state_month"])
    assert (got["sales"] == got["sales_x"]).all()
    assert (got["stores_selling"] == got["stores_selling_x"]).all()
    assert np.allclose(got["revenue"], got["revenue_x"], atol=0.0051)


@pytest.mark.parametrize("chunk_rows", [None, 4096])
def test_count_distinct_of_string_keys_is_exact_across_chunks(small_spec, chunk_rows):
    """A distinct count of text ids (the active subscribers of a month) equals DuckDB's count(DISTINCT)."""

    def edit(data):
        lookup = {"kind": "lookup", "via": "store_id", "column": "code"}
        _table(data, "sales")["columns"].append({"name": "store_code", "type": "string", "generator": lookup})
        _table(data, "stores")["columns"].append(
            {"name": "code", "type": "string", "unique": True, "generator": {"kind": "sequence", "pattern": "ST-####"}}
        )
        measure = {"kind": "measure", "function": "count_distinct", "expression": "store_code"}
        _table(data, "sales_by_state_month")["columns"].append({"name": "codes", "type": "int", "generator": measure})

    spec = _with(small_spec, edit)
    t = generate_dataset(spec, chunk_rows=chunk_rows)
    assert chunk_rows is None or len(t["sales"]) > 2 * chunk_rows  # several chunks feed one group
    con = duckdb.connect()
    con.register("sales", t["sales"])
    con.register("agg", t["sales_by_state_month"])
    wrong = con.execute(
        """
        SELECT count(*) AS cells, count(*) FILTER (WHERE a.codes IS DISTINCT FROM d.codes) AS wrong,
               max(d.codes) AS most
        FROM agg a FULL JOIN (
          SELECT store_state AS state, date_trunc('month', sale_date) AS month, count(DISTINCT store_code) AS codes
          FROM sales GROUP BY ALL
        ) d ON a.state = d.state AND a.month = d.month
        """
    ).fetchone()
    cells, mismatched, most = wrong
    assert cells == len(t["sales_by_state_month"]) and mismatched == 0, wrong
    assert most > 1  # a real distinct count, not one per cell


def test_unique_columns_stay_unique_when_the_faker_pool_is_small(small_spec):
    """300 stores named after ~50 states: names are suffixed ('Utah 2') instead of repeating."""
    t = generate_dataset(small_spec)
    names = t["stores"]["store_name"]
    assert names.is_unique
    assert names.str.replace(r" \d+$", "", regex=True).nunique() < 60
    for name, frame in t.items():
        key = small_spec.table(name).primary_key
        assert not frame.duplicated(subset=key).any(), name


def test_null_rates_hold(small_spec):
    t = generate_dataset(small_spec)
    assert 0.03 < t["sales"]["amount"].isna().mean() < 0.07


def test_city_and_state_agree(small_spec):
    t = generate_dataset(small_spec)
    stores = t["stores"]
    assert set(stores.loc[stores["city"].isin(["Austin", "Dallas"]), "state"]) == {"TX"}
    assert set(stores.loc[stores["city"].isin(["Denver", "Boulder"]), "state"]) == {"CO"}


# --------------------------------------------------------------------------- scenarios


def _question(spec, qid: str):
    return next(q for q in spec.questions if q.id == qid)


def test_west_slump_is_recovered_by_its_question(retail):
    """q06 (Q2 vs Q3 orders by region) shows West falling 45 % relative to the other regions."""
    spec, t = retail
    result = run_query(sandbox(t, spec), _question(spec, "q06").sql).set_index("ship_region")
    west = result.loc["West", "q3_orders"] / result.loc["West", "q2_orders"]
    rest = result.drop("West")
    baseline = rest["q3_orders"].sum() / rest["q2_orders"].sum()
    measured = west / baseline
    assert abs(measured - 0.55) <= 0.1 * 0.55, measured


def test_mobile_surge_is_recovered_by_its_question(retail):
    """q07 (channel share by year) shows the app's odds of an order multiplied by 2.2 in 2024."""
    spec, t = retail
    result = run_query(sandbox(t, spec), _question(spec, "q07").sql)
    share = result[result["channel"] == "Mobile App"].set_index("order_year")["order_share_pct"] / 100
    odds = share / (1 - share)
    measured = odds.loc[2024] / odds.loc[2023]
    assert abs(measured - 2.2) <= 0.1 * 2.2, measured


def test_every_scenario_is_measured_near_its_stated_size(small_spec, tmp_path):
    """Scale and volume (up) effects are recorded, stated vs measured, for the answer key."""
    files = generate_to_files(small_spec, tmp_path)
    by_name = {s["scenario"]: s for s in files.scenarios}
    assert set(by_name) == {"colorado_promo", "texas_rush"}
    for scenario in by_name.values():
        assert abs(scenario["measured"] - scenario["stated"]) <= 0.1 * scenario["stated"], scenario


# --------------------------------------------------------------------------- determinism and files


def test_same_seed_gives_identical_csvs_whatever_the_chunking_and_the_mapper(small_spec, tmp_path):
    """Chunk size and task runner change how the work is cut, never a byte of the output."""
    one = generate_to_files(small_spec, tmp_path / "one")
    with ThreadPoolExecutor(2) as pool:
        many = generate_to_files(
            small_spec, tmp_path / "many", chunk_rows=1000, map_fn=lambda fn, jobs: list(pool.map(fn, jobs))
        )
    assert len(list(many.parquet["sales"].glob("*.parquet"))) > 1
    for name in one.csv:
        assert one.csv[name].read_bytes() == many.csv[name].read_bytes(), name
    assert one.scenarios == many.scenarios


def test_retail_is_chunk_independent(retail_spec):
    spec = retail_spec.model_copy(update={"scale": 20_000})
    whole, chunked = generate_dataset(spec), generate_dataset(spec, chunk_rows=16_384)
    for name in whole:
        pd.testing.assert_frame_equal(whole[name], chunked[name])


def test_variant_tells_the_same_story_with_different_numbers(small_spec):
    """Variant 1 differs from variant 0, is reproducible, and keeps the planted effects."""
    other = small_spec.model_copy(update={"challenge": small_spec.challenge.model_copy(update={"variant": 1})})
    base, a, b = generate_dataset(small_spec), generate_dataset(other), generate_dataset(other)
    pd.testing.assert_frame_equal(a["sales"], b["sales"])
    assert not base["sales"]["amount"].equals(a["sales"]["amount"])
    assert list(base["sales"].columns) == list(a["sales"].columns)


def test_files_are_parquet_parts_and_one_csv_per_table(small_spec, tmp_path):
    files = generate_to_files(small_spec, tmp_path, chunk_rows=4096)
    con = duckdb.connect()
    for name, count in files.row_counts.items():
        parquet_rows = con.execute(f"SELECT count(*) FROM read_parquet('{files.parquet_glob(name)}')").fetchone()[0]
        csv_rows = con.execute(f"SELECT count(*) FROM read_csv('{files.csv[name]}')").fetchone()[0]
        assert parquet_rows == csv_rows == count
    assert not (tmp_path / ".parts").exists()


def test_resume_rebuilds_only_the_missing_chunks(small_spec, tmp_path):
    """After a crash, a resumed run keeps complete chunks' files and gives the same files as a clean run."""
    work = tmp_path / "run"

    def crashing(fn, jobs):
        out = []
        for job in jobs:
            if job.run.table == "sales" and job.index == 1:
                raise RuntimeError("worker died")
            out.append(fn(job))
        return out

    with pytest.raises(RuntimeError):
        generate_to_files(small_spec, work, chunk_rows=4096, map_fn=crashing)
    kept = [
        work / "parquet" / "stores" / "part-00000.parquet",
        work / ".parts" / "staging" / "sales" / "part-00000.arrow",
    ]
    stamps = [path.stat().st_mtime_ns for path in kept]
    reused: list[int] = []

    def watching(fn, jobs):
        out = [fn(job) for job in jobs]
        reused.extend(stamps[i] == path.stat().st_mtime_ns for i, path in enumerate(kept) if path.exists())
        return out

    resumed = generate_to_files(small_spec, work, chunk_rows=4096, map_fn=watching, resume=True)
    clean = generate_to_files(small_spec, tmp_path / "clean", chunk_rows=4096)
    for name in clean.csv:
        assert resumed.csv[name].read_bytes() == clean.csv[name].read_bytes(), name
    # checked after each table's map, including after sales' chunks ran: the complete files were not rewritten
    assert len(reused) >= 4 and all(reused)


def test_preview_rows_are_capped(retail_spec):
    t = generate_dataset(retail_spec, row_cap=25)
    assert all(0 < len(frame) <= 25 for frame in t.values())


def test_a_capped_preview_keeps_each_parents_minimum_children(small_spec):
    """10 regions with at least 3 stores each need 30 stores, even under a row cap of 20."""

    def edit(data):
        regions = {
            "name": "regions",
            "role": "dimension",
            "rows": 10,
            "columns": [{"name": "region_id", "type": "int", "unique": True, "generator": {"kind": "sequence"}}],
        }
        data["tables"].insert(0, regions)
        fk = {"kind": "foreign_key", "references": "regions.region_id", "min_children": 3, "max_children": 40}
        _table(data, "stores")["columns"].append({"name": "region_id", "type": "int", "generator": fk})

    t = generate_dataset(_with(small_spec, edit), row_cap=20)
    per_region = t["stores"].groupby("region_id").size().reindex(t["regions"]["region_id"], fill_value=0)
    assert len(t["stores"]) == 30 and per_region.min() >= 3


BLUEPRINTS = sorted((Path(__file__).resolve().parent.parent / "domains").glob("*.yaml"))


@pytest.mark.parametrize("path", BLUEPRINTS, ids=[p.stem for p in BLUEPRINTS])
def test_every_blueprint_plans_and_previews_at_any_scale(path):
    """Every blueprint plans at 300, 3,000 and 100,000 rows, and its 20-row preview keeps every cardinality."""
    spec = load_blueprint(path).spec
    for rows in (300, 3_000, 100_000):
        resolve_plan(spec.model_copy(update={"scale": rows}))
    scaled = spec.model_copy(update={"scale": 3_000})
    t = generate_dataset(scaled, row_cap=20)
    for rel in scaled.relationships:
        child = t[rel.child_table][rel.child_column].dropna()
        assert child.isin(t[rel.parent_table][rel.parent_column]).all(), rel
        gen = scaled.table(rel.child_table).column(rel.child_column).generator
        if rel.min_children and not gen.where and rel.child_table != rel.parent_table:
            counts = child.value_counts().reindex(t[rel.parent_table][rel.parent_column], fill_value=0)
            sized = scaled.table(rel.child_table)
            driver = gen.max_children is not None and sized.rows is None and sized.ratio is None
            # a driven child is cut at the cap after its first parents, the rest have none
            assert driver or counts.min() >= rel.min_children, rel


# --------------------------------------------------------------------------- bad specs


def test_unique_column_over_too_small_a_domain_fails_before_generation(small_spec):
    """Three values cannot fill 300 unique rows: said before any row is made, with where and how."""

    def edit(data):
        _column(data, "stores", "city")["unique"] = True

    with pytest.raises(GenerationError, match=re.escape("tables.stores.columns.city: unique column has 4")):
        resolve_plan(_with(small_spec, edit))


def test_impossible_bounds_fail_before_generation(small_spec):
    def edit(data):
        gen = _column(data, "sales", "amount")["generator"]
        gen.update({"min": -50, "max": -10})

    with pytest.raises(GenerationError) as err:
        resolve_plan(_with(small_spec, edit))
    assert "tables.sales.columns.amount: max -10.0 is below every value a lognormal" in str(err.value)
    assert "raise max" in str(err.value)


def test_cardinality_that_cannot_be_met_fails_before_generation(small_spec):
    def edit(data):
        _column(data, "sales", "store_id")["generator"]["max_children"] = 5

    with pytest.raises(GenerationError) as err:
        resolve_plan(_with(small_spec, edit))
    assert err.value.path == "tables.sales.columns.store_id"
    assert "at most 5 per parent" in str(err.value)


def test_unknown_faker_provider_fails_before_generation(small_spec):
    def edit(data):
        _column(data, "stores", "store_name")["generator"]["provider"] = "nonsense_words"

    with pytest.raises(GenerationError, match="tables.stores.columns.store_name: Faker provider 'nonsense_words'"):
        resolve_plan(_with(small_spec, edit))


def test_volume_rise_on_a_table_whose_rows_follow_its_parent_is_refused(retail_spec):
    def edit(data):
        data["scenarios"].append(
            {
                "name": "bigger_baskets",
                "description": "More lines per order in December.",
                "table": "order_items",
                "condition": {"where": "quantity > 2"},
                "effect": {"kind": "volume", "factor": 1.5},
            }
        )

    with pytest.raises(SpecError, match="put the scenario on the parent table"):
        resolve_plan(_with(retail_spec, edit))


def test_a_reweighted_numeric_category_stays_a_number():
    """A fee drawn from 0.0 / 1.99 / 2.99 and re-weighted by a scenario must still add up in expressions."""
    import yaml

    from schemas.serialize import spec_from_data

    data = yaml.safe_load((Path(__file__).parent / "fixtures" / "mini_shop.yml").read_text())
    items = data["tables"][2]["columns"]
    items.append({"name": "fee", "type": "decimal", "generator": {"kind": "categorical", "values": [0.0, 1.99, 2.99]}})
    items.append({"name": "gross", "type": "decimal", "generator": {"kind": "derived", "expression": "amount + fee"}})
    items.append({"name": "day", "type": "date", "generator": {"kind": "date"}})
    data["scenarios"] = [
        {
            "name": "free_fee",
            "description": "A free-delivery pass.",
            "table": "order_items",
            "condition": {"date_column": "day", "start": "2024-06-01", "end": "2024-12-31"},
            "effect": {"kind": "shift_weights", "column": "fee", "multipliers": {"0.0": 6.0}},
        }
    ]
    items_frame = generate_dataset(spec_from_data(data))["order_items"]
    assert (items_frame["gross"] - items_frame["amount"] - items_frame["fee"]).abs().max() < 0.006
    late = items_frame["day"] >= "2024-06-01"
    assert (items_frame.loc[late, "fee"] == 0).mean() > (items_frame.loc[~late, "fee"] == 0).mean() + 0.2


@pytest.mark.parametrize("k", [9, 400, 8192])
def test_weighted_picks_through_buckets_equal_a_plain_search(k: int) -> None:
    """The bucketed inverse CDF is a speed-up only: the same index for every draw, zero weights included."""
    from tasks.engine.seed import BUCKETS, _bucketed_search, pick_weighted

    rng = np.random.default_rng(k)
    weights = rng.pareto(1.0, k)
    weights[rng.integers(0, k, k // 5)] = 0.0  # repeated cut points
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    edges = np.arange(BUCKETS, dtype=float) / BUCKETS
    u = np.concatenate([rng.random(200_000), edges, np.nextafter(edges[1:], 0.0), cdf[:-1], [0.0]])
    u = u[u < 1.0]
    assert np.array_equal(_bucketed_search(cdf, u), np.searchsorted(cdf, u, side="right"))
    picked = pick_weighted(weights, u)
    assert picked.max() < k and weights[picked].min() > 0  # never an item of weight zero


def test_progress_moves_with_every_chunk_and_ends_each_table_at_one(tmp_path: Path) -> None:
    spec = get_blueprint("retail_ecommerce").spec.model_copy(update={"scale": 40_000})
    calls: list[tuple[str, int, float]] = []
    # chunks are whole random blocks (16,384 candidate rows): orders come in 3 chunks
    generate_to_files(spec, tmp_path, chunk_rows=1, progress=lambda t, rows, share: calls.append((t, rows, share)))
    by_table: dict[str, list[float]] = {}
    for table, _, share in calls:
        by_table.setdefault(table, []).append(share)
    assert set(by_table) == {t.name for t in spec.tables}
    for table, shares in by_table.items():
        assert shares == sorted(shares) and shares[-1] == 1.0, table
    assert by_table["orders"] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])  # staged: built, then finished
