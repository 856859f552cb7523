"""Learn-from-sample mode, step 2: fit SDV on the sample, sample a synthetic dataset of any size.

Why one GaussianCopula per table rather than SDV's ``HMASynthesizer``: SDV 2.0 community HMA refuses
schemas of more than 5 tables or relationship depth above 2 (customers -> orders -> order_items is
already too deep) and samples about 130 rows/s, far from the millions of rows a challenge may need.
So each table gets a ``GaussianCopulaSynthesizer`` fitted on its learned columns, and the project
owns what SDV would otherwise copy or break:

- **keys**: primary keys are the spec's sequences; each foreign key is drawn from the parent's
  synthetic rows with the sample's children-per-parent distribution. As in HMA, the number of
  children is modelled as an extra column of the parent (``__children__<child>__<key>``), so it
  keeps its correlation with the parent's values (a returned order has a return row);
- **lookups** copy the parent's value through the drawn key, **date offsets** add a synthetic delay
  to the (synthetic) reference date, so an order never ships before it is placed;
- **identifying columns** (names, emails, phones, addresses) come from Faker, and any value that
  appears in the sample is replaced: nothing identifying is ever copied.

Sampling is seeded from the challenge seed (numpy streams and SDV's copula random state).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas.errors import GenerationError
from schemas.sample import SdvScores, TableSdvScore
from schemas.spec import ChallengeSpec, ForeignKeyGenerator, TableSpec
from tasks.engine.columns import sequence_values
from tasks.engine.evaluate import evaluate
from tasks.engine.fakerpool import POOL_SIZE, faker_pool
from tasks.engine.seed import derive_seed, rng_for
from tasks.engine.types import cast_table
from tasks.sample_learning import LearnedSample
from tasks.sdv_metadata import sdv_metadata

METHOD = "gaussian_copula_per_table"
CHILDREN = "__children__{child}__{column}"
OFFSET = "__offset__{column}"
SCORE_ROW_LIMIT = 50_000  # rows of the largest synthetic table SDV's reports read (a consistent subset)
_UNIT_SECONDS = {"days": 86_400, "hours": 3_600, "minutes": 60}
_PASSED_THROUGH = {
    "sequence",
    "foreign_key",
    "lookup",
    "faker",
    "date_offset",
    "conditional",
    "date_sequence",
    "derived",
}


@dataclass
class TableModel:
    """One table's fitted synthesizer and what it models (None when the table has only keys)."""

    table: str
    columns: list[str]
    synthesizer: Any = None
    sample_rows: int = 0


@dataclass
class FittedModels:
    """Every table's model, fitted on the sample; sample it as often as needed."""

    models: dict[str, TableModel]
    fit_seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class SynthesisResult:
    """The synthetic dataset and how it was made.

    Attributes:
        tables: one DataFrame per spec table, typed like the rule engine's output.
        scores: SDV's diagnostic and quality scores against the sample.
        fit_seconds: time to fit the synthesizers.
        sample_seconds: time to sample the rows, keys and identifying columns.
        notes: what was done differently, for the report.
    """

    tables: dict[str, pd.DataFrame]
    scores: SdvScores
    fit_seconds: float
    sample_seconds: float
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- entry point


def synthesize(
    learned: LearnedSample, spec: ChallengeSpec, rows: int, work_dir: Path, *, score: bool = True
) -> SynthesisResult:
    """Fit on the sample, sample ``rows`` rows of the main table (others in proportion), and score.

    Args:
        learned: from ``learn_spec``; its typed sample is what the models learn.
        spec: the spec approved at the gate (``learned.spec`` or an edited copy).
        rows: rows of the main table (the spec's scale is set to it).
        work_dir: where the fitted models and the scores are written (``sdv/``).
        score: run SDV's diagnostic and quality reports (the slow part at large sizes).

    Returns:
        The synthetic tables, the scores, and the fit and sample times.

    Raises:
        GenerationError: a spec column with no sample data to learn from, or row counts a
            relationship's cardinality cannot meet.
    """
    if rows <= 0:
        raise GenerationError(f"rows must be a positive number, got {rows}")
    spec = spec.model_copy(update={"scale": rows})
    fitted = fit_models(learned, spec)
    started = time.perf_counter()
    tables = sample_tables(fitted, learned, spec)
    sample_seconds = time.perf_counter() - started
    scores = score_synthetic(learned, spec, tables) if score else _unscored(learned, tables)
    out = Path(work_dir) / "sdv"
    out.mkdir(parents=True, exist_ok=True)
    for name, model in fitted.models.items():
        if model.synthesizer is not None:
            model.synthesizer.save(str(out / f"{name}.pkl"))
    (out / "scores.json").write_text(scores.model_dump_json(indent=2) + "\n")
    (out / "sample_metadata.json").write_text(json.dumps(learned.metadata, indent=2, default=str) + "\n")
    return SynthesisResult(tables, scores, fitted.fit_seconds, sample_seconds, fitted.notes)


# --------------------------------------------------------------------------- fitting


def fit_models(learned: LearnedSample, spec: ChallengeSpec) -> FittedModels:
    """Fit one GaussianCopula per table on its learned columns plus its children-per-parent counts.

    Raises:
        GenerationError: a spec column (or table) that the sample does not have.
    """
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    started = time.perf_counter()
    models: dict[str, TableModel] = {}
    notes: list[str] = []
    for table in spec.tables:
        frame = _training_frame(learned, spec, table)
        model = TableModel(table.name, list(frame.columns), sample_rows=len(frame))
        if frame.columns.size:
            meta = Metadata.load_from_dict(
                {"tables": {table.name: {"columns": {c: _sdtype(table, c) for c in frame.columns}}}}
            )
            synthesizer = GaussianCopulaSynthesizer(meta, enforce_min_max_values=True, enforce_rounding=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                synthesizer.fit({table.name: frame})
            model.synthesizer = synthesizer
        models[table.name] = model
    return FittedModels(models, time.perf_counter() - started, notes)


def _training_frame(learned: LearnedSample, spec: ChallengeSpec, table: TableSpec) -> pd.DataFrame:
    """The sample columns a table's copula learns: values, date offsets and children counts."""
    if table.name not in learned.tables:
        raise GenerationError(
            f"table '{table.name}' is not in the sample ({', '.join(learned.tables)}); remove it from the spec",
            f"tables.{table.name}",
        )
    sample = learned.tables[table.name]
    data: dict[str, pd.Series] = {}
    for column in table.columns:
        kind = column.generator.kind
        if kind in _PASSED_THROUGH - {"date_offset"}:
            continue
        if column.name not in sample.columns:
            raise GenerationError(
                f"column '{column.name}' is not in the sample's {table.name}.csv, so there is nothing to learn it "
                "from; remove it from the spec or add it to the sample",
                f"tables.{table.name}.columns.{column.name}",
            )
        if kind == "date_offset":
            gen = column.generator
            reference = _sample_reference(learned, spec, table, gen.from_column)
            delta = _seconds(sample[column.name]) - _seconds(reference)
            data[OFFSET.format(column=column.name)] = delta / _UNIT_SECONDS[gen.unit]
        else:
            data[column.name] = _model_values(sample[column.name], column.type)
    for child in spec.tables:
        for column in child.columns:
            gen = column.generator
            if isinstance(gen, ForeignKeyGenerator) and gen.parent_table == table.name and child.name in learned.tables:
                keys = learned.tables[child.name][column.name].dropna()
                counts = sample[gen.parent_column].map(keys.value_counts()).fillna(0).astype("int64")
                data[CHILDREN.format(child=child.name, column=column.name)] = counts
    return pd.DataFrame(data).reset_index(drop=True)


def _model_values(values: pd.Series, column_type: str) -> pd.Series:
    """Sample values in dtypes SDV transforms well (nullable ints and booleans as plain objects/floats)."""
    if isinstance(values.dtype, pd.Int64Dtype):
        return values.astype("float64")
    if isinstance(values.dtype, pd.BooleanDtype):
        return values.astype(object)
    if column_type in ("date", "datetime"):
        return pd.to_datetime(values).astype("datetime64[ns]")
    return values


def _sdtype(table: TableSpec, name: str) -> dict[str, Any]:
    if name.startswith(("__children__", "__offset__")):
        return {"sdtype": "numerical"}
    column = table.column(name)
    if column.generator.kind == "categorical":
        return {"sdtype": "boolean"} if column.type == "bool" else {"sdtype": "categorical"}
    if column.type in ("date", "datetime"):
        return {"sdtype": "datetime"}
    if column.type in ("int", "float", "decimal"):
        return {"sdtype": "numerical"}
    if column.type == "bool":
        return {"sdtype": "boolean"}
    return {"sdtype": "categorical"}


def _sample_reference(learned: LearnedSample, spec: ChallengeSpec, table: TableSpec, ref: str) -> pd.Series:
    sample = learned.tables[table.name]
    if "." not in ref:
        return sample[ref]
    fk, parent_column = ref.split(".", 1)
    gen = table.column(fk).generator
    parent = learned.tables[gen.parent_table].drop_duplicates(gen.parent_column).set_index(gen.parent_column)
    return sample[fk].map(parent[parent_column])


def _seconds(stamps: pd.Series) -> pd.Series:
    """Dates as seconds since 1970 (float, NaN for missing)."""
    parsed = pd.to_datetime(stamps).astype("datetime64[s]")
    return parsed.astype("int64").where(parsed.notna(), np.nan).astype("float64")


# --------------------------------------------------------------------------- sampling


def sample_tables(fitted: FittedModels, learned: LearnedSample, spec: ChallengeSpec) -> dict[str, pd.DataFrame]:
    """Sample every table of ``spec`` at its scale: parents first, keys drawn through the children counts.

    Raises:
        GenerationError: row counts a relationship's cardinality cannot meet.
    """
    frames: dict[str, pd.DataFrame] = {}
    counts: dict[tuple[str, str], np.ndarray] = {}
    for name in _parents_first(spec):
        table = spec.table(name)
        n = _row_count(spec, table, counts)
        model = fitted.models[name]
        raw = _sample_model(model, n, spec)
        for column in raw.columns:
            if column.startswith("__children__"):
                child, fk = column[len("__children__") :].split("__", 1)
                counts[(child, fk)] = np.clip(np.round(raw[column].to_numpy(dtype=float, na_value=0.0)), 0, None)
        frame = _build_table(spec, table, raw, n, frames, counts, learned)
        if len(table.primary_key) > 1:  # a composite key (an aggregate's groups): each combination once
            frame = frame.drop_duplicates(table.primary_key).reset_index(drop=True)
        frames[name] = frame
    return {t.name: frames[t.name] for t in spec.tables}


def _parents_first(spec: ChallengeSpec) -> list[str]:
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name in path:
            return
        for rel in spec.relationships:
            if rel.child_table == name and rel.parent_table != name:
                visit(rel.parent_table, (*path, name))
        done.append(name)

    for table in spec.tables:
        visit(table.name, ())
    return done


def _row_count(spec: ChallengeSpec, table: TableSpec, counts: dict[tuple[str, str], np.ndarray]) -> int:
    calendar = next((c for c in table.columns if c.generator.kind == "date_sequence"), None)
    if calendar is not None:
        return len(_calendar(spec, calendar.generator))
    if table.rows is not None:
        return table.rows
    if table.ratio is not None:
        return max(1, round(table.ratio * spec.scale))
    driver = next(c for c in table.columns if isinstance(c.generator, ForeignKeyGenerator) and c.generator.max_children)
    return int(counts.get((table.name, driver.name), np.zeros(0)).sum())


def _calendar(spec: ChallengeSpec, gen: Any) -> pd.DatetimeIndex:
    """A date dimension's key: every day (month start) of the generator's span, else of the window."""
    window = spec.challenge.time_window
    return pd.date_range(gen.start or window.start, gen.end or window.end, freq="D" if gen.freq == "day" else "MS")


def _sample_model(model: TableModel, n: int, spec: ChallengeSpec) -> pd.DataFrame:
    if model.synthesizer is None:
        return pd.DataFrame(index=range(n))
    profile = spec.challenge
    seed = derive_seed(profile.seed, profile.variant, model.table, "sdv") % (2**32 - 1)
    model.synthesizer.reset_sampling()
    model.synthesizer._set_random_state(seed)  # noqa: SLF001 - SDV has no public seed for sample()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampled = model.synthesizer.sample(num_rows=n)
    if isinstance(sampled, dict):  # SDV 2.0 returns {table: frame}
        sampled = next(iter(sampled.values()))
    return sampled.reset_index(drop=True)


def _build_table(
    spec: ChallengeSpec,
    table: TableSpec,
    raw: pd.DataFrame,
    n: int,
    frames: dict[str, pd.DataFrame],
    counts: dict[tuple[str, str], np.ndarray],
    learned: LearnedSample,
) -> pd.DataFrame:
    profile = spec.challenge
    columns: dict[str, pd.Series] = {}
    positions: dict[str, np.ndarray] = {}
    fks = [c for c in table.columns if isinstance(c.generator, ForeignKeyGenerator)]
    for i, column in enumerate(fks):
        gen = column.generator
        rng = rng_for(profile.seed, profile.variant, table.name, column.name, "sdv-fk")
        parent = frames[gen.parent_table]
        weights = counts.get((table.name, column.name))
        if weights is None or len(weights) != len(parent):
            weights = np.ones(len(parent))
        filled = n - int(round(column.nullable * n))
        high = 1 if column.unique else gen.max_children
        low = gen.min_children or 0
        needed = _needed_parent_dates(table, column.name)
        if needed:  # a child dated from its parent's date only points at parents that have that date
            usable = parent[needed].notna().all(axis=1).to_numpy()
            weights = np.where(usable, weights, 0.0)
            low = 0
        per_parent = fit_counts(
            weights, filled, low, high, rng, f"{table.name}.{column.name}", usable if needed else None
        )
        assigned = np.repeat(np.arange(len(parent)), per_parent)
        if i > 0:
            assigned = rng.permutation(assigned)
        slots = np.full(n, -1, dtype=np.int64)
        where = np.sort(rng.choice(n, size=filled, replace=False)) if filled < n else np.arange(n)
        slots[where] = assigned
        positions[column.name] = slots
        columns[column.name] = _through(parent[gen.parent_column], slots)
    for column in table.columns:
        gen = column.generator
        if gen.kind == "sequence":
            columns[column.name] = sequence_values(gen, np.arange(n))
        elif gen.kind == "date_sequence":
            columns[column.name] = pd.Series(_calendar(spec, gen)[:n])
        elif gen.kind == "lookup":
            parent = frames[table.column(gen.via).generator.parent_table]
            columns[column.name] = _through(parent[gen.column], positions[gen.via])
        elif gen.kind == "faker":
            forbidden = set(
                learned.tables.get(table.name, pd.DataFrame()).get(column.name, pd.Series()).dropna().astype(str)
            )
            rng = rng_for(profile.seed, profile.variant, table.name, column.name, "sdv-faker")
            seed = derive_seed(profile.seed, profile.variant, table.name, column.name, "pool") % (2**31)
            locale = gen.locale or profile.locale
            columns[column.name] = identifying_values(gen.provider, locale, seed, n, column.unique, forbidden, rng)
        elif column.name in raw.columns:
            columns[column.name] = _month_starts(raw[column.name], learned.tables.get(table.name), column.name)
    _apply_conditionals(table, columns)
    _apply_offsets(table, raw, columns, positions, frames)
    for column in table.columns:  # calendar columns (year, month_name) of the dates just made
        if column.generator.kind == "derived":
            columns[column.name] = evaluate(column.generator.expression, columns, n)
    frame = pd.DataFrame({c.name: columns[c.name].reset_index(drop=True) for c in table.columns})
    return cast_table(frame, table)


def _month_starts(values: pd.Series, sample: pd.DataFrame | None, column: str) -> pd.Series:
    """Dates the sample holds only as month starts (an aggregate's month) stay month starts."""
    if sample is None or column not in sample.columns or not pd.api.types.is_datetime64_any_dtype(values):
        return values
    known = pd.to_datetime(sample[column].dropna())
    if known.empty or not (known == known.dt.to_period("M").dt.start_time).all():
        return values
    stamps = pd.to_datetime(values)
    return stamps.dt.to_period("M").dt.start_time.where(stamps.notna())


def _needed_parent_dates(table: TableSpec, fk: str) -> list[str]:
    """Parent date columns a non-nullable date offset of ``table`` reads through ``fk``."""
    return [
        c.generator.from_column.split(".", 1)[1]
        for c in table.columns
        if c.generator.kind == "date_offset" and c.nullable == 0 and c.generator.from_column.startswith(f"{fk}.")
    ]


def _through(parent_values: pd.Series, slots: np.ndarray) -> pd.Series:
    """The parent's values at ``slots`` (missing where the slot is -1: a null foreign key)."""
    values = parent_values.reset_index(drop=True)
    picked = values.iloc[np.maximum(slots, 0)].reset_index(drop=True)
    return picked.where(pd.Series(slots >= 0), None) if (slots < 0).any() else picked


def _apply_conditionals(table: TableSpec, columns: dict[str, pd.Series]) -> None:
    """Columns fixed by another (region by city): mapped from the synthetic value, in dependency order."""
    pending = [c for c in table.columns if c.generator.kind == "conditional"]
    while pending:
        ready = [c for c in pending if c.generator.on in columns]
        if not ready:
            names = ", ".join(c.name for c in pending)
            raise GenerationError(f"tables.{table.name}: conditional columns {names} depend on a missing column")
        for column in ready:
            gen = column.generator
            mapping = {key: case.values[0] for key, case in gen.cases.items() if case.kind == "categorical"}
            if len(mapping) != len(gen.cases) or any(len(c.values) != 1 for c in gen.cases.values()):
                raise GenerationError(
                    f"tables.{table.name}.columns.{column.name}: sample mode maps one value per case; "
                    "give each case a single-value categorical",
                )
            on = columns[gen.on]
            default = gen.default.values[0] if gen.default is not None and gen.default.kind == "categorical" else None
            columns[column.name] = on.map(lambda v, m=mapping, d=default: m.get(str(v), d) if pd.notna(v) else None)
            pending.remove(column)


def _apply_offsets(
    table: TableSpec,
    raw: pd.DataFrame,
    columns: dict[str, pd.Series],
    positions: dict[str, np.ndarray],
    frames: dict[str, pd.DataFrame],
) -> None:
    """Date offsets in dependency order: reference date (own column or parent's through a key) + delay."""
    pending = [c for c in table.columns if c.generator.kind == "date_offset"]
    while pending:
        progressed = False
        for column in list(pending):
            gen = column.generator
            if "." in gen.from_column:
                fk, parent_column = gen.from_column.split(".", 1)
                parent = frames[table.column(fk).generator.parent_table]
                reference = _through(parent[parent_column], positions[fk])
            elif gen.from_column in columns:
                reference = columns[gen.from_column]
            else:
                continue
            delay = raw[OFFSET.format(column=column.name)].to_numpy(dtype=float, na_value=np.nan)
            if column.type == "date":
                delay = np.round(delay * _UNIT_SECONDS[gen.unit] / 86_400) * 86_400 / _UNIT_SECONDS[gen.unit]
            seconds = _seconds(reference).to_numpy() + delay * _UNIT_SECONDS[gen.unit]
            stamps = pd.to_datetime(pd.Series(seconds), unit="s", errors="coerce")
            columns[column.name] = stamps
            pending.remove(column)
            progressed = True
        if not progressed:
            names = ", ".join(c.name for c in pending)
            raise GenerationError(f"date offsets refer to each other in a cycle ({names}); make one a plain date")


def fit_counts(
    weights: np.ndarray,
    total: int,
    low: int,
    high: int | None,
    rng: np.random.Generator,
    where: str,
    usable: np.ndarray | None = None,
) -> np.ndarray:
    """Children per parent summing to ``total``, close to ``weights`` (the synthetic counts), within [low, high].

    ``usable`` (a mask) limits children to some parents; the others get none.

    Raises:
        GenerationError: ``total`` rows cannot be spread over the parents within the bounds.
    """
    if usable is not None:
        counts = np.zeros(len(weights), dtype=np.int64)
        counts[usable] = fit_counts(weights[usable], total, low, high, rng, where)
        return counts
    k = len(weights)
    if k == 0:
        if total:
            raise GenerationError(f"{where}: {total} rows point at a parent table with no rows; give the parent rows")
        return np.zeros(0, dtype=np.int64)
    if total < k * low or (high is not None and total > k * high):
        raise GenerationError(
            f"{where}: {total} rows cannot have {low}..{high} per parent with {k} parent rows; change the rows or "
            "the relationship's min/max children in the spec"
        )
    cap = np.full(k, np.iinfo(np.int64).max // 4) if high is None else np.full(k, high)
    counts = np.clip(np.round(np.nan_to_num(weights)).astype(np.int64), low, cap)
    for _ in range(100):
        gap = total - int(counts.sum())
        if gap == 0:
            return counts
        if gap > 0:
            room = cap - counts
            p = np.where(room > 0, counts + 0.5, 0.0)
            extra = np.minimum(rng.multinomial(gap, p / p.sum()), room)
            counts += extra
        else:
            room = counts - low
            p = np.where(room > 0, counts.astype(float), 0.0)
            fewer = np.minimum(rng.multinomial(-gap, p / p.sum()), room)
            counts -= fewer
    raise GenerationError(f"{where}: could not spread {total} rows over {k} parents (engine bug)")


def identifying_values(
    provider: str, locale: str, seed: int, n: int, unique: bool, forbidden: set[str], rng: np.random.Generator
) -> pd.Series:
    """``n`` Faker values none of which is in ``forbidden`` (the sample's values); distinct when ``unique``."""
    size = max(min(n, 20 * POOL_SIZE), 64) if unique else POOL_SIZE
    pool = faker_pool(provider, locale, seed, size)
    pool = np.array([v for v in pool if v not in forbidden], dtype=object)
    if len(pool) == 0:
        raise GenerationError(f"Faker provider '{provider}' made no value outside the sample; use another provider")
    if not unique:
        return pd.Series(pool[rng.integers(0, len(pool), n)], dtype=object)
    picked = pool[rng.permutation(len(pool))[: min(n, len(pool))]]
    values = list(picked)
    seen = set(values) | forbidden
    round_ = 2
    while len(values) < n:  # more rows than distinct values: suffixed copies, still never a sample value
        for base in picked:
            candidate = _suffix(str(base), round_)
            if candidate not in seen:
                values.append(candidate)
                seen.add(candidate)
                if len(values) == n:
                    break
        round_ += 1
    return pd.Series(values, dtype=object)


def _suffix(value: str, number: int) -> str:
    """'ann@x.com' -> 'ann2@x.com' (an email stays an email), 'Ann Lee' -> 'Ann Lee 2'."""
    if "@" in value:
        local, domain = value.split("@", 1)
        return f"{local}{number}@{domain}"
    return f"{value} {number}"


# --------------------------------------------------------------------------- scores


def score_metadata(learned: LearnedSample, spec: ChallengeSpec) -> dict[str, Any]:
    """SDV metadata for scoring: ``sdv_metadata(spec)`` with regenerated columns marked as PII.

    Faker columns are never meant to match the sample's values, so they must not count against
    category adherence: they keep a PII sdtype (``email``) or become ``unknown``.
    """
    from tasks.sdv_metadata import _PII_SDTYPES

    metadata = sdv_metadata(spec)
    detected = learned.metadata.get("tables", {})
    for table in spec.tables:
        columns = metadata["tables"][table.name]["columns"]
        for column in table.columns:
            if column.generator.kind != "faker":
                continue
            sdtype = detected.get(table.name, {}).get("columns", {}).get(column.name, {}).get("sdtype")
            if sdtype not in _PII_SDTYPES:
                sdtype = column.generator.provider if column.generator.provider in _PII_SDTYPES else "unknown"
            columns[column.name] = {"sdtype": sdtype, "pii": True}
    return metadata


def score_synthetic(learned: LearnedSample, spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> SdvScores:
    """SDV's diagnostic and quality reports of ``tables`` against the sample.

    Above ``SCORE_ROW_LIMIT`` rows, the reports read a consistent subset: a share of the root
    tables' rows and every row that depends on them, so foreign keys still resolve.
    """
    from sdv.evaluation import evaluate_quality, run_diagnostic
    from sdv.metadata import Metadata

    started = time.perf_counter()
    metadata = Metadata.load_from_dict(score_metadata(learned, spec))
    real = {t.name: _scored(learned.tables[t.name], t) for t in spec.tables}
    synthetic, notes = _score_subset(spec, tables)
    synthetic = {n: _scored(f, spec.table(n)) for n, f in synthetic.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diagnostic = run_diagnostic(real, synthetic, metadata, verbose=False)
        quality = evaluate_quality(real, synthetic, metadata, verbose=False)
    per_table = [
        TableSdvScore(
            table=t.name,
            sample_rows=len(learned.tables[t.name]),
            synthetic_rows=len(tables[t.name]),
            diagnostic=_table_properties(diagnostic, t.name),
            quality=_table_properties(quality, t.name),
        )
        for t in spec.tables
    ]
    return SdvScores(
        diagnostic=_clip(diagnostic.get_score()),
        diagnostic_properties=_properties(diagnostic),
        quality=_clip(quality.get_score()),
        quality_properties=_properties(quality),
        tables=per_table,
        method=METHOD,
        scored_rows={n: len(f) for n, f in synthetic.items()},
        notes=notes,
        seconds=round(time.perf_counter() - started, 3),
    )


def _unscored(learned: LearnedSample, tables: dict[str, pd.DataFrame]) -> SdvScores:
    per_table = [
        TableSdvScore(table=n, sample_rows=len(learned.tables.get(n, [])), synthetic_rows=len(f))
        for n, f in tables.items()
    ]
    return SdvScores(diagnostic=0.0, quality=0.0, tables=per_table, method=METHOD, notes=["scores not computed"])


def _scored(frame: pd.DataFrame, table: TableSpec) -> pd.DataFrame:
    """A frame in the dtypes SDV's reports read: nullable ints/bools as floats/objects, dates as datetimes."""
    out = frame[[c.name for c in table.columns if c.name in frame.columns]].copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.Int64Dtype):
            out[column] = out[column].astype("float64")
        elif isinstance(out[column].dtype, pd.BooleanDtype):
            out[column] = out[column].astype(object)
        elif pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].astype("datetime64[ns]")
    return out


def _score_subset(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[str]]:
    largest = max(len(f) for f in tables.values())
    if largest <= SCORE_ROW_LIMIT:
        return tables, []
    share = SCORE_ROW_LIMIT / largest
    rng = rng_for(spec.challenge.seed, spec.challenge.variant, "sdv-score-subset")
    kept: dict[str, pd.DataFrame] = {}
    for name in _parents_first(spec):
        table, frame = spec.table(name), tables[name]
        fks = [c for c in table.columns if isinstance(c.generator, ForeignKeyGenerator)]
        if not fks:
            small = len(frame) < 0.1 * largest  # a small root (a catalogue) stays whole
            kept[name] = frame if small else frame.sample(frac=share, random_state=rng)
            continue
        mask = np.ones(len(frame), dtype=bool)
        for column in fks:
            gen = column.generator
            parents = kept[gen.parent_table][gen.parent_column]
            mask &= (frame[column.name].isin(parents) | frame[column.name].isna()).to_numpy()
        kept[name] = frame[mask]
    note = (
        f"SDV scores computed on a consistent {share:.0%} subset of the synthetic rows (roots sampled, children kept)"
    )
    return kept, [note]


def _properties(report: Any) -> dict[str, float]:
    props = report.get_properties()
    return {str(r["Property"]): _clip(r["Score"]) for _, r in props.iterrows() if pd.notna(r["Score"])}


def _table_properties(report: Any, table: str) -> dict[str, float]:
    """Per-property mean score of one table's rows in the report's details (relationships count for both ends)."""
    out: dict[str, float] = {}
    for prop in report.get_properties()["Property"]:
        try:
            details = report.get_details(property_name=prop)
        except (ValueError, KeyError):
            continue
        if details is None or details.empty or "Score" not in details.columns:
            continue
        mask = pd.Series(False, index=details.index)
        for column in ("Table", "Child Table", "Parent Table"):
            if column in details.columns:
                mask |= details[column] == table
        scores = details.loc[mask, "Score"].dropna()
        if len(scores):
            out[str(prop)] = _clip(scores.mean())
    return out


def _clip(value: Any) -> float:
    return float(min(1.0, max(0.0, float(value)))) if pd.notna(value) else 0.0
