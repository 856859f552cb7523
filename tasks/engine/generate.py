"""Run a resolved plan: build every table in dependency order, apply scenarios, fill rollups.

Same spec + seed + variant -> the same rows. ``row_cap`` makes the small preview of phase 3 with
the same engine and seed as the full run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from schemas.dependencies import column_dependencies
from schemas.errors import DataFactoryError, GenerationError, with_path
from schemas.spec import ChallengeSpec, ColumnSpec, ForeignKeyGenerator, TableSpec
from tasks.engine.columns import BuildContext, build_column, date_sequence
from tasks.engine.evaluate import evaluate
from tasks.engine.planner import ResolvedPlan, TablePlan, resolve_plan, spec_fingerprint
from tasks.engine.scenarios import apply_column_scenarios, apply_volume_scenarios
from tasks.engine.seed import rng_for
from tasks.engine.types import cast_table

Progress = Callable[[str, int], None]


def generate_dataset(
    spec: ChallengeSpec,
    plan: ResolvedPlan | None = None,
    row_cap: int | None = None,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of ``spec`` as a DataFrame with its final column types.

    Args:
        spec: a validated challenge spec.
        plan: from ``resolve_plan(spec)``; resolved here when omitted.
        row_cap: at most this many rows per table (the preview); None for the full size.
        progress: called with (table name, rows) as each table completes.

    Raises:
        GenerationError: the data the spec asks for cannot be built; the message says where and why.
    """
    plan = plan or resolve_plan(spec)
    if plan.fingerprint != spec_fingerprint(spec):
        raise GenerationError("the plan was resolved from another spec; resolve it again")
    tables: dict[str, pd.DataFrame] = {}
    for name in plan.order:
        table = spec.table(name)
        try:
            frame = build_table(spec, table, plan.tables[name], tables, row_cap)
        except DataFactoryError as exc:
            raise with_path(exc, f"tables.{name}") from None
        tables[name] = frame
        for parent_name, column_name in plan.rollups.get(name, ()):
            if parent_name in tables:
                tables[parent_name] = fill_rollup(spec, tables, parent_name, column_name)
        if progress:
            progress(name, len(frame))
    return {t.name: cast_table(tables[t.name], t) for t in spec.tables}


def build_table(
    spec: ChallengeSpec,
    table: TableSpec,
    plan: TablePlan,
    tables: dict[str, pd.DataFrame],
    row_cap: int | None = None,
) -> pd.DataFrame:
    if table.aggregate_of is not None:
        return build_aggregate(spec, table, tables[table.aggregate_of])
    n, keys = draw_rows(spec, table, plan, tables, row_cap)
    ctx = BuildContext(spec, table, n, dict(keys), tables)
    _build_columns(ctx, plan)
    if plan.volume_scenarios:
        frame = apply_volume_scenarios(ctx, plan, lambda extra: _extra_rows(spec, table, plan, tables, extra))
        ctx = BuildContext(spec, table, len(frame), {c: frame[c] for c in frame.columns}, tables)
        _renumber(ctx)
    _apply_nulls(ctx)
    return pd.DataFrame({c.name: ctx.columns[c.name].reset_index(drop=True) for c in table.columns})


def _build_columns(ctx: BuildContext, plan: TablePlan) -> None:
    for name in plan.column_order:
        if name in ctx.columns:
            continue
        column = ctx.table.column(name)
        try:
            values = build_column(ctx, column)
        except DataFactoryError as exc:
            raise with_path(exc, f"columns.{name}") from None
        if len(values) != ctx.n:
            raise GenerationError(f"built {len(values)} values for {ctx.n} rows", f"columns.{name}")
        ctx.columns[name] = apply_column_scenarios(ctx, column, values.reset_index(drop=True))


def _extra_rows(spec: ChallengeSpec, table: TableSpec, plan: TablePlan, tables, n: int) -> pd.DataFrame:
    """More candidate rows from an independent stream, for scenarios that raise volume."""
    keys = {fk: _draw_foreign_key(spec, table, fk, tables, n, stream="volume-extra") for fk in plan.foreign_keys}
    ctx = BuildContext(spec, table, n, keys, tables, stream=("volume-extra",))
    _build_columns(ctx, plan)
    return pd.DataFrame({c: ctx.columns[c] for c in plan.column_order})


def _renumber(ctx: BuildContext) -> None:
    """Sequence ids (and what reads them) are rebuilt after a volume change so they stay consecutive."""
    stale = {c.name for c in ctx.table.columns if c.generator.kind == "sequence"}
    changed = True
    while changed:
        changed = False
        for column in ctx.table.columns:
            if column.name not in stale and column_dependencies(column.generator) & stale:
                stale.add(column.name)
                changed = True
    for column in ctx.table.columns:
        if column.name in stale:
            ctx.columns[column.name] = build_column(ctx, column)


def _apply_nulls(ctx: BuildContext) -> None:
    for column in ctx.table.columns:
        if column.nullable <= 0 or ctx.n == 0:
            continue
        k = round(column.nullable * ctx.n)
        rng = ctx.rng(column.name, "nulls")
        where = rng.choice(ctx.n, size=k, replace=False)
        values = (
            ctx.columns[column.name].astype(object)
            if column.type in ("int", "bool")
            else ctx.columns[column.name].copy()
        )
        values.iloc[where] = None
        ctx.columns[column.name] = values


# --------------------------------------------------------------------------- rows and foreign keys


def draw_rows(
    spec: ChallengeSpec, table: TableSpec, plan: TablePlan, tables: dict[str, pd.DataFrame], row_cap: int | None
) -> tuple[int, dict[str, pd.Series]]:
    """The row count and the foreign-key columns (drawn first: a driver key decides the count)."""
    keys: dict[str, pd.Series] = {}
    if plan.calendar is not None:
        ctx = BuildContext(spec, table, 0, {}, tables)
        n = len(date_sequence(ctx, table.column(plan.calendar).generator))
    elif plan.driver is not None:
        keys[plan.driver] = _driven_keys(spec, table, plan.driver, tables, row_cap)
        n = len(keys[plan.driver])
    else:
        n = plan.static_rows if row_cap is None else min(plan.static_rows, row_cap)
    for fk in plan.foreign_keys:
        if fk not in keys:
            keys[fk] = _draw_foreign_key(spec, table, fk, tables, n)
    return n, keys


def _parent_keys(spec: ChallengeSpec, table: TableSpec, fk_name: str, tables) -> tuple[np.ndarray, ColumnSpec]:
    column = table.column(fk_name)
    gen: ForeignKeyGenerator = column.generator
    parent = tables[gen.parent_table]
    keys = parent[gen.parent_column]
    if gen.where:
        mask = evaluate(gen.where, {c: parent[c] for c in parent.columns}, len(parent)).fillna(False).astype(bool)
        keys = keys[mask.to_numpy()]
    keys = keys.dropna().to_numpy()
    if len(keys) == 0:
        raise GenerationError(
            f"no rows of '{gen.parent_table}' to point at"
            + (f" where {gen.where}" if gen.where else "")
            + "; widen the condition or give the parent rows",
            f"columns.{fk_name}",
        )
    return keys, column


def _popularity(gen: ForeignKeyGenerator, n_parents: int, rng: np.random.Generator) -> np.ndarray:
    if gen.skew == "uniform":
        return np.full(n_parents, 1.0 / n_parents)
    # zipf over a random ranking, so popularity is not tied to the order of the parent ids
    ranks = rng.permutation(n_parents) + 1
    weights = 1.0 / ranks**gen.zipf_exponent
    return weights / weights.sum()


def _driven_keys(spec: ChallengeSpec, table: TableSpec, fk_name: str, tables, row_cap: int | None) -> pd.Series:
    keys, column = _parent_keys(spec, table, fk_name, tables)
    gen: ForeignKeyGenerator = column.generator
    rng = rng_for(spec.challenge.seed, spec.challenge.variant, table.name, fk_name, "children")
    low = gen.min_children if gen.min_children is not None else 0
    counts = rng.integers(low, gen.max_children + 1, size=len(keys))
    if row_cap is not None and counts.sum() > row_cap:
        counts[np.cumsum(counts) > row_cap] = 0
    return pd.Series(np.repeat(keys, counts))


def _draw_foreign_key(
    spec: ChallengeSpec, table: TableSpec, fk_name: str, tables, n: int, stream: str = ""
) -> pd.Series:
    keys, column = _parent_keys(spec, table, fk_name, tables)
    gen: ForeignKeyGenerator = column.generator
    rng = rng_for(spec.challenge.seed, spec.challenge.variant, table.name, fk_name, "fk", stream)
    p = _popularity(gen, len(keys), rng)
    path = f"columns.{fk_name}"
    low = gen.min_children or 0
    high = 1 if column.unique else gen.max_children
    if high is not None and n > len(keys) * high:
        raise GenerationError(
            f"{n} rows cannot have at most {high} per parent with {len(keys)} parent rows; raise max_children "
            "or lower the rows",
            path,
        )
    if low and n < len(keys) * low:
        raise GenerationError(
            f"{n} rows cannot give each of {len(keys)} parents at least {low}; lower min_children or raise the rows",
            path,
        )
    if high is None and not low:
        return pd.Series(keys[rng.choice(len(keys), size=n, p=p)])
    counts = _capped_counts(n, p, low, high, rng)
    return pd.Series(rng.permutation(np.repeat(keys, counts)))


def _capped_counts(n: int, p: np.ndarray, low: int, high: int | None, rng: np.random.Generator) -> np.ndarray:
    """Children per parent: ``low`` each, the rest by popularity, none above ``high``."""
    counts = np.full(len(p), low, dtype=np.int64)
    remaining = n - counts.sum()
    while remaining > 0:
        room = np.full(len(p), np.iinfo(np.int64).max) if high is None else high - counts
        weights = np.where(room > 0, p, 0.0)
        extra = rng.multinomial(remaining, weights / weights.sum())
        extra = np.minimum(extra, room)
        counts += extra
        remaining = n - counts.sum()
    return counts


# --------------------------------------------------------------------------- rollups and aggregates


def fill_rollup(
    spec: ChallengeSpec, tables: dict[str, pd.DataFrame], parent_name: str, column_name: str
) -> pd.DataFrame:
    """Aggregate the child rows into the parent's column, then recompute the parent's dependents."""
    parent_spec = spec.table(parent_name)
    gen = parent_spec.column(column_name).generator
    child = tables[gen.table]
    key = spec.table(gen.table).column(gen.via).generator.parent_column
    if gen.function == "count":
        grouped = child.groupby(gen.via).size()
    else:
        values = evaluate(gen.expression, {c: child[c] for c in child.columns}, len(child))
        grouped = values.groupby(child[gen.via].to_numpy()).agg(gen.function)
    parent = tables[parent_name].copy()
    filled = parent[key].map(grouped)
    if gen.function in ("sum", "count"):
        filled = filled.fillna(0)
    parent[column_name] = filled.to_numpy()
    return _recompute_dependents(spec, parent_spec, parent, {column_name})


def _recompute_dependents(
    spec: ChallengeSpec, table: TableSpec, frame: pd.DataFrame, changed: set[str]
) -> pd.DataFrame:
    plan = resolve_plan_table(spec, table)
    ctx = BuildContext(spec, table, len(frame), {c: frame[c] for c in frame.columns}, {})
    stale = set(changed)
    for name in plan:
        column = table.column(name)
        if column_dependencies(column.generator) & stale and column.generator.kind == "derived":
            ctx.columns[name] = build_column(ctx, column)
            stale.add(name)
    return pd.DataFrame(ctx.columns)


def resolve_plan_table(spec: ChallengeSpec, table: TableSpec) -> tuple[str, ...]:
    from tasks.engine.planner import _plan_table

    return _plan_table(spec, table).column_order


def build_aggregate(spec: ChallengeSpec, table: TableSpec, source: pd.DataFrame) -> pd.DataFrame:
    """A pre-aggregated table computed from its detailed source, so both tell the same story."""
    columns = {c: source[c] for c in source.columns}
    keys = [c for c in table.columns if c.generator.kind == "group_key"]
    grouping = pd.DataFrame({c.name: evaluate(c.generator.expression, columns, len(source)) for c in keys})
    measures = {}
    for column in table.columns:
        gen = column.generator
        if gen.kind != "measure":
            continue
        if gen.expression is None:
            values = pd.Series(np.ones(len(source)))
        else:
            values = evaluate(gen.expression, columns, len(source))
        function = {"count_distinct": "nunique", "count": "count"}.get(gen.function, gen.function)
        measures[column.name] = values.groupby([grouping[k.name] for k in keys]).agg(function)
    frame = pd.DataFrame(measures).reset_index()
    frame.columns = [k.name for k in keys] + list(measures)
    frame = frame.sort_values([k.name for k in keys]).reset_index(drop=True)
    ctx = BuildContext(spec, table, len(frame), {c: frame[c] for c in frame.columns}, {})
    for column in table.columns:
        if column.name not in ctx.columns:
            ctx.columns[column.name] = build_column(ctx, column)
    return pd.DataFrame({c.name: ctx.columns[c.name] for c in table.columns})
