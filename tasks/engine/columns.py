"""Column builders, one per generator kind, dispatched in one ``match``.

Each builder returns a pandas Series of ``ctx.n`` values, computed with whole-column numpy/pandas
operations. Randomness comes from ``ctx.rng(...)``: per-block streams derived from the seed, the
variant, the table and the column, so a value depends only on its row number, never on the order
other columns are built or on how the table is cut into chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.errors import GenerationError
from schemas.spec import (
    CategoricalGenerator,
    ChallengeSpec,
    ColumnSpec,
    ConditionalGenerator,
    DateGenerator,
    DateOffsetGenerator,
    DateSequenceGenerator,
    DerivedGenerator,
    FakerGenerator,
    ForeignKeyGenerator,
    Generator,
    LookupGenerator,
    NumericGenerator,
    SequenceGenerator,
    TableSpec,
)
from tasks.engine.evaluate import evaluate
from tasks.engine.fakerpool import faker_values
from tasks.engine.seed import BlockRng, derive_seed, rng_for
from tasks.engine.types import as_dates

if TYPE_CHECKING:
    from tasks.engine.planner import TablePlan
    from tasks.engine.relations import ForeignKeySetup, Retained


@dataclass
class BuildContext:
    """What a column builder may read: this chunk's rows built so far and the parents' kept columns.

    ``rows`` are the global candidate row numbers (they key the random streams); ``index`` are the
    final row numbers (they number sequences); ``positions`` hold, per foreign key, the parent row
    each row points at, so lookups are array takes instead of joins.
    """

    spec: ChallengeSpec
    table: TableSpec
    rows: np.ndarray
    columns: dict[str, pd.Series] = field(default_factory=dict)
    parents: dict[str, Retained] = field(default_factory=dict)
    positions: dict[str, np.ndarray] = field(default_factory=dict)
    foreign_keys: dict[str, ForeignKeySetup] = field(default_factory=dict)
    plan: TablePlan | None = None
    total_rows: int = 0
    index: np.ndarray | None = None
    stream: tuple[Any, ...] = ()

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def final_index(self) -> np.ndarray:
        return self.rows if self.index is None else self.index

    def rng(self, *parts: object) -> BlockRng:
        profile = self.spec.challenge
        return BlockRng(profile.seed, profile.variant, (self.table.name, *self.stream, *parts), self.rows)

    def table_rng(self, *parts: object) -> np.random.Generator:
        profile = self.spec.challenge
        return rng_for(profile.seed, profile.variant, self.table.name, *parts)

    def seed(self, *parts: object) -> int:
        profile = self.spec.challenge
        return derive_seed(profile.seed, profile.variant, self.table.name, *parts)

    def subset(self, mask: np.ndarray, label: str) -> BuildContext:
        return BuildContext(
            self.spec,
            self.table,
            self.rows[mask],
            MaskedColumns(self.columns, mask),
            self.parents,
            {k: v[mask] for k, v in self.positions.items()},
            self.foreign_keys,
            self.plan,
            self.total_rows,
            None if self.index is None else self.index[mask],
            (*self.stream, label),
        )

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        window = self.spec.challenge.time_window
        return window.start, window.end


class MaskedColumns(MutableMapping):
    """The rows of ``mask`` of another context's columns, cut only when a builder reads a column.

    A conditional case reads one or two columns; cutting every column of the table per case was
    most of the cost of a conditional column.
    """

    def __init__(self, source: Mapping[str, pd.Series], mask: np.ndarray) -> None:
        self._source, self._mask, self._own = source, mask, {}

    def __getitem__(self, key: str) -> pd.Series:
        if key not in self._own:
            if key not in self._source:
                raise KeyError(key)
            self._own[key] = self._source[key][self._mask].reset_index(drop=True)
        return self._own[key]

    def __setitem__(self, key: str, value: pd.Series) -> None:
        self._own[key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("columns of a subset are not removed")

    def __contains__(self, key: object) -> bool:
        return key in self._own or key in self._source

    def __iter__(self):
        yield from self._own
        yield from (k for k in self._source if k not in self._own)

    def __len__(self) -> int:
        return len(set(self._own) | set(self._source))


def build_column(ctx: BuildContext, column: ColumnSpec, gen: Any = None) -> pd.Series:
    """Values of ``column`` for the ``ctx.n`` rows of ``ctx.table``, in a dtype that fits its type."""
    return coerce(_build(ctx, column, gen if gen is not None else column.generator), column.type)


def coerce(values: pd.Series, column_type: str) -> pd.Series:
    """Numbers as numbers and dates as dates while building, so expressions see the right kind."""
    if column_type in ("int", "float", "decimal") and not pd.api.types.is_numeric_dtype(values):
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        return pd.to_numeric(values)
    if column_type in ("date", "datetime") and not pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values)
    return values


def _build(ctx: BuildContext, column: ColumnSpec, gen: Any) -> pd.Series:  # noqa: C901 - one arm per kind
    match gen:
        case SequenceGenerator():
            return sequence_values(gen, ctx.final_index)
        case CategoricalGenerator():
            return _categorical(ctx, column, gen)
        case NumericGenerator():
            return pd.Series(sample_numeric(gen, ctx.n, ctx.rng(column.name, "numeric")))
        case DateGenerator():
            return _date(ctx, column, gen)
        case DateSequenceGenerator():
            days = date_sequence(ctx, gen)
            return pd.Series(days[np.minimum(ctx.final_index, len(days) - 1)])
        case FakerGenerator():
            locale = gen.locale or ctx.spec.challenge.locale
            return faker_values(
                gen.provider,
                locale,
                ctx.seed(column.name, "pool"),
                ctx.rows,
                max(ctx.total_rows, ctx.n),
                column.unique,
                ctx.rng(column.name),
            )
        case ForeignKeyGenerator():
            from tasks.engine.relations import draw_foreign_key

            return draw_foreign_key(ctx, column.name)
        case LookupGenerator():
            return lookup(ctx, gen)
        case ConditionalGenerator():
            return _conditional(ctx, column, gen)
        case DateOffsetGenerator():
            return _date_offset(ctx, column, gen)
        case DerivedGenerator():
            return evaluate(gen.expression, ctx.columns, ctx.n)
        case _ if gen.kind in ("rollup", "group_key", "measure"):
            # filled once the child (or source) rows exist; see tasks.engine.chunks
            return pd.Series(np.full(ctx.n, np.nan))
        case _:
            raise GenerationError(f"generator kind '{gen.kind}' is not supported", column.name)


def sequence_values(gen: SequenceGenerator, index: np.ndarray) -> pd.Series:
    numbers = gen.start + gen.step * np.asarray(index, dtype=np.int64)
    if gen.pattern is None:
        return pd.Series(numbers)
    return pd.Series(format_pattern(gen.pattern, numbers))


def format_pattern(pattern: str, numbers: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """``CUST-#####`` with 42 -> ``CUST-00042``; wider numbers keep all their digits (Arrow kernels)."""
    start = pattern.index("#")
    width = len(pattern[start:]) - len(pattern[start:].lstrip("#"))
    prefix, suffix = pattern[:start], pattern[start + width :]
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    text = pc.binary_join_element_wise(prefix, digits, suffix, "")
    return pd.arrays.ArrowExtensionArray(text)


def _categorical(ctx: BuildContext, column: ColumnSpec, gen: CategoricalGenerator) -> pd.Series:
    values = np.array(gen.values, dtype=object)
    if column.unique:
        total = max(ctx.total_rows, ctx.n)
        if len(values) < total:
            raise GenerationError(
                f"unique column has {len(values)} allowed values for {total} rows; add values or drop 'unique'",
                column.name,
            )
        order = ctx.table_rng(column.name, "unique").permutation(len(values))
        return pd.Series(values[order[ctx.rows]], dtype=object)
    weights = np.asarray(gen.weights if gen.weights is not None else np.ones(len(values)), dtype=float)
    index = ctx.rng(column.name, "categorical").choice(len(values), ctx.n, p=weights / weights.sum())
    return categorical_series(values, index, column)


def categorical_series(values: np.ndarray, index: np.ndarray, column: ColumnSpec) -> pd.Series:
    """Text categories as a pandas Categorical (small in memory, fast string functions); others plain."""
    if column.type in ("string", "category") and all(isinstance(v, str) for v in values):
        unique, inverse = np.unique(values.astype(str), return_inverse=True)
        if len(unique) == len(values):  # keep the author's order for the categories
            return pd.Series(pd.Categorical.from_codes(index, categories=pd.Index(values, dtype=object)))
        return pd.Series(pd.Categorical.from_codes(inverse[index], categories=pd.Index(unique, dtype=object)))
    if column.type in ("int", "float", "decimal"):
        try:  # the few values made numeric once (as ``coerce`` would make every row), then taken per row
            numbers = pd.to_numeric(pd.Series(values, dtype=object)).to_numpy()
        except (ValueError, TypeError):
            return pd.Series(values[index])
        return pd.Series(numbers[index])
    return pd.Series(values[index], dtype=object)


def sample_numeric(gen: NumericGenerator, n: int, rng) -> np.ndarray:
    """Draw, clip to [min, max], round to ``decimals``. ``rng``: a numpy Generator or a ``BlockRng``."""
    match gen.distribution:
        case "normal":
            x = rng.normal(gen.mean, gen.std, n)
        case "lognormal":
            x = rng.lognormal(np.log(gen.median), gen.sigma, n)
        case "uniform":
            x = rng.uniform(gen.low, gen.high, n)
        case "poisson":
            x = rng.poisson(gen.lam, n).astype(float)
        case "pareto":
            x = (rng.pareto(gen.shape, n) + 1.0) * gen.scale
        case "exponential":
            x = rng.exponential(gen.scale, n)
        case "gamma":
            x = rng.gamma(gen.shape, gen.scale, n)
        case "triangular":
            x = rng.triangular(gen.low, gen.mode, gen.high, n)
        case _:
            raise GenerationError(f"distribution '{gen.distribution}' is not supported")
    if gen.min is not None or gen.max is not None:
        x = np.clip(x, gen.min, gen.max)
    if gen.decimals is not None:
        x = np.round(x, gen.decimals)
    return x


def date_bounds(ctx: BuildContext, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    window_start, window_end = ctx.window
    return start or window_start, end or window_end


def date_sequence(ctx: BuildContext, gen: DateSequenceGenerator) -> np.ndarray:
    start, end = date_bounds(ctx, gen.start, gen.end)
    freq = "D" if gen.freq == "day" else "MS"
    return pd.date_range(start, end, freq=freq).to_numpy()


def date_weights(gen: DateGenerator, days: pd.DatetimeIndex) -> np.ndarray:
    """Relative volume of each day: month profile x weekday profile x yearly trend."""
    weights = np.ones(len(days))
    if gen.month_weights:
        weights *= np.asarray(gen.month_weights)[days.month - 1]
    if gen.weekday_weights:
        weights *= np.asarray(gen.weekday_weights)[days.weekday]
    if gen.trend:
        years = (days - days[0]).days / 365.25
        weights *= (1.0 + gen.trend) ** years
    total = weights.sum()
    if total <= 0:
        raise GenerationError("seasonality weights are all zero over the date window; give some positive weights")
    return weights / total


def _date(ctx: BuildContext, column: ColumnSpec, gen: DateGenerator) -> pd.Series:
    """Days by inverse CDF of the seasonal profile; with ``after``, the CDF is cut at each row's floor.

    Cutting the CDF (instead of redrawing early dates uniformly) keeps the seasonality and trend
    shape for the rows that have a floor. When the planner draws the foreign key from the date
    instead (``plan.date_first``), the floor is already honoured and this draws freely.
    """
    start, end = date_bounds(ctx, gen.start, gen.end)
    days = pd.date_range(start, end, freq="D")
    cdf = np.cumsum(date_weights(gen, days))
    cdf /= cdf[-1]
    rng = ctx.rng(column.name, "date")
    u = rng.random(ctx.n)
    floor = None
    if gen.after and not _drawn_from_date(ctx, column.name):
        floor = as_dates(date_reference(ctx, gen.after)).reset_index(drop=True)
        first = ((floor.dt.normalize() - pd.Timestamp(start)).dt.days).to_numpy(dtype=float, na_value=0.0)
        first = np.clip(first, 0, len(days)).astype(np.int64)
        low = np.where(first > 0, cdf[np.maximum(first - 1, 0)], 0.0)
        u = low + u * (1.0 - low)
    index = np.minimum(np.searchsorted(cdf, u, side="right"), len(days) - 1)
    values = pd.Series(days.values[index])
    if column.type == "datetime":
        p = np.asarray(gen.hour_weights, dtype=float) if gen.hour_weights else np.ones(24)
        hour = rng.choice(24, ctx.n, p=p / p.sum())
        seconds = hour * 3600 + rng.integers(0, 3600, ctx.n)
        values = values + pd.to_timedelta(seconds, unit="s")
    if floor is not None:
        # a floor after the window end, or later the same day, wins: never before the parent's date
        values = values.where(~(values < floor).to_numpy(), floor)
    return values


def _drawn_from_date(ctx: BuildContext, column: str) -> bool:
    return ctx.plan is not None and column in ctx.plan.date_first.values()


def _date_offset(ctx: BuildContext, column: ColumnSpec, gen: DateOffsetGenerator) -> pd.Series:
    base = as_dates(date_reference(ctx, gen.from_column)).reset_index(drop=True)
    offset = sample_numeric(gen.offset, ctx.n, ctx.rng(column.name, "offset"))
    if column.type == "date":
        unit_days = {"days": 1.0, "hours": 1 / 24, "minutes": 1 / 1440}[gen.unit]
        # whole days in numpy (midnight of the base plus n days); NaT bases stay NaT
        day = base.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        shifted = day + np.round(offset * unit_days).astype(np.int64).astype("timedelta64[D]")
        return pd.Series(shifted.astype("datetime64[ns]"))
    return base + pd.to_timedelta(offset, unit={"days": "D", "hours": "h", "minutes": "min"}[gen.unit])


def date_reference(ctx: BuildContext, ref: str) -> pd.Series:
    """A column of this row, or ``fk.parent_column`` read through a foreign key."""
    if "." not in ref:
        return ctx.columns[ref]
    via, column = ref.split(".", 1)
    return lookup(ctx, LookupGenerator(via=via, column=column))


def lookup(ctx: BuildContext, gen: LookupGenerator) -> pd.Series:
    """The parent's ``gen.column`` for each row's foreign key ``gen.via`` (an array take by position)."""
    fk: ForeignKeyGenerator = ctx.table.column(gen.via).generator
    return ctx.parents[fk.parent_table].values(gen.column, ctx.positions[gen.via])


def conditional_cases(ctx: BuildContext, gen: ConditionalGenerator) -> list[tuple[np.ndarray, str, Generator]]:
    """(rows, subset label, generator) for each case of ``gen`` that has rows, the default last (the other rows)."""
    codes, labels = _text_codes(ctx.columns[gen.on])
    matched = np.zeros(ctx.n, dtype=bool)
    found = []
    for key, case in gen.cases.items():
        hits = np.flatnonzero(labels == str(key))
        mask = np.isin(codes, hits) if len(hits) else np.zeros(ctx.n, dtype=bool)
        matched |= mask
        if mask.any():
            found.append((mask, f"case={key}", case))
    rest = ~matched
    if gen.default is not None and rest.any():
        found.append((rest, "default", gen.default))
    return found


def _conditional(ctx: BuildContext, column: ColumnSpec, gen: ConditionalGenerator) -> pd.Series:
    parts: list[tuple[np.ndarray, pd.Series]] = [
        (mask, build_column(ctx.subset(mask, label), column, case)) for mask, label, case in conditional_cases(ctx, gen)
    ]
    if parts and all(pd.api.types.is_numeric_dtype(v) for _, v in parts):
        numbers = np.full(ctx.n, np.nan)
        for mask, values in parts:
            numbers[mask] = values.to_numpy(dtype=float)
        return pd.Series(numbers)
    if parts and all(pd.api.types.is_datetime64_any_dtype(v) for _, v in parts):
        stamps = np.full(ctx.n, np.datetime64("NaT"), dtype="datetime64[ns]")
        for mask, values in parts:
            stamps[mask] = values.to_numpy(dtype="datetime64[ns]")
        return pd.Series(stamps)
    out = pd.Series(np.full(ctx.n, None, dtype=object), dtype=object)
    for mask, values in parts:
        out[mask] = values.to_numpy(dtype=object)
    if column.type in ("string", "category") and ctx.n:
        return out.astype("category")
    return out


def _text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their text labels, so each case is one integer comparison."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories.astype(str).to_numpy()
    codes, uniques = pd.factorize(values)
    return codes, np.asarray([str(u) for u in uniques], dtype=object)
