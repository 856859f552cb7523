"""The challenge spec: round trips, and every validation error says where and how to fix it."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from schemas import spec_from_json, spec_from_yaml, spec_to_json, spec_to_yaml
from schemas.errors import ExpressionError, SpecError
from schemas.expressions import expression_names, parse_expression
from schemas.serialize import spec_from_data

FIXTURE = Path(__file__).parent / "fixtures" / "mini_shop.yml"


@pytest.fixture()
def data() -> dict:
    return yaml.safe_load(FIXTURE.read_text())


def _column(data: dict, table: str, column: str) -> dict:
    t = next(t for t in data["tables"] if t["name"] == table)
    return next(c for c in t["columns"] if c["name"] == column)


def _problems(data: dict) -> str:
    with pytest.raises(SpecError) as info:
        spec_from_data(data)
    return str(info.value)


def test_spec_round_trips_through_yaml_and_json(retail_spec) -> None:
    """Every phase exchanges the spec as YAML or JSON; nothing may be lost on the way."""
    assert spec_from_yaml(spec_to_yaml(retail_spec)) == retail_spec
    assert spec_from_json(spec_to_json(retail_spec)) == retail_spec


def test_fixture_spec_loads(data) -> None:
    spec = spec_from_data(data)
    assert [r.parent_table for r in spec.relationships] == ["customers", "orders"]


def test_foreign_key_to_missing_table_names_path_and_choices(data) -> None:
    """The message a person needs: where, what, and which tables exist (with a close match)."""
    _column(data, "order_items", "order_id")["generator"]["references"] = "order.order_id"
    message = _problems(data)
    assert (
        "tables.order_items.columns.order_id: foreign key points to table 'order', which does not exist "
        "(tables are: customers, orders, order_items); did you mean 'orders'?"
    ) in message


def test_duplicate_table_and_column_names_are_rejected(data) -> None:
    data["tables"].append(copy.deepcopy(data["tables"][0]))
    data["tables"][1]["columns"].append({"name": "order_date", "type": "date", "generator": {"kind": "date"}})
    message = _problems(data)
    assert "tables.customers: table name 'customers' is used twice" in message
    assert "tables.orders.columns.order_date: column name 'order_date' is used twice" in message


def test_all_problems_are_reported_at_once(data) -> None:
    """A person fixes a spec in one pass when every problem is listed, numbered."""
    _column(data, "orders", "customer_id")["generator"]["references"] = "clients.customer_id"
    _column(data, "order_items", "amount")["generator"]["expression"] = "quantity * cost"
    message = _problems(data)
    assert message.startswith("2 problem(s) in the challenge spec:")
    assert "  1. tables.orders.columns.customer_id" in message
    assert "  2. tables.order_items.columns.amount: expression 'quantity * cost' names unknown column 'cost'" in message


def test_cycle_in_foreign_key_graph_is_rejected(data) -> None:
    data["tables"][0]["columns"].append(
        {"name": "first_order", "type": "int", "generator": {"kind": "foreign_key", "references": "orders.order_id"}}
    )
    assert "foreign keys form a cycle (customers -> orders -> customers)" in _problems(data)


def test_expression_naming_unknown_column_is_rejected(data) -> None:
    _column(data, "order_items", "amount")["generator"]["expression"] = "quantity * prise"
    message = _problems(data)
    assert "names unknown column 'prise'" in message
    assert "did you mean 'price'?" in message


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("__import__('os').system('true')", "calls unknown function"),
        ("__import__('os')", "calls unknown function '__import__'"),
        ("quantity.__class__", "uses Attribute"),
        ("[x for x in quantity]", "uses ListComp"),
        ("price[0]", "uses Subscript"),
        ("lambda: 1", "uses Lambda"),
        ("quantity *", "not valid syntax"),
    ],
)
def test_expressions_outside_the_grammar_are_refused(data, expression: str, reason: str) -> None:
    """Expressions may come from a language model: they are parsed and whitelisted, never eval'd."""
    _column(data, "order_items", "amount")["generator"]["expression"] = expression
    assert reason in _problems(data)


def test_field_errors_name_the_column_not_the_index(data) -> None:
    _column(data, "order_items", "price")["generator"] = {"kind": "numeric", "distribution": "normal", "mean": 3}
    message = _problems(data)
    assert re.search(r"tables\.order_items\.columns\.price\.generator: .*needs mean, std; missing std", message)


def test_unknown_generator_kind_lists_supported_kinds(data) -> None:
    _column(data, "customers", "segment")["generator"] = {"kind": "magic"}
    message = _problems(data)
    assert "tables.customers.columns.segment.generator" in message
    assert "categorical" in message and "foreign_key" in message


def test_unknown_field_is_rejected_with_its_path(data) -> None:
    data["tables"][0]["colour"] = "blue"
    assert "tables.customers.colour: unknown field; remove it or check its spelling" in _problems(data)


def test_dangling_question_scenario_and_lookup_references(data) -> None:
    data["questions"][0]["scenario"] = "q3_slump"
    _column(data, "order_items", "price")["generator"] = {"kind": "lookup", "via": "quantity", "column": "price"}
    message = _problems(data)
    assert "questions.q1.scenario: scenario 'q3_slump' does not exist" in message
    assert "lookup goes via 'quantity', which is not a foreign-key column of 'order_items'" in message


def test_type_and_generator_must_fit(data) -> None:
    _column(data, "orders", "order_date")["type"] = "int"
    assert "tables.orders.columns.order_date: type 'int' does not fit a date generator" in _problems(data)


def test_expression_names_ignore_functions_and_constants() -> None:
    assert expression_names("round(quantity * price, 2) if True else None") == {"quantity", "price"}
    with pytest.raises(ExpressionError):
        parse_expression("open('/etc/passwd')")


def test_yaml_syntax_error_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="not valid YAML"):
        spec_from_yaml("tables: [unclosed")
