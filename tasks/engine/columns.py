"""Column builders, one per generator kind, dispatched in one ``match``.

Each builder returns a pandas Series of ``ctx.n`` values, computed with whole-column numpy/pandas
operations. Randomness comes from ``ctx.rng(...)``, a stream derived from the seed, the variant,
the table and the column, so a column's values do not depend on the order other columns are built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
    LookupGenerator,
    NumericGenerator,
    SequenceGenerator,
    TableSpec,
)
from tasks.engine.evaluate import evaluate
from tasks.engine.fakerpool import faker_values
from tasks.engine.seed import derive_seed, rng_for


@dataclass
class BuildContext:
    """What a column builder may read: the rows built so far and the finished parent tables."""

    spec: ChallengeSpec
    table: TableSpec
    n: int
    columns: dict[str, pd.Series]
    tables: dict[str, pd.DataFrame]
    row_offset: int = 0
    stream: tuple[Any, ...] = field(default_factory=tuple)

    def rng(self, *parts: object) -> np.random.Generator:
        profile = self.spec.challenge
        return rng_for(profile.seed, profile.variant, self.table.name, *self.stream, *parts)

    def seed(self, *parts: object) -> int:
        profile = self.spec.challenge
        return derive_seed(profile.seed, profile.variant, self.table.name, *self.stream, *parts)

    def subset(self, mask: np.ndarray, label: str) -> BuildContext:
        return BuildContext(
            self.spec,
            self.table,
            int(mask.sum()),
            {k: v[mask].reset_index(drop=True) for k, v in self.columns.items()},
            self.tables,
            self.row_offset,
            (*self.stream, label),
        )

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        window = self.spec.challenge.time_window
        return window.start, window.end


def build_column(ctx: BuildContext, column: ColumnSpec, gen: Any = None) -> pd.Series:
    """Values of ``column`` for the ``ctx.n`` rows of ``ctx.table``, in a dtype that fits its type."""
    return coerce(_build(ctx, column, gen if gen is not None else column.generator), column.type)


def coerce(values: pd.Series, column_type: str) -> pd.Series:
    """Numbers as numbers and dates as dates while building, so expressions see the right kind."""
    if column_type in ("int", "float", "decimal") and not pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values)
    if column_type in ("date", "datetime") and not pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values)
    return values


def _build(ctx: BuildContext, column: ColumnSpec, gen: Any) -> pd.Series:
    match gen:
        case SequenceGenerator():
            return _sequence(ctx, gen)
        case CategoricalGenerator():
            return _categorical(ctx, column, gen)
        case NumericGenerator():
            return pd.Series(sample_numeric(gen, ctx.n, ctx.rng(column.name, "numeric")))
        case DateGenerator():
            return _date(ctx, column, gen)
        case DateSequenceGenerator():
            return pd.Series(date_sequence(ctx, gen)[: ctx.n])
        case FakerGenerator():
            locale = gen.locale or ctx.spec.challenge.locale
            values = faker_values(
                gen.provider, locale, ctx.seed(column.name, "pool"), ctx.n, column.unique, ctx.rng(column.name)
            )
            return pd.Series(values, dtype=object)
        case ForeignKeyGenerator():
            if column.name in ctx.columns:
                return ctx.columns[column.name]
            raise GenerationError("foreign keys are drawn before the other columns", column.name)
        case LookupGenerator():
            return lookup(ctx, gen)
        case ConditionalGenerator():
            return _conditional(ctx, column, gen)
        case DateOffsetGenerator():
            return _date_offset(ctx, column, gen)
        case DerivedGenerator():
            return evaluate(gen.expression, ctx.columns, ctx.n)
        case _ if gen.kind in ("rollup", "group_key", "measure"):
            # filled once the child (or source) rows exist; see tasks.engine.generate
            return pd.Series(np.full(ctx.n, np.nan))
        case _:
            raise GenerationError(f"generator kind '{gen.kind}' is not supported", column.name)


def _sequence(ctx: BuildContext, gen: SequenceGenerator) -> pd.Series:
    numbers = gen.start + gen.step * (np.arange(ctx.n, dtype=np.int64) + ctx.row_offset)
    if gen.pattern is None:
        return pd.Series(numbers)
    return pd.Series(format_pattern(gen.pattern, numbers), dtype=object)


def format_pattern(pattern: str, numbers: np.ndarray) -> np.ndarray:
    """``CUST-#####`` with 42 -> ``CUST-00042``; wider numbers keep all their digits."""
    start = pattern.index("#")
    width = (
        len(pattern) - len(pattern.lstrip("#"))
        if start == 0
        else len(pattern[start:]) - len(pattern[start:].lstrip("#"))
    )
    prefix, suffix = pattern[:start], pattern[start + width :]
    digits = pd.Series(numbers).astype(str).str.zfill(width)
    return (prefix + digits + suffix).to_numpy(dtype=object)


def _categorical(ctx: BuildContext, column: ColumnSpec, gen: CategoricalGenerator) -> pd.Series:
    rng = ctx.rng(column.name, "categorical")
    values = np.array(gen.values, dtype=object)
    if column.unique:
        if len(values) < ctx.n:
            raise GenerationError(
                f"unique column has {len(values)} allowed values for {ctx.n} rows; add values or drop 'unique'",
                column.name,
            )
        return pd.Series(values[rng.permutation(len(values))[: ctx.n]], dtype=object)
    weights = np.asarray(gen.weights if gen.weights is not None else np.ones(len(values)), dtype=float)
    index = rng.choice(len(values), size=ctx.n, p=weights / weights.sum())
    return pd.Series(values[index], dtype=object)


def sample_numeric(gen: NumericGenerator, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw, clip to [min, max], round to ``decimals``."""
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
    start, end = date_bounds(ctx, gen.start, gen.end)
    days = pd.date_range(start, end, freq="D")
    rng = ctx.rng(column.name, "date")
    picked = days.values[rng.choice(len(days), size=ctx.n, p=date_weights(gen, days))]
    values = pd.Series(picked)
    if column.type == "datetime":
        hours = np.arange(24)
        p = np.asarray(gen.hour_weights, dtype=float) if gen.hour_weights else np.ones(24)
        hour = rng.choice(hours, size=ctx.n, p=p / p.sum())
        seconds = hour * 3600 + rng.integers(0, 3600, size=ctx.n)
        values = values + pd.to_timedelta(seconds, unit="s")
    if gen.after:
        floor = pd.to_datetime(date_reference(ctx, gen.after)).reset_index(drop=True)
        too_early = (values < floor).to_numpy()
        if too_early.any():
            # redraw the early ones between their floor and the end of the window, uniformly
            span = (pd.Timestamp(end) - floor[too_early]).dt.days.clip(lower=0).to_numpy()
            shift = np.floor(rng.random(int(too_early.sum())) * (span + 1))
            values[too_early] = floor[too_early].dt.normalize().to_numpy() + pd.to_timedelta(shift, unit="D")
            if column.type == "datetime":
                values[too_early] = values[too_early] + pd.to_timedelta(
                    rng.integers(8 * 3600, 20 * 3600, int(too_early.sum())), unit="s"
                )
    return values


def _date_offset(ctx: BuildContext, column: ColumnSpec, gen: DateOffsetGenerator) -> pd.Series:
    base = pd.to_datetime(date_reference(ctx, gen.from_column)).reset_index(drop=True)
    offset = sample_numeric(gen.offset, ctx.n, ctx.rng(column.name, "offset"))
    if column.type == "date":
        unit_days = {"days": 1.0, "hours": 1 / 24, "minutes": 1 / 1440}[gen.unit]
        return base.dt.normalize() + pd.to_timedelta(np.round(offset * unit_days), unit="D")
    return base + pd.to_timedelta(offset, unit={"days": "D", "hours": "h", "minutes": "min"}[gen.unit])


def date_reference(ctx: BuildContext, ref: str) -> pd.Series:
    """A column of this row, or ``fk.parent_column`` read through a foreign key."""
    if "." not in ref:
        return ctx.columns[ref]
    via, column = ref.split(".", 1)
    return lookup(ctx, LookupGenerator(via=via, column=column))


def lookup(ctx: BuildContext, gen: LookupGenerator) -> pd.Series:
    """The parent's ``gen.column`` for each row's foreign key ``gen.via``."""
    fk_column = ctx.table.column(gen.via)
    fk = fk_column.generator
    parent = ctx.tables[fk.parent_table]
    keys = pd.Index(parent[fk.parent_column])
    position = keys.get_indexer(ctx.columns[gen.via])
    values = parent[gen.column].to_numpy()
    out = pd.Series(values[np.where(position >= 0, position, 0)])
    if (position < 0).any():
        out[position < 0] = None
    return out


def _conditional(ctx: BuildContext, column: ColumnSpec, gen: ConditionalGenerator) -> pd.Series:
    driver = ctx.columns[gen.on].astype(str).to_numpy()
    out = pd.Series([None] * ctx.n, dtype=object)
    matched = np.zeros(ctx.n, dtype=bool)
    parts: list[tuple[np.ndarray, pd.Series]] = []
    for key, case in gen.cases.items():
        mask = driver == str(key)
        matched |= mask
        if mask.any():
            parts.append((mask, build_column(ctx.subset(mask, f"case={key}"), column, case)))
    rest = ~matched
    if gen.default is not None and rest.any():
        parts.append((rest, build_column(ctx.subset(rest, "default"), column, gen.default)))
    for mask, values in parts:
        out[mask] = values.to_numpy()
    return _infer(out)


def _infer(series: pd.Series) -> pd.Series:
    if series.notna().any():
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("floating", "integer", "mixed-integer-float"):
            return pd.to_numeric(series)
        if inferred in ("datetime64", "datetime", "date"):
            return pd.to_datetime(series)
    return series
