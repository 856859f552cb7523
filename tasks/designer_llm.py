"""The LLM designer: brief -> challenge spec from any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM).

Contract: ``design_llm(...) -> Design`` returns a spec that passed ``spec_from_data`` and
``validate_schema`` (every question answerable, no structural problem), or raises ``LLMDesignError``.
The model answers through structured output (``response_format`` = the ``ChallengeSpec`` JSON schema;
``json_object`` when the server refuses schemas); each invalid answer goes back to the model with its
numbered problems, at most ``settings.llm_max_repairs`` times. Prompts live in ``tasks/prompts/*.md``.
Token use and latency of every call are logged (logger ``datafactory.designer_llm``) and noted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import openai

from schemas.errors import DataFactoryError, InputError, SpecError
from schemas.serialize import spec_from_data, spec_to_json, spec_to_yaml
from schemas.spec import ChallengeSpec
from tasks.design.brief_reader import read_brief
from tasks.designer_offline import Design, choose_domain, detect_locale
from tasks.domains import get_blueprint, rank_domains
from tasks.schema_check import validate_schema
from tasks.settings import Settings, get_settings

PROMPTS = Path(__file__).resolve().parent / "prompts"
REQUEST_TIMEOUT_SECONDS = 300.0
log = logging.getLogger("datafactory.designer_llm")


class LLMConfigError(DataFactoryError):
    """The LLM endpoint is not configured or not usable (key, base URL, model)."""


class LLMDesignError(DataFactoryError):
    """The model's answer was still invalid after the allowed repairs."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class LLMConfig:
    """Where and what to ask: resolved from settings and the environment."""

    base_url: str | None
    model: str
    api_key: str
    max_repairs: int

    @property
    def endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"


def llm_config(settings: Settings | None = None) -> LLMConfig | None:
    """The LLM configuration, or None when neither a key nor a base URL is set (offline designer).

    The key is ``DATAFACTORY_LLM_API_KEY``, else ``OPENAI_API_KEY``; a local server (base URL set)
    needs no key, so a placeholder is sent.
    """
    settings = settings or get_settings()
    key = settings.llm_api_key or os.environ.get("OPENAI_API_KEY") or None
    if not key and not settings.llm_base_url:
        return None
    return LLMConfig(settings.llm_base_url, settings.llm_model, key or "not-needed", settings.llm_max_repairs)


def load_prompt(name: str, **values: object) -> str:
    """``tasks/prompts/<name>.md`` with ``$placeholders`` filled in.

    Raises:
        LLMConfigError: the prompt file is missing or a placeholder has no value.
    """
    path = PROMPTS / f"{name}.md"
    try:
        return Template(path.read_text()).substitute({k: str(v) for k, v in values.items()})
    except FileNotFoundError:
        raise LLMConfigError(f"prompt file {path} is missing; restore it from the repository") from None
    except KeyError as exc:
        raise LLMConfigError(f"prompt {path.name} uses ${exc.args[0]}, which the designer does not fill") from None


def design_llm(
    brief: str,
    *,
    domain: str | None = None,
    rows: int = 10_000,
    seed: int = 42,
    variant: int = 0,
    locale: str | None = None,
    feedback: str | None = None,
    attempt: int = 0,
    previous: ChallengeSpec | None = None,
    settings: Settings | None = None,
) -> Design:
    """Ask the configured model for a challenge spec, repairing invalid answers a bounded number of times.

    Args:
        brief: the business brief.
        domain: the library domain whose blueprint serves as the model's example (matched when omitted).
        rows, seed, variant, locale: kept in the spec as given (locale detected from the brief when omitted).
        feedback: the reviewer's words from a gate, passed to the model.
        attempt: the regeneration count (varies the request seed).
        previous: the spec the reviewer saw, given to the model with the feedback.
        settings: LLM base URL, model, key and repair budget; read from the environment when omitted.

    Raises:
        InputError: empty brief or rows <= 0.
        LLMConfigError: no key/base URL, key refused, endpoint unreachable, model not found.
        LLMDesignError: the answer stayed invalid after ``llm_max_repairs`` repairs.
    """
    if not brief or not brief.strip():
        raise InputError("the brief is empty; describe the business and its problem in a sentence or two")
    if rows <= 0:
        raise InputError(f"rows must be a positive number, got {rows}")
    config = llm_config(settings)
    if config is None:
        raise LLMConfigError(
            "no LLM configured: set DATAFACTORY_LLM_API_KEY or OPENAI_API_KEY (OpenAI), or DATAFACTORY_LLM_BASE_URL "
            "(a local Ollama or vLLM server); without them the offline designer runs"
        )
    locale = locale or detect_locale(brief)
    example_domain, ranked = _example_domain(brief, domain)
    example = get_blueprint(example_domain).spec
    fixed = {
        "seed": seed,
        "variant": variant,
        "locale": locale,
        "id": f"{example_domain.replace('_', '-')}-{seed}" + (f"-v{variant}" if variant else ""),
    }
    frame = read_brief(brief)
    facts = "\n".join(f"- {kind}: {value} (from '{source}')" for kind, value, source in frame.facts())
    # the model gets the facts the reader found, so the company, window, events and KPIs are the brief's
    framed = brief.strip() + (f"\n\nFacts read from this brief (the spec must carry them):\n{facts}" if facts else "")
    messages = [
        {"role": "system", "content": load_prompt("system")},
        {"role": "user", "content": _design_prompt(framed, rows, fixed, example, feedback, previous)},
    ]
    client = openai.OpenAI(
        api_key=config.api_key, base_url=config.base_url, timeout=REQUEST_TIMEOUT_SECONDS, max_retries=1
    )
    notes: list[str] = []
    problems: list[str] = []
    for round_ in range(config.max_repairs + 1):
        content, note = _complete(client, config, messages, seed + attempt)
        notes.append(note)
        spec, problems = _read_answer(content, rows, fixed)
        if spec is not None and not problems:
            repairs = f"{round_} repair(s)" if round_ else "no repair"
            notes.append(f"designed by {config.model} at {config.endpoint} with {repairs}")
            return Design(spec, spec.challenge.domain, ranked[:4], notes, f"llm:{config.model}", frame)
        log.info("answer %d of %s had %d problem(s)", round_ + 1, config.model, len(problems))
        messages += [
            {"role": "assistant", "content": content},
            {"role": "user", "content": _repair_prompt(problems)},
        ]
    listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems[:20], 1))
    raise LLMDesignError(
        f"the model {config.model} at {config.endpoint} gave an invalid spec {config.max_repairs + 1} time(s) "
        f"({config.max_repairs} repair(s) allowed); last problems:\n{listed}\n"
        "Try again, use a stronger model (DATAFACTORY_LLM_MODEL), raise DATAFACTORY_LLM_MAX_REPAIRS, "
        "or use the offline designer (unset the LLM key and base URL)",
        problems,
    )


def _example_domain(brief: str, domain: str | None) -> tuple[str, list]:
    try:
        return choose_domain(brief, domain)
    except InputError:
        if domain:
            raise
        ranked = rank_domains(brief)  # nothing matched: any blueprint still shows the format
        return ranked[0].domain, ranked


def _design_prompt(
    brief: str, rows: int, fixed: dict, example: ChallengeSpec, feedback: str | None, previous: ChallengeSpec | None
) -> str:
    return load_prompt(
        "design",
        brief=brief.strip(),
        rows=rows,
        seed=fixed["seed"],
        variant=fixed["variant"],
        locale=fixed["locale"],
        currency="INR" if fixed["locale"] == "en_IN" else "USD",
        challenge_id=fixed["id"],
        feedback_block=load_prompt("feedback", feedback=feedback.strip()) if feedback else "",
        example_domain=example.challenge.domain,
        example=spec_to_yaml(example),
        previous_block=load_prompt("previous", previous=spec_to_json(previous)) if previous else "",
    )


def _repair_prompt(problems: list[str]) -> str:
    return load_prompt(
        "repair", count=len(problems), problems="\n".join(f"{i}. {p}" for i, p in enumerate(problems, 1))
    )


def _response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "challenge_spec", "schema": ChallengeSpec.model_json_schema(), "strict": False},
    }


def _complete(client: openai.OpenAI, config: LLMConfig, messages: list[dict], seed: int) -> tuple[str, str]:
    """One chat completion; returns its text and a note with token use and latency."""
    started = time.perf_counter()
    try:
        try:
            response = client.chat.completions.create(
                model=config.model, messages=messages, response_format=_response_format(), temperature=0.2, seed=seed
            )
        except openai.BadRequestError as exc:
            if "response_format" not in str(exc) and "json_schema" not in str(exc):
                raise
            log.info("%s refused json_schema output; asking for a JSON object instead", config.endpoint)
            response = client.chat.completions.create(
                model=config.model, messages=messages, response_format={"type": "json_object"}, temperature=0.2
            )
    except openai.AuthenticationError:
        raise LLMConfigError(
            f"the LLM endpoint {config.endpoint} refused the API key (401); check DATAFACTORY_LLM_API_KEY or "
            "OPENAI_API_KEY"
        ) from None
    except openai.NotFoundError:
        raise LLMConfigError(
            f"model '{config.model}' not found at {config.endpoint}; set DATAFACTORY_LLM_MODEL to a model the "
            "server offers (for Ollama: `ollama list`)"
        ) from None
    except openai.APIConnectionError as exc:
        raise LLMConfigError(
            f"cannot reach the LLM endpoint {config.endpoint} ({exc.__class__.__name__}); check "
            "DATAFACTORY_LLM_BASE_URL and that the server is running (e.g. `ollama serve`)"
        ) from None
    except openai.APIStatusError as exc:
        raise LLMConfigError(
            f"the LLM endpoint {config.endpoint} answered {exc.status_code}: {_short(exc.message)}"
        ) from None
    seconds = time.perf_counter() - started
    usage = response.usage
    prompt_tokens = usage.prompt_tokens if usage else None
    completion_tokens = usage.completion_tokens if usage else None
    log.info(
        "llm call model=%s prompt_tokens=%s completion_tokens=%s latency_s=%.2f",
        config.model,
        prompt_tokens,
        completion_tokens,
        seconds,
    )
    if not response.choices:
        return "", f"{config.model}: empty answer after {seconds:.1f} s"
    content = response.choices[0].message.content or ""
    return content, f"{config.model}: {prompt_tokens} prompt + {completion_tokens} completion tokens, {seconds:.1f} s"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _read_answer(content: str, rows: int, fixed: dict) -> tuple[ChallengeSpec | None, list[str]]:
    """The spec in the model's answer and its problems (parse, spec checks, phase-2 validation)."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"the answer is not valid JSON ({exc}); answer with one JSON object only"]
    if not isinstance(data, dict):
        return None, [
            f"the answer is a JSON {type(data).__name__}; it must be one object with 'challenge' and 'tables'"
        ]
    data["scale"] = rows
    if isinstance(data.get("challenge"), dict):
        data["challenge"].update({k: fixed[k] for k in ("seed", "variant", "locale")})
        data["challenge"].setdefault("id", fixed["id"])
    try:
        spec = spec_from_data(data)
    except SpecError as exc:
        return None, exc.problems
    validation = validate_schema(spec)
    problems = list(validation.problems)
    problems += [f"questions.{q.question_id}.sql: {q.error}" for q in validation.questions if not q.answerable]
    if not 8 <= len(spec.questions) <= 12:
        problems.append(f"questions: {len(spec.questions)} questions; ask 8 to 12")
    return spec, problems
