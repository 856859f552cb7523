"""Messiness on request: a level (none, light, heavy) -> the spec's messiness section and its cleaning questions.

Contract:
- ``messiness_from_text(text)`` reads a brief or a gate feedback sentence: ``"none"``, ``"light"``,
  ``"heavy"``, or ``None`` when the words do not ask about mess (phrases kept as data in
  ``domains/lexicon/messiness.yaml``).
- ``plan_messiness(spec, level)`` chooses the rules from the spec alone: which tables get duplicate
  rows, which name and place columns get casing, whitespace and typos, which amounts get outliers,
  which dates get mixed formats, which columns lose values. The same spec and level always give the
  same rules; columns that identify or join rows never get value mess.
- ``with_messiness(spec, level)`` returns the spec with those rules and the matching cleaning
  questions (``tasks.cleaning_questions``), replacing any planted before; ``"none"`` removes both.
- ``level_of(spec)`` names the level a spec's rules came from (``"custom"`` for hand-made rules), and
  ``messiness_markdown(spec)`` is what gate 2 shows.
- ``rows_after_cleaning(spec, row_counts)`` turns the shipped (messy) row counts into the counts a
  learner gets once the duplicate rows are removed.
- ``apply_messiness_feedback(data, sentence)`` is the gate-feedback rule ("add duplicates and missing
  values", "no messiness", "make the data messy").
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import yaml

from schemas.errors import InputError
from schemas.spec import ChallengeSpec, ColumnSpec, MessinessRule, MessKind, TableSpec
from tasks.settings import default_domains_dir

Level = Literal["none", "light", "heavy"]
LEVELS: tuple[str, ...] = get_args(Level)
KINDS: tuple[str, ...] = get_args(MessKind)
# the order rules are chosen in: exclusive kinds first, so a column that can only take one kind keeps it
_CHOICE_ORDER = ("duplicates", "date_formats", "outliers", "missing", "casing", "typos", "whitespace")
# a column holds at most one of these (a cleaning question counts each kind on its own)
_EXCLUSIVE = {"missing", "outliers", "date_formats"}


def lexicon_path() -> Path:
    return default_domains_dir() / "lexicon" / "messiness.yaml"


@dataclass(frozen=True)
class KindRules:
    types: tuple[str, ...] = ()
    generators: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    avoid_names: tuple[str, ...] = ()
    avoid_distributions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    prefer_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lexicon:
    levels: dict[str, dict[str, tuple[float, int]]]
    default_level: str
    skip_roles: tuple[str, ...]
    skip_generators: tuple[str, ...]
    min_rows: int
    key_suffixes: tuple[str, ...]
    kinds: dict[str, KindRules]
    phrases: dict[str, tuple[str, ...]]
    kind_words: dict[str, tuple[str, ...]]


@lru_cache(maxsize=4)
def load_lexicon(path: Path | None = None) -> Lexicon:
    """Read ``domains/lexicon/messiness.yaml`` (or ``path``).

    Raises:
        InputError: the file is missing or a level, kind or phrase group is not one the engine knows.
    """
    path = Path(path or lexicon_path())
    if not path.is_file():
        raise InputError(f"the messiness lexicon {path} is missing; restore domains/lexicon/messiness.yaml")
    data = yaml.safe_load(path.read_text()) or {}
    where = path.name
    levels: dict[str, dict[str, tuple[float, int]]] = {}
    for level, kinds in (data.get("levels") or {}).items():
        if level not in LEVELS or level == "none":
            raise InputError(f"{where}: levels.{level} is not a level; use light or heavy")
        for kind in kinds:
            if kind not in KINDS:
                raise InputError(f"{where}: levels.{level}.{kind} is not a messiness kind ({', '.join(KINDS)})")
        levels[level] = {k: (float(v["rate"]), int(v.get("count", 1))) for k, v in kinds.items()}
    kinds = {}
    for kind, rules in (data.get("kinds") or {}).items():
        if kind not in KINDS:
            raise InputError(f"{where}: kinds.{kind} is not a messiness kind ({', '.join(KINDS)})")
        kinds[kind] = KindRules(**{k: tuple(v or ()) for k, v in (rules or {}).items()})
    phrases = {k: tuple(v or ()) for k, v in (data.get("phrases") or {}).items()}
    unknown = set(phrases) - {*LEVELS, "any"}
    if unknown:
        raise InputError(f"{where}: phrases.{sorted(unknown)[0]} is not a level; use none, light, heavy or any")
    default = data.get("default_level", "light")
    if default not in levels:
        raise InputError(f"{where}: default_level '{default}' has no entry under levels")
    return Lexicon(
        levels=levels,
        default_level=default,
        skip_roles=tuple(data.get("skip_roles") or ()),
        skip_generators=tuple(data.get("skip_generators") or ()),
        min_rows=int(data.get("min_rows", 50)),
        key_suffixes=tuple(data.get("key_suffixes") or ()),
        kinds=kinds,
        phrases=phrases,
        kind_words={k: tuple(v or ()) for k, v in (data.get("kind_words") or {}).items()},
    )


# --------------------------------------------------------------------------- reading words


def _normal(text: str) -> str:
    """Lowercase words separated by single spaces (hyphens and punctuation read as spaces)."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")))


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(_normal(phrase))}(?![a-z0-9])", text) is not None


def messiness_from_text(text: str | None) -> Level | None:
    """The level a brief or a feedback sentence asks for, or ``None`` when it says nothing about mess.

    "no messiness" -> none; "very messy data" -> heavy; "slightly messy" -> light; "a data-cleaning
    exercise" or "learners must clean the data" -> the lexicon's default level.
    """
    if not text:
        return None
    words = _normal(text)
    lexicon = load_lexicon()
    for level in ("none", "heavy", "light"):
        if any(_has(words, p) for p in lexicon.phrases.get(level, ())):
            return level  # type: ignore[return-value]
    if any(_has(words, p) for p in lexicon.phrases.get("any", ())):
        return lexicon.default_level  # type: ignore[return-value]
    return None


def kinds_from_text(text: str) -> list[str]:
    """The messiness kinds a sentence names ("duplicates and missing values" -> duplicates, missing)."""
    words = _normal(text)
    return [kind for kind, phrases in load_lexicon().kind_words.items() if any(_has(words, p) for p in phrases)]


def feedback_pattern() -> str:
    """A regex (over a lowercased sentence) for gate feedback about mess: a level phrase, or a verb and a kind."""
    lexicon = load_lexicon()

    def alternatives(phrases) -> str:
        return "|".join(r"\s+".join(map(re.escape, _normal(p).split())) for p in sorted(phrases, key=len, reverse=True))

    levels = alternatives([p for group in lexicon.phrases.values() for p in group])
    kinds = alternatives([p for group in lexicon.kind_words.values() for p in group])
    verbs = r"add|adds|include|plant|put|inject|introduce|with|more|no|remove|drop|without|fewer|less"
    return rf"\b(?:{levels})\b|\b(?:{verbs})\b.*\b(?:{kinds})\b"


# --------------------------------------------------------------------------- choosing the rules


def estimated_rows(spec: ChallengeSpec) -> dict[str, float]:
    """Rows each table will roughly have: fixed, a ratio of the scale, or its parent's rows x children."""
    estimates: dict[str, float] = {}

    def rows(table: TableSpec, depth: int = 0) -> float:
        if table.name in estimates:
            return estimates[table.name]
        if table.rows is not None:
            value = float(table.rows)
        elif table.ratio is not None:
            value = max(1.0, table.ratio * spec.scale)
        else:
            value = 0.0
            for column in table.columns:
                gen = column.generator
                if gen.kind == "foreign_key" and gen.max_children is not None and depth < 8:
                    low = gen.min_children or 0
                    value = rows(spec.table(gen.parent_table), depth + 1) * (low + gen.max_children) / 2
                    break
        estimates[table.name] = value
        return value

    for table in spec.tables:
        rows(table)
    return estimates


def _words(name: str) -> set[str]:
    return set(name.lower().split("_"))


def _named(column: ColumnSpec, names: tuple[str, ...]) -> bool:
    words = _words(column.name)
    return any(("_" in n and n in column.name) or n in words for n in names)


def _key_columns(spec: ChallengeSpec) -> set[tuple[str, str]]:
    keys = set()
    for table in spec.tables:
        for column in table.columns:
            if column.name in table.primary_key or column.unique or column.generator.kind == "foreign_key":
                keys.add((table.name, column.name))
    for r in spec.relationships:
        keys.add((r.parent_table, r.parent_column))
    return keys


def _eligible_tables(spec: ChallengeSpec, lexicon: Lexicon) -> list[TableSpec]:
    sizes = estimated_rows(spec)
    return [
        t
        for t in spec.tables
        if t.role not in lexicon.skip_roles
        and not any(c.generator.kind in lexicon.skip_generators for c in t.columns)
        and sizes.get(t.name, 0) >= lexicon.min_rows
    ]


def _table_rank(table: TableSpec, sizes: dict[str, float]) -> tuple:
    """Facts before dimensions, then the larger table (the main fact first)."""
    return (table.role != "fact", table.ratio != 1.0, -sizes.get(table.name, 0), table.name)


def column_candidates(spec: ChallengeSpec, kind: str, lexicon: Lexicon | None = None) -> list[tuple[str, str]]:
    """(table, column) pairs that can hold ``kind``, best first; for duplicates, (table, '') pairs."""
    lexicon = lexicon or load_lexicon()
    rules = lexicon.kinds.get(kind, KindRules())
    sizes = estimated_rows(spec)
    tables = sorted(_eligible_tables(spec, lexicon), key=lambda t: _table_rank(t, sizes))
    if kind == "duplicates":
        roles = rules.roles or ("fact", "dimension")
        return [(t.name, "") for t in tables if t.primary_key and t.role in roles]
    keys = _key_columns(spec)
    found: list[tuple[tuple, str, str]] = []
    for position, table in enumerate(tables):
        for index, column in enumerate(table.columns):
            gen = column.generator
            if (table.name, column.name) in keys or column.name.endswith(lexicon.key_suffixes):
                continue
            if column.type not in rules.types or gen.kind not in rules.generators:
                continue
            if _named(column, rules.avoid_names):
                continue
            if getattr(gen, "distribution", None) in rules.avoid_distributions:
                continue
            if kind == "missing" and column.nullable > 0:
                continue  # its own empty values would blur the count of planted ones
            if kind == "outliers" and gen.kind == "numeric" and gen.min is not None and gen.min < 0:
                continue  # the outlier rule reads 'three times the next lower value': positive values only
            money = kind == "outliers" and column.unit == spec.challenge.currency
            preferred = not rules.prefer_roles or table.role in rules.prefer_roles
            rank = (not (_named(column, rules.names) or money), not preferred, position, index)
            found.append((rank, table.name, column.name))
    return [(t, c) for _, t, c in sorted(found)]


def plan_messiness(spec: ChallengeSpec, level: Level, lexicon: Lexicon | None = None) -> list[MessinessRule]:
    """The messiness rules ``level`` plants in ``spec`` (empty for ``"none"``).

    Per kind, the level's ``count`` best candidates, spread over tables where it can: a column takes at
    most one of missing, outliers and date formats, and no kind repeats on one column.

    Raises:
        InputError: ``level`` is not none, light or heavy.
    """
    if level not in LEVELS:
        raise InputError(f"messiness level '{level}' is unknown; use none, light or heavy")
    if level == "none":
        return []
    lexicon = lexicon or load_lexicon()
    budget = lexicon.levels[level]
    taken: dict[tuple[str, str], set[str]] = {}
    rules: list[MessinessRule] = []
    for kind in _CHOICE_ORDER:
        if kind not in budget:
            continue
        rate, count = budget[kind]
        candidates = column_candidates(spec, kind, lexicon)
        free = [
            c
            for c in candidates
            if not (taken.get(c, set()) & _EXCLUSIVE) and not (kind in _EXCLUSIVE and taken.get(c))
        ]
        free.sort(key=lambda c: bool(taken.get(c)))  # a column with no mess yet first (stable: rank kept)
        chosen: list[tuple[str, str]] = []
        # first pass: one per table (mess spread over the data), second pass: fill up the count
        for spread in (True, False):
            for candidate in free:
                if len(chosen) >= count:
                    break
                if candidate in chosen or (spread and candidate[0] in {t for t, _ in chosen}):
                    continue
                chosen.append(candidate)
        for table, column in chosen:
            taken.setdefault((table, column), set()).add(kind)
            rules.append(MessinessRule(kind=kind, table=table, column=column or None, rate=rate))
    return rules


def with_messiness(spec: ChallengeSpec, level: Level) -> ChallengeSpec:
    """``spec`` with the rules of ``level`` and their cleaning questions (earlier ones replaced)."""
    from tasks.cleaning_questions import is_cleaning_question, questions_for

    rules = plan_messiness(spec, level)
    questions = [q for q in spec.questions if not is_cleaning_question(q)]
    planned = spec.model_copy(update={"messiness": rules, "questions": questions})
    return planned.model_copy(update={"questions": questions + questions_for(planned)})


def with_rules(spec: ChallengeSpec, rules: list[MessinessRule]) -> ChallengeSpec:
    """``spec`` with hand-picked ``rules`` and their cleaning questions."""
    from tasks.cleaning_questions import is_cleaning_question, questions_for

    questions = [q for q in spec.questions if not is_cleaning_question(q)]
    planned = spec.model_copy(update={"messiness": list(rules), "questions": questions})
    return planned.model_copy(update={"questions": questions + questions_for(planned)})


def requested_level(explicit: str | None, brief: str | None) -> Level | None:
    """The level to plant: the explicit option first, else what the brief asks for, else ``None`` (keep)."""
    if explicit is not None:
        if explicit not in LEVELS:
            raise InputError(f"messiness must be one of none, light, heavy; got '{explicit}'")
        return explicit  # type: ignore[return-value]
    return messiness_from_text(brief)


def planned(spec: ChallengeSpec, level: Level | None, feedback: str | None = None) -> ChallengeSpec:
    """``spec`` at the requested ``level``; unchanged when none was asked, or when the reviewer's
    ``feedback`` speaks about mess itself (their words win over the run's option), or when it is already there.
    """
    if level is None:
        return spec
    if feedback and (messiness_from_text(feedback) is not None or kinds_from_text(feedback)):
        return spec
    if level_of(spec) == level:
        return spec
    return with_messiness(spec, level)


def level_of(spec: ChallengeSpec) -> str:
    """``none``, ``light`` or ``heavy`` when the spec's rules are that level's plan, else ``custom``."""
    if not spec.messiness:
        return "none"
    for level in ("light", "heavy"):
        if plan_messiness(spec, level) == list(spec.messiness):
            return level
    return "custom"


def messiness_markdown(spec: ChallengeSpec) -> list[str]:
    """Gate 2's section on planted mess: the level and every rule, or a line saying there is none."""
    level = level_of(spec)
    lines = ["", f"## Planted messiness: {level}"]
    if not spec.messiness:
        lines.append(
            "None: the learner gets clean data. Ask for it with feedback such as 'make the data messy' "
            "or 'add duplicates and missing values' (or start the run with --messiness light|heavy)."
        )
        return lines
    lines += [
        "The learner's CSVs get these issues; every planted case goes to instructor/issue_log.csv and the "
        "answer key's analytical answers are computed on the clean copy (instructor/clean_data/).",
        "",
        "| kind | table | column | rate |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.kind} | {r.table} | {r.column or '(whole rows)'} | {r.rate:.1%} |" for r in spec.messiness]
    lines.append("\nChange it with feedback ('no messiness', 'make it very messy', 'no typos') or edit `messiness`.")
    return lines


# --------------------------------------------------------------------------- row counts after cleaning


def duplicate_rows(rate: float, clean_rows: int) -> int:
    """Rows a duplicates rule adds to a table of ``clean_rows`` (as ``tasks.engine.messiness`` picks them)."""
    return min(clean_rows, max(1, round(rate * clean_rows))) if clean_rows else 0


def rows_after_cleaning(spec: ChallengeSpec, row_counts: dict[str, int]) -> dict[str, int]:
    """Each table's rows once its planted duplicate rows are removed, from the shipped (messy) counts.

    Each duplicates rule added ``duplicate_rows(rate, n)`` rows to the ``n`` it found, and that sum
    grows with ``n``, so the count before each rule is recovered exactly (rules undone last first).
    """
    out = dict(row_counts)
    for rule in reversed([r for r in spec.messiness if r.kind == "duplicates"]):
        if rule.table not in out:
            continue
        shipped = out[rule.table]
        guess = int(shipped / (1 + rule.rate))
        for n in range(max(0, guess - 3), shipped + 1):
            if n + duplicate_rows(rule.rate, n) == shipped:
                out[rule.table] = n
                break
    return out


# --------------------------------------------------------------------------- gate feedback


def messiness_rule(ctx, match: re.Match) -> str:
    """The gate-feedback rule of ``tasks.designer_offline.FEEDBACK_RULES``: the whole sentence decides."""
    return apply_messiness_feedback(ctx.data, match.string)


def apply_messiness_feedback(data: dict, sentence: str) -> str:
    """Apply one feedback sentence about mess to spec ``data`` in place; returns what changed.

    A level phrase re-plans the whole section ("no messiness", "make it very messy"); naming kinds adds
    or removes just those ("add duplicates and missing values", "no typos"), at the current level (the
    default level when there is no mess yet).

    Raises:
        FeedbackRefused: the spec has no column that can hold a named kind, or nothing would change.
    """
    from schemas.serialize import spec_from_data, spec_to_data
    from tasks.designer_offline import FeedbackRefused

    spec = spec_from_data(copy.deepcopy(data))
    words = _normal(sentence)
    kinds = kinds_from_text(sentence)
    negative = re.search(r"\b(no|remove|drop|without|fewer|less|stop|not)\b", words) is not None
    level = messiness_from_text(sentence)
    current = level_of(spec)
    if kinds:
        base = current if current in ("light", "heavy") else load_lexicon().default_level
        if negative:
            rules = [r for r in spec.messiness if r.kind not in kinds]
            if len(rules) == len(spec.messiness):
                raise FeedbackRefused(f"no {', '.join(kinds)} planted; nothing to remove")
            change = f"removed the planted {', '.join(kinds)}"
        else:
            wanted = [r for r in plan_messiness(spec, base) if r.kind in kinds]
            missing = [k for k in kinds if not any(r.kind == k for r in wanted)]
            if missing:
                raise FeedbackRefused(f"no column of this spec can hold {', '.join(missing)}")
            rules = list(spec.messiness) + [r for r in wanted if r not in spec.messiness]
            change = f"planted {', '.join(kinds)} ({base} rates)"
        updated = with_rules(spec, rules)
    else:
        if level is None:
            raise FeedbackRefused("say a level (no messiness, slightly messy, very messy) or name the kinds of mess")
        if level == current:
            raise FeedbackRefused(f"the planted mess is already at level {current}")
        updated = with_messiness(spec, level)
        change = f"messiness level {current} -> {level}"
    data.clear()
    data.update(spec_to_data(updated))
    detail = ", ".join(f"{r.kind} in {r.table}{'.' + r.column if r.column else ''}" for r in updated.messiness)
    return f"{change}: {detail or 'no planted mess'}"
