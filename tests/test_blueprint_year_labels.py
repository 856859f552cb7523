"""Blueprint SQL names no year in a result column or a text label (issue 15).

A variation moves the time window by whole years and shifts the dates and year numbers a query compares
(``DATE '2024-04-01'``, ``EXTRACT(YEAR FROM d) = 2024``), but a year written into an alias
(``cases_2024``) or a label (``'before (Jan-Mar 2024)'``) would stay behind and name a year the data does
not hold. So the blueprints use neutral aliases (``cases_last_year``) and neutral labels beside the
period's first and last dates computed from the data.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from tasks.domains import load_blueprints

YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
ISO_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?")


def year_labels(sql: str) -> list[str]:
    """Aliases and text literals of a query that name a year (quoted ISO dates are dates, not labels)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    found = [f"alias {a.alias}" for a in tree.find_all(exp.Alias) if YEAR.search(a.alias)]
    for literal in tree.find_all(exp.Literal):
        if literal.is_string and YEAR.search(literal.this) and not ISO_DATE.match(literal.this):
            found.append(f"label '{literal.this}'")
    return found


@pytest.mark.parametrize("name", sorted(load_blueprints()))
def test_blueprint_sql_names_no_year_in_aliases_or_labels(name: str) -> None:
    blueprint = load_blueprints()[name]
    problems = {q.id: year_labels(q.sql) for q in blueprint.spec.questions}
    assert not {k: v for k, v in problems.items() if v}, f"{name}: years in aliases or labels: {problems}"


def test_year_labels_are_found_and_dates_are_not() -> None:
    sql = "SELECT CASE WHEN d < DATE '2024-04-01' THEN '1 before (Jan-Mar 2024)' END AS p, 1 AS cases_2024 FROM t"
    assert year_labels(sql) == ["alias cases_2024", "label '1 before (Jan-Mar 2024)'"]
    assert year_labels("SELECT 1 AS cases_last_year FROM t WHERE d >= DATE '2024-01-01'") == []


@pytest.mark.parametrize("domain", ["airline", "supply_chain"])
def test_en_in_scenario_descriptions_name_no_place_the_data_lacks(domain: str) -> None:
    """The en_IN variant moves the hubs and DCs to Indian cities; the scenario texts name them by id."""
    from tasks.designer import design
    from tasks.engine import generate_dataset
    from tasks.quality import run_quality

    spec = design(f"{domain} challenge", domain=domain, rows=3_000, seed=1, locale="en_IN").spec
    report = run_quality(spec, generate_dataset(spec), gx=False)
    places = [f for c in report.categories for f in c.findings if f.check_id.endswith("story_places")]
    assert not places, [f.examples for f in places]
