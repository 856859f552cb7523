"""The blueprint library: load ``domains/*.yaml`` and match a brief to a domain by ranked scoring.

Blueprints are data validated by ``schemas.blueprint``; this module has no per-domain branches.
Matching is explainable: a domain's score is the sum of the weights of its keywords found in the
brief (see ``keyword_weight``), and each match lists the keywords with their weights.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from schemas.blueprint import Blueprint
from schemas.errors import InputError, SpecError
from schemas.serialize import spec_from_data
from tasks.settings import get_settings

TITLE_BONUS = 2.0
MATCHING_RULE = (
    "score = sum over the domain's keywords found in the brief of (1 + 0.5 x (words - 1)) / (domains sharing "
    f"the keyword), plus {TITLE_BONUS:g} when the domain's title appears; plurals match singulars and a "
    "word counts once (longest phrase first)"
)


@lru_cache(maxsize=8)
def _load_dir(directory: str, stamp: tuple[tuple[str, float], ...]) -> dict[str, Blueprint]:
    del stamp  # part of the cache key only: a changed or new file reloads the library
    blueprints: dict[str, Blueprint] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        blueprints[path.stem] = load_blueprint(path)
    return blueprints


def load_blueprint(path: Path) -> Blueprint:
    """Load one blueprint file; a broken file names itself and its problems.

    Raises:
        SpecError: the file is not YAML, lacks ``spec``, or its spec or blueprint fields are invalid.
    """
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
    try:
        return Blueprint.model_validate({**data, "spec": spec})
    except ValueError as exc:
        raise SpecError(f"{path.name}: {exc}") from None


def load_blueprints(directory: Path | None = None) -> dict[str, Blueprint]:
    """Every blueprint, keyed by domain name (reloaded when a file changes)."""
    directory = Path(directory or get_settings().domains_dir)
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(directory.glob("*.yaml")))
    by_file = _load_dir(str(directory), stamp)
    return {bp.domain: bp for bp in by_file.values()}


def get_blueprint(domain: str, directory: Path | None = None) -> Blueprint:
    """The blueprint of ``domain``.

    Raises:
        InputError: no such domain; the message lists the available ones.
    """
    blueprints = load_blueprints(directory)
    if domain not in blueprints:
        raise InputError(
            f"unknown domain '{domain}'; available domains: {', '.join(sorted(blueprints))} (see `datafactory domains`)"
        )
    return blueprints[domain]


@dataclass(frozen=True)
class DomainMatch:
    """One domain's standing for a brief.

    ``score`` is the sum of ``weights`` (plus the title bonus); ``matched`` lists the keywords
    found; ``share`` is this score's share of all domains' scores (0-1), a rough confidence.
    """

    domain: str
    score: float
    matched: tuple[str, ...]
    weights: tuple[float, ...] = field(default=())
    share: float = 0.0

    @property
    def explanation(self) -> str:
        """``online store (1.50) + orders (0.25) = 1.75``, or a reason for a zero score."""
        if not self.matched and self.score == 0:
            return "no keyword of this domain appears in the brief"
        parts = [f"{k} ({w:.2f})" for k, w in zip(self.matched, self.weights, strict=False)]
        bonus = self.score - sum(self.weights)
        if bonus > 1e-9:
            parts.append(f"title ({bonus:.2f})")
        return " + ".join(parts) + f" = {self.score:.2f}"


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case word stems of ``text`` (plural 's' removed), the unit of matching."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def _find(phrase: list[str], words: list[str | None]) -> int:
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if words[i : i + n] == phrase:
            return i
    return -1


def keyword_weight(keyword: str, sharing: int) -> float:
    """A keyword's weight: longer phrases weigh more, keywords many domains share weigh less."""
    return (1.0 + 0.5 * (len(tokens(keyword)) - 1)) / max(1, sharing)


def rank_domains(brief: str, directory: Path | None = None) -> list[DomainMatch]:
    """Domains ranked by how specifically the brief speaks of them (see ``MATCHING_RULE``).

    Args:
        brief: the business brief.
        directory: the blueprint library; the configured one by default.

    Returns:
        Every domain, best first (ties by name), with matched keywords and their weights.
    """
    blueprints = load_blueprints(directory)
    sharing = Counter(
        " ".join(tokens(k)) for bp in blueprints.values() for k in {" ".join(tokens(k)) for k in bp.keywords}
    )
    brief_words = tokens(brief)
    ranked = []
    for bp in blueprints.values():
        words: list[str | None] = list(brief_words)
        matched, weights = [], []
        for keyword in sorted(set(bp.keywords), key=lambda k: (-len(tokens(k)), k)):
            phrase = tokens(keyword)
            at = _find(phrase, words) if phrase else -1
            if at < 0:
                continue
            words[at : at + len(phrase)] = [None] * len(phrase)  # a word counts once
            matched.append(keyword)
            weights.append(round(keyword_weight(keyword, sharing[" ".join(phrase)]), 4))
        score = sum(weights)
        title = tokens(bp.title)
        if title and _find(title, list(brief_words)) >= 0:
            score += TITLE_BONUS
        ranked.append(DomainMatch(bp.domain, round(score, 4), tuple(matched), tuple(weights)))
    total = sum(m.score for m in ranked)
    ranked = [
        DomainMatch(m.domain, m.score, m.matched, m.weights, round(m.score / total, 4) if total else 0.0)
        for m in ranked
    ]
    ranked.sort(key=lambda m: (-m.score, m.domain))
    return ranked
