"""Learn-from-sample mode (issue 9): learn a spec from sample CSVs, synthesize 10x, score, questions.

The sample in ``tests/fixtures/sample_retail`` was made once by the project's own engine from the
retail blueprint at scale 300 with 60 products (``python -m tests.test_sample_mode`` remakes it); it
stands in for an author's private data. Everything runs offline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sdv")

from schemas.errors import GenerationError  # noqa: E402
from tasks.sample_learning import SampleError, learn_spec  # noqa: E402
from tasks.sample_questions import derive_questions, questions_for_sample  # noqa: E402
from tasks.sample_synthesis import fit_counts, fit_models, identifying_values, sample_tables, synthesize  # noqa: E402
from tasks.schema_check import validate_schema  # noqa: E402
from tasks.sdv_metadata import sdv_metadata_json  # noqa: E402

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "sample_retail"
BRIEF = "An online store wants to understand its orders, customers and returns."


@pytest.fixture(scope="module")
def learned():
    sample_orders = len(pd.read_csv(SAMPLE / "orders.csv"))
    return learn_spec(SAMPLE, BRIEF, rows=10 * sample_orders, seed=7)


@pytest.fixture(scope="module")
def synthetic(learned, tmp_path_factory):
    return synthesize(learned, learned.spec, learned.spec.scale, tmp_path_factory.mktemp("sdv-work"))


# --------------------------------------------------------------------------- learning


def test_learned_spec_has_the_samples_keys_and_relationships(learned):
    spec = learned.spec
    assert sorted(spec.table_names) == ["customers", "order_items", "orders", "products", "returns"]
    assert {t.name: t.primary_key for t in spec.tables} == {
        "customers": ["customer_id"],
        "order_items": ["order_item_id"],
        "orders": ["order_id"],
        "products": ["product_id"],
        "returns": ["return_id"],
    }
    edges = {(r.child_table, r.child_column, r.parent_table, r.parent_column) for r in spec.relationships}
    assert edges == {
        ("orders", "customer_id", "customers", "customer_id"),
        ("order_items", "order_id", "orders", "order_id"),
        ("order_items", "product_id", "products", "product_id"),
        ("returns", "order_id", "orders", "order_id"),
    }
    assert learned.main_table == "orders" and spec.table("orders").ratio == 1.0
    assert spec.table("orders").column("order_id").generator.pattern == "ORD-#######"
    problems = validate_schema(spec).problems
    assert problems == ["questions: none; a challenge asks 8-12 questions"]  # questions come next (sample_questions)


def test_identifying_columns_become_faker_and_places_stay_categories(learned):
    customers = learned.spec.table("customers")
    assert {c.name for c in customers.columns if c.generator.kind == "faker"} == {"first_name", "last_name", "email"}
    assert customers.column("city").generator.kind == "categorical"
    assert customers.column("region").generator.kind == "conditional"  # region follows city in the sample


def test_lookups_and_date_offsets_are_learned(learned):
    spec = learned.spec
    assert spec.table("orders").column("ship_region").generator.model_dump(include={"kind", "via", "column"}) == {
        "kind": "lookup",
        "via": "customer_id",
        "column": "region",
    }
    assert spec.table("order_items").column("unit_price").generator.kind == "lookup"
    ship = spec.table("orders").column("ship_date").generator
    assert (ship.kind, ship.from_column) == ("date_offset", "order_date")
    assert spec.table("returns").column("return_date").generator.from_column == "order_id.delivery_date"


# --------------------------------------------------------------------------- synthesis


def test_synthesizes_ten_times_the_rows_with_valid_keys(learned, synthetic):
    tables = synthetic.tables
    for name, frame in learned.tables.items():
        assert len(tables[name]) == pytest.approx(10 * len(frame), rel=0.02), name
    for table in learned.spec.tables:
        pk = table.primary_key[0]
        assert tables[table.name][pk].is_unique and tables[table.name][pk].notna().all()
    for rel in learned.spec.relationships:
        child = tables[rel.child_table][rel.child_column].dropna()
        parents = set(tables[rel.parent_table][rel.parent_column])
        assert child.isin(parents).all(), f"{rel.child_table}.{rel.child_column} has orphans"
    assert tables["returns"]["order_id"].is_unique  # one return per order, as in the sample


def test_sdv_diagnostic_validity_and_relationships(synthetic):
    scores = synthetic.scores
    assert scores.validity is not None and scores.validity >= 0.95
    assert scores.relationship_validity == pytest.approx(1.0)
    assert 0 < scores.quality <= 1
    assert {t.table for t in scores.tables} == {"customers", "order_items", "orders", "products", "returns"}
    assert synthetic.fit_seconds > 0 and synthetic.sample_seconds > 0


def test_no_identifying_value_is_copied_from_the_sample(learned, synthetic):
    checked = 0
    for table, columns in learned.identifying.items():
        for column in columns:
            sample_values = set(learned.tables[table][column].dropna().astype(str))
            made = set(synthetic.tables[table][column].dropna().astype(str))
            assert made and not (made & sample_values), f"{table}.{column} copies sample values"
            checked += 1
    assert checked == 3


def test_lookups_and_offsets_hold_in_the_synthetic_data(synthetic):
    t = synthetic.tables
    orders = t["orders"].merge(t["customers"][["customer_id", "region"]], on="customer_id")
    assert (orders["ship_region"] == orders["region"]).all()
    shipped = t["orders"].dropna(subset=["ship_date"])
    assert (shipped["ship_date"] >= shipped["order_date"]).all()
    returns = t["returns"].merge(t["orders"][["order_id", "delivery_date"]], on="order_id")
    assert returns["return_date"].notna().all() and (returns["return_date"] >= returns["delivery_date"]).all()


def test_same_seed_same_rows(learned):
    spec = learned.spec.model_copy(update={"scale": 500})
    fitted = fit_models(learned, spec)
    first = sample_tables(fitted, learned, spec)
    second = sample_tables(fitted, learned, spec)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_metadata_json_loads_and_validates(learned, synthetic, tmp_path):
    from sdv.metadata import Metadata

    path = tmp_path / "metadata.json"
    path.write_text(sdv_metadata_json(learned.spec))
    metadata = Metadata.load_from_json(str(path))
    metadata.validate()
    assert len(metadata.relationships) == 4
    metadata.validate_data({n: _for_sdv(f) for n, f in synthetic.tables.items()})


def _for_sdv(frame: pd.DataFrame) -> pd.DataFrame:
    """The tables as a user of metadata.json reads the CSVs: dates as text in the declared format."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.Int64Dtype):
            out[column] = out[column].astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def test_work_dir_holds_models_and_scores(learned, tmp_path):
    small = learned.spec.model_copy(update={"scale": 300})
    result = synthesize(learned, small, 300, tmp_path, score=False)
    assert sorted(p.name for p in (tmp_path / "sdv").glob("*.pkl")) == [
        "customers.pkl",
        "order_items.pkl",
        "orders.pkl",
        "products.pkl",
        "returns.pkl",
    ]
    assert (tmp_path / "sdv" / "scores.json").exists()
    assert len(result.tables["orders"]) == 300


# --------------------------------------------------------------------------- questions


def test_blueprint_questions_kept_when_the_schema_matches(learned):
    result = questions_for_sample(learned.spec, learned.tables)
    assert result.source == "blueprint"
    assert len(result.spec.questions) >= 8
    assert all(q.scenario is None for q in result.spec.questions)
    validation = validate_schema(result.spec)
    assert validation.passed, [q.error for q in validation.questions if not q.answerable]


def test_questions_derived_from_the_schema_otherwise(learned):
    spec = learned.spec.model_copy(
        update={"challenge": learned.spec.challenge.model_copy(update={"domain": "learned"})}
    )
    result = questions_for_sample(spec, learned.tables)
    assert result.source == "derived"
    skills = {s for q in result.spec.questions for s in q.skills}
    assert {"top_n", "share_of_total", "yoy_growth", "seasonality", "joins"} <= skills
    assert validate_schema(result.spec).passed
    assert len({q.id for q in result.spec.questions}) == len(result.spec.questions)
    assert len(derive_questions(spec)) >= len(result.spec.questions)


# --------------------------------------------------------------------------- errors


def _copy_sample(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "sample"
    folder.mkdir()
    for name in names:
        shutil.copy(SAMPLE / f"{name}.csv", folder / f"{name}.csv")
    return folder


def test_too_few_rows_is_a_clear_error(tmp_path):
    folder = _copy_sample(tmp_path, "customers")
    pd.read_csv(folder / "customers.csv").head(5).to_csv(folder / "customers.csv", index=False)
    with pytest.raises(SampleError, match="too few rows to learn from: customers.csv has 5"):
        learn_spec(folder, BRIEF)


def test_tables_without_keys_are_learned_on_their_own(tmp_path):
    folder = _copy_sample(tmp_path, "customers", "products")
    learned = learn_spec(folder, BRIEF)
    assert sorted(learned.spec.table_names) == ["customers", "products"]
    assert learned.spec.relationships == []
    for name in ("customers", "products"):
        assert any(n.startswith(f"{name}: no key relates it") and "metadata.json" in n for n in learned.notes)


def test_a_table_no_key_relates_is_learned_on_its_own(tmp_path):
    folder = _copy_sample(tmp_path, "customers", "orders", "products")
    learned = learn_spec(folder, BRIEF)
    edges = {(r.child_table, r.child_column, r.parent_table) for r in learned.spec.relationships}
    assert edges == {("orders", "customer_id", "customers")}
    assert learned.spec.table("products").primary_key == ["product_id"]
    assert any(n.startswith("products: no key relates it") for n in learned.notes)


def test_foreign_keys_that_do_not_resolve_are_a_clear_error(tmp_path):
    folder = _copy_sample(tmp_path, "customers", "orders")
    customers = pd.read_csv(folder / "customers.csv")
    customers.head(25).to_csv(folder / "customers.csv", index=False)
    with pytest.raises(SampleError, match=r"only \d+% of orders.customer_id values exist"):
        learn_spec(folder, BRIEF)


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SampleError, match="no CSV files"):
        learn_spec(tmp_path, BRIEF)


def test_a_spec_column_missing_from_the_sample_is_a_clear_error(learned, tmp_path):
    data = learned.spec.model_dump()
    orders = next(t for t in data["tables"] if t["name"] == "orders")
    orders["columns"].append(
        {"name": "coupon", "type": "category", "generator": {"kind": "categorical", "values": ["A"]}}
    )
    spec = type(learned.spec).model_validate(data)
    with pytest.raises(GenerationError, match="'coupon' is not in the sample's orders.csv"):
        synthesize(learned, spec, 100, tmp_path, score=False)


# --------------------------------------------------------------------------- building blocks


def test_fit_counts_meets_the_total_and_the_bounds():
    rng = np.random.default_rng(1)
    counts = fit_counts(np.array([0, 3, 9, 1, 0, 2.0]), 40, 1, 10, rng, "t.c")
    assert counts.sum() == 40 and counts.min() >= 1 and counts.max() <= 10
    with pytest.raises(GenerationError, match="cannot have 0..1 per parent with 3 parent rows"):
        fit_counts(np.ones(3), 4, 0, 1, rng, "t.c")


def test_identifying_values_avoid_the_sample_and_stay_unique():
    rng = np.random.default_rng(2)
    first = identifying_values("first_name", "en_US", 3, 50, False, set(), rng)
    forbidden = set(first.head(20))
    values = identifying_values("first_name", "en_US", 3, 3000, True, forbidden, rng)
    assert values.is_unique and len(values) == 3000
    assert not set(values) & forbidden


if __name__ == "__main__":  # remake the fixture: the retail blueprint, 300 orders, 60 products
    from schemas.serialize import spec_from_data, spec_to_data
    from tasks.domains import load_blueprint
    from tasks.engine import generate_dataset

    data = spec_to_data(load_blueprint(Path("domains/retail_ecommerce.yaml")).spec)
    data["scale"] = 300
    next(t for t in data["tables"] if t["name"] == "products")["rows"] = 60
    for name, frame in generate_dataset(spec_from_data(data)).items():
        frame.to_csv(SAMPLE / f"{name}.csv", index=False)
