"""The LLM designer's parts path against a local server that speaks the OpenAI API (issue 14, point 5).

The model reads the brief (a BriefFrame) and picks the composer's shape and role nouns (a PartChoice, a small
answer a 7B model can give); the composer builds the spec. An invalid choice is repaired with its problems; a
failing model gives the offline choice; a brief a blueprint fits keeps its blueprint.
"""

from __future__ import annotations

import json

import openai
from fakes.openai_server import FakeOpenAI, serve

from tasks.design.brief_reader import read_brief
from tasks.design.compose import COMPOSED_DOMAIN, load_parts
from tasks.design.parts_llm import ask_parts
from tasks.designer import design
from tasks.settings import Settings

BRIEF = (
    "Harbour Lanes runs 5 bowling alleys in Ohio. Games and snack sales fell after a price increase in March "
    "2024. The owner wants bookings, bowlers and lanes analysed for 2023-2024."
)


def _frame_answer() -> str:
    return read_brief(BRIEF).model_dump_json()


def _choice(**roles: str) -> str:
    return json.dumps({"shape": "transactions", "roles": roles})


def test_the_model_names_the_roles_and_the_composer_builds_the_spec_in_its_words(monkeypatch) -> None:
    for name in ("OPENAI_API_KEY", "DATAFACTORY_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    answers = [_frame_answer(), _choice(event="booking", outlet="alley", person="bowler", place="city")]
    with serve(FakeOpenAI(answers)) as fake:
        settings = Settings(llm_base_url=fake.base_url, llm_model=fake.model, llm_design="parts")
        result = design(BRIEF, rows=1500, seed=4, settings=settings)
    spec = result.spec
    assert result.designer == "llm-parts:fake-model"
    assert spec.challenge.domain == COMPOSED_DOMAIN
    assert {"fact_bookings", "dim_alleys", "dim_bowlers"} <= set(spec.table_names)
    assert spec.table("dim_alleys").rows == 5
    assert "parts: shape transactions and roles chosen by fake-model" in result.notes
    second = fake.requests[1]["body"]
    assert second["response_format"]["json_schema"]["name"] == "part_choice"
    assert "transactions" in second["messages"][0]["content"] and BRIEF in second["messages"][0]["content"]


def test_an_invalid_choice_is_repaired_and_a_failing_model_gives_the_offline_choice() -> None:
    library = load_parts()
    frame = read_brief(BRIEF)
    bad = json.dumps({"shape": "spaceship", "roles": {"event": "teleport", "colour": "red"}})
    notes: list[str] = []
    with serve(FakeOpenAI([bad, _choice(event="booking", outlet="alley")])) as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="t", max_retries=0, timeout=10)
        choice = ask_parts(BRIEF, frame, client, fake.model, max_repairs=1, notes=notes, library=library)
    assert choice.roles == {"event": "booking", "outlet": "alley"}
    repair = fake.requests[1]["body"]["messages"][-1]["content"]
    assert "'spaceship' is not one of" in repair and "'teleport' is not a word of the brief" in repair
    assert "roles.colour: not a role" in repair
    failing = (500, {"error": {"message": "model crashed", "type": "server_error"}})
    with serve(FakeOpenAI([failing])) as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="t", max_retries=0, timeout=10)
        offline = ask_parts(BRIEF, frame, client, fake.model, max_repairs=0, notes=notes, library=library)
    assert offline.shape == "transactions" and offline.roles.get("event") == "booking"
    assert notes[-1].startswith("parts: the offline choice (the model fake-model failed")


def test_a_brief_a_blueprint_fits_keeps_the_blueprint_on_the_parts_path(monkeypatch) -> None:
    for name in ("OPENAI_API_KEY", "DATAFACTORY_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    brief = "A hotel chain wants to raise RevPAR, ADR and occupancy across its properties."
    with serve(FakeOpenAI([read_brief(brief).model_dump_json()])) as fake:
        settings = Settings(llm_base_url=fake.base_url, llm_model=fake.model, llm_design="parts")
        result = design(brief, rows=1000, settings=settings)
    assert result.domain == "hospitality"
    assert len(fake.requests) == 1  # the frame only: no part choice is asked for a blueprint
