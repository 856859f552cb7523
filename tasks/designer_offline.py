"""The offline designer: brief -> matched blueprint -> a seeded variation of its spec.

Needs no network or key. Same brief + seed -> same challenge. Feedback from a gate is applied
where a known phrase matches (see ``FEEDBACK_RULES``); anything else is reported back as not
understood, so the person can edit the spec instead.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.blueprint import Blueprint
from schemas.errors import InputError
from schemas.serialize import spec_from_data, spec_to_data
from schemas.spec import ChallengeSpec
from tasks.domains import DomainMatch, get_blueprint, rank_domains

INDIA_WORDS = (
    "india",
    "indian",
    "mumbai",
    "delhi",
    "bengaluru",
    "bangalore",
    "rupee",
    "inr",
    "crore",
    "lakh",
    "hyderabad",
    "chennai",
    "kolkata",
    "pune",
)


@dataclass
class Design:
    spec: ChallengeSpec
    domain: str
    matches: list[DomainMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def choose_domain(brief: str, domain: str | None) -> tuple[str, list[DomainMatch]]:
    """The requested domain, or the best-scoring one for the brief (runner-ups returned too)."""
    ranked = rank_domains(brief)
    if domain:
        get_blueprint(domain)  # raises a clear error for an unknown domain
        return domain, ranked
    if not ranked or ranked[0].score <= 0:
        known = ", ".join(m.domain for m in ranked)
        raise InputError(
            f"the brief does not match any domain; mention the business (e.g. 'online store', 'hotel chain') "
            f"or pass --domain (one of: {known})"
        )
    return ranked[0].domain, ranked


def detect_locale(brief: str) -> str:
    words = set(re.findall(r"[a-z]+", brief.lower()))
    return "en_IN" if words & set(INDIA_WORDS) else "en_US"


def design_offline(
    brief: str,
    *,
    domain: str | None = None,
    rows: int = 10_000,
    seed: int = 42,
    variant: int = 0,
    locale: str | None = None,
    feedback: str | None = None,
    attempt: int = 0,
) -> Design:
    """Design a challenge from a blueprint.

    Args:
        brief: the business brief, e.g. "an online store is losing customers".
        domain: force a domain instead of matching the brief.
        rows: the scale (rows of the main fact table).
        seed: makes the variation and the data reproducible.
        variant: same story, different numbers.
        locale: e.g. en_IN; detected from the brief when omitted.
        feedback: a reviewer's words from a gate; applied where understood.
        attempt: the regeneration count, so a regenerated design differs from the last one.

    Raises:
        InputError: empty brief, rows <= 0, unknown domain.
    """
    if not brief or not brief.strip():
        raise InputError("the brief is empty; describe the business and its problem in a sentence or two")
    if rows <= 0:
        raise InputError(f"rows must be a positive number, got {rows}")
    chosen, ranked = choose_domain(brief, domain)
    blueprint = get_blueprint(chosen)
    rng = random.Random(f"{seed}:{attempt}:{chosen}")
    locale = locale or detect_locale(brief)
    data = spec_to_data(blueprint.spec)
    _vary_profile(data, blueprint, rng, seed, variant, locale, rows, brief)
    _choose_questions(data, blueprint, rng)
    notes: list[str] = []
    if feedback:
        notes = apply_feedback(data, feedback)
    return Design(spec_from_data(data), chosen, ranked[:4], notes)


def _vary_profile(
    data: dict, bp: Blueprint, rng: random.Random, seed: int, variant: int, locale: str, rows: int, brief: str
) -> None:
    profile = data["challenge"]
    local = bp.locales.get(locale)
    names = (local.company_names if local and local.company_names else None) or bp.company_names
    company = rng.choice(names)
    profile["company"] = {"name": company, "profile": profile["company"].get("profile", "")}
    profile["problem_statement"] = rng.choice(bp.problem_statements).format(company=company).strip()
    profile["stakeholder"] = rng.choice(bp.stakeholders)
    profile["id"] = f"{bp.domain.replace('_', '-')}-{seed}" + (f"-v{variant}" if variant else "")
    profile["title"] = f"{company}: {bp.title.lower()} analysis"
    profile["seed"] = seed
    profile["variant"] = variant
    profile["locale"] = locale
    if local:
        profile["currency"] = local.currency
        for ref, values in local.values.items():
            _replace_values(data, ref, values)
    data["scale"] = rows
    profile["company"]["profile"] = profile["company"]["profile"] or f"Brief: {brief.strip()}"


def _replace_values(data: dict, ref: str, values: list[str]) -> None:
    table_name, column_name = ref.split(".", 1)
    for table in data["tables"]:
        for column in table["columns"] if table["name"] == table_name else []:
            if column["name"] == column_name and column["generator"]["kind"] == "categorical":
                column["generator"]["values"] = values
                column["generator"].pop("weights", None)


def _choose_questions(data: dict, bp: Blueprint, rng: random.Random) -> None:
    """Keep every question that reveals a planted scenario, then a seeded pick of the rest, in order."""
    low, high = bp.question_count
    questions = data["questions"]
    count = min(len(questions), rng.randint(low, high))
    linked = [q for q in questions if q.get("scenario")]
    others = [q for q in questions if not q.get("scenario")]
    keep = {q["id"] for q in linked} | {q["id"] for q in rng.sample(others, max(0, count - len(linked)))}
    data["questions"] = [q for q in questions if q["id"] in keep]


# --------------------------------------------------------------------------- feedback


def _scale(factor: float) -> Callable[[dict, re.Match], str]:
    def apply(data: dict, _: re.Match) -> str:
        data["scale"] = max(1, int(data["scale"] * factor))
        return f"scale set to {data['scale']:,} rows"

    return apply


def _difficulty(level: str) -> Callable[[dict, re.Match], str]:
    def apply(data: dict, _: re.Match) -> str:
        data["challenge"]["difficulty"] = level
        return f"difficulty set to {level}"

    return apply


FEEDBACK_RULES: list[tuple[str, Callable[[dict, re.Match], str]]] = [
    (r"\b(more|bigger|larger)\b.*\b(rows|data)\b", _scale(2.0)),
    (r"\b(fewer|less|smaller)\b.*\b(rows|data)\b", _scale(0.5)),
    (r"\b(harder|more difficult|advanced)\b", _difficulty("hard")),
    (r"\b(easier|simpler|beginner)\b", _difficulty("easy")),
]


def apply_feedback(data: dict, feedback: str) -> list[str]:
    """Apply the understood parts of ``feedback`` to ``data``; return one note per sentence."""
    notes = []
    for sentence in [s.strip() for s in re.split(r"[.;\n]+", feedback) if s.strip()]:
        done = [rule(data, m) for pattern, rule in FEEDBACK_RULES if (m := re.search(pattern, sentence.lower()))]
        if done:
            notes.append(f"applied '{sentence}': " + "; ".join(done))
        else:
            notes.append(f"not understood: '{sentence}'. Edit the spec at the gate instead (see FEEDBACK.md)")
    return notes
