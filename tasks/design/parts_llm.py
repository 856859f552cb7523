"""The small LLM answer for composed challenges: a model picks the shape and names the roles; the composer builds.

Contract: ``ask_parts(brief, frame, client, model)`` returns a ``PartChoice`` (shape + role nouns) that a 7B
local model can give reliably, checked against the part library (a known shape, known roles, nouns written in
the brief) with a bounded repair loop; the offline reader's choice when the model fails. ``design_llm_parts``
is the LLM designer's parts path (``DATAFACTORY_LLM_DESIGN=parts``): the model's frame and part choice go
through the same composer and variation steps as an offline design, so only the reading differs.
"""

from __future__ import annotations

import json
import logging
import re

import openai
from pydantic import ValidationError

from schemas.brief import BriefFrame
from schemas.parts import PartChoice
from tasks.design.brief_llm import ask_json, read_brief_llm
from tasks.design.compose import (
    COMPOSED_DOMAIN,
    ROLE_ORDER,
    PartLibrary,
    choose_shape,
    load_parts,
    read_roles,
    route,
)

log = logging.getLogger("datafactory.parts_llm")


def offline_choice(frame: BriefFrame, library: PartLibrary) -> PartChoice:
    shape, _ = choose_shape(frame, library)
    return PartChoice(shape=shape.shape, roles=read_roles(frame, shape, library.vocabulary))


def check_choice(content: str, brief: str, library: PartLibrary) -> tuple[PartChoice | None, list[str]]:
    """The choice in a model's answer and its problems (JSON, unknown shape or role, nouns not in the brief)."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content.strip())
    try:
        choice = PartChoice.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        return None, [f"the answer is not valid JSON ({exc}); answer with one JSON object only"]
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    problems = []
    if choice.shape not in library.shapes:
        problems.append(f"shape {choice.shape!r} is not one of: {', '.join(library.shapes)}")
    lowered = brief.lower()
    # a noun of the role's vocabulary is fine too ("city" for the place level of a brief that names none)
    known = {role: set(r.nouns) for role, r in library.vocabulary.roles.items()}
    for role, noun in choice.roles.items():
        if role not in ROLE_ORDER:
            problems.append(f"roles.{role}: not a role; the roles are {', '.join(ROLE_ORDER)}")
        elif noun.lower().rstrip("s") not in lowered and noun.lower() not in known.get(role, ()):
            problems.append(f"roles.{role}: {noun!r} is not a word of the brief; use the brief's own noun")
    return choice, problems


def _prompt(brief: str, draft: PartChoice, library: PartLibrary) -> str:
    from tasks.designer_llm import load_prompt

    shapes = "\n".join(f"- {name}: {shape.description}" for name, shape in library.shapes.items())
    roles = "\n".join(
        f"- {role}: e.g. {', '.join(library.vocabulary.roles[role].nouns[:6])}"
        for role in ROLE_ORDER
        if role in library.vocabulary.roles
    )
    return load_prompt("parts_choice", shapes=shapes, roles=roles, draft=draft.model_dump_json(), brief=brief.strip())


def ask_parts(
    brief: str,
    frame: BriefFrame,
    client: openai.OpenAI,
    model: str,
    *,
    max_repairs: int = 1,
    notes: list[str] | None = None,
    library: PartLibrary | None = None,
) -> PartChoice:
    """The model's shape and role nouns for the brief; the offline choice when it fails or stays invalid."""
    library = library or load_parts()
    notes = notes if notes is not None else []
    draft = offline_choice(frame, library)
    messages = [{"role": "user", "content": _prompt(brief, draft, library)}]
    problems: list[str] = []
    for round_ in range(max_repairs + 1):
        try:
            content = ask_json(client, model, messages, "part_choice", PartChoice.model_json_schema())
        except openai.OpenAIError as exc:
            reason = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            notes.append(f"parts: the offline choice (the model {model} failed: {reason})")
            return draft
        choice, problems = check_choice(content, brief, library)
        if choice is not None and not problems:
            notes.append(f"parts: shape {choice.shape} and roles chosen by {model}")
            return choice
        log.info("part choice answer %d of %s had %d problem(s)", round_ + 1, model, len(problems))
        numbered = "\n".join(f"{i}. {p}" for i, p in enumerate(problems[:20], 1))
        messages += [
            {"role": "assistant", "content": content},
            {"role": "user", "content": f"Your answer has {len(problems)} problem(s):\n{numbered}\nAnswer again."},
        ]
    notes.append(f"parts: the offline choice ({model} stayed invalid: {'; '.join(problems[:3])})")
    return draft


def design_llm_parts(brief: str, *, config, rows: int, seed: int, variant: int, locale: str | None, **rest):
    """The parts path of the LLM designer: model frame + model part choice -> the composer -> a Design."""
    from tasks.designer_llm import REQUEST_TIMEOUT_SECONDS
    from tasks.designer_offline import design_offline

    client = openai.OpenAI(
        api_key=config.api_key, base_url=config.base_url, timeout=REQUEST_TIMEOUT_SECONDS, max_retries=1
    )
    from tasks.designer_offline import choose_domain

    notes: list[str] = []
    frame = read_brief_llm(brief, client, config.model, max_repairs=config.max_repairs, notes=notes)
    domain = rest.pop("domain", None)
    chosen, ranked = choose_domain(brief, domain)
    chosen, why = route(frame, chosen, ranked, forced=bool(domain))
    choice = None
    if chosen == COMPOSED_DOMAIN:  # a blueprint that fits keeps its hand-tuned content; the rest is composed
        notes.append(f"composed: {why}")
        choice = ask_parts(brief, frame, client, config.model, max_repairs=config.max_repairs, notes=notes)
    design = design_offline(
        brief, domain=domain, rows=rows, seed=seed, variant=variant, locale=locale, frame=frame, parts=choice, **rest
    )
    design.notes = notes + design.notes
    design.designer = f"llm-parts:{config.model}"
    return design
