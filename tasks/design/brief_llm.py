"""The brief reader through a language model: the same ``BriefFrame`` as the offline reader, by structured output.

Contract: ``read_brief_llm(brief, client, model, today)`` never raises for the model's sake: it returns the
model's frame when the answer is valid, else the offline reader's frame (``tasks.design.brief_reader``), and
says which in ``notes`` (a list the caller passes) and the log (logger ``datafactory.brief_llm``). Valid means:
the answer parses as a ``BriefFrame`` (strict: unknown fields are refused), every ``source`` is words of the
brief, and every KPI key is in the KPI lexicon (its name, formula, parts and kind are then taken from the
lexicon, the single source of truth). An invalid answer goes back to the model with its numbered problems, at
most ``max_repairs`` times. The model is asked with ``response_format`` = the frame's JSON schema, falling back
to a JSON object when the server refuses schemas. The offline frame is given to the model as a draft.
``read_brief_configured(brief, settings=...)`` makes the client from the LLM designer's settings (offline reader
when no LLM is configured).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any, get_args

import openai
from pydantic import ValidationError

from schemas.brief import BriefFrame, EventKind
from tasks.design.brief_reader import load_lexicon, read_brief
from tasks.designer_llm import REQUEST_TIMEOUT_SECONDS, llm_config, load_prompt
from tasks.settings import Settings

log = logging.getLogger("datafactory.brief_llm")


def read_brief_llm(
    brief: str,
    client: openai.OpenAI,
    model: str,
    today: dt.date | None = None,
    *,
    max_repairs: int = 1,
    notes: list[str] | None = None,
    domains_dir: Path | None = None,
) -> BriefFrame:
    """Ask ``model`` (through ``client``) for the brief's frame; the offline frame when the model fails.

    Args:
        brief: the author's text.
        client: an ``openai.OpenAI`` client for any OpenAI-compatible endpoint (see ``tasks.designer_llm``).
        model: the model name the endpoint serves.
        today: the date relative phrases resolve against (``date.today()`` when omitted).
        max_repairs: how many times an invalid answer goes back to the model with its problems.
        notes: when given, one line is appended saying whose frame this is and why.
        domains_dir: the library whose ``lexicon/`` to use (settings' ``domains_dir`` when omitted).
    """
    today = today or dt.date.today()
    notes = notes if notes is not None else []
    offline = read_brief(brief, today=today, domains_dir=domains_dir)
    if not brief.strip():
        notes.append("brief frame: the brief is empty; nothing to ask the model")
        return offline
    messages = [{"role": "user", "content": _prompt(brief, today, offline, domains_dir)}]
    problems: list[str] = []
    for round_ in range(max_repairs + 1):
        try:
            content = _ask(client, model, messages)
        except openai.OpenAIError as exc:
            reason = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            log.warning("brief frame from %s failed (%s); using the offline reader", model, reason)
            notes.append(f"brief frame: the offline reader's (the model {model} failed: {reason})")
            return offline
        frame, problems = check_answer(content, brief, domains_dir)
        if frame is not None and not problems:
            repairs = f" after {round_} repair(s)" if round_ else ""
            notes.append(f"brief frame: read by {model}{repairs}")
            return frame
        log.info("brief frame answer %d of %s had %d problem(s)", round_ + 1, model, len(problems))
        messages += [{"role": "assistant", "content": content}, {"role": "user", "content": _repair(problems)}]
    listed = "; ".join(problems[:5])
    notes.append(f"brief frame: the offline reader's ({model} stayed invalid after {max_repairs} repair(s): {listed})")
    return offline


def read_brief_configured(
    brief: str,
    *,
    settings: Settings | None = None,
    today: dt.date | None = None,
    notes: list[str] | None = None,
) -> BriefFrame:
    """The frame from the configured model (``DATAFACTORY_LLM_*``, as the LLM designer), else the offline reader."""
    config = llm_config(settings)
    if config is None:
        if notes is not None:
            notes.append("brief frame: the offline reader's (no LLM configured)")
        return read_brief(brief, today=today, domains_dir=settings.domains_dir if settings else None)
    client = openai.OpenAI(
        api_key=config.api_key, base_url=config.base_url, timeout=REQUEST_TIMEOUT_SECONDS, max_retries=1
    )
    return read_brief_llm(
        brief,
        client,
        config.model,
        today,
        max_repairs=config.max_repairs,
        notes=notes,
        domains_dir=settings.domains_dir if settings else None,
    )


def check_answer(content: str, brief: str, domains_dir: Path | None = None) -> tuple[BriefFrame | None, list[str]]:
    """The frame in a model's answer and its problems (JSON, schema, sources not in the brief, unknown KPI keys)."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"the answer is not valid JSON ({exc}); answer with one JSON object only"]
    if not isinstance(data, dict):
        return None, [f"the answer is a JSON {type(data).__name__}; it must be one BriefFrame object"]
    data["brief"] = brief  # the brief is ours, whatever the model echoed
    try:
        frame = BriefFrame.model_validate(data)
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    problems = [
        f"{kind} {value!r}: source {source!r} is not words of the brief; copy the brief's exact words"
        for kind, value, source in frame.facts()
        if kind not in ("locale", "geography") and source and source not in brief
    ]
    problems += [
        f"geography: source {s!r} is not words of the brief" for s in frame.geography.sources if s not in brief
    ]
    lexicon = load_lexicon(domains_dir).kpis
    for i, kpi in enumerate(frame.kpis):
        entry = lexicon.get(kpi.key)
        if entry is None:
            problems.append(f"kpis.{i}.key: {kpi.key!r} is not a key of the KPI lexicon; use a listed key or drop it")
            continue
        # the lexicon is the source of truth for what a KPI means
        kpi.name, kpi.formula, kpi.parts, kpi.kind = entry.name, entry.formula, list(entry.parts), entry.kind
    return frame, problems


def _prompt(brief: str, today: dt.date, draft: BriefFrame, domains_dir: Path | None) -> str:
    kpis = load_lexicon(domains_dir).kpis
    listed = "\n".join(f"- {k}: {e.name} = {e.formula} [{e.kind}]" for k, e in kpis.items())
    return load_prompt(
        "brief_frame",
        today=today.isoformat(),
        kinds=", ".join(get_args(EventKind)),
        kpis=listed,
        draft=draft.model_dump_json(exclude={"brief"}, exclude_defaults=True),
        brief=brief.strip(),
    )


def _repair(problems: list[str]) -> str:
    numbered = "\n".join(f"{i}. {p}" for i, p in enumerate(problems[:20], 1))
    return (
        f"Your answer has {len(problems)} problem(s):\n{numbered}\nAnswer again with the whole corrected JSON object."
    )


def response_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}


def ask_json(client: openai.OpenAI, model: str, messages: list[dict], name: str, schema: dict[str, Any]) -> str:
    """One chat completion with a JSON schema for the answer (a JSON object when the server refuses schemas)."""
    try:
        response = client.chat.completions.create(
            model=model, messages=messages, response_format=response_format(name, schema), temperature=0
        )
    except openai.BadRequestError as exc:
        if "response_format" not in str(exc) and "json_schema" not in str(exc):
            raise
        log.info("the endpoint refused json_schema output; asking for a JSON object instead")
        response = client.chat.completions.create(
            model=model, messages=messages, response_format={"type": "json_object"}, temperature=0
        )
    if not response.choices:
        return ""
    return response.choices[0].message.content or ""


def _ask(client: openai.OpenAI, model: str, messages: list[dict]) -> str:
    return ask_json(client, model, messages, "brief_frame", BriefFrame.model_json_schema())
