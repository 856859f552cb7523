"""What the reviewer sees at a gate, without a server: the Resume form's schema and text, the spec artifact's
YAML, the gate-3 preview (answers, key and type checks, empty cells, limited width), the statement after feedback.

The flow-level behaviour (refused edits, versions per attempt, no republishing) is in tests/test_flow.py and
tests/test_prefect_server.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from prefect._internal.pydantic.v2_schema import create_v2_schema

from flows.gates import GateInput, form_description, gate_form
from flows.review import (
    MAX_COLUMNS,
    artifact_key,
    cell,
    check_results,
    markdown_table,
    preview_markdown,
    preview_records,
    readable_yaml,
)
from schemas.errors import SpecError
from schemas.results import PreviewCheck
from schemas.serialize import spec_from_yaml, spec_to_data

ROOT = Path(__file__).resolve().parent.parent


def _form_schema(form) -> dict:
    # the very call Prefect makes when it stores the form for the UI (RunInput.save)
    return create_v2_schema(form.__name__, model_base=form)


def test_the_resume_form_requires_a_decision_and_offers_plain_text_boxes() -> None:
    schema = _form_schema(gate_form("**Gate 2 of 3**", "regenerate"))
    assert schema["required"] == ["decision"]
    decision, spec_yaml = schema["properties"]["decision"], schema["properties"]["spec_yaml"]
    assert decision["enum"] == ["approve", "regenerate", "reject"] and decision["default"] == "regenerate"
    # a plain string: the UI draws a text box, not the 'str | None' type toggle an anyOf with null gets
    assert spec_yaml["type"] == "string" and "anyOf" not in spec_yaml
    assert all(p.get("title") and p.get("description") for p in schema["properties"].values())


def test_the_form_says_a_refused_edit_and_the_checks_truthfully() -> None:
    refused = form_description(1, 1, checks_passed=True, reason="", refused="2 problem(s) in the challenge spec")
    assert "edited spec was refused" in refused and "2 problem(s)" in refused and "Checks: passed." in refused
    assert "attempt 2" in refused and "gate-1-attempt-1" in refused
    failed = form_description(2, 0, checks_passed=False, reason="q03: no column region", refused=None)
    assert "Checks FAILED: q03: no column region" in failed and "refused" not in failed
    assert gate_form(failed, "approve")._description == failed


def test_an_empty_edit_keeps_the_spec_and_a_broken_one_lists_its_problems() -> None:
    assert GateInput(decision="approve", spec_yaml="  \n").edited_spec() is None
    with pytest.raises(SpecError, match="problem"):
        GateInput(decision="approve", spec_yaml="challenge: {id: x}\ntables: []\n").edited_spec()


def test_artifact_keys_carry_the_gate_and_the_attempt() -> None:
    assert artifact_key(3, 2, "table-Order_Items") == "gate-3-attempt-2-table-order-items"
    assert len(artifact_key(3, 0, "table-" + "x" * 200)) == 100


@pytest.fixture(scope="module")
def blueprints():
    from tasks.domains import load_blueprints

    return load_blueprints()


def test_the_spec_artifact_is_yaml_with_sql_blocks_that_reads_back_the_same(blueprints) -> None:
    for name, blueprint in blueprints.items():
        text = readable_yaml(blueprint.spec)
        assert spec_from_yaml(text) == blueprint.spec, name
        assert text.count("sql: |") == len(blueprint.spec.questions), f"{name}: an SQL query is an escaped string"


def test_cells_are_empty_for_missing_values_and_stay_on_one_line() -> None:
    assert [cell(v) for v in (None, math.nan, pd.NaT, pd.NA, float("nan"))] == [""] * 5
    assert cell("a |b\nc") == "a /b c" and cell(0) == "0" and cell(False) == "False"
    assert cell(pd.Timestamp("2024-03-01")) == "2024-03-01"
    assert cell(pd.Timestamp("2024-03-01 10:30")) == "2024-03-01 10:30:00"


def test_wide_tables_show_a_limited_width_and_say_what_is_left_out() -> None:
    wide = pd.DataFrame([{f"c{i}": (None if i == 3 else i) for i in range(19)}] * 8)
    lines = markdown_table(wide, rows=5)
    assert lines[0].count("|") == MAX_COLUMNS + 1
    assert lines[-1] == f"*3 more row(s); {19 - MAX_COLUMNS} more column(s)*"
    records = preview_records(wide)
    assert len(records) == 8 and len(records[0]) == MAX_COLUMNS and records[0]["c3"] == ""
    assert "nan" not in str(records) and "None" not in str(records)


def test_the_preview_shows_each_answer_and_each_key_and_type_check(retail_spec) -> None:
    from tasks.preview import check_preview, make_preview

    tables, _ = make_preview(retail_spec, 20)
    orders = tables["orders"].copy()
    orders.loc[1, "order_id"] = orders.loc[0, "order_id"]  # a repeated primary key
    tables = {**tables, "orders": orders}
    check = check_preview(retail_spec, tables)
    text = preview_markdown(check, retail_spec, tables, ["applied 'more rows': scale x2"])
    assert "| primary key unique | orders (order_id) | **FAILED**: 1 repeated primary key" in text
    assert "| primary key unique | customers (customer_id) | ok |" in text
    assert "| types | orders | ok |" in text
    for question in retail_spec.questions:
        assert f"### {question.id}: {question.text}" in text
    # the first question's answer rows, as a table under its heading
    first = text.split(f"### {retail_spec.questions[0].id}:")[1].split("###")[0]
    assert "|---|" in first
    assert "## Feedback handling\n- applied 'more rows'" in text
    assert "nan |" not in text and "| nan" not in text and "None |" not in text


def test_check_results_keep_problems_no_check_claims() -> None:
    from tasks.domains import load_blueprint

    spec = load_blueprint(ROOT / "domains" / "retail_ecommerce.yaml").spec
    check = PreviewCheck(row_counts={}, problems=["something else went wrong"])
    lines = check_results(spec, check)
    assert "- something else went wrong" in lines and not [line for line in lines if "FAILED" in line]


def test_a_scenario_added_by_feedback_is_asked_in_the_statement_and_leaves_with_it(blueprints) -> None:
    from tasks.designer_offline import apply_feedback

    for name in ("retail_ecommerce", "hospitality", "telecom"):
        blueprint = blueprints[name]
        data = spec_to_data(blueprint.spec)
        before = data["challenge"]["problem_statement"]
        notes = apply_feedback(data, "add a scenario about a price increase", blueprint)
        assert notes[0].startswith("applied") and "the problem statement now asks about it" in notes[0], notes
        added = data["scenarios"][-1]
        statement = data["challenge"]["problem_statement"]
        assert statement.startswith(before.rstrip()) and "Management also wants to know what happened to" in statement
        assert str(added["effect"]["factor"]) not in statement, "the size of the change is for the learner to find"
        topic = added["name"].replace("_", " ")
        apply_feedback(data, f"drop the scenario about {topic}", blueprint)
        assert data["challenge"]["problem_statement"] == before.rstrip()


def test_the_custom_run_form_describes_storage_without_angle_brackets() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.challenge import challenge_flow

    described = parameter_schema(challenge_flow.fn).properties
    # the UI renders these descriptions as HTML: '<output_dir>' vanished as an unknown tag
    assert all("<" not in (p.get("description") or "") for p in described.values())
    assert "output_dir" in described["storage"]["description"]
