"""The offline designer: brief -> matched blueprint -> a seeded variation of its spec.

Needs no network or key. Same brief + seed + attempt -> same challenge. The variation draws the
company, stakeholder, problem statement, a whole-year shift of the time window, categorical shares,
which optional tables/columns and scenarios stay, and which 8-12 questions are asked (every
question that reveals a planted scenario is kept). Feedback from a gate is applied where a known
phrase matches (``FEEDBACK_RULES``, documented in docs/FEEDBACK.md); anything else is reported in
``Design.notes`` as not understood, so the person can edit the spec instead.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot

from schemas.blueprint import Blueprint
from schemas.brief import BriefFrame
from schemas.errors import DataFactoryError, InputError, SpecError
from schemas.parts import PartChoice
from schemas.serialize import spec_from_data, spec_to_data
from schemas.spec import ChallengeSpec
from tasks.design import shape
from tasks.design.brief_reader import read_brief
from tasks.design.compose import COMPOSE_OPTION, COMPOSED_DOMAIN, MAX_TOTAL_QUESTIONS, compose, route
from tasks.design.kpi_questions import ask_kpis
from tasks.domains import DomainMatch, get_blueprint, match_confidence, rank_domains, tokens
from tasks.messiness_plan import feedback_pattern as messiness_pattern
from tasks.messiness_plan import messiness_rule
from tasks.schema_check import resolve_references
from tasks.variation import (
    YEAR_SHIFTS,
    apply_locale,
    choose_questions,
    choose_scenarios,
    drop_optional_parts,
    drop_scenario,
    jitter_weights,
    plan_removal,
    renumber_questions,
    set_window,
    shift_text_years,
    shift_years,
    try_removal,
    year_range,
)

# words that point a brief to India; anything else is en_US (geography, not domain knowledge)
LOCALE_HINTS: dict[str, tuple[str, ...]] = {
    "en_IN": (
        "india",
        "indian",
        "mumbai",
        "delhi",
        "bengaluru",
        "bangalore",
        "rupee",
        "rupees",
        "inr",
        "crore",
        "crores",
        "lakh",
        "lakhs",
        "hyderabad",
        "chennai",
        "kolkata",
        "pune",
        "ahmedabad",
        "jaipur",
        "lucknow",
        "gurgaon",
        "gurugram",
        "noida",
        "kerala",
        "maharashtra",
        "karnataka",
        "tamil",
    ),
}
DEFAULT_LOCALE = "en_US"


class FeedbackRefused(DataFactoryError):
    """A feedback phrase was understood but cannot be applied to this spec (the reason says why)."""


@dataclass
class Design:
    """What a designer returns: the spec, the domain, the ranked matches, notes, and who designed it."""

    spec: ChallengeSpec
    domain: str
    matches: list[DomainMatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    designer: str = "offline"
    frame: BriefFrame | None = None


def challenge_id(frame: BriefFrame, domain: str, seed: int, variant: int = 0) -> str:
    """The package's name part: the brief's company when it names one (``fitnation-3``), else the domain
    (``retail-ecommerce-11``), so two briefs run with one seed give two ZIP names."""
    base = re.sub(r"[^a-z0-9]+", "-", frame.company.name.lower()).strip("-") if frame.company else ""
    base = (base or domain.replace("_", "-"))[:40].strip("-")
    return f"{base}-{seed}" + (f"-v{variant}" if variant else "")


def choose_domain(brief: str, domain: str | None) -> tuple[str, list[DomainMatch]]:
    """The requested domain, or the best-scoring one for the brief (runner-ups returned too).

    Raises:
        InputError: unknown ``domain``, or an empty library.
    """
    ranked = rank_domains(brief)
    if domain == COMPOSE_OPTION:
        return COMPOSED_DOMAIN, ranked
    if domain:
        get_blueprint(domain)  # raises a clear error for an unknown domain
        forced = [m for m in ranked if m.domain == domain]
        return domain, forced + [m for m in ranked if m.domain != domain]
    if not ranked:
        raise InputError("the blueprint library is empty; check DATAFACTORY_DOMAINS_DIR")
    # a weak match still designs (domain_notes says so at gate 1): a brief never dead-ends here
    return ranked[0].domain, ranked


def detect_locale(brief: str) -> str:
    """``en_IN`` when the brief points to India, else ``en_US``."""
    words = set(re.findall(r"[a-z]+", brief.lower()))
    for locale, hints in LOCALE_HINTS.items():
        if words & set(hints):
            return locale
    return DEFAULT_LOCALE


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
    previous: ChallengeSpec | None = None,
    frame: BriefFrame | None = None,
    parts: PartChoice | None = None,
) -> Design:
    """Design a challenge from a blueprint or from building blocks.

    Args:
        brief: the business brief, e.g. "an online store is losing customers".
        domain: force a domain instead of matching the brief.
        rows: the scale (rows of the main fact table).
        seed: makes the variation and the data reproducible.
        variant: same story, different numbers.
        locale: e.g. en_IN; detected from the brief when omitted.
        feedback: a reviewer's words from a gate; applied where understood.
        attempt: the regeneration count, so a regenerated design differs from the last one.
        previous: the spec shown at the gate; with feedback, the feedback is applied to it (so the
            rest stays as reviewed) instead of drawing a new variation.
        frame: the brief's frame when a model read it (the offline reader's otherwise).
        parts: a model's shape and role nouns: the challenge is composed with them.

    Returns:
        The design; ``notes`` says what the variation and the feedback did or did not do.

    Raises:
        InputError: empty brief, rows <= 0, unknown domain, unknown locale format.
    """
    if not brief or not brief.strip():
        raise InputError("the brief is empty; describe the business and its problem in a sentence or two")
    if rows <= 0:
        raise InputError(f"rows must be a positive number, got {rows}")
    if locale is not None and not re.fullmatch(r"[a-z]{2}_[A-Z]{2}", locale):
        raise InputError(f"locale '{locale}' is not of the form en_US or en_IN")
    frame = frame or read_brief(brief)
    chosen, ranked = choose_domain(brief, COMPOSE_OPTION if parts else domain)
    chosen, why = route(frame, chosen, ranked, forced=bool(domain or parts))
    locale = locale or frame.locale or detect_locale(brief)
    if chosen == COMPOSED_DOMAIN:
        shape_name, roles = (parts.shape, parts.roles) if parts else (None, None)
        blueprint, chosen_notes = compose(frame, rows=rows, locale=locale, shape_name=shape_name, roles=roles)
        chosen_notes = [f"composed: {why}", *chosen_notes]
    else:
        blueprint = get_blueprint(chosen)
        chosen_notes = domain_notes(chosen, ranked, forced=bool(domain), why=why)
    if previous is not None and feedback and previous.challenge.domain == chosen:
        data = spec_to_data(previous)
        notes = ["feedback applied to the reviewed spec"]
    else:
        rng = random.Random(f"{seed}:{attempt}:{chosen}")
        data, notes = vary_blueprint(
            blueprint,
            rng,
            seed=seed,
            variant=variant,
            locale=locale,
            rows=rows,
            brief=brief,
            frame=frame,
            shift=chosen != COMPOSED_DOMAIN,
        )
        notes = chosen_notes + notes
    if feedback:
        notes += apply_feedback(data, feedback, blueprint)
    return Design(spec_from_data(data), chosen, ranked[:4], notes, "offline", frame)


def domain_notes(chosen: str, ranked: list[DomainMatch], *, forced: bool, why: str = "") -> list[str]:
    """Why this blueprint: forced, a confident match, or the best of weak matches (said plainly at gate 1)."""
    if forced:
        return [f"domain {chosen}: chosen with --domain"]
    confidence = match_confidence(ranked)
    if confidence.confident:
        return [f"domain {chosen}: {why or confidence.reason}"]
    return [
        f"LOW CONFIDENCE: no blueprint clearly fits this brief ({confidence.reason}); {chosen} is the closest. "
        "Check the tables and questions, regenerate with --domain, or edit the spec."
    ]


def drop_unasked_scenarios(data: dict) -> list[str]:
    """A planted story no question asks about is invisible to the learner: an optional one is not planted
    (its question went with the window or the pick), so the data holds no finding nobody is asked to find."""
    asked = {q.get("scenario") for q in data["questions"]}
    return [
        drop_scenario(data, s["name"], 0) + " (no question asks about it)"
        for s in list(data.get("scenarios", []))
        if s.get("optional", True) and s["name"] not in asked
    ]


def trim_composed_questions(data: dict, keep: set[str] = frozenset()) -> None:
    """At most 12 questions: pattern questions give way (from the last) to the ones the brief's events add.

    The composer leaves room for the events (``compose``), so this trims only when an event planted more
    questions than it reserved."""
    questions = data["questions"]
    while len(questions) > MAX_TOTAL_QUESTIONS:
        last = next((q for q in reversed(questions) if not q.get("scenario") and q["id"] not in keep), None)
        if last is None:
            break
        questions.remove(last)
    renumber_questions(data)


def vary_blueprint(
    bp: Blueprint,
    rng: random.Random,
    *,
    seed: int,
    variant: int,
    locale: str,
    rows: int,
    brief: str,
    frame: BriefFrame | None = None,
    today: dt.date | None = None,
    shift: bool = True,
) -> tuple[dict, list[str]]:
    """A seeded variation of ``bp``'s spec as spec data, shaped by the brief's frame, with notes on what was
    drawn and what of the brief was carried."""
    frame = frame or BriefFrame(brief=brief)
    data = spec_to_data(bp.spec)
    low, high = bp.question_count
    profile = data["challenge"]
    local = bp.locales.get(locale)
    names = (local.company_names if local and local.company_names else None) or bp.company_names
    company = rng.choice(names)
    profile["company"] = {"name": company, "profile": profile["company"].get("profile", "") or f"Brief: {brief}"}
    profile["problem_statement"] = rng.choice(bp.problem_statements).text.format(company=company).strip()
    profile["stakeholder"] = rng.choice(bp.stakeholders)
    profile["id"] = challenge_id(frame, bp.domain, seed, variant)
    profile["title"] = f"{company}: {bp.title.lower()} analysis"
    profile["seed"] = seed
    profile["variant"] = variant
    profile["domain"] = bp.domain
    data["scale"] = rows
    notes = apply_locale(data, bp, locale)
    dated = frame.window is not None or any(e.start for e in frame.events) or frame.fiscal_year is not None
    if dated:
        notes += shape.shape_window(data, frame, today or dt.date.today())
    moved = 0
    if not dated and shift:  # a composed spec's window is already the brief's (or the last two years)
        moved = rng.choice(YEAR_SHIFTS)
        notes += shift_years(data, moved)
    jitter_weights(data, rng)
    notes += shape.shape_identity(data, frame)
    notes += shape.shape_places(data, frame)
    notes += shape.apply_counts(data, frame, rows_given=True)
    notes += drop_optional_parts(data, rng, low)
    before = {s["name"] for s in data.get("scenarios", [])}
    notes += shape.plant_events(data, frame)
    notes += shape.drop_scenarios_outside(data)
    from_brief = [s["name"] for s in data.get("scenarios", []) if not s.get("optional", True)]
    notes += choose_scenarios(data, rng, low)
    if shift:  # a composed spec's questions are chosen by pattern already; only the brief's may be added
        choose_questions(data, low, high, rng)
    asked_before = {q["id"] for q in data["questions"]}
    notes += ask_kpis(data, frame.kpis, [e.what for e in frame.events])
    if not shift:  # at most 12, the brief's KPI questions kept over the composer's pattern questions
        trim_composed_questions(data, keep={q["id"] for q in data["questions"]} - asked_before)
    notes += drop_unasked_scenarios(data)
    if shape.has_facts(frame):
        profile["problem_statement"] = shape.render_statement(data, frame, [n for n in from_brief if n not in before])
    else:
        notes += fit_statement(data, bp, locale, moved, frame)
    planted = ", ".join(s["name"] for s in data.get("scenarios", [])) or "none"
    company = profile["company"]["name"]
    notes.append(f"variation: company {company}, scenarios planted: {planted}, {len(data['questions'])} questions")
    return data, notes


def fit_statement(data: dict, bp: Blueprint, locale: str | None, moved: int, frame: BriefFrame) -> list[str]:
    """A problem statement that tells only planted stories: the current one when every scenario it describes
    is planted, else the blueprint's statement that tells the most planted ones and nothing else, else one
    rendered from the spec's fields. ``moved``: the years the window was shifted (the template's years move too)."""
    local = bp.locales.get(locale) if locale else None
    pool = (local.problem_statements if local and local.problem_statements else None) or bp.problem_statements
    profile = data["challenge"]
    planted = {s["name"] for s in data.get("scenarios", [])}
    low, high = year_range(data)

    def text_of(statement) -> str:
        text = statement.text.format(company=profile["company"]["name"]).strip()
        return shift_text_years(text, moved, low - moved, high - moved) if moved else text

    current = next((st for st in pool if text_of(st) == profile["problem_statement"]), None)
    if current is not None and set(current.tells) <= planted:
        return []
    fitting = sorted((st for st in pool if set(st.tells) <= planted), key=lambda st: -len(st.tells))
    if fitting:
        profile["problem_statement"] = text_of(fitting[0])
        return ["problem statement: another of the blueprint's, telling only the planted scenarios"]
    profile["problem_statement"] = shape.render_statement(data, frame, sorted(planted))
    return ["problem statement: written from the spec (the blueprint's describe scenarios not planted)"]


# --------------------------------------------------------------------------- feedback


@dataclass
class FeedbackContext:
    """The spec data being edited and the blueprint it came from (for questions and scenarios to add)."""

    data: dict
    blueprint: Blueprint | None
    low: int = 8
    high: int = 12

    def spec(self) -> ChallengeSpec:
        return spec_from_data(self.data)

    def question_pool(self) -> list[dict]:
        """Blueprint questions the current spec does not ask yet and can answer, moved to its window."""
        if self.blueprint is None:
            return []
        pool_data = spec_to_data(self.blueprint.spec)
        apply_locale(pool_data, self.blueprint, self.data["challenge"].get("locale", "en_US"))
        years = int(str(self.data["challenge"]["time_window"]["end"])[:4]) - int(
            str(pool_data["challenge"]["time_window"]["end"])[:4]
        )
        shift_years(pool_data, years)
        spec = self.spec()
        # by SQL, not id: kept questions are renumbered q01.. so their ids no longer name a blueprint question
        asked = {_normal_sql(q["sql"]) for q in self.data["questions"]}
        columns = {f"{t.name}.{c.name}" for t in spec.tables for c in t.columns}
        scenarios = {s.name for s in spec.scenarios}
        pool = []
        for question in pool_data["questions"]:
            if _normal_sql(question["sql"]) in asked:
                continue
            try:
                refs = resolve_references(question["sql"], spec)
            except sqlglot.errors.SqlglotError:
                continue
            if set(refs.tables) - set(spec.table_names) or set(refs.columns) - columns:
                continue
            if question.get("scenario") and question["scenario"] not in scenarios:
                question = {k: v for k, v in question.items() if k != "scenario"}
            if shape.outside_window(question, self.data) is None:
                pool.append(question)
        # fresh ids after the spec's own (renumber_questions puts them in order once they are added)
        taken = [int(q["id"][1:]) for q in self.data["questions"] if re.fullmatch(r"q\d+", q["id"])]
        for offset, question in enumerate(pool, max(taken, default=0) + 1):
            question["id"] = f"q{offset:02d}"
        return pool


Rule = Callable[[FeedbackContext, re.Match], str]
_STOP = {"the", "a", "an", "about", "on", "of", "for", "around", "more", "question", "some", "please", "with", "in"}


def _topic_tokens(text: str) -> set[str]:
    return {t for t in tokens(text) if t not in _STOP and len(t) > 2}


def _about(question: dict, topic: set[str]) -> bool:
    return bool(topic & set(tokens(question["text"]))) or bool(topic & set(tokens(question["sql"])))


def _trim_questions(ctx: FeedbackContext, keep: set[str]) -> None:
    """Bring the question count down to the blueprint's maximum, dropping unlinked questions not in ``keep``."""
    questions = ctx.data["questions"]
    for question in reversed(list(questions)):
        if len(ctx.data["questions"]) <= ctx.high:
            break
        if question["id"] not in keep and not question.get("scenario"):
            ctx.data["questions"].remove(question)


def _more_questions_on(ctx: FeedbackContext, match: re.Match) -> str:
    topic = _topic_tokens(match.group("topic"))
    if not topic:
        raise FeedbackRefused("name a topic, e.g. 'more questions on returns'")
    added = [q for q in ctx.question_pool() if _about(q, topic)]
    if not added:
        raise FeedbackRefused(
            f"the blueprint has no further question about '{match.group('topic').strip()}'; add one in the spec"
        )
    ctx.data["questions"].extend(added)
    _trim_questions(ctx, {q["id"] for q in added} | {q["id"] for q in ctx.data["questions"] if _about(q, topic)})
    kept = [q["id"] for q in added if q in ctx.data["questions"]]
    return f"added question(s) {', '.join(kept)} about {' '.join(sorted(topic))}"


def _fewer_questions_on(ctx: FeedbackContext, match: re.Match) -> str:
    topic = _topic_tokens(match.group("topic"))
    about = [q["id"] for q in ctx.data["questions"] if _about(q, topic)]
    if not about:
        raise FeedbackRefused(f"no question is about '{match.group('topic').strip()}'")
    spare = len(ctx.data["questions"]) - ctx.low
    if spare <= 0:
        raise FeedbackRefused(f"the challenge already has the minimum of {ctx.low} questions")
    dropped = about[:spare]
    ctx.data["questions"] = [q for q in ctx.data["questions"] if q["id"] not in dropped]
    return f"removed question(s) {', '.join(dropped)}"


def _question_count(delta: int) -> Rule:
    def apply(ctx: FeedbackContext, _: re.Match) -> str:
        if delta > 0:
            room = ctx.high - len(ctx.data["questions"])
            pool = ctx.question_pool()[: max(0, room)]
            if not pool:
                raise FeedbackRefused(f"no further blueprint question fits (maximum {ctx.high})")
            ctx.data["questions"].extend(pool)
            return f"added question(s) {', '.join(q['id'] for q in pool)}"
        spare = [q for q in ctx.data["questions"] if not q.get("scenario")]
        cut = spare[-max(0, len(ctx.data["questions"]) - ctx.low) :] if len(ctx.data["questions"]) > ctx.low else []
        if not cut:
            raise FeedbackRefused(f"the challenge already has the minimum of {ctx.low} questions")
        ctx.data["questions"] = [q for q in ctx.data["questions"] if q not in cut[-2:]]
        return f"removed question(s) {', '.join(q['id'] for q in cut[-2:])}"

    return apply


def _scale(factor: float) -> Rule:
    def apply(ctx: FeedbackContext, _: re.Match) -> str:
        ctx.data["scale"] = max(1, int(ctx.data["scale"] * factor))
        return f"scale set to {ctx.data['scale']:,} rows"

    return apply


def _rows(ctx: FeedbackContext, match: re.Match) -> str:
    number = float(match.group("n").replace(",", "").replace("_", ""))
    unit = (match.group("unit") or "").lower()
    number *= {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}.get(unit, 1)
    if number < 1:
        raise FeedbackRefused("the number of rows must be at least 1")
    ctx.data["scale"] = int(number)
    return f"scale set to {int(number):,} rows"


def _difficulty(level: str) -> Rule:
    swap_out, prefer = ({"easy"}, ("hard", "medium")) if level == "hard" else ({"hard"}, ("easy", "medium"))

    def apply(ctx: FeedbackContext, _: re.Match) -> str:
        ctx.data["challenge"]["difficulty"] = level
        pool = sorted(
            (q for q in ctx.question_pool() if q.get("difficulty", "medium") in prefer),
            key=lambda q: prefer.index(q.get("difficulty", "medium")),
        )
        swapped = []
        for question in list(ctx.data["questions"]):
            if not pool:
                break
            if question.get("difficulty", "medium") in swap_out and not question.get("scenario"):
                new = pool.pop(0)
                ctx.data["questions"][ctx.data["questions"].index(question)] = new
                swapped.append(f"{question['id']}->{new['id']}")
        done = f"difficulty set to {level}"
        return done + (f"; swapped question(s) {', '.join(swapped)}" if swapped else "")

    return apply


def _window(ctx: FeedbackContext, match: re.Match) -> str:
    start, end = int(match.group("a")), int(match.group("b"))
    try:
        notes = set_window(ctx.data, start, end)
    except ValueError as exc:
        raise FeedbackRefused(str(exc)) from None
    return "; ".join(notes)


def _single_year(ctx: FeedbackContext, match: re.Match) -> str:
    year = int(match.group("a"))
    return "; ".join(set_window(ctx.data, year, year)) + " (one year: year-over-year questions will show one year)"


def _find_table(spec: ChallengeSpec, words: str) -> str:
    wanted = tokens(words)
    for table in spec.tables:
        if tokens(table.name) == wanted or "_".join(wanted) == table.name:
            return table.name
    close = [t.name for t in spec.tables if set(wanted) & set(tokens(t.name.replace("_", " ")))]
    if len(close) == 1:
        return close[0]
    raise FeedbackRefused(f"no table '{words.strip()}' (tables are: {', '.join(spec.table_names)})")


def _drop_table(ctx: FeedbackContext, match: re.Match) -> str:
    spec = ctx.spec()
    name = _find_table(spec, match.group("name"))
    removal = plan_removal(spec, tables=[name], only_optional=False)
    if reason := try_removal(ctx.data, removal, ctx.low):
        raise FeedbackRefused(f"cannot drop table {name}: {reason}")
    return f"dropped {removal.describe()}"


def _drop_column(ctx: FeedbackContext, match: re.Match) -> str:
    spec = ctx.spec()
    column = match.group("column").strip().replace(" ", "_")
    owners = [t.name for t in spec.tables if t.column(column) is not None]
    if match.group("table"):
        owners = [o for o in owners if o == _find_table(spec, match.group("table"))]
    if len(owners) != 1:
        where = f"in tables {', '.join(owners)}; say which, e.g. 'drop the {column} column from <table>'"
        raise FeedbackRefused(f"column '{column}' is " + (where if owners else "in no table"))
    removal = plan_removal(spec, columns=[(owners[0], column)], only_optional=False)
    if reason := try_removal(ctx.data, removal, ctx.low):
        raise FeedbackRefused(f"cannot drop {owners[0]}.{column}: {reason}")
    return f"dropped {removal.describe()}"


def _fewer_tables(ctx: FeedbackContext, _: re.Match) -> str:
    spec = ctx.spec()
    parents = {r.parent_table for r in spec.relationships} | {t.aggregate_of for t in spec.tables}
    leaves = sorted(
        (t for t in spec.tables if t.name not in parents and t.ratio != 1.0),
        key=lambda t: (not t.optional, t.role != "bridge", t.name),
    )
    for table in leaves:
        removal = plan_removal(spec, tables=[table.name], only_optional=False)
        if try_removal(ctx.data, removal, ctx.low) is None:
            return f"dropped {removal.describe()}"
    raise FeedbackRefused(f"no table can go without leaving fewer than {ctx.low} questions")


def _direction(words: str) -> float | None:
    stems = set(tokens(words))
    if stems & {"increase", "rise", "hike", "higher", "raise", "up", "surge", "jump", "inflation"}:
        return 1.2
    if stems & {"decrease", "drop", "cut", "fall", "lower", "decline", "discount", "reduction", "down"}:
        return 0.8
    return None


def _add_scenario(ctx: FeedbackContext, match: re.Match) -> str:
    topic_text = match.group("topic") or ""
    topic = _topic_tokens(topic_text) - {"scenario", "add", "another"}
    planted = {s["name"] for s in ctx.data.get("scenarios", [])}
    candidates = []
    if ctx.blueprint is not None:
        for scenario in spec_to_data(ctx.blueprint.spec).get("scenarios", []):
            if scenario["name"] in planted:
                continue
            words = set(tokens(scenario["name"].replace("_", " ") + " " + scenario["description"]))
            words |= set(tokens(str(scenario["effect"].get("column", "")).replace("_", " ")))
            candidates.append((len(topic & words), scenario))
    candidates.sort(key=lambda c: -c[0])
    if candidates and (candidates[0][0] > 0 or not topic):
        return _tell_in_statement(ctx, planted, _plant_blueprint_scenario(ctx, candidates[0][1]))
    factor = _direction(topic_text)
    if factor is None:
        raise FeedbackRefused(
            f"no blueprint scenario about '{topic_text.strip()}'; say 'increase' or 'drop' of a measure "
            "(e.g. 'add a scenario about a price increase') or add the scenario in the spec"
        )
    return _tell_in_statement(ctx, planted, _build_scale_scenario(ctx, topic, factor))


def scenario_sentence(scenario: dict) -> str:
    """The problem statement's sentence on a scenario added by feedback: which measure and when, not how much
    (finding the size is the learner's work)."""
    column = str(scenario.get("effect", {}).get("column") or "").replace("_", " ")
    table = re.sub(r"^(?:fact|dim)_", "", scenario["table"]).replace("_", " ")
    what = f"the {column}" if column else f"the number of {table}"
    condition = scenario.get("condition") or {}
    start, end = (
        dt.date.fromisoformat(str(condition[k])).strftime("%B %Y") if condition.get(k) else None
        for k in ("start", "end")
    )
    when = f" from {start}" if start else ""
    when += f" to {end}" if end and start else f" until {end}" if end else ""
    return f"Management also wants to know what happened to {what}{when}."


def _tell_in_statement(ctx: FeedbackContext, before: set[str], note: str) -> str:
    """Say the newly planted scenario in the problem statement, so the story asks what the data now shows."""
    profile = ctx.data["challenge"]
    for scenario in ctx.data.get("scenarios", []):
        sentence = scenario_sentence(scenario)
        if scenario["name"] not in before and sentence not in profile["problem_statement"]:
            profile["problem_statement"] = f"{profile['problem_statement'].rstrip()} {sentence}"
            note += "; the problem statement now asks about it"
    return note


def _plant_blueprint_scenario(ctx: FeedbackContext, scenario: dict) -> str:
    scenario = copy.deepcopy(scenario)
    pool_years = int(str(ctx.data["challenge"]["time_window"]["end"])[:4]) - int(
        str(ctx.blueprint.spec.challenge.time_window.end)[:4]
    )
    holder = {"challenge": copy.deepcopy(ctx.data["challenge"]), "scenarios": [scenario], "questions": []}
    holder["challenge"]["time_window"] = ctx.blueprint.spec.challenge.time_window.model_dump(mode="json")
    shift_years(holder, pool_years)
    trial = copy.deepcopy(ctx.data)
    trial.setdefault("scenarios", []).append(holder["scenarios"][0])
    try:
        spec_from_data(trial)
    except SpecError as exc:
        raise FeedbackRefused(f"scenario {scenario['name']} does not fit this spec: {exc.problems[0]}") from None
    ctx.data.clear()
    ctx.data.update(trial)
    linked = [
        q for q in FeedbackContext(ctx.data, ctx.blueprint).question_pool() if q.get("scenario") == scenario["name"]
    ]
    ctx.data["questions"].extend(linked)
    _trim_questions(ctx, {q["id"] for q in linked})
    return f"planted scenario {scenario['name']} ({scenario['description']})" + (
        f" with question(s) {', '.join(q['id'] for q in linked)}" if linked else ""
    )


_SCALABLE_KINDS = {"numeric", "lookup", "categorical", "conditional"}


def _build_scale_scenario(ctx: FeedbackContext, topic: set[str], factor: float) -> str:
    spec = ctx.spec()
    currency = spec.challenge.currency
    candidates = []
    for table in spec.tables:
        dates = [c.name for c in table.columns if c.type in ("date", "datetime")]
        if not dates or table.role == "aggregate":
            continue
        for column in table.columns:
            if column.type not in ("int", "float", "decimal") or column.generator.kind not in _SCALABLE_KINDS:
                continue
            if column.name in table.primary_key or column.generator.kind == "foreign_key":
                continue
            named = len(topic & set(tokens(column.name.replace("_", " "))))
            money = column.unit == currency
            if named or money:
                own = column.generator.kind != "lookup"  # a looked-up value should keep matching its parent
                main = table.ratio == 1.0
                rank = (named, own, table.role == "fact", main, money)
                candidates.append((rank, table.name, column.name, dates[0]))
    if not candidates:
        raise FeedbackRefused(
            f"no numeric column about '{' '.join(sorted(topic))}' in a table with a date; add the scenario in the spec"
        )
    rank, table_name, column_name, date_column = max(candidates)
    named = rank[0]
    window_end = dt.date.fromisoformat(str(spec.challenge.time_window.end))
    start = dt.date(window_end.year, 7, 1) if window_end.month >= 9 else dt.date(window_end.year - 1, 7, 1)
    start = max(start, spec.challenge.time_window.start + dt.timedelta(days=60))
    start = start.replace(day=1)
    change = "increase" if factor > 1 else "decrease"
    name = f"{column_name}_{change}"[:60]
    if name in {s.name for s in spec.scenarios}:
        raise FeedbackRefused(f"scenario {name} is already planted")
    percent = round(abs(factor - 1) * 100)
    scenario = {
        "name": name,
        "description": f"From {start:%B %Y}, {table_name}.{column_name} is about {percent}% "
        f"{'higher' if factor > 1 else 'lower'} than before.",
        "table": table_name,
        "condition": {"date_column": date_column, "start": start.isoformat(), "end": str(window_end)},
        "effect": {"kind": "scale", "column": column_name, "factor": factor},
        "optional": True,
    }
    ids = {q["id"] for q in ctx.data["questions"]}
    number = next(n for n in range(len(ids) + 1, 200) if f"q{n:02d}" not in ids)
    question = {
        "id": f"q{number:02d}",
        "text": f"How did the average {column_name.replace('_', ' ')} change from {start:%B %Y} on, "
        f"compared with before?",
        "difficulty": "medium",
        "skills": ["before_after", "case_when", "aggregation"],
        "answer_shape": "table",
        "chart": "column",
        "scenario": name,
        "sql": (
            f"SELECT CASE WHEN {date_column} >= DATE '{start}' THEN 'from {start:%Y-%m}' ELSE 'before {start:%Y-%m}' "
            "END AS period,\n       COUNT(*) AS rows_count,\n"
            f"       ROUND(AVG({column_name}), 2) AS avg_{column_name}\n"
            f"FROM {table_name}\nWHERE {date_column} IS NOT NULL\nGROUP BY 1\nORDER BY MIN({date_column})"
        ),
    }
    ctx.data.setdefault("scenarios", []).append(scenario)
    ctx.data["questions"].append(question)
    _trim_questions(ctx, {question["id"]})
    why = "" if named else f" (no column is named after '{' '.join(sorted(topic))}'; used a money column)"
    return f"built scenario {name}: {table_name}.{column_name} x{factor} from {start}, asked by {question['id']}{why}"


def _drop_scenario(ctx: FeedbackContext, match: re.Match) -> str:
    topic = _topic_tokens(match.group("topic")) - {"scenario"}
    scenarios = ctx.data.get("scenarios", [])
    scored = sorted(
        (
            (len(topic & set(tokens(s["name"].replace("_", " ") + " " + s["description"]))), s["name"])
            for s in scenarios
        ),
        reverse=True,
    )
    if not scored or scored[0][0] == 0:
        names = ", ".join(s["name"] for s in scenarios) or "none"
        raise FeedbackRefused(f"no planted scenario matches '{match.group('topic').strip()}' (planted: {names})")
    dropped = next(s for s in scenarios if s["name"] == scored[0][1])
    profile, sentence = ctx.data["challenge"], scenario_sentence(dropped)
    if sentence in profile["problem_statement"]:  # added for this scenario by earlier feedback: it goes with it
        profile["problem_statement"] = profile["problem_statement"].replace(f" {sentence}", "").replace(sentence, "")
    return drop_scenario(ctx.data, scored[0][1], ctx.low)


def _locale(locale: str) -> Rule:
    def apply(ctx: FeedbackContext, _: re.Match) -> str:
        if ctx.blueprint is None or locale not in ctx.blueprint.locales:
            raise FeedbackRefused(f"the blueprint has no {locale} variant; start a new run with --locale {locale}")
        if ctx.data["challenge"].get("locale") == locale:
            return f"locale is already {locale}"
        ctx.data["challenge"]["company"]["name"] = (
            ctx.blueprint.locales[locale].company_names[0]
            if (ctx.blueprint.locales[locale].company_names)
            else ctx.data["challenge"]["company"]["name"]
        )
        return "; ".join(apply_locale(ctx.data, ctx.blueprint, locale))

    return apply


_YEAR = r"(?:19|20)\d{2}"
_TOPIC = r"(?P<topic>[a-z0-9 &/-]+?)(?=\s*(?:,|\band\b|\bbut\b|$))"
FEEDBACK_RULES: list[tuple[str, Rule]] = [
    (rf"\b(?:more|extra|additional)\s+questions?\s+(?:on|about|around|for|regarding)\s+{_TOPIC}", _more_questions_on),
    (rf"\bfocus\s+(?:more\s+)?on\s+{_TOPIC}", _more_questions_on),
    (
        rf"\b(?:fewer|less|no|drop|remove)\s+(?:the\s+)?questions?\s+(?:on|about|around|regarding)\s+{_TOPIC}",
        _fewer_questions_on,
    ),
    (r"\bmore questions\b(?!\s+(?:on|about|around|for|regarding)\b)", _question_count(+2)),
    (r"\b(?:fewer|less) questions\b(?!\s+(?:on|about|around|regarding)\b)", _question_count(-2)),
    (
        r"\badd\s+(?:a|an|another|one more)?\s*(?:new\s+)?scenario"
        rf"(?:\s+(?:about|on|for|with|where|of))?(?:\s+{_TOPIC})?",
        _add_scenario,
    ),
    (rf"\b(?:remove|drop|delete|no)\s+(?:the\s+)?scenario(?:\s+(?:about|on|for|with|of))?\s+{_TOPIC}", _drop_scenario),
    # planted mess ("no messiness", "add duplicates and missing values"): before 'less ... data' reads it as size
    (messiness_pattern(), messiness_rule),
    (
        r"\b(?:drop|remove|delete|without|exclude)\s+(?:the\s+)?(?:table\s+(?P<name>[a-z_ ]+?)|"
        r"(?P<name2>[a-z_ ]+?)\s+table)\b",
        lambda ctx, m: _drop_table(ctx, _Named(m.group("name") or m.group("name2"))),
    ),
    (
        r"\b(?:drop|remove|delete|without|exclude)\s+(?:the\s+)?(?:column\s+(?P<column>[a-z_]+)|"
        r"(?P<column2>[a-z_ ]+?)\s+column)(?:\s+(?:from|of|in)\s+(?:the\s+)?(?P<table>[a-z_]+))?",
        lambda ctx, m: _drop_column(ctx, _Named(m.group("column") or m.group("column2"), m.group("table"))),
    ),
    (r"\b(?:fewer|less|smaller number of)\s+tables\b", _fewer_tables),
    (rf"\b(?:from\s+)?(?P<a>{_YEAR})\s*(?:to|-|–|through|until|till|and)\s*(?P<b>{_YEAR})\b", _window),
    (rf"\b(?:only|just)\s+(?P<a>{_YEAR})\b", _single_year),
    (r"\b(?P<n>\d[\d,_]*(?:\.\d+)?)\s*(?P<unit>k|thousand|m|million)?\s+rows\b", _rows),
    (r"\b(?:more|bigger|larger)\b.*\b(?:rows|data)\b", _scale(2.0)),
    (r"\b(?:fewer|less|smaller)\b.*\b(?:rows|data)\b", _scale(0.5)),
    (r"\b(?:harder|more difficult|more advanced|more challenging|tougher)\b", _difficulty("hard")),
    (r"\b(?:easier|simpler|beginner|less difficult)\b", _difficulty("easy")),
    (r"\b(?:india|indian|rupees?|inr)\b", _locale("en_IN")),
]


class _Named:
    """Adapter giving ``group('name')``/``group('column')``/``group('table')`` to the drop rules."""

    def __init__(self, name: str, table: str | None = None) -> None:
        self._groups = {"name": name, "column": name, "table": table}

    def group(self, key: str) -> str | None:
        return self._groups[key]


def _sentences(feedback: str) -> list[str]:
    return [s.strip() for s in re.split(r"[.;\n!]+|,\s+(?=[a-z])", feedback) if s.strip()]


def apply_feedback(data: dict, feedback: str, blueprint: Blueprint | None = None) -> list[str]:
    """Apply the understood parts of ``feedback`` to spec ``data`` in place; one note per sentence.

    Args:
        data: spec data (``spec_to_data``); edited in place and always left valid.
        feedback: the reviewer's words; sentences are handled one by one.
        blueprint: where questions and scenarios to add come from; looked up by the spec's domain
            when omitted (and skipped when the domain has no blueprint).

    Returns:
        Notes: ``applied '...': what changed``, ``could not apply '...': why``, or
        ``not understood: '...'`` with a pointer to docs/FEEDBACK.md.
    """
    if blueprint is None:
        try:
            blueprint = get_blueprint(data["challenge"]["domain"])
        except DataFactoryError:
            blueprint = None
    low, high = blueprint.question_count if blueprint else (8, 12)
    ctx = FeedbackContext(data, blueprint, low, high)
    notes = []
    for sentence in _sentences(feedback):
        text = sentence.lower()
        done, refused = [], []
        for pattern, rule in FEEDBACK_RULES:
            match = re.search(pattern, text)
            if not match:
                continue
            backup = copy.deepcopy(data)
            try:
                done.append(rule(ctx, match))
                spec_from_data(data)
            except FeedbackRefused as exc:
                refused.append(exc.message)
                data.clear()
                data.update(backup)
            except SpecError as exc:
                refused.append(f"the result would be invalid ({exc.problems[0]})")
                data.clear()
                data.update(backup)
            if _consumes(rule):
                break
        if done:
            notes.append(f"applied '{sentence}': " + "; ".join(done))
        if refused:
            notes.append(f"could not apply '{sentence}': " + "; ".join(refused) + " (edit the spec at the gate)")
        if not done and not refused:
            done, refused = _apply_frame_feedback(ctx, sentence)
            if done:
                notes.append(f"applied '{sentence}': " + "; ".join(done))
            elif refused:
                notes.append(f"could not apply '{sentence}': " + "; ".join(refused) + " (edit the spec at the gate)")
            else:
                notes.append(f"not understood: '{sentence}'; edit the spec at the gate instead (see docs/FEEDBACK.md)")
    renumber_questions(data)  # added questions keep the learners' numbering: q01..qNN in order
    return notes


_COMPANY = re.compile(
    r"\b(?:(?:company|business|brand|firm)\s+(?:is\s+|should\s+be\s+)?(?:called|named)|call\s+(?:the\s+|it\s+)?"
    r"(?:company\s+)?|rename\s+(?:the\s+)?company\s+(?:to\s+)?)\s*['\"]?(?P<name>[A-Z0-9][\w&' .-]*?)['\"]?\s*$"
)


def _apply_frame_feedback(ctx: FeedbackContext, sentence: str) -> tuple[list[str], list[str]]:
    """A sentence no phrase rule understood, read like a brief: its company, window, places, counts, events."""
    backup = copy.deepcopy(ctx.data)
    done: list[str] = []
    if match := _COMPANY.search(sentence):
        done.append(_rename_company(ctx.data, match.group("name").strip()))
    frame = read_brief(sentence)
    if frame.window is not None or frame.fiscal_year is not None:
        done += shape.shape_window(ctx.data, frame, dt.date.today())
    done += shape.shape_places(ctx.data, frame)
    done += shape.apply_counts(ctx.data, frame, rows_given=True)
    events = [shape.within_window(ctx.data, e) for e in frame.events]
    if events:
        done += shape.plant_events(ctx.data, frame.model_copy(update={"events": events}))
    try:
        spec_from_data(ctx.data)
    except SpecError as exc:
        ctx.data.clear()
        ctx.data.update(backup)
        return [], [f"the result would be invalid ({exc.problems[0]})"]
    return done, []


def _rename_company(data: dict, name: str) -> str:
    profile = data["challenge"]
    old = profile["company"]["name"]
    profile["company"]["name"] = name
    for key in ("title", "problem_statement"):
        profile[key] = profile[key].replace(old, name)
    return f"company renamed from {old} to {name}"


def _normal_sql(sql: str) -> str:
    return " ".join(sql.split()).lower()


def _consumes(rule: Rule) -> bool:
    """Rules after which the sentence is used up (so 'more questions on X' does not also add two more)."""
    return rule in (_more_questions_on, _fewer_questions_on, _add_scenario, _drop_scenario, messiness_rule)
