"""The KPIs of a brief, built into a composed challenge: the columns their parts need and a question each.

Contract: ``add_kpis(tables, questions, kpis, words, features)`` looks up each KPI in
``domains/parts/kpi_recipes.yaml`` (columns to add, a status value the main fact takes, a question template);
a KPI without a recipe gets one by its kind (a rate: a yes/no column and its monthly share; an average or a
sum: a numeric column and its monthly mean or total; a count: the monthly count of the main fact). KPIs of
other kinds (growth, share of a market, target attainment) are left to the shape's own questions and named
in the notes. Columns and questions are spec data, validated with the rest of the spec.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from schemas.brief import KpiFact
from schemas.errors import SpecError
from tasks.design.brief_reader import load_lexicon
from tasks.design.kpi_questions import asked_by, same_question
from tasks.settings import get_settings

STATUS_BASE = "Completed"


@lru_cache(maxsize=4)
def _recipes(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    del mtime
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))["recipes"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SpecError(f"{path}: {exc}; it needs a 'recipes:' mapping of KPI key -> recipe") from exc


def load_recipes(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or get_settings().domains_dir / "parts" / "kpi_recipes.yaml"
    return _recipes(str(path), path.stat().st_mtime)


def fill_template(node: Any, words: dict[str, str], *, strict: bool = True) -> Any:
    """Every string (and dict key) of ``node`` with its ${word}s filled (``string.Template``: SQL braces stay).

    Strict (the part files): an unknown word names itself in the error. Not strict (KPI recipes, whose generic
    texts may be filled twice): an unknown word stays as written.
    """
    if isinstance(node, str):
        if not strict:
            return string.Template(node).safe_substitute(words)
        try:
            return string.Template(node).substitute(words)
        except KeyError as exc:
            word = exc.args[0]
            raise SpecError(f"part template '{node[:60]}' uses ${{{word}}}, which no role or feature gives") from exc
    if isinstance(node, list):
        return [fill_template(v, words, strict=strict) for v in node]
    if isinstance(node, dict):
        return {fill_template(k, words, strict=strict): fill_template(v, words, strict=strict) for k, v in node.items()}
    return node


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def display_name(name: str) -> str:
    """'Churn rate' reads 'churn rate' inside a sentence; 'ADR' and 'RevPAR' keep their capitals."""
    return name if name[1:2].isupper() else name[:1].lower() + name[1:]


def _add_status(table: dict, value: str, share: float) -> None:
    status = next((c for c in table["columns"] if c["name"] == "status"), None)
    if status is None:
        status = {
            "name": "status",
            "type": "category",
            "description": "Outcome of the row.",
            "generator": {"kind": "categorical", "values": [STATUS_BASE], "weights": [1.0]},
        }
        # before the columns computed from it (a reason column conditional on the status)
        table["columns"].insert(len(table["columns"]) - 1, status)
    gen = status["generator"]
    if value in gen["values"]:
        return
    gen["values"].append(value)
    gen["weights"].append(share)
    gen["weights"][0] = round(max(0.05, 1.0 - sum(gen["weights"][1:])), 4)
    status["description"] = f"Outcome: {', '.join(map(str, gen['values']))}."


def _add_columns(table: dict, columns: list[dict]) -> None:
    names = {c["name"] for c in table["columns"]}
    for column in columns:
        if column["name"] not in names:
            table["columns"].append(column)
            names.add(column["name"])


def _generic(kpi: KpiFact, words: dict[str, str]) -> dict[str, Any] | None:
    """A recipe by the KPI's kind, for a KPI the recipe file does not hold."""
    slug = _slug(re.sub(r"(?i)\b(rate|pct|percent|share|average|avg)\b", " ", kpi.key.replace("_", " "))) or kpi.key
    monthly = "SELECT date_trunc('month', ${event}_date) AS month, COUNT(*) AS ${events}, {measure}\n"
    monthly += "FROM fact_${events}\nGROUP BY 1\nORDER BY 1"
    if kpi.kind == "rate":
        entry = load_lexicon().kpis.get(kpi.key)
        share = entry.typical if entry and entry.typical else 0.22  # on time 0.88, cancelled 0.08 (kpis.yaml)
        column = {
            "name": slug,
            "type": "bool",
            "description": f"Whether the ${{event_words}} counts towards the {kpi.name}.",
            "generator": {"kind": "categorical", "values": [True, False], "weights": [share, round(1 - share, 4)]},
        }
        measure = f"ROUND(100.0 * AVG(CASE WHEN {slug} THEN 1 ELSE 0 END), 1) AS {slug}_pct"
        text = (
            f"What was the {display_name(kpi.name)} (share of ${{events_words}} marked {slug.replace('_', ' ')}) "
            "each month?"
        )
        return {"table": "event", "columns": [column], "text": text, "sql": monthly.replace("{measure}", measure)}
    if kpi.kind in ("average", "sum", "score"):
        name = _slug(kpi.parts[0]) if kpi.parts else slug
        column = {
            "name": name,
            "type": "float",
            "description": f"{kpi.name}: {name.replace('_', ' ')} of the ${{event_words}}.",
            "generator": {"kind": "numeric", "distribution": "lognormal", "median": 10, "sigma": 0.5, "decimals": 2},
        }
        function = "SUM" if kpi.kind == "sum" else "AVG"
        measure = f"ROUND({function}({name}), 2) AS {function.lower()}_{name}"
        what = "total" if kpi.kind == "sum" else "average"
        text = f"What was the {display_name(kpi.name)} ({what} {name.replace('_', ' ')}) each month?"
        return {"table": "event", "columns": [column], "text": text, "sql": monthly.replace("{measure}", measure)}
    if kpi.kind == "count":
        text = f"How many ${{events_words}} were there each month ({display_name(kpi.name)}), and how did it move?"
        return {"table": "event", "text": text, "sql": monthly.replace(", {measure}", "")}
    return None


def _shape_of(sql: str, recipe: dict[str, Any]) -> dict[str, str]:
    """A monthly answer is a time series drawn as a line; anything else a table with the recipe's chart."""
    if re.search(r"(?i)\bAS month\b", sql):
        return {"answer_shape": "time_series", "chart": recipe.get("chart", "line")}
    return {"answer_shape": "table", "chart": recipe.get("chart", "bar")}


def _fact(tables: list[dict], which: str, words: dict[str, str]) -> dict | None:
    name = f"fact_{words['events']}" if which == "event" else f"fact_{words['activitys']}"
    return next((t for t in tables if t["name"] == name), None)


def add_kpis(
    tables: list[dict],
    questions: list[dict],
    kpis: list[KpiFact],
    words: dict[str, str],
    features: set[str],
    asked: list[dict] = (),
) -> list[str]:
    """Columns and a question for each of the brief's KPIs the composition can compute; a note for each.

    A KPI that one of the ``asked`` questions already names (by a lexicon alias) gets no second question.
    """
    recipes = load_recipes()
    notes = []
    for kpi in kpis:
        if by := asked_by(kpi, list(asked)):
            text = next(q["text"] for q in asked if q["id"] == by)
            notes.append(f"KPI {kpi.name}: asked by the question '{text}'")
            continue
        recipe = recipes.get(kpi.key) or _generic(kpi, words)
        if recipe is None:
            notes.append(f"KPI {kpi.name}: left to the shape's questions ({kpi.kind})")
            continue
        table = _fact(tables, recipe.get("table", "event"), words)
        if table is None or not all(n in features for n in recipe.get("needs", [])):
            # a shop's "visits" are its sales when it logs no visits: the recipe of the KPI's kind on the main fact
            recipe = _generic(kpi, words)
            table = _fact(tables, "event", words) if recipe else None
        if table is None or recipe is None:
            notes.append(f"KPI {kpi.name}: the composition has no table for it")
            continue
        local = {**words, "kpi_name": display_name(kpi.name), "kpi_key": kpi.key}
        sql = fill_template(recipe["sql"], local, strict=False)
        if same := same_question(sql, [*asked, *questions]):
            # a cinema's "visits" and "tickets sold" are one count: one question, not two identical ones
            notes.append(f"KPI {kpi.name}: computed by the question '{same['text']}'")
            continue
        if status := recipe.get("status"):
            _add_status(table, status["value"], float(status["share"]))
        _add_columns(table, fill_template(recipe.get("columns", []), local, strict=False))
        question = {
            "id": f"q{len(questions) + 1:02d}",
            "text": fill_template(recipe["text"], local, strict=False),
            "sql": sql.strip(),
            "skills": recipe.get("skills", ["aggregation", "ratios"]),
            **_shape_of(sql, recipe),
        }
        questions.append(question)
        notes.append(f"KPI {kpi.name}: a question computes it ({question['text']})")
    return notes
