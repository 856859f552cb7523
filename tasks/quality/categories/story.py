"""The story check: a schema-valid dataset can still be unpublishable, so these rules guard the story.

Each rule is a check of one of the 8 categories (its rule name starts with ``story_``), built here and
added by its category's builder, so planted messiness explains a failure exactly as for other checks:

- distribution: no constant measure in a fact or aggregate table (``story_constant``); every planted
  scenario measures its stated size within ``SCENARIO_TOLERANCE`` or within sampling noise, and some
  question is linked to it (``story_scenario``);
- coverage: every question's answer is non-degenerate (not all-empty, not one value repeated in a
  table or time series), and an answer that compares groups or periods shows a difference
  (``story_answer``);
- consistency: each linked question's verdict agrees with the measured size (``story_verdict``); no
  year outside the data's window and no place absent from the data in author-facing text
  (``story_years``, ``story_places``); targets differ from their actuals (``story_targets``).

Sizes are compared on the log scale with the standard error of the measured ratio, so a small
dataset whose effect is lost in noise is not called a defect, while a large one must hit the size.
A scenario with a segment and a window is recovered within its segment (inside vs outside the
window), and the answer key's own measured size must agree with it.
The answers are those of the answer key (``tasks.answers.answer_question``), computed once per run by
``tasks.quality.measure.MeasureContext``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas.expressions import expression_names
from schemas.results import Answer
from schemas.spec import ChallengeSpec, DerivedGenerator, ScenarioSpec, TableSpec
from tasks.quality.categories.common import Schema, Z, present_columns, q
from tasks.quality.checks import Check, Measured

STORY = "story_"  # rule prefix of every story check (``schemas.quality.Finding.story``)
SCENARIO_TOLERANCE = 0.15  # a planted effect measures within 15 % of its stated ratio
DIFFERENCE_MIN = 0.01  # an answer comparing groups or periods spreads by at least 1 % of its mean
TARGET_TOLERANCE = 0.01  # a target within 1 % of its actual in every cell is a copy, not a target
NUMERIC = ("int", "float", "decimal")
DATE_PARTS = frozenset({"year", "quarter", "month", "day", "hour", "weekday"})
GEOGRAPHY = re.compile(r"(^|_)(city|cities|state|states|province|town|district|metro)($|_)")
YEAR = re.compile(r"(?<![\w$€£₹.,])(FY\s?)?((?:19|20)\d{2})(?![\d%])(?!\.\d)(?!,\d{3})", re.IGNORECASE)
# a year in these phrases is the company's history, not a claim about the data
HISTORY = re.compile(r"\b(founded|established|incorporated|since its founding|started|began trading)\b[^.]{0,20}$")


def is_story(rule: str) -> bool:
    return rule.startswith(STORY)


# --------------------------------------------------------------------------- distribution: constant measures


def _declared_constant(gen: Any) -> bool:
    """Whether the generator itself can give only one value (the spec declares a constant)."""
    from tasks.quality.categories.validity import allowed_values, numeric_bounds

    values = allowed_values(gen)
    if values is not None:
        return len({str(v) for v in values}) <= 1
    bounds = numeric_bounds(gen)
    if bounds is not None and bounds[0] is not None and bounds[0] == bounds[1]:
        return True
    return isinstance(gen, DerivedGenerator) and not expression_names(gen.expression)


def _date_part(gen: Any) -> bool:
    """``year(order_date)`` and the like: a calendar label, not a measure."""
    if not isinstance(gen, DerivedGenerator):
        return False
    return re.match(rf"^\s*({'|'.join(DATE_PARTS)})\s*\(", gen.expression) is not None


def measure_columns(table: TableSpec) -> list[str]:
    """Numeric non-key columns of a fact or aggregate table that are not declared constant."""
    if table.role not in ("fact", "aggregate"):
        return []
    keys = set(table.primary_key)
    out = []
    for column in table.columns:
        gen = column.generator
        if column.type not in NUMERIC or column.name in keys or column.unique:
            continue
        if gen.kind in ("sequence", "foreign_key", "group_key", "date_sequence"):
            continue
        if _declared_constant(gen) or _date_part(gen):
            continue
        out.append(column.name)
    return out


def constant_measure_checks(schema: Schema) -> list[Check]:
    """A measure that is the same in every row of a fact or aggregate table tells no story."""
    checks = []
    for table in schema.spec.tables:
        if schema.rows.get(table.name, 0) < 2:
            continue
        present = {c.name for c in present_columns(schema, table)}
        for column in measure_columns(table):
            if column not in present:
                continue
            col = schema.ref(table.name, column)
            checks.append(
                Check(
                    "distribution",
                    table.name,
                    column,
                    f"{STORY}constant",
                    "expect_column_unique_value_count_to_be_between",
                    f"story: {table.name}.{column} is a measure and takes more than one value",
                    "aggregate",
                    # a column with fewer than 2 filled rows cannot vary: it passes (completeness speaks)
                    sql=(
                        f"CASE WHEN count({col}) < 2 THEN 2 ELSE "
                        f"(CASE WHEN count(DISTINCT {col}) > 1 AND coalesce(stddev_pop(CAST({col} AS DOUBLE)), 0) "
                        f"> 1e-9 * greatest(abs(avg(CAST({col} AS DOUBLE))), 1e-9) THEN count(DISTINCT {col}) "
                        f"ELSE 1 END) END"
                    ),
                    min_value=2,
                    inputs=frozenset({(table.name, column)}),
                    fix=(
                        f"make {table.name}.{column} vary with what drives it (a distribution, a conditional by "
                        f"segment, or the right aggregate function), or declare it constant with a one-value generator"
                    ),
                )
            )
    return checks


# --------------------------------------------------------------------------- distribution: planted scenarios


def scenario_measures(spec: ChallengeSpec, frames: Mapping[str, pd.DataFrame]) -> list[dict]:
    """Each scenario as the answer key measures it (``tasks.engine.scenarios.measured_effect``, within its
    segment for one with a segment and a window: ``tasks.answers.segment_effect``), plus its recovery.

    ``recovered`` is the planted ratio isolated in the data: a scenario with a segment and a window
    compares the segment inside the window with the same segment outside it (the key compares with
    every other row, so a segment that differs anyway inflates it); ``se`` is the standard error of
    log(recovered). A scenario that cannot be measured on these frames (a column made text by
    messiness) carries ``error`` instead of failing the run.
    """
    from tasks.answers import segment_effect
    from tasks.engine.scenarios import measured_effect, scenario_stats

    out = []
    for scenario in spec.scenarios:
        try:
            frame = frames[scenario.table]
            columns = {c: frame[c].reset_index(drop=True) for c in frame.columns}
            stats = scenario_stats(scenario, columns, len(frame))
            result = measured_effect(scenario, stats)
            within = segment_effect(scenario, columns, len(frame))
            if within is not None and within[0] is not None:  # the answer key's figure (tasks.answers.within_segment)
                result["measured"], result["method"] = round(within[0], 4), within[1]
            result["recovered"], result["se"], result["recovered_method"] = _recover(
                scenario, stats.counts, columns, len(frame), result["measured"]
            )
        except Exception as exc:  # noqa: BLE001 - the error is the finding's text
            result = {
                "scenario": scenario.name,
                "table": scenario.table,
                "effect": scenario.effect.kind,
                "stated": getattr(scenario.effect, "factor", None),
                "measured": None,
                "recovered": None,
                "se": math.inf,
                "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            }
        out.append(result)
    return out


def _odds_se(*cells: float) -> float:
    return math.sqrt(sum(1.0 / c for c in cells)) if all(c > 0 for c in cells) else math.inf


def _recover(
    scenario: ScenarioSpec, c: Mapping[str, float], columns: Mapping[str, pd.Series], n: int, key: float | None
) -> tuple[float | None, float, str]:
    """(the planted ratio as the data holds it, the standard error of its log, how it was measured)."""
    from tasks.engine.scenarios import scenario_mask

    effect, cond = scenario.effect, scenario.condition
    if effect.kind == "volume":  # the key's odds ratio / rows per day already isolate the effect
        if cond.where and cond.date_column:
            return key, _odds_se(c["seg_win"], c["rest_win"], c["seg_out"], c["rest_out"]), "odds ratio"
        return key, _odds_se(c["in"], c["rows"] - c["in"]), "rows per day inside vs outside the window"
    inside = scenario_mask(scenario, dict(columns), n)
    base, method = ~inside, "inside vs outside its condition"
    if cond.where and cond.date_column and (cond.start or cond.end):
        same = scenario_mask(scenario, dict(columns), n, window=False) & ~inside
        if same.any():
            base, method = same, "its segment inside vs outside the window"
    values = columns[effect.column].reset_index(drop=True)
    if effect.kind == "scale":
        x = pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)
        means, parts = [], []
        for part in (x[inside], x[base]):
            part = part[~np.isnan(part)]
            mean = float(part.mean()) if len(part) else 0.0
            if len(part) < 2 or mean == 0:
                return None, math.inf, f"mean {effect.column}, {method}"
            means.append(mean)
            parts.append(float(part.var()) / (len(part) * mean**2))
        return means[0] / means[1], math.sqrt(sum(parts)), f"mean {effect.column}, {method}"
    top = max(effect.multipliers, key=lambda k: effect.multipliers[k])
    hit = (values.astype(str) == top).to_numpy()
    cells = [float((hit & inside).sum()), float((~hit & inside).sum()), float((hit & base).sum())]
    cells.append(float((~hit & base).sum()))
    method = f"odds of '{top}', {method}"
    if not all(cells):
        return None, math.inf, method
    return (cells[0] / cells[1]) / (cells[2] / cells[3]), _odds_se(*cells), method


def _stated(scenario: ScenarioSpec) -> float:
    effect = scenario.effect
    if effect.kind == "shift_weights":
        return effect.multipliers[max(effect.multipliers, key=lambda k: effect.multipliers[k])]
    return effect.factor


def _sigmas(a: float, b: float, se: float) -> float:
    """How many standard errors apart two ratios are on the log scale (inf when the noise is unknown)."""
    return abs(math.log(a / b)) / se if se and math.isfinite(se) else math.inf


def size_problems(scenario: ScenarioSpec, stats: Mapping[str, Any] | None) -> list[str]:
    """Why a planted scenario is not in the data, or not in the answer key, at its stated size (empty: it is)."""
    stated = _stated(scenario)
    if stats is None or stats.get("error"):
        return [f"{scenario.name}: cannot be measured ({(stats or {}).get('error', 'not measured')})"]
    recovered, se = stats.get("recovered"), stats.get("se", math.inf)
    if recovered is None or recovered <= 0:
        return [
            f"{scenario.name}: its effect cannot be measured on the data ({stats.get('rows_in_scope', 0)} rows where "
            f"its condition holds; {stats.get('recovered_method') or 'no method'}): the planted event is not there"
        ]
    problems = []
    off = recovered / stated - 1
    if abs(off) > SCENARIO_TOLERANCE and _sigmas(recovered, stated, se) > Z:
        problems.append(
            f"{scenario.name}: measured x{recovered:.3g} ({stats.get('recovered_method', '')}) where x{stated:.3g} "
            f"is stated ({off:+.0%}, {_sigmas(recovered, stated, se):.1f} standard errors off)"
        )
    key = stats.get("measured")
    if key and abs(key / recovered - 1) > SCENARIO_TOLERANCE and _sigmas(key, recovered, se) > Z:
        problems.append(
            f"{scenario.name}: the answer key states a measured x{key:.3g} ({stats.get('method', '')}) but the planted "
            f"effect in the data is x{recovered:.3g} ({stats.get('recovered_method', '')})"
        )
    return problems


def scenario_checks(schema: Schema) -> list[Check]:
    """Every planted scenario is in the data at its stated size and some question is linked to it."""
    spec = schema.spec
    checks = []
    for scenario in spec.scenarios:
        if not schema.has(scenario.table):
            continue
        linked = [question.id for question in spec.questions if question.scenario == scenario.name]

        def measure(ctx, scenario=scenario, linked=linked) -> Measured:
            problems = size_problems(scenario, ctx.scenario(scenario.name))
            if not linked:
                problems.append(f"{scenario.name}: no question is linked to it, so no learner is asked to find it")
            return Measured(len(problems), len(problems), tuple(problems))

        reads = {scenario.table} | _condition_columns(scenario)
        checks.append(
            Check(
                "distribution",
                scenario.table,
                getattr(scenario.effect, "column", None),
                f"{STORY}scenario[{scenario.name}]",
                "expect_column_values_to_be_between (planted effect size)",
                f"story: scenario {scenario.name} ({scenario.effect.kind}) is in the data at its stated size "
                f"(within {SCENARIO_TOLERANCE:.0%} or sampling noise) and a question asks about it",
                "python",
                python=measure,
                min_value=0,
                max_value=0,
                inputs=frozenset({(scenario.table, c) for c in reads if c != scenario.table}),
                fix=(
                    "check the scenario's condition (its window inside the data's, its segment values present) and "
                    "that no later rule overwrites the column it changes; link a question with `scenario: "
                    f"{scenario.name}` that compares its segment or period"
                ),
            )
        )
    return checks


def _condition_columns(scenario: ScenarioSpec) -> set[str]:
    cond = scenario.condition
    names = {cond.date_column} if cond.date_column else set()
    if cond.where:
        names |= expression_names(cond.where)
    if getattr(scenario.effect, "column", None):
        names.add(scenario.effect.column)
    return names


# --------------------------------------------------------------------------- consistency: verdicts


def verdict_problems(
    answer: Answer | None, scenario: ScenarioSpec | None, stats: Mapping[str, Any] | None
) -> list[str]:
    """Where the answer key's verdict on a planted finding contradicts the measured size."""
    if answer is None or answer.error:
        return []  # an answer that failed is coverage's finding
    check = answer.scenario_check
    if check is None:
        return []
    if scenario is None or check.effect == "unknown":
        return [f"{answer.question_id}: linked to '{answer.scenario}', which is not a scenario of this spec"]
    if not stats or not stats.get("recovered") or stats.get("error"):
        return []  # not measurable: the scenario check says so
    measured, se = float(stats["recovered"]), float(stats.get("se", math.inf))
    if not (math.isfinite(se) and se > 0):
        return []
    strength = math.log(measured) / se
    planted_up = _stated(scenario) > 1
    clear = abs(strength) > Z  # the data shows an effect beyond noise
    verdict = {True: "shows it", False: "does not show it clearly", None: "cannot tell"}[check.shown]
    size = f"x{measured:.3g} ({100 * (measured - 1):+.0f}%)"
    if clear and (strength > 0) == planted_up and check.shown is not True:
        return [
            f"{answer.question_id}: the verdict says '{verdict}' ({check.evidence}) while the data measures "
            f"{size} for {scenario.name}"
        ]
    if clear and (strength > 0) != planted_up and check.shown is True:
        return [
            f"{answer.question_id}: the verdict says '{verdict}' while the data measures {size}, against the "
            f"planted direction of {scenario.name}"
        ]
    return []


def verdict_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    checks = []
    for question in spec.questions:
        if not question.scenario:
            continue
        scenario = next((s for s in spec.scenarios if s.name == question.scenario), None)

        def measure(ctx, question=question, scenario=scenario) -> Measured:
            stats = ctx.scenario(scenario.name) if scenario is not None else None
            problems = verdict_problems(ctx.answer(question.id), scenario, stats)
            return Measured(len(problems), len(problems), tuple(problems))

        checks.append(
            Check(
                "consistency",
                "questions",
                question.id,
                f"{STORY}verdict",
                "expect_column_values_to_be_in_set (verdict agrees with the measured size)",
                f"story: question {question.id}'s planted-finding verdict agrees with the measured size of "
                f"{question.scenario}",
                "python",
                python=measure,
                min_value=0,
                max_value=0,
                inputs=frozenset({(t, None) for t in _tables_read(spec, question.sql)}),
                fix=(
                    "make the question's result hold the scenario's segment values and its period inside and "
                    "outside the window (GROUP BY them), or link the question to the scenario it really shows"
                ),
            )
        )
    return checks


# --------------------------------------------------------------------------- coverage: non-degenerate answers


def answer_frame(answer: Answer) -> pd.DataFrame:
    return pd.DataFrame(answer.rows, columns=answer.columns)


def answer_problems(answer: Answer | None, shape: str) -> list[str]:
    """Why an answer tells nothing: all empty, one value repeated, or no difference between what it compares."""
    if answer is None or answer.error or answer.row_count == 0:
        return []  # coverage's non_empty_answer reports it
    frame = answer_frame(answer)
    qid = answer.question_id
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        return [f"{qid}: {', '.join(empty)} is empty in every row of the answer"]
    measure = answer.measure
    if measure is None or measure not in frame.columns:
        return []
    values = pd.to_numeric(frame[measure], errors="coerce").dropna()
    if shape == "scalar" or len(values) < 2:
        return []
    distinct = values.round(9).nunique()
    if distinct == 1:
        return [f"{qid}: {measure} is {values.iloc[0]:.6g} in every one of the {len(values)} rows (a flat answer)"]
    if not answer.label_columns:
        return []
    mean = float(values.abs().mean())
    spread = float(values.max() - values.min())
    if mean > 0 and spread / mean < DIFFERENCE_MIN and not _another_column_differs(frame, answer, measure):
        return [
            f"{qid}: {measure} differs by only {spread / mean:.2%} of its mean across the {len(values)} "
            f"{'/'.join(answer.label_columns)} rows ({values.min():.6g} to {values.max():.6g}): no difference to find"
        ]
    return []


def _another_column_differs(frame: pd.DataFrame, answer: Answer, measure: str) -> bool:
    """An answer of several measures (admissions, patient days and ALOS by year) tells something when one of
    them differs between its rows, even if the measure the key leads with is flat (ALOS 4.62 to 4.65)."""
    for column in frame.columns:
        if column in (measure, *answer.label_columns):
            continue
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        mean = float(values.abs().mean()) if len(values) >= 2 else 0.0
        if mean > 0 and float(values.max() - values.min()) / mean >= DIFFERENCE_MIN:
            return True
    return False


def answer_checks(schema: Schema) -> list[Check]:
    spec = schema.spec
    checks = []
    for question in spec.questions:

        def measure(ctx, question=question) -> Measured:
            problems = answer_problems(ctx.answer(question.id), question.answer_shape)
            return Measured(len(problems), len(problems), tuple(problems))

        checks.append(
            Check(
                "coverage",
                "questions",
                question.id,
                f"{STORY}answer",
                "expect_column_unique_value_count_to_be_between (answer)",
                f"story: question {question.id}'s answer is not degenerate and shows a difference between what it "
                f"compares",
                "python",
                python=measure,
                min_value=0,
                max_value=0,
                inputs=frozenset({(t, None) for t in _tables_read(spec, question.sql)}),
                fix=(
                    "make the measure depend on the groups or periods the question compares (a conditional generator "
                    "by segment, a trend, a scenario), or ask a question whose answer varies"
                ),
            )
        )
    return checks


def _tables_read(spec: ChallengeSpec, sql: str) -> set[str]:
    return {t.name for t in spec.tables if re.search(rf"\b{re.escape(t.name)}\b", sql)}


# --------------------------------------------------------------------------- consistency: text vs data


def author_texts(spec: ChallengeSpec) -> list[tuple[str, str]]:
    """(where, text) of every sentence an author or learner reads about the story."""
    texts = [("title", spec.challenge.title), ("problem statement", spec.challenge.problem_statement)]
    texts += [(f"question {question.id}", question.text) for question in spec.questions]
    texts += [(f"scenario {s.name}", s.description) for s in spec.scenarios]
    return texts


def data_years(schema: Schema, con) -> tuple[int, int]:
    """First and last year the data holds: the spec's window and the dated columns of facts, aggregates, calendars."""
    window = schema.spec.challenge.time_window
    low, high = window.start.year, window.end.year
    for table in schema.spec.tables:
        for column in present_columns(schema, table):
            is_year = column.type == "int" and re.search(r"(^|_)(year|yr|fy)($|_)", column.name)
            if column.type not in ("date", "datetime") and not is_year:
                continue
            if table.role not in ("fact", "aggregate") and column.generator.kind != "date_sequence":
                continue  # birth or sign-up dates of a dimension reach back before the story's years
            col = schema.ref(table.name, column.name)
            value = col if is_year else f"year({col})"
            first, last = con.execute(f"SELECT min({value}), max({value}) FROM {q(table.name)}").fetchone()
            if first is not None and int(first) >= 1800 and int(last) <= 2200:
                low, high = min(low, int(first)), max(high, int(last))
    return low, high


def held_years(schema: Schema, con) -> set[int]:
    """Every year some date column of the data holds: a cohort question may name a sign-up year of a dimension."""
    years: set[int] = set()
    for table in schema.spec.tables:
        for column in present_columns(schema, table):
            if column.type not in ("date", "datetime"):
                continue
            col = schema.ref(table.name, column.name)
            rows = con.execute(f"SELECT DISTINCT year({col}) FROM {q(table.name)} WHERE {col} IS NOT NULL").fetchall()
            years.update(int(r[0]) for r in rows if r[0] is not None)
    return years


def year_problems(
    texts: list[tuple[str, str]], low: int, high: int, held: set[int] | frozenset[int] = frozenset()
) -> list[str]:
    """Years named in the texts that fall outside [low, high] (a fiscal year may end one year later) and that
    no date of the data holds (``held``: a dimension's sign-up years, named by a cohort question)."""
    problems = []
    for where, text in texts:
        for match in YEAR.finditer(text):
            year, fiscal = int(match.group(2)), bool(match.group(1))
            if HISTORY.search(text[max(0, match.start() - 40) : match.start()].lower()):
                continue
            if low <= year <= high + (1 if fiscal else 0) or year in held:
                continue
            problems.append(f"{where} names {match.group(0).strip()}, outside the data's {low}-{high}")
    return problems


def year_checks(schema: Schema) -> list[Check]:
    def measure(ctx) -> Measured:
        low, high = data_years(schema, ctx.con)
        problems = year_problems(author_texts(schema.spec), low, high, held_years(schema, ctx.con))
        return Measured(len(problems), len(problems), tuple(problems[:5]))

    return [
        Check(
            "consistency",
            "challenge",
            None,
            f"{STORY}years",
            "expect_column_values_to_be_between (years named in the text)",
            "story: every year the statement, questions and scenarios name is a year the data holds",
            "python",
            python=measure,
            min_value=0,
            max_value=0,
            fix=(
                "render the text's years from the spec's time window (and the scenarios' windows) instead of writing "
                "them, or move the window to the years the text is about"
            ),
        )
    ]


@lru_cache(maxsize=4)
def _gazetteer(domains_dir: str) -> frozenset[str]:
    """Place names the project knows: the blueprints' city and state values (every locale) and Faker's lists.

    The blueprint files are read as plain YAML (libyaml when present): only their values are needed,
    and validating 16 specs would cost seconds per process.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    names: set[str] = set()
    for path in sorted(Path(domains_dir).glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 - a safe loader
        except (OSError, yaml.YAMLError):
            continue  # a broken blueprint is the library's error, not this run's
        _collect_places(data, names)
    try:
        from faker.providers.address.en_IN import Provider as India
        from faker.providers.address.en_US import Provider as States

        names.update(States.states)
        names.update(India.cities)
        names.update(India.states)
    except ImportError:  # Faker is a dependency; without it only the blueprints' places are known
        pass
    # a place is a capitalised name; 'Other' or 'Online' in a city column is no place
    return frozenset(n for n in names if len(n) >= 4 and n[:1].isupper() and n not in _NOT_PLACES)


def _collect_places(node: Any, names: set[str]) -> None:
    """Values of city/state columns anywhere in a blueprint: columns, locale values and locale generators."""
    if isinstance(node, list):
        for item in node:
            _collect_places(item, names)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("name"), str) and GEOGRAPHY.search(node["name"]) and isinstance(node.get("generator"), dict):
        _generator_values(node["generator"], names)
    for key, value in node.items():
        if key in ("values", "generators") and isinstance(value, dict):  # a locale: 'table.column' -> ...
            for ref, item in value.items():
                if GEOGRAPHY.search(str(ref).split(".")[-1]):
                    if isinstance(item, list):
                        names.update(str(v) for v in item)
                    elif isinstance(item, dict):
                        _generator_values(item, names)
        _collect_places(value, names)


def _generator_values(gen: dict, names: set[str]) -> None:
    if isinstance(gen.get("values"), list):
        names.update(str(v) for v in gen["values"])
    cases = gen.get("cases")
    if isinstance(cases, dict):
        for case in [*cases.values(), gen.get("default")]:
            if isinstance(case, dict):
                _generator_values(case, names)


_NOT_PLACES = frozenset({"Other", "Others", "Online", "Unknown", "Remote", "None", "Rural", "Urban", "Metro"})


def data_text(schema: Schema, con) -> str:
    """Every distinct text value of the data, lower-cased, one per line (dimension-sized columns)."""
    values: list[str] = []
    for table in schema.spec.tables:
        for column in present_columns(schema, table):
            if column.type not in ("string", "category"):
                continue
            col = q(column.name)
            rows = con.execute(
                f"SELECT DISTINCT CAST({col} AS VARCHAR) FROM {q(table.name)} WHERE {col} IS NOT NULL LIMIT 20000"
            ).fetchall()
            values.extend(str(r[0]) for r in rows)
    return "\n".join(values).lower()


def place_problems(texts: list[tuple[str, str]], places: frozenset[str], held: str, company: str) -> list[str]:
    """Known place names in the texts that no text value of the data holds (nor the company's name)."""
    problems = []
    for where, text in texts:
        for place in sorted(places):
            if place not in text or place.lower() in company.lower():  # 'Pune Traders' names no store place
                continue
            if not re.search(rf"(?<!\w){re.escape(place)}(?!\w)", text):
                continue
            if re.search(rf"(?<!\w){re.escape(place.lower())}(?!\w)", held):
                continue
            problems.append(f"{where} names {place}, which no column of the data holds")
    return problems


def place_checks(schema: Schema) -> list[Check]:
    from tasks.settings import get_settings

    spec = schema.spec
    geography = frozenset(
        (t.name, c.name) for t in spec.tables for c in present_columns(schema, t) if GEOGRAPHY.search(c.name)
    )

    def measure(ctx) -> Measured:
        places = _gazetteer(str(get_settings().domains_dir))
        problems = place_problems(author_texts(spec), places, data_text(schema, ctx.con), spec.challenge.company.name)
        return Measured(len(problems), len(problems), tuple(problems[:5]))

    return [
        Check(
            "consistency",
            "challenge",
            None,
            f"{STORY}places",
            "expect_column_values_to_be_in_set (places named in the text)",
            "story: every city or state the statement, questions and scenarios name is in the data",
            "python",
            python=measure,
            min_value=0,
            max_value=0,
            inputs=geography,
            fix=(
                "render the text's places from the data's geography values (the locale's cities), or add the place "
                "to the geography columns"
            ),
        )
    ]


# --------------------------------------------------------------------------- consistency: targets vs actuals

_TARGET_WORDS = frozenset({"target", "targets", "goal", "goals", "planned", "budget", "budgeted", "quota"})
_ACTUAL_WORDS = frozenset({"actual", "actuals", "achieved", "realised", "realized"})


def _base(name: str) -> tuple[frozenset[str], bool]:
    """(the name's words without target/actual words, whether it is a target)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    target = any(w in _TARGET_WORDS for w in words)
    return frozenset(w for w in words if w not in _TARGET_WORDS | _ACTUAL_WORDS), target


def target_pairs(columns: list[str]) -> list[tuple[str, str]]:
    """(target, actual) column pairs: ``target_net_sales`` with ``net_sales`` or ``actual_net_sales``."""
    bases = {c: _base(c) for c in columns}
    pairs = []
    for target, (base, is_target) in bases.items():
        if not is_target or not base:
            continue
        actual = next((c for c, (b, t) in bases.items() if not t and b == base and c != target), None)
        if actual is not None:
            pairs.append((target, actual))
    return pairs


def close_everywhere(targets: pd.Series, actuals: pd.Series) -> bool:
    """Whether every cell with both values has the target within ``TARGET_TOLERANCE`` of the actual."""
    t, a = pd.to_numeric(targets, errors="coerce"), pd.to_numeric(actuals, errors="coerce")
    both = t.notna() & a.notna()
    if not both.any():
        return False
    t, a = t[both].astype(float), a[both].astype(float)
    return bool(((t - a).abs() <= TARGET_TOLERANCE * np.maximum(a.abs(), 1e-12)).all())


def target_checks(schema: Schema) -> list[Check]:
    """Targets drawn apart from actuals: in a table's column pairs, and in the answers that set them side by side."""
    spec = schema.spec
    checks = []
    for table in spec.tables:
        if schema.rows.get(table.name, 0) < 1:
            continue
        numeric = [c.name for c in present_columns(schema, table) if c.type in NUMERIC]
        for target, actual in target_pairs(numeric):
            t, a = schema.ref(table.name, target), schema.ref(table.name, actual)
            gap, size = f"abs(CAST({t} AS DOUBLE) - CAST({a} AS DOUBLE))", f"abs(CAST({a} AS DOUBLE))"
            differs = f"{gap} > {TARGET_TOLERANCE!r} * {size}"
            checks.append(
                Check(
                    "consistency",
                    table.name,
                    target,
                    f"{STORY}targets",
                    "expect_column_pair_values_to_be_equal (not: targets apart from actuals)",
                    f"story: {table.name}.{target} is more than {TARGET_TOLERANCE:.0%} away from {actual} in some row",
                    "aggregate",
                    sql=(
                        f"CASE WHEN count(*) FILTER (WHERE {t} IS NOT NULL AND {a} IS NOT NULL) = 0 THEN 1 "
                        f"ELSE count(*) FILTER (WHERE {t} IS NOT NULL AND {a} IS NOT NULL AND {differs}) END"
                    ),
                    min_value=1,
                    inputs=frozenset({(table.name, target), (table.name, actual)}),
                    fix=f"draw {target} apart from {actual} (a factor with its own spread per row), not as a copy",
                )
            )
    for question in spec.questions:
        if not re.search("|".join(_TARGET_WORDS), question.sql, re.IGNORECASE):
            continue

        def measure(ctx, question=question) -> Measured:
            answer = ctx.answer(question.id)
            if answer is None or answer.error or not answer.row_count:
                return Measured(0)
            frame = answer_frame(answer)
            problems = [
                f"{question.id}: {target} is within {TARGET_TOLERANCE:.0%} of {actual} in all {len(frame)} rows"
                for target, actual in target_pairs(list(frame.columns))
                if close_everywhere(frame[target], frame[actual])
            ]
            return Measured(len(problems), len(problems), tuple(problems))

        checks.append(
            Check(
                "consistency",
                "questions",
                question.id,
                f"{STORY}targets",
                "expect_column_pair_values_to_be_equal (not: targets apart from actuals)",
                f"story: question {question.id}'s targets differ from its actuals",
                "python",
                python=measure,
                min_value=0,
                max_value=0,
                inputs=frozenset({(t, None) for t in _tables_read(spec, question.sql)}),
                fix="draw the targets apart from the actuals (a factor with its own spread per row), not as a copy",
            )
        )
    return checks


def consistency_story_checks(schema: Schema) -> list[Check]:
    return verdict_checks(schema) + year_checks(schema) + place_checks(schema) + target_checks(schema)


def distribution_story_checks(schema: Schema) -> list[Check]:
    return constant_measure_checks(schema) + scenario_checks(schema)


def coverage_story_checks(schema: Schema) -> list[Check]:
    return answer_checks(schema)
