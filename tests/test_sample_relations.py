"""Issue 18, point 8: learn-from-sample relates tables by their values and names, not only equal names.

Every blueprint's package CSVs (built once, small) go back in as a sample without their
metadata.json: each is accepted, finds the blueprint's foreign keys wherever the values allow, and
its date dimension and aggregates (which no key names) are learned too. Renamed keys
(``customers.customer_code`` <- ``orders.cust_id``) relate by inclusion and name similarity.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("sdv")

from tasks.designer import design  # noqa: E402
from tasks.engine.output import generate_to_files  # noqa: E402
from tasks.sample_learning import CARDINALITY_MATCH, SampleError, learn_spec  # noqa: E402
from tasks.sample_questions import questions_for_sample  # noqa: E402
from tasks.sample_synthesis import synthesize  # noqa: E402
from tasks.schema_check import validate_schema  # noqa: E402
from tasks.sdv_metadata import sdv_metadata_json  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = sorted(p.stem for p in (ROOT / "domains").glob("*.yaml"))
ROWS = 400  # the smallest scale where every table no other table points at has the 20 rows SDV needs
RETAIL = ROOT / "tests" / "fixtures" / "sample_retail"
ONLY_QUESTIONS = ["questions: none; a challenge asks 8-12 questions"]


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, tuple[object, Path]]:
    """domain -> (blueprint spec, folder of its package CSVs); metadata.json written then removed."""
    root = tmp_path_factory.mktemp("packages")
    built = {}
    for domain in DOMAINS:
        spec = design(f"a {domain.replace('_', ' ')} business", domain=domain, rows=ROWS, seed=5).spec
        files = generate_to_files(spec, root / domain / "work")
        sample = root / domain / "sample"
        sample.mkdir()
        for name, path in files.csv.items():
            shutil.copy(path, sample / f"{name}.csv")
        (sample / "metadata.json").write_text(sdv_metadata_json(spec))  # as in the package ...
        (sample / "metadata.json").unlink()  # ... and taken out: the keys must be found from the CSVs
        built[domain] = (spec, sample)
    return built


@pytest.fixture(scope="module")
def learned_back(packages):
    """domain -> the spec learned from its package CSVs (learned once, on first use)."""
    cache: dict[str, object] = {}

    def learn(domain: str):
        if domain not in cache:
            _, folder = packages[domain]
            brief = f"a {domain.replace('_', ' ')} business"
            cache[domain] = learn_spec(folder, brief, domain=domain, rows=10 * ROWS, seed=5)
        return cache[domain]

    return learn


def _edges(spec) -> set[tuple[str, str, str, str]]:
    return {(r.child_table, r.child_column, r.parent_table, r.parent_column) for r in spec.relationships}


def _included(tables: dict[str, pd.DataFrame], child: str, column: str, parent: str, key: str) -> float:
    values = tables[child][column].dropna().astype(str)
    return float(values.isin(set(tables[parent][key].dropna().astype(str))).mean()) if len(values) else 0.0


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_blueprint_package_is_learned_back_with_its_keys(packages, learned_back, domain: str) -> None:
    blueprint, _ = packages[domain]
    learned = learned_back(domain)
    spec, tables = learned.spec, learned.tables
    assert sorted(spec.table_names) == sorted(blueprint.table_names)
    # the blueprint's keys, wherever the sample's values still show them (each child value has its parent)
    expected = {
        e
        for e in _edges(blueprint)
        if blueprint.table(e[2]).primary_key == [e[3]]
        and tables[e[0]][e[1]].nunique() >= 2
        and _included(tables, *e) >= CARDINALITY_MATCH
    }
    learned_edges = _edges(spec)
    assert expected <= learned_edges, f"missing {expected - learned_edges}"
    for edge in learned_edges - expected:  # any other key is one the values show (an aggregate's dimension)
        assert _included(tables, *edge) >= CARDINALITY_MATCH, edge
    # the structure passes the phase-2 schema check (keys, one connected graph): only the questions are to come
    assert validate_schema(spec).problems == ONLY_QUESTIONS
    for table in blueprint.tables:
        if any(c.generator.kind == "date_sequence" for c in table.columns):  # the date dimension
            learned_table = spec.table(table.name)
            assert learned_table.column(table.primary_key[0]).generator.kind == "date_sequence"
            calendar = {c.name for c in table.columns if c.generator.kind == "derived"}
            assert calendar <= {c.name for c in learned_table.columns if c.generator.kind == "derived"}
        if table.aggregate_of:  # an aggregate keeps a key: its group columns, unique together
            assert spec.table(table.name).primary_key, table.name


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_blueprint_package_gets_questions_about_its_own_years(learned_back, domain: str) -> None:
    """The package's window moves with the seed (2021-2022 for 2023-2024): questions follow the sample's years."""
    learned = learned_back(domain)
    result = questions_for_sample(learned.spec, learned.tables)
    window = learned.spec.challenge.time_window
    assert len(result.spec.questions) >= 8, result.notes
    for question in result.spec.questions:
        for year in re.findall(r"(?<!\d)(?:19|20)\d{2}(?!\d)", question.text):
            assert window.start.year <= int(year) <= window.end.year, (question.id, question.text)
    assert validate_schema(result.spec).passed


def test_the_banking_package_synthesizes_its_calendar_and_aggregate(packages, tmp_path: Path) -> None:
    """The issue's case: dim_date and fact_monthly_spend, refused before, are learned and made."""
    _, folder = packages["banking_cards"]
    learned = learn_spec(folder, "A bank's card portfolio", domain="banking_cards", rows=ROWS, seed=5)
    made = synthesize(learned, learned.spec, ROWS, tmp_path, score=False).tables
    dates = made["dim_date"]
    sample_days = learned.tables["dim_date"]["date_key"]
    assert len(dates) == len(sample_days) and dates["date_key"].is_unique
    assert (dates["year"] == dates["date_key"].dt.year).all()
    assert (dates["is_weekend"] == (dates["date_key"].dt.weekday >= 5)).all()
    spend = made["fact_monthly_spend"]
    key = learned.spec.table("fact_monthly_spend").primary_key
    assert len(key) > 1 and not spend.duplicated(key).any()
    assert (spend["month_start"].dt.day == 1).all()  # months stay month starts


# --------------------------------------------------------------------------- renamed keys


def _renamed_sample(tmp_path: Path) -> Path:
    """The retail fixture with keys named as real exports name them, and product ids as numbers."""
    folder = tmp_path / "renamed"
    folder.mkdir()
    frames = {p.stem: pd.read_csv(p, dtype=str) for p in RETAIL.glob("*.csv")}
    number = {code: str(i) for i, code in enumerate(frames["products"]["product_id"], start=1)}
    frames["customers"] = frames["customers"].rename(columns={"customer_id": "customer_code"})
    frames["orders"] = frames["orders"].rename(columns={"customer_id": "cust_id"})
    frames["products"] = frames["products"].assign(product_id=frames["products"]["product_id"].map(number))
    frames["products"] = frames["products"].rename(columns={"product_id": "product_no"})
    items = frames["order_items"].assign(product_id=frames["order_items"]["product_id"].map(number))
    frames["order_items"] = items.rename(columns={"product_id": "prod_no", "order_id": "basket"})
    frames["returns"] = frames["returns"].rename(columns={"order_id": "order_ref"})
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_renamed_keys_relate_by_values_and_names(tmp_path: Path) -> None:
    learned = learn_spec(_renamed_sample(tmp_path), "An online store's orders and returns.", rows=3000, seed=7)
    assert _edges(learned.spec) == {
        ("orders", "cust_id", "customers", "customer_code"),  # names agree (cust ~ customer), values included
        ("order_items", "basket", "orders", "order_id"),  # patterned ids (ORD-0000001), no name in common
        ("order_items", "prod_no", "products", "product_no"),  # integers: a key name that agrees
        ("returns", "order_ref", "orders", "order_id"),
    }
    spec = learned.spec
    assert spec.table("customers").primary_key == ["customer_code"]
    assert spec.table("products").primary_key == ["product_no"]
    assert spec.table("orders").column("ship_region").generator.kind == "lookup"  # through cust_id
    assert spec.table("order_items").column("quantity").generator.kind != "foreign_key"  # 1-5 are product numbers too
    assert validate_schema(spec).problems == ONLY_QUESTIONS
    assert any("cust_id -> customers.customer_code: related by its values" in n for n in learned.notes)


def test_a_renamed_key_whose_values_are_not_included_relates_nothing(tmp_path: Path) -> None:
    folder = _renamed_sample(tmp_path)
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    customers.head(30).to_csv(folder / "customers.csv", index=False)  # most orders' customers are gone
    learned = learn_spec(folder, "An online store's orders and returns.", rows=3000, seed=7)
    assert not any(r.parent_table == "customers" for r in learned.spec.relationships)
    assert any(n.startswith("customers: no key relates it") for n in learned.notes)


def test_a_small_table_is_kept_only_as_a_parent(tmp_path: Path) -> None:
    folder = _renamed_sample(tmp_path)
    returns = pd.read_csv(folder / "returns.csv", dtype=str)
    returns.head(5).to_csv(folder / "returns.csv", index=False)  # a leaf with 5 rows: nothing to learn from
    with pytest.raises(SampleError, match="too few rows to learn from: returns.csv has 5 row"):
        learn_spec(folder, "An online store's orders and returns.", rows=3000, seed=7)
