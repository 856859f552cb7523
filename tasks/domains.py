"""The blueprint library: load ``domains/*.yaml`` and match a brief to a domain by ranked scoring.

Blueprints are data validated by ``schemas.blueprint``; this module has no per-domain branches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from schemas.blueprint import Blueprint
from schemas.errors import InputError, SpecError
from schemas.serialize import spec_from_data
from tasks.settings import get_settings


@lru_cache(maxsize=8)
def _load_dir(directory: str) -> dict[str, Blueprint]:
    blueprints: dict[str, Blueprint] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        blueprints[path.stem] = load_blueprint(path)
    return blueprints


def load_blueprint(path: Path) -> Blueprint:
    """Load one blueprint file; a broken file names itself and its problems."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or "spec" not in data:
        raise SpecError(f"{path.name}: a blueprint needs 'domain', 'keywords', ... and 'spec'")
    try:
        spec = spec_from_data(data["spec"])
    except SpecError as exc:
        raise SpecError(f"{path.name}: {exc}", problems=exc.problems) from None
    return Blueprint.model_validate({**data, "spec": spec})


def load_blueprints(directory: Path | None = None) -> dict[str, Blueprint]:
    """Every blueprint, keyed by domain name."""
    directory = directory or get_settings().domains_dir
    by_file = _load_dir(str(directory))
    return {bp.domain: bp for bp in by_file.values()}


def get_blueprint(domain: str, directory: Path | None = None) -> Blueprint:
    blueprints = load_blueprints(directory)
    if domain not in blueprints:
        raise InputError(
            f"unknown domain '{domain}'; available domains: {', '.join(sorted(blueprints))} (see `datafactory domains`)"
        )
    return blueprints[domain]


@dataclass(frozen=True)
class DomainMatch:
    domain: str
    score: float
    matched: tuple[str, ...]


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def rank_domains(brief: str, directory: Path | None = None) -> list[DomainMatch]:
    """Domains ranked by how many of their keywords the brief uses (longer phrases weigh more)."""
    text = _words(brief)
    ranked = []
    for bp in load_blueprints(directory).values():
        matched = []
        score = 0.0
        for keyword in bp.keywords:
            phrase = _words(keyword)
            if phrase.strip() and phrase in text:
                matched.append(keyword)
                score += 1.0 + 0.5 * (len(phrase.split()) - 1)
        if _words(bp.title).strip() in text:
            score += 2.0
        ranked.append(DomainMatch(bp.domain, score, tuple(matched)))
    ranked.sort(key=lambda m: (-m.score, m.domain))
    return ranked
