"""The composer builds a fitting challenge from building blocks for briefs that no blueprint fits (issue 14).

Briefs of ``tests/fixtures/unusual_briefs.yaml`` are unlike every blueprint and every dev brief: each must
compose a spec named in its own nouns that passes phase 2, answers every question on a preview, and (for a
few, generated in full at a small scale) gives answers that are not degenerate.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
import yaml

from schemas.brief import BriefFrame
from schemas.errors import InputError, SpecError
from tasks.answers import compute_answers
from tasks.design.brief_reader import read_brief
from tasks.design.compose import COMPOSED_DOMAIN, brief_entities, compose, load_parts, read_roles
from tasks.designer_offline import design_offline
from tasks.engine import generate_dataset
from tasks.preview import make_preview
from tasks.schema_check import validate_schema

FIXTURES = Path(__file__).parent / "fixtures"
UNUSUAL = yaml.safe_load((FIXTURES / "unusual_briefs.yaml").read_text())
PARTS = Path(__file__).resolve().parent.parent / "domains" / "parts"


@functools.cache
def _design(brief_id: str, rows: int = 1500):
    entry = next(e for e in UNUSUAL if e["id"] == brief_id)
    return entry, design_offline(entry["brief"], rows=rows, seed=5)


def _names(spec) -> str:
    return " ".join([t.name for t in spec.tables] + [c.name for t in spec.tables for c in t.columns])


@pytest.mark.parametrize("brief_id", [e["id"] for e in UNUSUAL])
def test_an_unusual_brief_composes_a_spec_in_its_own_words_that_passes_phase_2_and_the_preview(brief_id: str) -> None:
    entry, design = _design(brief_id)
    spec = design.spec
    names = _names(spec)
    assert all(noun in names for noun in entry["nouns"]), (entry["nouns"], names)
    validation = validate_schema(spec)
    assert validation.score >= 8, validation.problems
    assert all(q.answerable for q in validation.questions), [q for q in validation.questions if not q.answerable]
    _, preview = make_preview(spec, 40)
    assert not [(q.question_id, q.error) for q in preview.questions if not q.answerable]
    assert 8 <= len(spec.questions) <= 12
    skills = {s for q in spec.questions for s in q.skills}
    assert len(skills) >= 8  # many patterns, not one question asked eight ways
    assert [q.id for q in spec.questions] == [f"q{i:02d}" for i in range(1, len(spec.questions) + 1)]


@pytest.mark.parametrize("brief_id", ["pharmacy-chain", "vet-clinic", "dating-app"])
def test_a_composed_challenge_answers_every_question_with_numbers_that_vary(brief_id: str) -> None:
    _, design = _design(brief_id)
    tables = generate_dataset(design.spec)
    key = compute_answers(design.spec, tables)
    for answer in key.answers:
        assert answer.error is None, (answer.question_id, answer.error)
        assert answer.rows, answer.question_id
        if len(answer.rows) > 1:
            numeric = [
                [row[i] for row in answer.rows]
                for i, kind in enumerate(answer.column_types)
                if kind in ("int", "float") and not answer.columns[i].endswith(("_number", "_id"))
            ]
            assert any(len({v for v in col if v is not None}) > 1 for col in numeric), answer.question_id


def test_the_tables_take_the_brief_nouns_counts_and_places() -> None:
    design = design_offline(
        "PawPrints runs 7 dog grooming salons in Austin and Dallas. Bookings fell after a price increase in May 2024. "
        "The owner wants bookings, groomers and customers from January to December 2024.",
        rows=1500,
        seed=3,
    )
    spec = design.spec
    assert spec.challenge.domain == COMPOSED_DOMAIN
    assert spec.challenge.company.name == "PawPrints"
    assert spec.table("dim_salons").rows == 7
    assert {"fact_bookings", "dim_customers"} <= set(spec.table_names)
    cities = spec.table("dim_salons").column("city").generator.values
    assert set(cities) == {"Austin", "Dallas"}
    assert (spec.challenge.time_window.start.isoformat(), spec.challenge.time_window.end.isoformat()) == (
        "2024-01-01",
        "2024-12-31",
    )
    assert any(q.scenario and "price" in q.scenario for q in spec.questions)
    assert any(n.startswith("composed:") for n in design.notes)


def test_roles_follow_the_vocabulary_not_the_order_of_words() -> None:
    library = load_parts()
    frame = read_brief("Matchly, a dating app, wants to know why paying subscribers cancel their subscriptions.")
    roles = read_roles(frame, library.shapes["transactions"], library.vocabulary)
    assert roles["event"] == "subscription"
    assert roles["person"] == "subscriber"
    assert "subscriber" in brief_entities(frame, library)


def test_domain_compose_forces_the_composer_for_a_brief_a_blueprint_fits() -> None:
    brief = "A hotel chain wants to raise RevPAR and occupancy across its properties."
    assert design_offline(brief, rows=1000).domain != COMPOSED_DOMAIN
    forced = design_offline(brief, rows=1000, domain="compose")
    assert forced.domain == COMPOSED_DOMAIN
    assert forced.notes[0] == "composed: chosen with --domain compose"


def test_a_brief_with_no_business_noun_is_refused_with_a_request_for_one() -> None:
    with pytest.raises(InputError, match="names no business noun"):
        design_offline("Please help me with this, thanks a lot.", rows=1000)


def test_a_broken_part_file_names_itself(tmp_path: Path) -> None:
    copy = tmp_path / "parts"
    shutil.copytree(PARTS, copy)
    shape = copy / "shapes" / "transactions.yaml"
    shape.write_text(shape.read_text().replace("facts:", "fcts:", 1))
    with pytest.raises(SpecError, match="transactions.yaml"):
        compose(BriefFrame(brief="a shop", nouns=["shop"]), directory=copy)


def test_one_small_business_is_one_outlet_in_one_town_over_the_months_it_has() -> None:
    brief = (
        "Maya runs a small pottery studio with a loyalty card. She has six months of bookings and wants to know "
        "who her regular customers are and what they book."
    )
    design = design_offline(brief, rows=1500, seed=2)
    spec = design.spec
    assert spec.challenge.domain == COMPOSED_DOMAIN
    assert spec.table("dim_studios").rows == 1
    assert len(spec.table("dim_studios").column("city").generator.values) == 1
    assert "fact_bookings" in spec.table_names and "dim_books" not in spec.table_names  # 'what they book' is a verb
    window = spec.challenge.time_window
    assert (window.end.year - window.start.year) * 12 + window.end.month - window.start.month + 1 == 6
    assert not any("five studios" in q.text or "each studio" in q.text for q in spec.questions)
    assert "runs a studio" in spec.challenge.problem_statement


def test_a_chain_and_its_properties_are_not_one_outlet() -> None:
    library = load_parts()
    from tasks.design.compose import _one_outlet

    assert not _one_outlet(
        read_brief("A hotel chain wants to raise RevPAR across its properties."), "hotel", library.vocabulary
    )
    assert _one_outlet(
        read_brief("A multi-specialty hospital in Hyderabad wants shorter waits."), "hospital", library.vocabulary
    )


def test_a_brief_without_a_company_names_its_own_organisation() -> None:
    design = design_offline(
        "A city transport authority publishes monthly ridership and complaints by bus route for 2023-2024. "
        "Find the routes that lose riders.",
        rows=1500,
    )
    assert design.spec.challenge.company.name == "The City Transport Authority"
    assert design.spec.challenge.company.profile == "a public body that publishes its data for analysis"


def test_gate_1_says_whether_a_blueprint_or_the_composer_ran_and_why() -> None:
    from flows.review import problem_markdown

    composed = design_offline(
        "A chain of 9 yoga studios wants to know why members cancel their memberships.", rows=1000
    )
    text = problem_markdown(composed.spec, composed.matches, composed.notes, "offline", composed.frame)
    assert "## Blueprint or composition" in text and "Composed from building blocks" in text
    assert "roles: event = membership" in text
    blueprint = design_offline("A hotel chain wants to raise RevPAR and occupancy across its properties.", rows=1000)
    text = problem_markdown(blueprint.spec, blueprint.matches, blueprint.notes, "offline", blueprint.frame)
    assert "Blueprint hospitality:" in text


def test_members_of_a_membership_business_are_people_and_a_verb_is_no_table() -> None:
    library = load_parts()
    frame = read_brief("A chain of 9 yoga studios wants to know why members cancel their memberships.")
    roles = read_roles(frame, library.shapes["transactions"], library.vocabulary)
    assert (roles["event"], roles["person"], roles["outlet"]) == ("membership", "member", "studio")


DEV_BRIEFS = yaml.safe_load((FIXTURES / "dev_briefs.yaml").read_text())


@pytest.mark.parametrize("brief_id", [e["id"] for e in DEV_BRIEFS])
def test_every_dev_brief_composes_with_domain_compose(brief_id: str) -> None:
    entry = next(e for e in DEV_BRIEFS if e["id"] == brief_id)
    spec = design_offline(entry["brief"], rows=1500, seed=3, domain="compose").spec
    validation = validate_schema(spec)
    assert validation.score >= 8, validation.problems
    _, preview = make_preview(spec, 30)
    assert not [(q.question_id, q.error) for q in preview.questions if not q.answerable]
    assert 8 <= len(spec.questions) <= 12


def test_a_rate_kpi_without_a_recipe_starts_at_its_usual_share() -> None:
    """First-attempt delivery is about 87% of deliveries, cancellations about 8%: not 22% for every rate."""
    from schemas.brief import KpiFact
    from tasks.design.kpi_columns import _generic

    def rate(key: str, name: str) -> KpiFact:
        return KpiFact(source=name, key=key, name=name, formula="a / b", parts=["a", "b"], kind="rate")

    first_attempt = _generic(rate("first_attempt_rate", "First-attempt delivery %"), {})
    assert first_attempt["columns"][0]["generator"]["weights"] == [0.87, 0.13]
    unknown = _generic(rate("made_up_rate", "Made-up rate"), {})
    assert unknown["columns"][0]["generator"]["weights"] == [0.22, 0.78]


def test_a_state_s_own_department_compares_districts_not_states() -> None:
    one = design_offline(
        "A state health department publishes monthly district-level data on hospital admissions, vaccinations and "
        "health-worker vacancies for 2019-2023.", domain="compose", seed=5,
    ).spec  # fmt: skip
    two = design_offline(
        "The health departments of Kerala and Tamil Nadu publish monthly district data on admissions, vaccinations "
        "and health-worker vacancies for 2019-2023.", domain="compose", seed=5,
    ).spec  # fmt: skip
    assert not any("states compare" in q.text for q in one.questions)
    assert any("states compare" in q.text for q in two.questions)


def test_state_level_open_data_has_one_state_column_and_answers() -> None:
    design = design_offline(
        "The national health ministry publishes monthly state-level data on hospital admissions, vaccinations and "
        "health-worker vacancies for 2019-2023.", domain="compose", seed=5, rows=800,
    )  # fmt: skip
    spec = design.spec
    assert "dim_states" in spec.table_names
    assert all([c.name for c in t.columns].count("state") <= 1 for t in spec.tables)
    assert validate_schema(spec).score >= 8
