"""The LLM designer against a local server that speaks the OpenAI chat-completions API."""

from __future__ import annotations

import json
import socket

import pytest
from fakes.openai_server import FakeOpenAI, serve

from schemas.serialize import spec_to_data
from tasks.designer import design
from tasks.designer_llm import LLMConfigError, LLMDesignError, design_llm, llm_config
from tasks.designer_offline import design_offline
from tasks.domains import get_blueprint
from tasks.settings import Settings

BRIEF = "An online store wants to understand why revenue stalled in the West last year"


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in ("DATAFACTORY_LLM_API_KEY", "DATAFACTORY_LLM_BASE_URL", "DATAFACTORY_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


def _good_spec_data() -> dict:
    return spec_to_data(design_offline(BRIEF, domain="retail_ecommerce", seed=3).spec)


def _good_answer() -> str:
    return json.dumps(_good_spec_data())


def _broken_answer() -> str:
    """Valid JSON, but a question reads a column that does not exist and a scenario names a missing column."""
    data = _good_spec_data()
    data["questions"][0]["sql"] = "SELECT SUM(revenue_total) AS revenue FROM orders"
    data["scenarios"][0]["effect"] = {"kind": "scale", "column": "no_such_column", "factor": 0.5}
    return json.dumps(data)


def _settings(fake: FakeOpenAI, **extra) -> Settings:
    return Settings(llm_base_url=fake.base_url, llm_model=fake.model, llm_api_key=fake.api_key, **extra)


def test_good_answer_becomes_the_design_through_structured_output() -> None:
    """A valid first answer is used as is; the request asks for the spec's JSON schema."""
    # Setup
    with serve(FakeOpenAI([_good_answer()])) as fake:
        # Run
        result = design_llm(BRIEF, rows=5_000, seed=7, settings=_settings(fake))
    # Assert
    assert result.designer == "llm:fake-model"
    assert result.spec.scale == 5_000 and result.spec.challenge.seed == 7
    assert len(fake.requests) == 1
    body = fake.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert "tables" in body["response_format"]["json_schema"]["schema"]["properties"]
    assert BRIEF in body["messages"][1]["content"]
    assert any("prompt" in n and "completion tokens" in n for n in result.notes)


def test_malformed_first_answer_is_repaired_with_the_validation_errors() -> None:
    """The repair loop sends the located problems back and accepts the corrected answer."""
    # Setup
    with serve(FakeOpenAI(["this is not JSON {", _broken_answer(), _good_answer()])) as fake:
        # Run
        result = design_llm(BRIEF, settings=_settings(fake, llm_max_repairs=2))
    # Assert
    assert len(fake.requests) == 3
    second = fake.requests[1]["body"]["messages"]
    assert "not valid JSON" in second[-1]["content"]
    third = fake.requests[2]["body"]["messages"][-1]["content"]
    assert "no_such_column" in third
    assert "2 repair(s)" in result.notes[-1]


def test_answer_that_stays_invalid_ends_in_a_clear_error_after_the_repair_budget() -> None:
    """An answer that never validates costs 1 + max_repairs calls, then names the last problems."""
    # Setup
    expected = r"invalid spec 2 time\(s\) \(1 repair\(s\) allowed\)"
    # Run
    with serve(FakeOpenAI([_broken_answer()])) as fake, pytest.raises(LLMDesignError, match=expected) as error:
        design_llm(BRIEF, settings=_settings(fake, llm_max_repairs=1))
    # Assert
    assert len(fake.requests) == 2
    assert any("no_such_column" in p for p in error.value.problems)
    assert "offline designer" in str(error.value)


def test_unknown_model_gives_one_clear_line() -> None:
    with serve(FakeOpenAI([_good_answer()])) as fake:
        settings = Settings(llm_base_url=fake.base_url, llm_model="no-such-model")
        with pytest.raises(LLMConfigError, match=r"model 'no-such-model' not found at http://127\.0\.0\.1:\d+/v1"):
            design_llm(BRIEF, settings=settings)


def test_refused_key_gives_one_clear_line() -> None:
    with serve(FakeOpenAI([_good_answer()], api_key="right-key")) as fake:
        settings = Settings(llm_base_url=fake.base_url, llm_model=fake.model, llm_api_key="wrong-key")
        with pytest.raises(LLMConfigError, match="refused the API key"):
            design_llm(BRIEF, settings=settings)


def test_unreachable_base_url_gives_one_clear_line() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(llm_base_url=f"http://127.0.0.1:{port}/v1", llm_model="m")
    with pytest.raises(LLMConfigError, match=r"cannot reach the LLM endpoint .*DATAFACTORY_LLM_BASE_URL"):
        design_llm(BRIEF, settings=settings)


def test_no_key_and_no_base_url_runs_the_offline_designer() -> None:
    """Without configuration nothing is sent anywhere: the offline designer answers."""
    settings = Settings(llm_base_url=None, llm_api_key=None)
    assert llm_config(settings) is None
    result = design(BRIEF, settings=settings)
    assert result.designer == "offline"
    with pytest.raises(LLMConfigError, match="no LLM configured"):
        design_llm(BRIEF, settings=settings)


def test_openai_api_key_in_the_environment_selects_the_llm_designer(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(FakeOpenAI([_good_answer()], api_key="sk-env")) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        result = design(BRIEF, settings=Settings(llm_base_url=fake.base_url, llm_model=fake.model))
    assert result.designer == "llm:fake-model"
    assert fake.requests[0]["auth"] == "Bearer sk-env"


def test_feedback_and_previous_spec_reach_the_model() -> None:
    previous = get_blueprint("retail_ecommerce").spec
    with serve(FakeOpenAI([_good_answer()])) as fake:
        design(BRIEF, feedback="more questions on returns", previous=previous, settings=_settings(fake))
    prompt = fake.requests[0]["body"]["messages"][1]["content"]
    assert "more questions on returns" in prompt and "<previous_spec>" in prompt
