"""Relationships: what a child needs of its parent, foreign-key draws, and exact rollups.

A parent's rows are not kept whole: only the columns its children read (``Retained``), in compact
form, plus sequence keys recomputed from row positions. Foreign keys are drawn as parent row
positions: uniform or zipf popularity (row-local inverse CDF), a fixed per-parent child count
(cardinality), or, for ``after: fk.date``, only among parents that existed on the child's date.
Rollups sum child values in fixed-point integers, so totals are exact and do not depend on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.errors import GenerationError
from schemas.spec import ChallengeSpec, ForeignKeyGenerator, SequenceGenerator, TableSpec
from tasks.engine.columns import BuildContext, sequence_values
from tasks.engine.evaluate import evaluate
from tasks.engine.seed import pick_weighted, rng_for, search
from tasks.engine.types import as_dates

# rollup sums are kept as integers of 1e-6 units: exact, associative, so chunk order cannot change them
FIXED_POINT = 1_000_000


@dataclass
class Retained:
    """The columns of a finished table that its children read, ``n`` rows, positions 0..n-1."""

    n: int
    columns: dict[str, np.ndarray | pd.Categorical] = field(default_factory=dict)
    sequences: dict[str, SequenceGenerator] = field(default_factory=dict)
    # patterned keys ('ORD-0000042') of all n rows, formatted once and taken by position for each child chunk
    formatted: dict[str, pa.Array] = field(default_factory=dict, repr=False, compare=False)

    def values(self, column: str, positions: np.ndarray) -> pd.Series:
        if column in self.sequences:
            gen = self.sequences[column]
            if gen.pattern is None:
                return sequence_values(gen, positions)
            if column not in self.formatted:
                self.formatted[column] = pa.chunked_array(
                    sequence_values(gen, np.arange(self.n, dtype=np.int64)).array._pa_array  # noqa: SLF001
                ).combine_chunks()
            taken = self.formatted[column].take(pa.array(np.asarray(positions, dtype=np.int64)))
            return pd.Series(pd.arrays.ArrowExtensionArray(taken))
        data = self.columns.get(column)
        if data is None:
            raise GenerationError(f"column '{column}' of the parent was not kept for its children (engine bug)")
        if isinstance(data, pd.Categorical):
            return pd.Series(pd.Categorical.from_codes(data.codes[positions], dtype=data.dtype))
        return pd.Series(data[positions])

    def frame(self, columns: set[str]) -> dict[str, pd.Series]:
        everything = np.arange(self.n)
        return {c: self.values(c, everything) for c in columns}


def compact(values: pd.Series) -> np.ndarray | pd.Categorical:
    """Text as a Categorical (one small code per row), everything else as a numpy array."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.array
    if values.dtype == object or isinstance(values.dtype, pd.ArrowDtype) or pd.api.types.is_string_dtype(values):
        return pd.Categorical(values.to_numpy(dtype=object))
    return values.to_numpy()


def concat_kept(parts: list[np.ndarray | pd.Categorical]) -> np.ndarray | pd.Categorical:
    if parts and isinstance(parts[0], pd.Categorical):
        return pd.api.types.union_categoricals(parts)
    return np.concatenate(parts) if parts else np.array([])


@dataclass
class ForeignKeySetup:
    """Everything needed to draw one foreign key for any chunk; built once per table in the main process."""

    column: str
    parent: str
    candidates: np.ndarray  # parent positions a row may point at (after ``where``)
    weights: np.ndarray | None = None  # popularity over candidates; None = uniform
    cumulative: np.ndarray | None = None  # driver: running child count per candidate
    assignment: np.ndarray | None = None  # cardinality: child row -> candidate index
    date_column: str | None = None  # date-first: this table's date column
    by_date: np.ndarray | None = None  # date-first: candidate indices sorted by parent date
    sorted_dates: np.ndarray | None = None
    sorted_weights: np.ndarray | None = None

    @property
    def rows(self) -> int | None:
        """Child rows this key fixes (a driver key), or None."""
        return None if self.cumulative is None else int(self.cumulative[-1]) if len(self.cumulative) else 0


def parent_candidates(gen: ForeignKeyGenerator, parent: Retained) -> np.ndarray:
    """Positions of the parent rows a child may point at: all of them, or those where ``gen.where`` holds."""
    candidates = np.arange(parent.n)
    if gen.where:
        from schemas.expressions import expression_names

        cols = parent.frame(expression_names(gen.where))
        mask = evaluate(gen.where, cols, parent.n).fillna(False).astype(bool).to_numpy()
        candidates = candidates[mask]
    return candidates


def cardinality_bounds(table: TableSpec, keys: list[str], parents: dict[str, Retained]) -> tuple[int, int | None]:
    """The fewest and most rows ``table`` may have for its foreign keys ``keys`` to keep their cardinality.

    Each parent row (among the candidates) needs at least ``min_children`` and at most
    ``max_children`` rows (one for a unique key); None: no upper bound.
    """
    low, high = 0, None
    for name in keys:
        column = table.column(name)
        gen: ForeignKeyGenerator = column.generator
        k = len(parent_candidates(gen, parents[gen.parent_table]))
        low = max(low, k * (gen.min_children or 0))
        most = 1 if column.unique else gen.max_children
        if most is not None:
            high = k * most if high is None else min(high, k * most)
    return low, high


def _child_counts(gen: ForeignKeyGenerator, low: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """How many children each of ``k`` parents has: uniform over low..max_children, or by ``children_weights``."""
    if gen.children_weights is None:
        return rng.integers(low, gen.max_children + 1, size=k)
    weights = np.asarray(gen.children_weights, dtype=float)
    return rng.choice(np.arange(low, gen.max_children + 1), size=k, p=weights / weights.sum())


def prepare_foreign_key(
    spec: ChallengeSpec,
    table: TableSpec,
    name: str,
    parent: Retained,
    *,
    n_rows: int | None,
    driver: bool,
    date_first: tuple[str, str] | None,
    row_cap: int | None = None,
) -> ForeignKeySetup:
    """Resolve one foreign key against its finished parent.

    Args:
        n_rows: the child's row count when fixed (None for a driver key, which decides it).
        driver: the child's rows follow this parent (``min_children``..``max_children`` each).
        date_first: (child date column, parent date column) when the key is drawn from the date.

    Raises:
        GenerationError: no parent rows to point at, or a cardinality the row counts cannot meet.
    """
    column = table.column(name)
    gen: ForeignKeyGenerator = column.generator
    path = f"columns.{name}"
    profile = spec.challenge
    rng = rng_for(profile.seed, profile.variant, table.name, name, "fk-setup")
    candidates = parent_candidates(gen, parent)
    k = len(candidates)
    if k == 0 and not driver and n_rows:
        # a child whose rows follow its parents simply has none (no returned orders -> no returns)
        raise GenerationError(
            f"no rows of '{gen.parent_table}' to point at"
            + (f" where {gen.where}" if gen.where else "")
            + "; widen the condition or give the parent rows",
            path,
        )
    setup = ForeignKeySetup(name, gen.parent_table, candidates, _popularity(gen, k, rng))
    low = gen.min_children or 0
    high = 1 if column.unique else gen.max_children
    if driver:
        counts = _child_counts(gen, low, k, rng)
        cumulative = np.cumsum(counts)
        if row_cap is not None and len(cumulative) and cumulative[-1] > row_cap:
            cumulative = np.minimum(cumulative, row_cap)
        setup.cumulative = cumulative
        return setup
    if high is not None and n_rows > k * high:
        raise GenerationError(
            f"{n_rows} rows cannot have at most {high} per parent with {k} parent rows; raise max_children "
            "or lower the rows",
            path,
        )
    if low and n_rows < k * low:
        raise GenerationError(
            f"{n_rows} rows cannot give each of {k} parents at least {low}; lower min_children or raise the rows",
            path,
        )
    if high is not None or low:
        p = setup.weights if setup.weights is not None else np.full(k, 1.0 / k)
        counts = _capped_counts(n_rows, p, low, high, rng)
        setup.assignment = rng.permutation(np.repeat(np.arange(k), counts))
    elif date_first is not None:
        date_column, parent_column = date_first
        dates = pd.to_datetime(parent.values(parent_column, candidates)).to_numpy(dtype="datetime64[ns]")
        dates = np.where(np.isnat(dates), np.datetime64("1677-09-22", "ns"), dates)
        order = np.argsort(dates, kind="stable")
        weights = setup.weights if setup.weights is not None else np.full(k, 1.0 / k)
        setup.date_column = date_column
        setup.by_date = order
        setup.sorted_dates = dates[order]
        setup.sorted_weights = np.cumsum(weights[order])
    return setup


def _popularity(gen: ForeignKeyGenerator, k: int, rng: np.random.Generator) -> np.ndarray | None:
    if gen.skew == "uniform" or k == 0:
        return None
    # zipf over a random ranking, so popularity is not tied to the order of the parent ids
    ranks = rng.permutation(k) + 1
    weights = 1.0 / ranks**gen.zipf_exponent
    return weights / weights.sum()


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


def draw_foreign_key(ctx: BuildContext, name: str) -> pd.Series:
    """Parent positions for this chunk's rows (kept in ``ctx.positions``) and the key values."""
    setup = ctx.foreign_keys[name]
    if setup.cumulative is not None:
        index = np.searchsorted(setup.cumulative, ctx.rows, side="right")
    elif setup.assignment is not None:
        index = setup.assignment[ctx.rows]
    elif setup.by_date is not None:
        index = _index_by_date(ctx, setup)
    else:
        u = ctx.rng(name, "fk").random(ctx.n)
        k = len(setup.candidates)
        if setup.weights is None:
            index = np.minimum((u * k).astype(np.int64), k - 1)
        else:
            index = pick_weighted(setup.weights, u)
    positions = setup.candidates[index]
    ctx.positions[name] = positions
    gen: ForeignKeyGenerator = ctx.table.column(name).generator
    return ctx.parents[setup.parent].values(gen.parent_column, positions)


def _index_by_date(ctx: BuildContext, setup: ForeignKeySetup) -> np.ndarray:
    """Only parents whose date is on or before the row's date (a customer who had signed up)."""
    dates = as_dates(ctx.columns[setup.date_column]).to_numpy(dtype="datetime64[ns]")
    eligible = search(setup.sorted_dates, dates, side="right")
    too_early = eligible == 0
    if too_early.any():
        # the row's date precedes every parent: it moves to the first parent's date
        eligible[too_early] = 1
        fixed = dates.copy()
        fixed[too_early] = setup.sorted_dates[0]
        ctx.columns[setup.date_column] = pd.Series(fixed).astype(ctx.columns[setup.date_column].dtype)
    u = ctx.rng(setup.column, "fk-by-date").random(ctx.n)
    reach = setup.sorted_weights[eligible - 1]
    picked = search(setup.sorted_weights, u * reach, side="right")
    return setup.by_date[np.minimum(picked, eligible - 1)]


# --------------------------------------------------------------------------- rollups


@dataclass
class RollupPartial:
    """One chunk's contribution to a parent's rollup column: per parent position touched."""

    positions: np.ndarray
    sums: np.ndarray  # int64 fixed point
    counts: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray


def rollup_partial(positions: np.ndarray, values: np.ndarray | None) -> RollupPartial:
    """Group one chunk's child values by parent position (sorted once, reduced with ``reduceat``)."""
    order = np.argsort(positions, kind="stable")
    pos = positions[order]
    starts = np.flatnonzero(np.concatenate([[True], pos[1:] != pos[:-1]])) if len(pos) else np.array([], int)
    counts = np.diff(np.concatenate([starts, [len(pos)]])).astype(np.int64)
    if values is None or not len(pos):
        zeros = np.zeros(len(starts))
        return RollupPartial(pos[starts], np.zeros(len(starts), np.int64), counts, zeros, zeros)
    x = np.asarray(values, dtype=float)[order]
    x = np.where(np.isnan(x), 0.0, x)
    fixed = np.round(x * FIXED_POINT).astype(np.int64)
    return RollupPartial(
        pos[starts],
        np.add.reduceat(fixed, starts),
        counts,
        np.minimum.reduceat(x, starts),
        np.maximum.reduceat(x, starts),
    )


@dataclass
class RollupTotals:
    """Running totals of one rollup column over all child chunks, one slot per parent row."""

    function: str
    sums: np.ndarray
    counts: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray

    @classmethod
    def empty(cls, function: str, n: int) -> RollupTotals:
        return cls(function, np.zeros(n, np.int64), np.zeros(n, np.int64), np.full(n, np.inf), np.full(n, -np.inf))

    def add(self, part: RollupPartial) -> None:
        p = part.positions  # unique within a partial, so fancy-index updates are safe
        self.sums[p] += part.sums
        self.counts[p] += part.counts
        self.mins[p] = np.minimum(self.mins[p], part.mins)
        self.maxs[p] = np.maximum(self.maxs[p], part.maxs)

    def result(self) -> np.ndarray:
        empty = self.counts == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            match self.function:
                case "sum":
                    return self.sums / FIXED_POINT
                case "count":
                    return self.counts.astype(float)
                case "mean":
                    return np.where(empty, np.nan, self.sums / FIXED_POINT / np.maximum(self.counts, 1))
                case "min":
                    return np.where(empty, np.nan, self.mins)
                case _:
                    return np.where(empty, np.nan, self.maxs)
