"""Planted messiness: the issue log matches the data exactly, and the same spec plants the same mess."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.errors import GenerationError, InputError
from schemas.spec import MessinessRule
from tasks.domains import load_blueprint
from tasks.engine import generate_dataset
from tasks.engine.messiness import (
    apply_messiness,
    format_values,
    issue_log_to_csv,
    read_issue_log,
    row_keys,
    to_arrow_lenient,
)

RETAIL = Path(__file__).absolute().parent.parent / "domains" / "retail_ecommerce.yaml"
RULES = [
    MessinessRule(kind="duplicates", table="orders", rate=0.01),
    MessinessRule(kind="casing", table="customers", column="city", rate=0.03),
    MessinessRule(kind="whitespace", table="customers", column="first_name", rate=0.02),
    MessinessRule(kind="typos", table="products", column="brand", rate=0.05),
    MessinessRule(kind="typos", table="customers", column="last_name", rate=0.05),
    MessinessRule(kind="missing", table="orders", column="payment_method", rate=0.02),
    MessinessRule(kind="missing", table="order_items", column="quantity", rate=0.01),
    MessinessRule(kind="outliers", table="order_items", column="unit_price", rate=0.01),
    MessinessRule(kind="date_formats", table="customers", column="signup_date", rate=0.03),
]


@pytest.fixture(scope="module")
def messy_spec():
    spec = load_blueprint(RETAIL).spec
    return spec.model_copy(update={"scale": 1500, "messiness": RULES})


@pytest.fixture(scope="module")
def clean(messy_spec):
    return generate_dataset(messy_spec)


@pytest.fixture(scope="module")
def planted(messy_spec, clean):
    return apply_messiness(messy_spec, clean)


def _cell_text(frame: pd.DataFrame, spec, table: str, column: str) -> pd.Series:
    table_spec = spec.table(table)
    return pd.Series(
        format_values(frame[column], table_spec.column(column).type).to_numpy(),
        index=row_keys(frame, table_spec).to_numpy(),
    )


def test_issue_log_matches_the_messy_and_the_clean_data_exactly(messy_spec, clean, planted) -> None:
    """The answer key lists every planted problem; a log entry that is not in the data misleads learners."""
    # Setup
    messy, log = planted
    # Run / Assert: every value entry names a cell that held the original and now holds the new value
    for entry in log:
        if entry.kind == "duplicates":
            continue
        after = _cell_text(messy[entry.table], messy_spec, entry.table, entry.column)
        before = _cell_text(clean[entry.table], messy_spec, entry.table, entry.column)
        assert set(after.loc[[entry.row_key]]) == {entry.new_value}, entry
        assert before.loc[entry.row_key] == entry.original_value, entry
        assert entry.new_value != entry.original_value, entry
    # and nothing else changed: the number of changed cells per column equals the log
    logged = Counter((e.table, e.column) for e in log if e.kind != "duplicates")
    for table_name, frame in clean.items():
        deduped = messy[table_name].drop_duplicates(subset=messy_spec.table(table_name).primary_key)
        assert len(deduped) == len(frame)
        for column in frame.columns:
            after = _cell_text(deduped, messy_spec, table_name, column)
            before = _cell_text(frame, messy_spec, table_name, column)
            changed = int((after.loc[before.index] != before).sum())
            assert changed == logged.get((table_name, column), 0), f"{table_name}.{column}"


def test_duplicates_are_logged_once_per_extra_row(messy_spec, clean, planted) -> None:
    """A duplicated order is one extra row with the same key, right after its original."""
    messy, log = planted
    dupes = [e for e in log if e.kind == "duplicates"]
    assert len(dupes) == round(0.01 * len(clean["orders"]))
    assert len(messy["orders"]) == len(clean["orders"]) + len(dupes)
    counts = messy["orders"]["order_id"].value_counts()
    assert {counts[e.row_key] for e in dupes} == {2}
    assert set(counts[counts > 1].index) == {e.row_key for e in dupes}


def test_each_rule_touches_its_stated_rate_of_rows(messy_spec, clean, planted) -> None:
    """A rule at rate r touches round(r * rows) rows: the rate in the spec is the rate in the data."""
    _, log = planted
    per_rule = Counter((e.table, e.column, e.kind) for e in log)
    for rule in RULES:
        expected = max(1, round(rule.rate * len(clean[rule.table])))
        assert per_rule[(rule.table, rule.column, rule.kind)] == expected, rule


def test_same_spec_plants_the_same_mess_and_another_variant_another(messy_spec, clean, planted) -> None:
    """Learners of one variant share one answer key; another variant must get another dataset."""
    _, log = planted
    _, again = apply_messiness(messy_spec, clean)
    assert again == log
    other = messy_spec.model_copy(update={"challenge": messy_spec.challenge.model_copy(update={"variant": 1})})
    _, different = apply_messiness(other, clean)
    assert [e.row_key for e in different] != [e.row_key for e in log]


def test_date_formats_turn_the_column_into_text_and_arrow_keeps_the_other_types(messy_spec, planted) -> None:
    """Mixed date formats cannot live in a date column: the column becomes text, ISO where untouched."""
    messy, log = planted
    customers = to_arrow_lenient(messy["customers"], messy_spec.table("customers"))
    assert customers.schema.field("signup_date").type == pa.string()
    orders = to_arrow_lenient(messy["orders"], messy_spec.table("orders"))
    assert orders.schema.field("order_date").type == pa.date32()
    assert orders.schema.field("order_total").type == pa.float64()
    planted_keys = {e.row_key for e in log if e.kind == "date_formats"}
    untouched = messy["customers"][~messy["customers"]["customer_id"].isin(planted_keys)]["signup_date"]
    assert untouched.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_typos_casing_and_whitespace_change_every_value_they_touch(planted) -> None:
    """A planted typo that leaves the value unchanged would be a log entry with nothing to find."""
    _, log = planted
    for entry in log:
        if entry.kind == "typos":
            assert abs(len(entry.new_value) - len(entry.original_value)) <= 1
        if entry.kind == "casing":
            assert entry.new_value.lower() == entry.original_value.lower()
        if entry.kind == "whitespace":
            assert entry.new_value.strip() == entry.original_value
        if entry.kind != "duplicates":
            assert entry.new_value != entry.original_value


def test_rule_on_a_column_of_the_wrong_type_is_refused(messy_spec, clean) -> None:
    """Typos in a number or outliers in a name make no sense; the error names the rule and the fix."""
    spec = messy_spec.model_copy(
        update={"messiness": [MessinessRule(kind="outliers", table="customers", column="city", rate=0.1)]}
    )
    with pytest.raises(GenerationError, match=r"messiness\[0\]: outliers needs a int or float or decimal column"):
        apply_messiness(spec, clean)


def test_issue_log_csv_round_trips(planted, tmp_path) -> None:
    """The instructor material stores the log as CSV; reading it back gives the same entries."""
    _, log = planted
    path = issue_log_to_csv(log, tmp_path / "instructor" / "issue_log.csv")
    assert read_issue_log(path) == log
    bad = tmp_path / "bad.csv"
    bad.write_text("table,row_key\norders,1\n")
    with pytest.raises(InputError, match="lacks column"):
        read_issue_log(bad)
