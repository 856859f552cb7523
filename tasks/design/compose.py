"""The composer: a challenge built from building blocks (``domains/parts/``) when no blueprint fits the brief.

Contract: ``compose_blueprint(frame, ...)`` reads the brief's frame (its nouns, counts, KPIs, events, places,
window), picks a shape (``domains/parts/shapes/*.yaml``) by its trigger words, fills the roles of the
vocabulary (event, outlet, person, item, staff, unit, place) with the brief's own nouns, renders the shape's
table, question and scenario templates with them, adds the columns the brief's KPIs need, and returns an
ordinary ``Blueprint`` (spec validated like any other). The offline designer then varies it like a
hand-written blueprint: company, window, places, counts, events and KPI questions are carried by the same
steps (``tasks/design/shape.py``), so a composed challenge and a blueprint challenge differ only in where
their tables came from. No per-brief code: every word comes from the frame or from the part files.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from schemas.blueprint import Blueprint
from schemas.brief import BriefFrame
from schemas.errors import InputError, SpecError
from schemas.parts import Catalog, Catalogs, Dimensions, Shape, TablePart, Vocabulary
from tasks.design.brief_reader import load_lexicon
from tasks.design.kpi_columns import add_kpis, fill_template
from tasks.design.places import Places, currency_of, places_for
from tasks.design.shape import PUBLIC_BODY_PROFILE, appositive
from tasks.domains import DomainMatch, blueprint_texts, get_blueprint, match_confidence, stem, tokens
from tasks.settings import get_settings

COMPOSED_DOMAIN = "composed"
COMPOSE_OPTION = "compose"  # --domain compose
ENTITY_ROLES = ("event", "activity", "outlet", "person", "item", "staff", "unit")
COVERAGE_MIN = 0.5  # a blueprint holding fewer of the brief's entities than this is not the brief's challenge
ROLE_ORDER = ("event", "activity", "outlet", "person", "item", "staff", "unit", "place", "maker", "base")
MAX_QUESTIONS = 10
MAX_TOTAL_QUESTIONS = 12
VERB_LIKE_ROLES = {"item", "activity"}  # 'what they book', 'to visit': only the reader's nouns fill these
MIN_PATTERN_QUESTIONS = 6
UNIT_FALLBACK = ["Operations", "Sales", "Service", "Support"]


# --------------------------------------------------------------------------- the part library


@dataclass(frozen=True)
class PartLibrary:
    vocabulary: Vocabulary
    catalogs: list[Catalog]
    dimensions: dict[str, TablePart]
    shapes: dict[str, Shape]


def parts_dir() -> Path:
    return get_settings().domains_dir / "parts"


def _read(path: Path, model: type) -> Any:
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValueError) as exc:
        raise SpecError(f"{path}: {exc}; fix the part file (see the comments at its top)") from exc


@lru_cache(maxsize=4)
def _load(directory: str, stamp: tuple[tuple[str, float], ...]) -> PartLibrary:
    del stamp  # cache key only
    root = Path(directory)
    shapes = {}
    for path in sorted((root / "shapes").glob("*.yaml")):
        shape = _read(path, Shape)
        shapes[shape.shape] = shape
    if "transactions" not in shapes:
        raise SpecError(f"{root / 'shapes'} has no transactions.yaml: the composer needs its default shape")
    return PartLibrary(
        _read(root / "vocabulary.yaml", Vocabulary),
        _read(root / "catalogs.yaml", Catalogs).catalogs,
        _read(root / "dimensions.yaml", Dimensions).parts,
        shapes,
    )


def load_parts(directory: Path | None = None) -> PartLibrary:
    root = directory or parts_dir()
    files = sorted(root.rglob("*.yaml"))
    if not files:
        raise InputError(f"no part library in {root}; set DATAFACTORY_DOMAINS_DIR to the folder holding parts/")
    return _load(str(root), tuple((str(p), p.stat().st_mtime) for p in files))


# --------------------------------------------------------------------------- reading the brief's roles


def _snake(noun: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", noun.lower()).strip("_")


def plural(noun: str, vocabulary: Vocabulary) -> str:
    if noun in vocabulary.plural:
        return vocabulary.plural[noun]
    last = noun.split()[-1]
    if last in vocabulary.plural:
        return noun[: -len(last)] + vocabulary.plural[last]
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + "s"


def _brief_nouns(frame: BriefFrame) -> list[str]:
    """Counted entities first (they size tables), then the nouns in reading order, then two-word phrases."""
    # the stakeholder's words ("the marketing team") are who asks, not what the data holds
    asker = set(tokens(frame.stakeholder.source)) if frame.stakeholder else set()
    words = [c.entity.lower() for c in frame.counts] + [n.lower() for n in frame.nouns if n.lower() not in asker]
    if frame.window is not None:  # "six months of bookings": the reader kept the words as a window
        words += re.findall(r"[a-z][a-z-]+", frame.window.source.lower().split(" of ", 1)[-1])
    text = frame.brief.lower()
    seen: list[str] = []
    for word in words:
        if word not in seen:
            seen.append(word)
    phrases = re.findall(r"[a-z]+ [a-z]+", text)
    return seen + [p for p in phrases if p not in seen]


def _singular(noun: str, vocabulary: Vocabulary) -> str:
    """The singular the role lists use: the reader's nouns are singular already; a counted or phrase noun may
    not be ('pharmacies'). Exact forms, not stems: a Porter stem makes 'books' and 'booking' one word."""
    irregular = {many: one for one, many in vocabulary.plural.items()}
    if noun in irregular:
        return irregular[noun]
    for suffix, back in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("s", "")):
        if noun.endswith(suffix) and len(noun) > len(suffix) + 2:
            return noun[: -len(suffix)] + back
    return noun


def read_roles(frame: BriefFrame, shape: Shape, vocabulary: Vocabulary) -> dict[str, str]:
    """role -> the brief's noun for it (singular); the shape's defaults fill the roles the shape must have."""
    roles = brief_roles(frame, vocabulary)
    for role, noun in shape.defaults.items():
        roles.setdefault(role, noun)
    return roles


def brief_roles(frame: BriefFrame, vocabulary: Vocabulary) -> dict[str, str]:
    """role -> the brief's own noun for it (singular), no defaults: what the brief itself names."""
    nouns = [_singular(n, vocabulary) for n in _brief_nouns(frame)]
    # "district-level data", "state-wise figures": the level is a noun of the brief too
    nouns += [_singular(m, vocabulary) for m in re.findall(r"\b([a-z]+)-(?:level|wise)\b", frame.brief.lower())]
    # words the reader did not list as nouns ('a small bakery' became the company Rosa's Bakery) come last,
    # and only for roles decided by reading order (an event's verb, 'to order', must not make the table)
    words = [_singular(w, vocabulary) for w in re.findall(r"[a-z][a-z-]+", frame.brief.lower())]
    taken: set[str] = set()
    roles: dict[str, str] = {}
    for role in ROLE_ORDER:
        wanted = vocabulary.roles.get(role)
        if wanted is None:
            continue
        pool = nouns if wanted.ranked or role in VERB_LIKE_ROLES else nouns + [w for w in words if w not in nouns]
        # a noun that is another role's word without its -ing ('book' beside 'booking') is that word's verb;
        # 'member' beside 'membership' is a noun of its own
        found = [n for n in pool if n in wanted.nouns and not any(n + "ing" == t or t + "ing" == n for t in taken)]
        if wanted.ranked:
            found.sort(key=wanted.nouns.index)
        if found:
            roles[role] = found[0]
            taken.add(found[0])
    return roles


def shape_scores(frame: BriefFrame, library: PartLibrary) -> dict[str, int]:
    """How many distinct trigger words or phrases of each shape the brief holds."""
    text = " " + " ".join(tokens(frame.brief)) + " "
    scores = {}
    for name, shape in library.shapes.items():
        # counted by stem, so 'competitor' and 'competitors' are one word of the brief, not two
        hits = {" ".join(tokens(t)) for t in shape.triggers if f" {' '.join(tokens(t))} " in text}
        scores[name] = len(hits)
    return scores


def choose_shape(frame: BriefFrame, library: PartLibrary) -> tuple[Shape, str]:
    """The shape whose triggers the brief meets most (at its minimum), else the transactions shape."""
    scores = shape_scores(frame, library)
    fitting = [(s, n) for n, s in scores.items() if s >= library.shapes[n].min_trigger_score]
    if not fitting:
        return library.shapes["transactions"], "no special shape's words in the brief: events of the business"
    score, name = max(fitting)
    return library.shapes[name], f"{score} of the brief's words call for it"


# --------------------------------------------------------------------------- blueprint or composition


def brief_entities(frame: BriefFrame, library: PartLibrary | None = None) -> list[str]:
    """The brief's own nouns for the composer's entity roles (no defaults): what its tables must hold."""
    library = library or load_parts()
    roles = brief_roles(frame, library.vocabulary)
    return [noun for role, noun in roles.items() if role in ENTITY_ROLES]


def _table_words(blueprint: Blueprint) -> set[str]:
    """Stems of the blueprint's table and column names, descriptions and values: what its data speaks of."""
    words = set()
    for source, text in blueprint_texts(blueprint):
        if source not in ("table", "column", "value"):
            continue  # keywords and statements name what a brief may say, not what the tables hold
        words |= {stem(w) for w in tokens(text.replace("_", " "))}
    return words


def blueprint_covers(blueprint: Blueprint, nouns: list[str]) -> list[str]:
    """The nouns whose word a table or column name of the blueprint holds."""
    words = _table_words(blueprint)
    return [n for n in nouns if stem(n.split()[-1]) in words]


def _chain_size(blueprint: Blueprint, frame: BriefFrame, library: PartLibrary) -> int | None:
    """How many outlets the blueprint's story has when the brief speaks of one ('Rosa runs a small bakery')."""
    outlet = brief_roles(frame, library.vocabulary).get("outlet")
    if outlet is None or not _one_outlet(frame, outlet, library.vocabulary):
        return None
    from schemas.serialize import spec_to_data
    from tasks.design.shape import lexicon, table_for_entity

    data = spec_to_data(blueprint.spec)
    table = table_for_entity(data, outlet, lexicon())
    if table is None or table.get("role") != "dimension":
        return None
    rows = table.get("rows") or round((table.get("ratio") or 0) * blueprint.spec.scale)
    return rows if rows > 1 else None


def blueprint_kpis(blueprint: Blueprint, frame: BriefFrame) -> list[str]:
    """The brief's KPIs the blueprint asks or can compute from its own columns (as the designer would)."""
    from schemas.serialize import spec_to_data
    from tasks.design.kpi_questions import asked_by, kpi_question

    data = spec_to_data(blueprint.spec)
    return [k.key for k in frame.kpis if asked_by(k, data["questions"]) or kpi_question(data, k) is not None]


def route(frame: BriefFrame, chosen: str, ranked: list[DomainMatch], *, forced: bool) -> tuple[str, str]:
    """The blueprint to vary, or ``composed``, with the reason gate 1 shows.

    A blueprint is kept when it matches confidently, its tables hold at least half of the brief's entities,
    and the brief calls for no special shape (a survey, a panel ...) that its tables lack.
    """
    if chosen == COMPOSED_DOMAIN:
        return chosen, "chosen with --domain compose"
    if forced:
        return chosen, ""
    confidence = match_confidence(ranked)
    if not confidence.confident:
        return COMPOSED_DOMAIN, f"no blueprint clearly fits ({confidence.reason})"
    library = load_parts()
    blueprint = get_blueprint(chosen)
    nouns = brief_entities(frame, library)
    covered = blueprint_covers(blueprint, nouns)
    missing = [n for n in nouns if n not in covered]
    # a counted entity ("10 coworking centres") weighs double: the brief sizes a table that must exist
    counted = {_singular(c.entity.lower(), library.vocabulary) for c in frame.counts}
    weight = {n: 2 if n in counted else 1 for n in nouns}
    held = sum(weight[n] for n in covered) / max(1, sum(weight.values()))
    if len(nouns) >= 2 and held < COVERAGE_MIN:
        return COMPOSED_DOMAIN, (
            f"the {chosen} blueprint matches the words, but its tables hold {len(covered)} of the brief's "
            f"{len(nouns)} entities (missing: {', '.join(missing)})"
        )
    if (size := _chain_size(blueprint, frame, library)) is not None:
        return COMPOSED_DOMAIN, f"the brief is about one business; the {chosen} blueprint is a chain of {size}"
    computed = blueprint_kpis(blueprint, frame)
    if len(frame.kpis) >= 2 and 3 * len(computed) < len(frame.kpis):
        return COMPOSED_DOMAIN, (
            f"the {chosen} blueprint computes {len(computed)} of the brief's {len(frame.kpis)} KPIs "
            f"({', '.join(k.name for k in frame.kpis)})"
        )
    shape, _ = choose_shape(frame, library)
    if shape.shape != "transactions":
        words = _table_words(blueprint)
        if not any(stem(t.split()[-1]) in words for t in shape.triggers if f" {t} " in f" {frame.brief.lower()} "):
            return COMPOSED_DOMAIN, f"the brief calls for a {shape.shape} challenge, which the {chosen} blueprint lacks"
    held = f"; its tables hold {len(covered)} of the brief's {len(nouns)} entities" if nouns else ""
    return chosen, confidence.reason + held


# --------------------------------------------------------------------------- the template words


@dataclass
class Composition:
    """What the composer decided: roles, features, places, catalog, and the template words they give."""

    shape: Shape
    roles: dict[str, str]
    features: set[str]
    places: Places
    catalog: Catalog
    window: tuple[dt.date, dt.date]
    currency: str
    words: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    campaigns: list[dict] = field(default_factory=list)  # name, start, end (and type) of each campaign
    brief: str = ""


def _needed(node: dict, features: set[str]) -> bool:
    # a need "a|b" is met by either feature (word_solar|word_energy: any of the brief's words), "!a" by its absence
    def met(n: str) -> bool:
        return n[1:] not in features if n.startswith("!") else n in features

    return all(any(met(n) for n in need.split("|")) for need in node.get("needs", []))


def _window_words(start: dt.date, end: dt.date) -> dict[str, str]:
    span = (end - start).days
    late = start + dt.timedelta(days=int(span * 2 / 3))
    late = late.replace(day=1)
    return {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "history_start": start.replace(year=start.year - 2).isoformat(),
        "late_start": late.isoformat(),
        "late_label": f"{late:%B %Y}",
        "month_count": str((end.year - start.year) * 12 + end.month - start.month + 1),
    }


STATE_LIKE = frozenset({"state", "province", "territory", "region", "country"})


def template_words(comp: Composition, vocabulary: Vocabulary) -> dict[str, str]:
    words: dict[str, str] = {"currency": comp.currency}
    for role in ROLE_ORDER:
        noun = comp.roles.get(role, role)
        many = plural(noun, vocabulary)
        words[role] = _snake(noun)
        words[role + "s"] = _snake(many)
        words[role + "_title"] = noun.title()
        words[role + "_words"] = noun
        words[role + "s_words"] = many
    words["staffs"] = _snake(plural(comp.roles.get("staff", "staff"), vocabulary))
    money = vocabulary.money_words.get(comp.roles.get("event", ""), "revenue")
    words["money"], words["money_col"] = money, _snake(money)
    words["capacity_unit"] = "places"
    words["state_also"] = "" if "place_is_state" in comp.features else ", state"
    words["quantity_expr"] = "quantity" if "quantity" in comp.features else "1"
    words["quantity_expr_f"] = "f.quantity" if "quantity" in comp.features else "1"
    words["typical_price"] = "25"
    words.update(_price_words(comp, vocabulary))
    words["campaign_count"] = str(max(1, len(comp.campaigns)))
    words["item_rows"] = str(sum(len(c.items) for c in comp.catalog.categories.values()))
    for i, place in enumerate(comp.places.names[:6], 1):
        words[f"place_{i}"] = place
        words[f"place_slug_{i}"] = _snake(place) or f"place_{i}"
    words.update(_window_words(*comp.window))
    words["plan_factor"] = _plan_factor(words["place"], comp.places.names)
    return words


def _plan_factor(column: str, places: list[str]) -> str:
    """How much more than its actual volume each place's target asks (drawn per place, seeded by the places),
    so some places beat their targets and others miss them."""
    rng = random.Random("plan:" + "|".join(places))
    expression = "1.0"
    for place in reversed(places):
        factor = round(rng.uniform(0.85, 1.25), 2)
        expression = f"where({column} == '{place.replace(chr(39), '’')}', {factor}, {expression})"
    return expression


# --------------------------------------------------------------------------- tables


def _catalog_for(frame: BriefFrame, catalogs: list[Catalog]) -> Catalog:
    """The catalog whose words the brief holds most (the first of equals); the generic one when none."""
    brief = {stem(w) for w in tokens(frame.brief)} | {stem(n) for n in frame.nouns}

    def hits(catalog: Catalog) -> int:
        return sum(all(stem(p) in brief for p in w.split()) for w in catalog.words)

    best = max(catalogs, key=hits)
    return best if hits(best) else next((c for c in catalogs if c.generic), catalogs[-1])


def _catalog_item(roles: dict[str, str], catalog: Catalog) -> dict[str, str]:
    """A catalog made for the brief's business names its items ('ticket type' at a zoo, not 'animal' from
    'animal encounters'), unless the brief's own item noun is one of the catalog's words."""
    if catalog.generic:
        return roles
    own = roles.get("item")
    if own is None or stem(own.split()[-1]) not in {stem(w.split()[-1]) for w in [*catalog.words, catalog.item]}:
        return {**roles, "item": catalog.item}
    return roles


def _catalog_items(comp: Composition) -> list[tuple[str, str]]:
    """(item name, category) of the catalog; a generic catalog's names are made from the brief's item noun."""
    cats = comp.catalog.categories
    if comp.catalog.generic:
        title = comp.words["item_title"]
        return [(f"{cat} {title} {name}", cat) for cat, c in cats.items() for name in c.items]
    return [(name, cat) for cat, c in cats.items() for name in c.items]


def _places_generator(gen: dict, comp: Composition) -> dict:
    level = gen["level"]
    if level == "place":
        values = comp.places.names
        if gen.get("weighted"):
            return {"kind": "categorical", "values": values, "weights": comp.places.weights}
        return {"kind": "categorical", "values": values}
    mapping = comp.places.states if level == "state" else comp.places.tiers
    cases = {name: {"kind": "categorical", "values": [mapping.get(name, "Other")]} for name in comp.places.names}
    return {"kind": "conditional", "on": comp.words["place"], "cases": cases}


def _catalog_generator(gen: dict, comp: Composition, rate: float) -> dict:
    field_ = gen["field"]
    items = _catalog_items(comp)
    if field_ == "unit":
        return {"kind": "categorical", "values": comp.catalog.units or UNIT_FALLBACK}
    if field_ == "name":
        return {"kind": "categorical", "values": [n for n, _ in items]}
    if field_ == "category":
        cases = {n: {"kind": "categorical", "values": [c]} for n, c in items}
        return {"kind": "conditional", "on": f"{comp.words['item']}_name", "cases": cases}
    cases = {}
    for name, c in comp.catalog.categories.items():
        low, high = (round(p * rate, 2) for p in c.price)
        if high <= low:
            high = low + 0.01
        cases[name] = {"kind": "numeric", "distribution": "uniform", "low": low, "high": high, "min": 0, "decimals": 2}
    return {"kind": "conditional", "on": "category", "cases": cases}


def _price_words(comp: Composition, vocabulary: Vocabulary) -> dict[str, str]:
    """Round price points around the catalog's middle price, in the challenge's currency (survey price bands)."""
    edges = sorted(p for c in comp.catalog.categories.values() for p in c.price)
    middle = edges[len(edges) // 2] * vocabulary.currency_rates.get(comp.currency, 1.0)
    points = (("price_low", 0.6), ("price_mid", 1), ("price_high", 1.6), ("price_top", 2.4))
    return {name: f"{float(f'{middle * f:.2g}'):g}" for name, f in points}


def _campaigns(frame: BriefFrame, shape: Shape, window: tuple[dt.date, dt.date]) -> list[dict]:
    """The brief's dated promotions, else the defaults of the shape's campaigns generator, each placed in the
    window's latest year that holds it with a week before it."""
    dated = [e for e in frame.events if e.kind == "promotion" and e.start]
    if dated:
        strip = r"(?i)\s+(?:promotions?|campaigns?|promos?|offers?)$"
        return [{"name": re.sub(strip, "", e.what), "start": e.start, "end": e.end or e.start} for e in dated]
    gens = [c["generator"] for p in shape.facts.values() for c in p.columns]
    gens = [g for g in gens if g.get("kind") == "campaigns"]
    defaults = next((g["defaults"] for g in gens if g.get("defaults")), [])
    text = f" {' '.join(tokens(frame.brief))} "

    def said(entry: dict) -> bool:  # "summer and back-to-school campaigns" keep those two
        return f" {' '.join(t for t in tokens(entry['name']) if t != 'sale')} " in text

    found = []
    for entry in [d for d in defaults if said(d)] or defaults:
        for year in range(window[1].year, window[0].year - 1, -1):
            start = dt.date(year, entry["month"], entry["day"])
            end = start + dt.timedelta(days=entry.get("days", 7) - 1)
            if window[0] + dt.timedelta(days=7) <= start and end <= window[1]:
                found.append({**entry, "name": f"{entry['name']} {year}", "start": start, "end": end})
                break
    return found


def _campaign_generator(gen: dict, comp: Composition) -> dict:
    """{kind: campaigns, field: name|start|end|days|type}: a campaign's name, dates, length or type by its key."""
    if not comp.campaigns:
        raise SpecError("the shape needs campaigns: the brief names no dated promotion and no default fits the window")
    key = gen.get("on", "campaign_id")  # campaign i is the i-th campaign, so every table keyed on it agrees

    def case(c: dict) -> dict:
        # plain values, not dates or expressions: a window move shifts those, and the brief's dates are fixed
        if gen["field"] == "name":
            return {"kind": "categorical", "values": [c["name"]]}
        if gen["field"] in ("start", "end"):
            return {"kind": "categorical", "values": [c[gen["field"]].isoformat()]}
        if gen["field"] == "days":
            return {"kind": "categorical", "values": [(c["end"] - c["start"]).days + 1]}
        words = set(tokens(c["name"]))
        types = gen.get("types", {})
        named = next((t for t, ws in types.items() if words & set(ws)), gen.get("default", "Promotion"))
        found = c.get("type") or named
        return {"kind": "categorical", "values": [found]}

    cases = {str(number): case(c) for number, c in enumerate(comp.campaigns, 1)}
    return {"kind": "conditional", "on": key, "cases": cases}


def _brief_values(gen: dict, comp: Composition) -> dict:
    """{kind: brief_values, values: {value: [brief phrases]}, default: [values]}: the values the brief names
    (two or more: "BOGOF, 25% OFF and cashback promotions"), else the default ones, drawn uniformly."""
    text = f" {' '.join(tokens(comp.brief))} "
    named = [v for v, phrases in gen["values"].items() if any(f" {' '.join(tokens(p))} " in text for p in phrases)]
    return {"kind": "categorical", "values": named if len(named) >= 2 else gen["default"]}


def _outlet_rows(frame: BriefFrame, comp: Composition, library: PartLibrary, scale: int) -> int:
    """How many outlets the challenge holds: the brief's count of them, else the size of the outlet table part."""
    noun = stem(comp.roles.get("outlet", "outlet").split()[-1])
    counted = next((c.value for c in frame.counts if stem(c.entity.split()[-1]) == noun), None)
    part = next((p for p in comp.shape.facts.values() if p.table == "dim_${outlets}"), library.dimensions["outlet"])
    return counted or _size(part, comp, scale).get("rows", 1)


def _column(column: dict, comp: Composition, rate: float) -> dict:
    column = {k: v for k, v in column.items() if k != "needs"}
    gen = column["generator"]
    if gen.get("kind") == "places":
        column["generator"] = _places_generator(gen, comp)
    elif gen.get("kind") == "brief_values":
        column["generator"] = _brief_values(gen, comp)
    elif gen.get("kind") == "campaigns":
        column["generator"] = _campaign_generator(gen, comp)
    elif gen.get("kind") == "catalog":
        column["generator"] = _catalog_generator(gen, comp, rate)
    return column


def _table(part: TablePart, comp: Composition, rate: float, scale: int) -> dict:
    raw = part.model_dump(exclude_none=True)
    filled = fill_template({k: v for k, v in raw.items() if k != "columns"}, comp.words)
    columns = []
    for column in raw["columns"]:
        if _needed(column, comp.features):
            columns.append(_column(fill_template(column, comp.words), comp, rate))
    table: dict[str, Any] = {
        "name": filled["table"],
        "description": filled.get("description", ""),
        "role": filled.get("role", "fact"),
        "columns": columns,
    }
    for key in ("primary_key", "aggregate_of"):
        if filled.get(key):
            table[key] = filled[key]
    if table["role"] != "aggregate":
        table.update(_size(part, comp, scale))
    return table


def _size(part: TablePart, comp: Composition, scale: int) -> dict:
    if any(c["generator"].get("kind") == "campaigns" and c["generator"]["field"] == "name" for c in part.columns):
        return {"rows": len(comp.campaigns)}
    if part.rows_from_catalog:
        return {"rows": sum(len(c.items) for c in comp.catalog.categories.values())}
    if part.rows_from_units:
        return {"rows": len(comp.catalog.units or UNIT_FALLBACK)}
    if "place" in part.needs or part.table.startswith("dim_${place"):
        return {"rows": len(comp.places.names)}
    if part.table.startswith("dim_${outlet") and "one_outlet" in comp.features:
        return {"rows": 1}
    if part.rows is not None:
        return {"rows": part.rows}
    ratio = next((r for f, r in part.ratio_if.items() if f in comp.features), part.ratio)
    if ratio is not None and (part.rows_min or part.rows_max):
        rows = round(ratio * scale)
        rows = max(part.rows_min or 1, min(part.rows_max or rows, rows))
        return {"rows": rows}
    return {"ratio": ratio} if ratio is not None else {}


# --------------------------------------------------------------------------- features


def _features(
    frame: BriefFrame, shape: Shape, roles: dict[str, str], places: Places, window: tuple, vocabulary: Vocabulary
) -> set[str]:
    features = set(roles)
    for role in ROLE_ORDER:
        if role not in roles:
            features.add("no_" + role)
    if "outlet" not in roles:
        features.add("no_outlet")
    event = roles.get("event", "")
    if event in shape.single_events:
        features.add("single_event")
    elif event and "item" in roles:
        features.add("quantity")
    if "person" in roles:
        features.add("business_person" if roles["person"] in vocabulary.business_persons else "consumer")
    words = set(tokens(frame.brief))
    features.update(f"word_{w}" for w in words)  # a part may need a word of the brief (needs: [word_solar])
    if frame.fiscal_year is not None and frame.fiscal_year.start_month != 1:
        features.add("fiscal_year")  # the designer adds fiscal_year to the calendar; questions may use it
    if words & {"channel", "online", "app", "website", "offline"}:
        features.update({"channel", "channel_person"})
    # a district or city lies in a state; a state-level brief's place is the state itself (no second column)
    features.add("place_is_state" if roles.get("place") in STATE_LIKE else "place_below_state")
    if "place" in roles and roles["place"] in ("city", "town"):
        features.add("place_is_city")
    else:
        features.add("place_not_city")  # a shape's columns keyed on city tiers need an alternative
    features.add("several_places" if len(places.names) >= 3 else "few_places")
    # a state's own department compares districts, not states
    features.add("several_states" if len(set(places.states.values())) >= 2 else "one_state")
    if "outlet" in roles:
        features.add("one_outlet" if _one_outlet(frame, roles["outlet"], vocabulary) else "several_outlets")
    start, end = window
    if (end.year - start.year) * 12 + end.month - start.month + 1 >= 6:
        features.add("long_window")  # cohorts need months after them inside the data
    years = end.year - start.year + (1 if end.month == 12 else 0)
    features.add("multi_year" if years >= 2 else "single_year")
    if years >= 3:
        features.add("three_years")
    if words & {"target", "targets", "goal", "goals", "quota", "budget"} or any(
        k.kind == "target_attainment" or k.target is not None for k in frame.kpis
    ):
        features.add("targets")
    return features


def _one_outlet(frame: BriefFrame, outlet: str, vocabulary: Vocabulary) -> bool:
    """'A multi-specialty hospital', 'a small bakery': one outlet, unless a count or a plural says more."""
    if any(_singular(c.entity.lower(), vocabulary) == outlet for c in frame.counts):
        return False
    text = frame.brief.lower()
    outlets = vocabulary.roles["outlet"].nouns if "outlet" in vocabulary.roles else [outlet]
    plurals = {plural(n, vocabulary) for n in [*outlets, "property", "location", "branch", "unit"]}
    if any(re.search(rf"\b{re.escape(p)}\b", text) for p in plurals):
        return False  # "its properties", "our stores": more than one
    single = rf"\b(?:a|an|one|its|our)\s+(?:[\w-]+\s+){{0,3}}{re.escape(outlet)}\b(?!\s+(?:{CHAIN_WORDS}))"
    return bool(re.search(single, text))


CHAIN_WORDS = "chain|chains|group|network|brand|company|operator|business|franchise|platform|app"


def _window(frame: BriefFrame, today: dt.date) -> tuple[dt.date, dt.date]:
    """The brief's window (with its baseline), else a span around its dated events, else the last two years."""
    if frame.window is not None:
        start = frame.window.baseline.start if frame.window.baseline else frame.window.start
        return min(start, frame.window.start), frame.window.end
    dated = sorted(e.start for e in frame.events if e.start)
    if dated:
        first, last = dated[0], dated[-1]
        start = dt.date(first.year - (1 if first.month <= 6 else 0), 1 if first.month <= 6 else 7, 1)
        end_year = last.year if last.month <= 6 else last.year + 1
        end = dt.date(end_year, 6, 30) if last.month <= 6 else dt.date(end_year, 3, 31)
        return start, min(end, dt.date(today.year, today.month, 1) - dt.timedelta(days=1))
    return dt.date(today.year - 2, 1, 1), dt.date(today.year - 1, 12, 31)


# --------------------------------------------------------------------------- questions


def _questions(shape: Shape, comp: Composition, limit: int) -> list[dict]:
    """One question per pattern, in the shape's order, up to ``limit``; ids q01, q02 ..."""
    kept: list[dict] = []
    patterns: set[str] = set()
    for template in shape.questions:
        if len(kept) >= limit:
            break
        if not _needed(template, comp.features) or template["pattern"] in patterns:
            continue
        patterns.add(template["pattern"])
        question = fill_template({k: v for k, v in template.items() if k not in ("needs", "pattern")}, comp.words)
        question["id"] = f"q{len(kept) + 1:02d}"
        question["sql"] = question["sql"].strip()
        kept.append(question)
    return kept


def _scenarios(shape: Shape, comp: Composition) -> tuple[list[dict], list[dict]]:
    """The shape's background scenarios that fit, and the question that reveals each (linked by name)."""
    found, questions = [], []
    for template in shape.scenarios:
        if not _needed(template, comp.features):
            continue
        scenario = fill_template({k: v for k, v in template.items() if k not in ("needs", "question")}, comp.words)
        scenario["name"] = _snake(scenario["name"])[:60] or "scenario"
        found.append(scenario)
        if "question" in template:
            question = fill_template(template["question"], comp.words)
            question.update(sql=question["sql"].strip(), scenario=scenario["name"])
            questions.append(question)
    return found, questions


# --------------------------------------------------------------------------- the blueprint


def _statement(shape: Shape, comp: Composition, frame: BriefFrame) -> str:
    template = string.Template(shape.statement).safe_substitute(comp.words)
    return template if "{company}" in template else "{company}: " + template


def _kind_of_business(frame: BriefFrame, comp: Composition) -> str:
    """The word the brief puts before its outlet noun ('12 fitness clubs' -> 'fitness'), if it is a word."""
    outlet = comp.roles.get("outlet")
    if not outlet:
        return ""
    many = comp.words["outlets_words"]
    match = re.search(rf"\b([A-Za-z][a-z-]+) (?:{re.escape(many)}|{re.escape(outlet)})\b", frame.brief, re.IGNORECASE)
    stop = {str(w).lower() for w in load_lexicon().words.get("stop_words", [])}
    if not match or match.group(1).lower() in _NOT_KINDS | stop:
        return ""
    return match.group(1).lower()


_NOT_KINDS = {
    "the",
    "a",
    "an",
    "its",
    "their",
    "our",
    "of",
    "in",
    "and",
    "or",
    "new",
    "some",
    "several",
    "many",
    "runs",
    "operates",
    "has",
    "owns",
    "manages",
    "all",
    "each",
    "per",
    "by",
    "at",
    "to",
    "from",
    "with",
}


def _profile(comp: Composition, frame: BriefFrame) -> str:
    if own := appositive(frame):
        return own
    parts = []
    if "one_outlet" in comp.features:
        outlet = comp.words["outlet_words"]
        parts.append(f"runs {'an' if outlet[:1] in 'aeiou' else 'a'} {outlet}")
    elif "outlet" in comp.roles:
        served = comp.roles["outlet"] in load_parts().vocabulary.served_outlets
        parts.append(f"{'works with' if served else 'runs'} {comp.words['outlets_words']}")
    if "person" in comp.roles:
        parts.append(f"serves {comp.words['persons_words']}")
    did = " and ".join(parts) or f"records its {comp.words['events_words']}"
    organisation = (_organisation(frame) or "").lower().split() or [""]
    if organisation[-1] in PUBLIC_BODIES:
        return PUBLIC_BODY_PROFILE
    kind = _kind_of_business(frame, comp)
    if organisation[-1] and organisation[-1] == comp.roles.get("outlet"):
        return " ".join(["a", kind, comp.roles["outlet"]]).replace("  ", " ")  # "a multi-specialty hospital"
    article = "an" if kind[:1] in "aeiou" and kind else "a"
    return f"{article} {kind} business that {did}" if kind else f"a business that {did}"


def compose(
    frame: BriefFrame,
    *,
    rows: int = 10_000,
    locale: str = "en_US",
    today: dt.date | None = None,
    shape_name: str | None = None,
    roles: dict[str, str] | None = None,
    directory: Path | None = None,
) -> tuple[Blueprint, list[str]]:
    """A blueprint composed for ``frame`` (its spec valid and generatable), with notes on what was chosen.

    Raises:
        InputError: the brief names no business noun at all, or ``shape_name`` is unknown.
    """
    library = load_parts(directory)
    if shape_name is not None:
        if shape_name not in library.shapes:
            raise InputError(f"no composition shape '{shape_name}'; the shapes are: {', '.join(library.shapes)}")
        shape, why = library.shapes[shape_name], "chosen by name"
    else:
        shape, why = choose_shape(frame, library)
    chosen_roles = roles
    roles = read_roles(frame, shape, library.vocabulary)
    if chosen_roles:  # a model's choice (tasks.design.parts_llm) wins over the vocabulary's reading
        roles = {**roles, **{r: n.lower() for r, n in chosen_roles.items() if r in ROLE_ORDER}}
    elif not brief_entities(frame, library) and not frame.kpis:
        raise InputError(
            "the brief names no business noun (what is sold, who buys, where): say what the business does, "
            "e.g. 'A chain of 12 gyms wants to know why members cancel'"
        )
    window = _window(frame, today or dt.date.today())
    places = places_for(frame, roles.get("place", "city"), locale, library.vocabulary)
    geo = frame.geography
    single = "outlet" in roles and _one_outlet(frame, roles["outlet"], library.vocabulary)
    if single and not (geo.cities or geo.states or geo.city_count):
        # one bakery serves one town: customers from six cities would be noise, not a story
        places = Places(places.level, places.names[:1], [1.0], places.states, places.tiers)
    currency = currency_of(frame, locale)
    rate = library.vocabulary.currency_rates.get(currency, 1.0)
    catalog = _catalog_for(frame, library.catalogs)
    roles = _catalog_item(roles, catalog)
    features = _features(frame, shape, roles, places, window, library.vocabulary)
    comp = Composition(shape, roles, features, places, catalog, window, currency)
    comp.campaigns = _campaigns(frame, shape, window)
    comp.brief = frame.brief
    comp.words = template_words(comp, library.vocabulary)
    comp.words["outlet_rows"] = str(_outlet_rows(frame, comp, library, rows))
    tables = [
        _table(library.dimensions[name], comp, rate, rows)
        for name in shape.dimensions
        if name in library.dimensions and _needed(library.dimensions[name].model_dump(), features)
    ]
    tables += [_table(part, comp, rate, rows) for part in shape.facts.values() if _needed(part.model_dump(), features)]
    patterns = _questions(shape, comp, MAX_QUESTIONS)
    kpi_questions: list[dict] = []
    kept = MIN_PATTERN_QUESTIONS  # a KPI these already compute needs no question of its own
    notes = add_kpis(tables, kpi_questions, frame.kpis, comp.words, features, patterns[:kept])
    scenarios, revealing = _scenarios(shape, comp)
    # the brief's dated events add a before/after question each (two for a price rise or a crisis): room for
    # them, so the brief's KPI questions are never the ones trimmed
    reserve = min(4, 2 * sum(1 for e in frame.events if e.start))
    room = max(kept, MAX_TOTAL_QUESTIONS - len(kpi_questions) - len(revealing) - reserve)
    questions = patterns[:room] + kpi_questions + revealing
    for number, question in enumerate(questions, 1):
        question["id"] = f"q{number:02d}"
    data = {
        "challenge": {
            "id": f"composed-{shape.shape.replace('_', '-')}",
            "title": string.Template(shape.title).safe_substitute(comp.words).capitalize(),
            "domain": COMPOSED_DOMAIN,
            "company": {"name": "The company", "profile": _profile(comp, frame)},
            "problem_statement": "Placeholder statement, replaced by the variation step.",
            "time_window": {"start": window[0].isoformat(), "end": window[1].isoformat()},
            "locale": locale,
            "currency": currency,
        },
        "scale": rows,
        "tables": tables,
        "questions": questions,
        "scenarios": scenarios,
    }
    count = len(questions)
    blueprint = Blueprint.model_validate(
        {
            "domain": COMPOSED_DOMAIN,
            "title": data["challenge"]["title"],
            "description": f"Composed from building blocks: {shape.description}",
            "keywords": sorted({*roles.values(), shape.shape, "composed"})[:12] or ["composed", "brief", "parts"],
            "company_names": [frame.company.name if frame.company else _company_name(comp, frame)],
            "stakeholders": shape.stakeholders,
            "problem_statements": [_statement(shape, comp, frame)],
            "question_count": (max(1, count), max(1, count)),  # composed questions are chosen by pattern already
            "spec": data,
        }
    )
    role_text = ", ".join(f"{r} = {n}" for r, n in roles.items())
    notes = [f"composed from parts: shape {shape.shape} ({why}); roles: {role_text}", *comp.notes, *notes]
    return blueprint, notes


ORGANISATIONS = (
    "department|ministry|council|agency|authority|board|municipality|corporation|cooperative|co-operative|"
    "trust|society|utility|hospital|insurer|bank|university|school|college|club|charity|foundation|zoo|museum"
)
PUBLIC_BODIES = {"department", "ministry", "council", "agency", "authority", "board", "municipality"}


def _organisation(frame: BriefFrame) -> str | None:
    """'A state health department publishes ...' -> 'The State Health Department': the brief's own subject
    when it names no company (a public body or a cooperative is not 'Nova Hospital Co.')."""
    first = re.split(r"(?<=[.!?])\s", frame.brief.strip(), maxsplit=1)[0]
    match = re.match(rf"(?i)(?:a|an|the)\s+((?:[\w-]+\s+){{0,3}}?(?:{ORGANISATIONS}))\b", first)
    if not match:
        return None
    return "The " + " ".join(w[:1].upper() + w[1:] for w in match.group(1).split())


def _company_name(comp: Composition, frame: BriefFrame | None = None) -> str:
    if frame is not None and (own := _organisation(frame)):
        return own
    rng = random.Random(" ".join(sorted(comp.roles.values())))
    first = rng.choice(["North", "Blue", "Bright", "Urban", "Prime", "Green", "Summit", "Harbor", "Silver", "Nova"])
    noun = comp.roles.get("outlet") or comp.roles.get("event") or "works"
    return f"{first} {noun.title()} Co."
