"""The LLM brief reader against a local server that speaks the OpenAI API: the model's frame, or the offline one."""

from __future__ import annotations

import datetime as dt
import json

import openai
import pytest
from fakes.openai_server import FakeOpenAI, serve

from tasks.design.brief_llm import read_brief_configured, read_brief_llm
from tasks.design.brief_reader import read_brief
from tasks.settings import Settings

TODAY = dt.date(2026, 12, 1)
BRIEF = (
    "FitNation runs 12 fitness clubs in Pune. After a membership price increase in January 2024, cancellations "
    "rose. The COO wants memberships and visits from January 2023 to June 2024."
)


def _client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=10)


def _model_answer(**changes) -> str:
    """What a model might answer: the offline frame with its own corrections."""
    data = json.loads(read_brief(BRIEF, today=TODAY).model_dump_json())
    data.update(changes)
    return json.dumps(data)


def test_a_valid_answer_is_the_frame_and_the_request_asks_for_its_schema() -> None:
    answer = _model_answer(stakeholder={"role": "chief operating officer", "source": "The COO"})
    notes: list[str] = []
    with serve(FakeOpenAI([answer])) as fake:
        frame = read_brief_llm(BRIEF, _client(fake), fake.model, TODAY, notes=notes)
    assert frame.stakeholder.role == "chief operating officer"
    assert frame.company.name == "FitNation" and frame.window.start == dt.date(2023, 1, 1)
    body = fake.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert "events" in body["response_format"]["json_schema"]["schema"]["properties"]
    prompt = body["messages"][0]["content"]
    assert "Today is 2026-12-01" in prompt and "churn_rate" in prompt and BRIEF in prompt
    assert notes == ["brief frame: read by fake-model"]


def test_an_invalid_answer_is_repaired_with_its_problems() -> None:
    bad_source = _model_answer(company={"name": "FitNation", "source": "Fit Nation Ltd"})
    with serve(FakeOpenAI(["not json {", bad_source, _model_answer()])) as fake:
        notes: list[str] = []
        frame = read_brief_llm(BRIEF, _client(fake), fake.model, TODAY, max_repairs=2, notes=notes)
    assert frame.company.source == "FitNation"
    assert len(fake.requests) == 3
    second = fake.requests[1]["body"]["messages"][-1]["content"]
    third = fake.requests[2]["body"]["messages"][-1]["content"]
    assert "not valid JSON" in second and "'Fit Nation Ltd' is not words of the brief" in third
    assert notes == ["brief frame: read by fake-model after 2 repair(s)"]


def test_kpis_take_their_meaning_from_the_lexicon_and_unknown_keys_are_refused() -> None:
    kpis = [
        {
            "key": "churn_rate",
            "name": "churn",
            "formula": "x",
            "parts": ["x"],
            "kind": "rate",
            "source": "cancellations",
        }
    ]
    unknown = [{**kpis[0], "key": "member_happiness"}]
    with serve(FakeOpenAI([_model_answer(kpis=unknown), _model_answer(kpis=kpis)])) as fake:
        frame = read_brief_llm(BRIEF, _client(fake), fake.model, TODAY)
    assert "'member_happiness' is not a key of the KPI lexicon" in fake.requests[1]["body"]["messages"][-1]["content"]
    (kpi,) = frame.kpis
    assert (kpi.name, kpi.formula) == ("Churn rate", "customers_lost / customers_at_start")


def test_an_answer_with_invented_fields_stays_invalid_and_the_offline_frame_is_used() -> None:
    invented = _model_answer(mood="optimistic")
    notes: list[str] = []
    with serve(FakeOpenAI([invented])) as fake:
        frame = read_brief_llm(BRIEF, _client(fake), fake.model, TODAY, max_repairs=1, notes=notes)
    assert frame == read_brief(BRIEF, today=TODAY)
    assert len(fake.requests) == 2
    assert notes[0].startswith("brief frame: the offline reader's (fake-model stayed invalid after 1 repair(s): mood")


@pytest.mark.parametrize("failure", [(500, {"error": {"message": "boom", "type": "server_error"}}), "wrong-model"])
def test_a_failing_endpoint_gives_the_offline_frame(failure) -> None:
    notes: list[str] = []
    fake = FakeOpenAI([failure if isinstance(failure, tuple) else _model_answer()])
    with serve(fake):
        model = "other-model" if failure == "wrong-model" else fake.model
        frame = read_brief_llm(BRIEF, _client(fake), model, TODAY, notes=notes)
    assert frame == read_brief(BRIEF, today=TODAY)
    assert "the offline reader's" in notes[0] and ("InternalServerError" in notes[0] or "NotFoundError" in notes[0])


def test_a_server_without_json_schema_is_asked_for_a_json_object() -> None:
    refusal = (
        400,
        {"error": {"message": "response_format json_schema is not supported", "type": "invalid_request_error"}},
    )
    with serve(FakeOpenAI([refusal, _model_answer()])) as fake:
        frame = read_brief_llm(BRIEF, _client(fake), fake.model, TODAY)
    assert frame.company.name == "FitNation"
    assert fake.requests[1]["body"]["response_format"] == {"type": "json_object"}


def test_the_configured_endpoint_reads_the_brief_and_no_configuration_reads_offline(monkeypatch) -> None:
    for name in ("OPENAI_API_KEY", "DATAFACTORY_LLM_API_KEY", "DATAFACTORY_LLM_BASE_URL", "DATAFACTORY_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    answer = _model_answer(company={"name": "FitNation Clubs", "source": "FitNation"})
    with serve(FakeOpenAI([answer])) as fake:
        settings = Settings(llm_base_url=fake.base_url, llm_model=fake.model)
        notes: list[str] = []
        assert (
            read_brief_configured(BRIEF, settings=settings, today=TODAY, notes=notes).company.name == "FitNation Clubs"
        )
    assert notes == ["brief frame: read by fake-model"]
    offline_notes: list[str] = []
    frame = read_brief_configured(BRIEF, settings=Settings(), today=TODAY, notes=offline_notes)
    assert frame == read_brief(BRIEF, today=TODAY)
    assert offline_notes == ["brief frame: the offline reader's (no LLM configured)"]
