"""The blueprint library: load ``domains/*.yaml`` and rank the blueprints for a brief.

Blueprints are data validated by ``schemas.blueprint``; this module has no per-domain branches. The
business vocabulary used to read a brief (synonyms, generic words, stop words) is data too:
``domains/lexicon/synonyms.yaml`` (a sub-folder, so it is never loaded as a blueprint).

Matching contract (``rank_domains``, ``match_confidence``; ``MATCHING_RULE`` says it to reviewers):
- all of a blueprint's text is indexed once per library load (cached on the files' mtimes): keywords,
  title and domain name, description, table and column names and descriptions, categorical values,
  question texts, scenarios and problem statements, each source with its weight (``SOURCE_WEIGHTS``);
  a term keeps its strongest source per blueprint;
- words compare by their Porter stem (``stem``): cancel, cancelled and cancellations meet; the lexicon's
  ``unstemmed`` words keep their form where a stem would merge unrelated words (hospital/hospitality);
- the brief is read longest span first: a phrase of a keyword or title, or a lexicon synonym, consumes
  its words, so 'food delivery' is one term and its 'delivery' is no evidence for another blueprint; a
  synonym also stands for its canonical terms ('gym' -> subscription) and each blueprint takes its best;
  a word pair of a description or table name adds only a phrase bonus on top of its words;
- a term weighs source weight x IDF over the library (each blueprint counting by how strongly it names
  the term, so a term every blueprint has weighs nothing) x a bonus per extra word, x ``GENERIC_FACTOR``
  for the lexicon's generic words; a score is the sum over the brief's terms, each counted once, and
  each match lists its terms with their source and weight;
- ``rank_domains`` never raises for a brief's content: it returns every blueprint, scores possibly 0;
  ``match_confidence`` decides whether the best one really fits (absolute score and margin).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from schemas.blueprint import Blueprint
from schemas.errors import InputError, SpecError
from schemas.serialize import spec_from_data
from tasks.settings import get_settings


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


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text`` with a plural 's' removed (the designer's feedback rules compare these;
    matching uses ``stem``)."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


# ----------------------------------------------------------------------------------------- matching

Term = tuple[str, ...]  # the stems of a word or phrase

# how much a term counts, by the blueprint text it came from (a term keeps its strongest source)
SOURCE_WEIGHTS: dict[str, float] = {
    "keyword": 3.0,
    "title": 2.0,
    "description": 1.5,
    "keyword part": 1.5,  # a word (or, in a 3+ word keyword, a pair of words) inside a keyword
    "table": 1.0,
    "column": 0.5,
    "question": 0.5,
    "scenario": 0.5,
    "statement": 0.5,
    "value": 0.3,  # a categorical value (a cuisine, a plan name)
}
# sources whose word pairs become phrases (pairs of looser prose such as questions are too incidental)
PHRASE_SOURCES = frozenset({"keyword", "keyword part", "title", "description", "table"})
# a phrase from these (or from the lexicon) consumes its words in a brief; a phrase known only from a
# description or table name counts on top of its words, so a blueprint that merely describes 'subscription
# plans' cannot take 'subscription' away from one whose keyword it is
CONSUMING_SOURCES = frozenset({"keyword", "keyword part", "title"})
PHRASE_BONUS = 0.5  # per word beyond the first
GENERIC_FACTOR = 0.05  # the lexicon's generic business words weigh almost nothing
# an explanation sums terms lighter than this into one part: no generic word weighs more
MINOR_WEIGHT = GENERIC_FACTOR * SOURCE_WEIGHTS["keyword"]
MIN_CONFIDENT_SCORE = 3.0
MIN_CONFIDENT_MARGIN = 0.25
LEXICON_FILE = Path("lexicon") / "synonyms.yaml"

MATCHING_RULE = (
    "Every text of a blueprint is indexed, each source with its weight ("
    + ", ".join(f"{source} {weight:g}" for source, weight in SOURCE_WEIGHTS.items())
    + "); words compare by their stem (cancel = cancelled = cancellations). The brief is read longest span "
    "first: a phrase of a keyword or title, or a synonym of domains/lexicon/synonyms.yaml, consumes its words "
    "('food delivery' leaves no 'delivery' for other blueprints), and a synonym also counts as its canonical "
    "terms; a phrase of a description or table name adds its phrase bonus to its words. A term weighs "
    "source weight x IDF over the blueprints (each counting by how strongly it names the term: 0 for a term "
    f"every blueprint has in its keywords or title) x (1 + {PHRASE_BONUS:g} per "
    f"extra word), x {GENERIC_FACTOR:g} for the lexicon's generic words; a blueprint's score is the sum over the "
    f"brief's terms, each counted once. The best blueprint fits when it scores at least {MIN_CONFIDENT_SCORE:g} "
    f"and leads the runner-up by at least {MIN_CONFIDENT_MARGIN:.0%} of its score; otherwise the match is "
    "low-confidence."
)


@dataclass(frozen=True)
class DomainMatch:
    """One domain's standing for a brief.

    ``score`` is the sum of ``weights``; ``matched`` names each matched term (the blueprint's wording,
    ``brief words→blueprint term`` for a synonym) and ``sources`` the blueprint text it came from;
    ``share`` is this score's share of all domains' scores (0-1).
    """

    domain: str
    score: float
    matched: tuple[str, ...]
    weights: tuple[float, ...] = field(default=())
    share: float = 0.0
    sources: tuple[str, ...] = field(default=())

    @property
    def explanation(self) -> str:
        """``online store [keyword] (4.50) + store [keyword part] (1.00) + 2 minor terms (0.06) = 5.56``.

        Terms under ``MINOR_WEIGHT`` (generic words, words every blueprint has) are summed in one part so
        the line stays readable; a zero score says why.
        """
        if not self.matched and self.score == 0:
            return "nothing in the brief matches this domain's text"
        sources = self.sources or ("",) * len(self.matched)
        parts, minor = [], []
        for term, source, weight in zip(self.matched, sources, self.weights, strict=False):
            if weight < MINOR_WEIGHT:
                minor.append(weight)
            else:
                parts.append(f"{term} [{source}] ({weight:.2f})" if source else f"{term} ({weight:.2f})")
        if minor:
            parts.append(f"{len(minor)} minor term{'s' if len(minor) > 1 else ''} ({sum(minor):.2f})")
        return " + ".join(parts) + f" = {self.score:.2f}"


@dataclass(frozen=True)
class Confidence:
    """Whether the best-ranked blueprint really fits the brief (see ``match_confidence``).

    ``margin`` is the first entry's lead over the best of the others as a share of its own score (at most 1;
    negative when the first entry is a forced domain that scores below another). ``best`` is the first entry.
    """

    confident: bool
    reason: str
    margin: float
    best: str | None = None
    score: float = 0.0


class _LexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    generic: list[str] = Field(default_factory=list)
    stop: list[str] = Field(default_factory=list)
    unstemmed: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Lexicon:
    """The business vocabulary, stemmed: synonym spans -> canonical terms, generic and stop words.

    ``unstemmed`` words (singular) keep their form, plurals included: their stem would merge them with an
    unrelated word (hospitality and hospital both stem to 'hospit').
    """

    synonyms: dict[Term, tuple[Term, ...]] = field(default_factory=dict)
    generic: frozenset[str] = frozenset()
    stop: frozenset[str] = frozenset()
    unstemmed: frozenset[str] = frozenset()

    def stem(self, word: str) -> str:
        """``stem(word)``, unless the lexicon keeps the word whole."""
        plurals = (word[:-3] + "y", word[:-1]) if word.endswith("ies") else (word[:-1],) if word.endswith("s") else ()
        for singular in (word, *plurals):
            if singular in self.unstemmed:
                return singular
        return stem(word)

    def term(self, text: str) -> Term:
        """The stems of every word of ``text``."""
        return tuple(self.stem(w) for run in _segments(text) for w in run)


@dataclass(frozen=True)
class _Hit:
    weight: float
    source: str
    text: str


@dataclass(frozen=True)
class LibraryIndex:
    """Every blueprint's terms with their strongest source, the library's IDF and its phrases."""

    hits: dict[str, dict[Term, _Hit]]
    idf: dict[Term, float]
    phrases: frozenset[Term]
    soft_phrases: frozenset[Term]
    known: frozenset[Term]
    max_len: int
    lexicon: Lexicon


# ---- stemming: the Porter (1980) algorithm, so inflected and derived forms of a word meet


def _is_consonant(word: str, i: int) -> bool:
    if word[i] in "aeiou":
        return False
    if word[i] == "y":
        return i == 0 or not _is_consonant(word, i - 1)
    return True


def _measure(stem_: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in ``stem_``."""
    pattern = "".join("c" if _is_consonant(stem_, i) else "v" for i in range(len(stem_)))
    return len(re.findall(r"v+c+", pattern))


def _has_vowel(stem_: str) -> bool:
    return any(not _is_consonant(stem_, i) for i in range(len(stem_)))


def _ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _ends_cvc(word: str) -> bool:
    n = len(word)
    return (
        n >= 3
        and _is_consonant(word, n - 3)
        and not _is_consonant(word, n - 2)
        and _is_consonant(word, n - 1)
        and word[-1] not in "wxy"
    )


_STEP2 = {
    "ational": "ate", "tional": "tion", "enci": "ence", "anci": "ance", "izer": "ize", "abli": "able",
    "alli": "al", "entli": "ent", "eli": "e", "ousli": "ous", "ization": "ize", "ation": "ate", "ator": "ate",
    "alism": "al", "iveness": "ive", "fulness": "ful", "ousness": "ous", "aliti": "al", "iviti": "ive",
    "biliti": "ble",
}  # fmt: skip
_STEP3 = {"icate": "ic", "ative": "", "alize": "al", "iciti": "ic", "ical": "ic", "ful": "", "ness": ""}
_STEP4 = (
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism", "ate",
    "iti", "ous", "ive", "ize",
)  # fmt: skip


def _replace_suffix(word: str, rules: dict[str, str], min_measure: int) -> str:
    # Porter tries only the longest matching suffix of a step; a failed condition ends the step
    for suffix in sorted(rules, key=len, reverse=True):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            return base + rules[suffix] if _measure(base) > min_measure else word
    return word


def _step1(word: str) -> str:
    if word.endswith("sses") or word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    elif (word.endswith("ed") and _has_vowel(word[:-2])) or (word.endswith("ing") and _has_vowel(word[:-3])):
        word = word[:-2] if word.endswith("ed") else word[:-3]
        if word.endswith(("at", "bl", "iz")):
            word += "e"
        elif _ends_double_consonant(word) and word[-1] not in "lsz":
            word = word[:-1]
        elif _measure(word) == 1 and _ends_cvc(word):
            word += "e"
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    return word


def _step4(word: str) -> str:
    for suffix in sorted(_STEP4, key=len, reverse=True):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if _measure(base) > 1 and (suffix != "ion" or base.endswith(("s", "t"))):
                return base
            return word
    return word


def _step5(word: str) -> str:
    if word.endswith("e"):
        base = word[:-1]
        if _measure(base) > 1 or (_measure(base) == 1 and not _ends_cvc(base)):
            word = base
    if _measure(word) > 1 and word.endswith("ll"):
        word = word[:-1]
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Porter stem of a lower-case word: cancel, cancelled, cancellations -> ``cancel``.

    British -isation is read as -ization first; words of one or two letters and numbers stay as they are.
    """
    if len(word) <= 2 or not word.isalpha():
        return word
    word = word.replace("isation", "ization")
    word = _step1(word)
    word = _replace_suffix(word, _STEP2, 0)
    word = _replace_suffix(word, _STEP3, 0)
    return _step5(_step4(word))


# ---- reading text into words and terms

_SEGMENT_BREAK = re.compile(r"[.,;:!?()\[\]{}\"|/&+]|\s-\s|\n")


def _plain(text: str) -> str:
    # accents off (café = cafe), possessive 's off (manufacturer's = manufacturer)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"['’]s\b", "", text.lower())


def _segments(text: str) -> list[list[str]]:
    """The words of ``text``, in runs that punctuation does not break (a phrase never spans a comma)."""
    runs = (re.findall(r"[a-z0-9]+", part) for part in _SEGMENT_BREAK.split(_plain(text)))
    return [run for run in runs if run]


def _is_word_term(word: str, stop: frozenset[str]) -> bool:
    return len(word) > 1 and not word.isdigit() and word not in stop


def load_lexicon(directory: Path) -> Lexicon:
    """The library's lexicon (``<directory>/lexicon/synonyms.yaml``); an empty one when the file is absent.

    Raises:
        SpecError: the file is not YAML, or has keys other than ``synonyms``, ``generic``, ``stop`` and
            ``unstemmed``, or values of the wrong shape.
    """
    path = Path(directory) / LEXICON_FILE
    if not path.exists():
        return Lexicon()
    try:
        data = _LexiconFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc})") from None
    except ValueError as exc:
        raise SpecError(
            f"{path}: {exc}; the lexicon holds 'synonyms' (canonical term -> list of words and phrases), "
            "'generic', 'stop' and 'unstemmed' (lists of words); fix the file (see its header comment)"
        ) from None
    base = Lexicon(unstemmed=frozenset(w for word in data.unstemmed for run in _segments(word) for w in run))
    synonyms: dict[Term, list[Term]] = {}
    for canonical, variants in data.synonyms.items():
        target = base.term(canonical)
        for variant in variants:
            span = base.term(variant)
            if span and target and span != target and target not in synonyms.setdefault(span, []):
                synonyms[span].append(target)
    return replace(
        base,
        synonyms={span: tuple(targets) for span, targets in synonyms.items()},
        generic=frozenset(s for word in data.generic for s in base.term(word)),
        stop=frozenset(s for word in data.stop for s in base.term(word)),
    )


def _name_words(name: str) -> str:
    return name.replace("_", " ")


def _categorical_values(generator: object) -> list[str]:
    values = [v for v in getattr(generator, "values", None) or [] if isinstance(v, str)]
    cases = getattr(generator, "cases", None) or {}
    values += [key for key in cases if isinstance(key, str)]
    for inner in [*cases.values(), getattr(generator, "default", None)]:
        if inner is not None:
            values += _categorical_values(inner)
    return values


def blueprint_texts(bp: Blueprint) -> list[tuple[str, str]]:
    """Every (source, text) of a blueprint that matching reads; sources are keys of ``SOURCE_WEIGHTS``."""
    spec = bp.spec
    texts = [("keyword", k) for k in bp.keywords]
    texts += [("title", bp.title), ("title", _name_words(bp.domain)), ("description", bp.description)]
    for table in spec.tables:
        texts += [("table", _name_words(table.name)), ("table", table.description)]
        for column in table.columns:
            texts += [("column", _name_words(column.name)), ("column", column.description)]
            texts += [("value", value) for value in _categorical_values(column.generator)]
    texts += [("question", q.text) for q in spec.questions]
    for scenario in spec.scenarios:
        texts += [("scenario", _name_words(scenario.name)), ("scenario", scenario.description)]
    statements = [st.text for st in bp.problem_statements]
    statements += [spec.challenge.problem_statement, spec.challenge.company.profile]
    texts += [("statement", s.replace("{company}", " ")) for s in statements]
    return texts


def _blueprint_hits(bp: Blueprint, lexicon: Lexicon) -> dict[Term, _Hit]:
    hits: dict[Term, _Hit] = {}
    stop = lexicon.stop

    def add(term: Term, source: str, shown: str) -> None:
        weight = SOURCE_WEIGHTS[source]
        if term and (term not in hits or weight > hits[term].weight):
            hits[term] = _Hit(weight, source, shown)

    for source, text in blueprint_texts(bp):
        runs = _segments(text)
        if source == "keyword":
            words = [w for run in runs for w in run]
            add(tuple(lexicon.stem(w) for w in words), "keyword", text.strip().lower())
            if len(words) == 1:
                continue
            source = "keyword part"  # its words (and pairs, for 3+ words) count as well, less
        for words in runs:
            stems = [lexicon.stem(w) for w in words]
            for i, s in enumerate(stems):
                if _is_word_term(s, stop):
                    add((s,), source, words[i])
                    pair = stems[i : i + 2]
                    # (a two-word keyword's pair is the keyword itself, added above)
                    is_pair = len(pair) == 2 and _is_word_term(pair[1], stop)
                    if is_pair and source in PHRASE_SOURCES and not (source == "keyword part" and len(words) == 2):
                        add(tuple(pair), source, " ".join(words[i : i + 2]))
    return hits


def _stamp(directory: Path) -> tuple[tuple[str, float], ...]:
    files = [*sorted(directory.glob("*.yaml")), directory / LEXICON_FILE]
    return tuple((str(p.relative_to(directory)), p.stat().st_mtime) for p in files if p.exists())


@lru_cache(maxsize=8)
def _index_dir(directory: str, stamp: tuple[tuple[str, float], ...]) -> LibraryIndex:
    del stamp  # part of the cache key only: a changed blueprint or lexicon rebuilds the index
    lexicon = load_lexicon(Path(directory))
    hits = {bp.domain: _blueprint_hits(bp, lexicon) for bp in load_blueprints(Path(directory)).values()}
    n = len(hits)
    # document frequency, each blueprint counting by how strongly it names the term (1 for a keyword or the
    # title, 0.25 for a mention in prose): a keyword stays specific when other blueprints merely mention it
    df: Counter[Term] = Counter()
    for domain_hits in hits.values():
        for term, hit in domain_hits.items():
            df[term] += min(1.0, hit.weight / SOURCE_WEIGHTS["title"])
    idf = {t: 1.0 if n <= 1 else min(1.0, max(0.0, math.log(n / c) / math.log(n))) for t, c in df.items()}
    known = frozenset(df) | frozenset(t for targets in lexicon.synonyms.values() for t in targets)
    # multi-word terms of keywords, titles and the lexicon consume their words in a brief; the others are soft
    consuming = {t for h in hits.values() for t, hit in h.items() if len(t) > 1 and hit.source in CONSUMING_SOURCES}
    canonical = {t for targets in lexicon.synonyms.values() for t in targets}
    lexicon_phrases = {t for t in canonical | set(lexicon.synonyms) if len(t) > 1}
    phrases = frozenset(consuming | lexicon_phrases)
    soft_phrases = frozenset(t for t in df if len(t) > 1) - phrases
    max_len = max((len(t) for t in phrases | soft_phrases | frozenset(lexicon.synonyms)), default=1)
    return LibraryIndex(hits, idf, phrases, soft_phrases, known, max_len, lexicon)


def library_index(directory: Path | None = None) -> LibraryIndex:
    """The matching index of the library, built once per load (rebuilt when a blueprint or the lexicon changes)."""
    directory = Path(directory or get_settings().domains_dir)
    return _index_dir(str(directory), _stamp(directory))


@dataclass(frozen=True)
class BriefTerm:
    """A span of the brief read as one term: its words and the terms it stands for (itself first)."""

    text: str
    terms: tuple[Term, ...]


def brief_terms(brief: str, index: LibraryIndex) -> list[BriefTerm]:
    """The brief's terms, each once: phrases and synonyms longest first, each consuming its words; then the
    phrases of descriptions and table names (on top of their words); then the single words left."""
    found: list[BriefTerm] = []
    seen: set[tuple[Term, ...]] = set()
    stop, synonyms = index.lexicon.stop, index.lexicon.synonyms

    def add(words: list[str], span: Term) -> None:
        terms = (span, *synonyms.get(span, ()))
        if terms not in seen:
            seen.add(terms)
            found.append(BriefTerm(" ".join(words), terms))

    for words in _segments(brief):
        stems = [index.lexicon.stem(w) for w in words]
        taken = [False] * len(words)
        lengths = range(min(index.max_len, len(words)), 1, -1)
        for n in lengths:
            for i in range(len(words) - n + 1):
                span = tuple(stems[i : i + n])
                if not any(taken[i : i + n]) and (span in synonyms or span in index.phrases):
                    taken[i : i + n] = [True] * n
                    add(words[i : i + n], span)
        for n in lengths:
            for i in range(len(words) - n + 1):
                span = tuple(stems[i : i + n])
                if span in index.soft_phrases and not any(taken[i : i + n]):
                    add(words[i : i + n], span)
        for i, s in enumerate(stems):
            if not taken[i] and ((s,) in synonyms or (_is_word_term(s, stop) and (s,) in index.known)):
                add([words[i]], (s,))
    return found


def term_weight(term: Term, source: str, index: LibraryIndex) -> float:
    """source weight x IDF x (1 + PHRASE_BONUS per extra word), x GENERIC_FACTOR for a generic word.

    A description or table phrase (``soft_phrases``) weighs only its phrase bonus: its words count already.
    """
    length = 1.0 + PHRASE_BONUS * (len(term) - 1)
    weight = SOURCE_WEIGHTS[source] * index.idf.get(term, 0.0) * length
    if term in index.soft_phrases:
        weight *= (length - 1.0) / length
    if len(term) == 1 and term[0] in index.lexicon.generic:
        weight *= GENERIC_FACTOR
    return weight


def _score_domain(domain: str, terms: list[BriefTerm], index: LibraryIndex) -> DomainMatch:
    hits = index.hits[domain]
    matched, weights, sources = [], [], []
    for item in terms:
        best: tuple[float, str, str] | None = None
        for k, term in enumerate(item.terms):
            hit = hits.get(term)
            if hit is None:
                continue
            weight = round(term_weight(term, hit.source, index), 4)
            if best is None or weight > best[0]:
                best = (weight, hit.text if k == 0 else f"{item.text}→{hit.text}", hit.source)
        if best is not None and best[0] > 0:
            weights.append(best[0])
            matched.append(best[1])
            sources.append(best[2])
    return DomainMatch(domain, round(sum(weights), 4), tuple(matched), tuple(weights), 0.0, tuple(sources))


def rank_domains(brief: str, directory: Path | None = None) -> list[DomainMatch]:
    """Every domain, ranked by how specifically the brief speaks of it (see ``MATCHING_RULE``).

    Never raises for the brief's content: a brief that matches nothing gets every domain with score 0
    (``match_confidence`` then says it is not a fit).

    Args:
        brief: the business brief.
        directory: the blueprint library; the configured one by default.

    Returns:
        Every domain, best first (ties by name), with what matched, from which source, and its weight.
    """
    index = library_index(directory)
    terms = brief_terms(brief, index)
    ranked = [_score_domain(domain, terms, index) for domain in index.hits]
    total = sum(m.score for m in ranked)
    ranked = [replace(m, share=round(m.score / total, 4) if total else 0.0) for m in ranked]
    ranked.sort(key=lambda m: (-m.score, m.domain))
    return ranked


def match_confidence(ranked: list[DomainMatch]) -> Confidence:
    """Whether the first of ``ranked`` really fits: it scores at least ``MIN_CONFIDENT_SCORE`` and leads
    the best of the others by at least ``MIN_CONFIDENT_MARGIN`` of its own score.

    ``ranked`` is ``rank_domains``' list (or its head); the first entry may be a domain the author forced,
    in which case the margin is negative when another domain scores higher.
    """
    if not ranked:
        return Confidence(False, "there is no blueprint to match", 0.0)
    best = ranked[0]
    runner_up = max(ranked[1:], key=lambda m: m.score, default=None)
    second = runner_up.score if runner_up else 0.0
    if best.score <= 0:
        reason = "nothing in the brief matches any blueprint"
        if runner_up and second > 0:
            reason = f"nothing in the brief matches {best.domain}; {runner_up.domain} scores {second:.2f}"
        return Confidence(False, reason, 0.0 if second <= 0 else -1.0, best.domain)
    margin = round((best.score - second) / best.score, 4)
    if runner_up is None:
        lead = "is the only blueprint"
    elif margin < 0:
        lead = f"scores below {runner_up.domain} ({second:.2f})"
    else:
        lead = f"leads {runner_up.domain} ({second:.2f}) by {margin:.0%}"
    if best.score < MIN_CONFIDENT_SCORE:
        reason = (
            f"{best.domain} scores only {best.score:.2f} (a fit needs {MIN_CONFIDENT_SCORE:g}): the brief names "
            "little that is specific to it"
        )
        return Confidence(False, reason, margin, best.domain, best.score)
    if margin < MIN_CONFIDENT_MARGIN:
        reason = (
            f"{best.domain} ({best.score:.2f}) {lead}, less than the {MIN_CONFIDENT_MARGIN:.0%} lead a fit needs: "
            "the brief fits several blueprints about equally"
        )
        return Confidence(False, reason, margin, best.domain, best.score)
    return Confidence(True, f"{best.domain} scores {best.score:.2f} and {lead}", margin, best.domain, best.score)
