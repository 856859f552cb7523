"""Planted scenarios as vectorised masks: scale a measure, shift category weights, change volume.

A scenario's mask is its time window on ``date_column`` and its segment expression ``where``,
both evaluated on whole columns. Volume is row-local thinning of an (oversampled when the volume
rises) table, so it works chunk by chunk. Each chunk adds counts to ``ScenarioStats``; the
measured effect is the same quantity the effect states:

- volume with a segment and a window: the odds ratio (segment / rest) inside vs outside the
  window, which equals the factor when only the segment's volume changes in the window;
- volume with a window only: rows per day inside vs outside;
- scale: mean inside vs outside the mask;
- shift_weights: the odds ratio of the most boosted category inside vs outside the mask, which
  equals its weight multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.spec import ChallengeSpec, ColumnSpec, ConditionalGenerator, ScenarioSpec
from tasks.engine.evaluate import evaluate
from tasks.engine.types import as_dates, declared_decimals


def scenario_mask(
    scenario: ScenarioSpec, columns: dict[str, pd.Series], n: int, *, window: bool = True, segment: bool = True
) -> np.ndarray:
    cond = scenario.condition
    mask = np.ones(n, dtype=bool)
    if window and cond.date_column:
        dates = as_dates(columns[cond.date_column]).reset_index(drop=True)
        if cond.start:
            mask &= (dates >= pd.Timestamp(cond.start)).to_numpy()
        if cond.end:
            mask &= (dates < pd.Timestamp(cond.end) + pd.Timedelta(days=1)).to_numpy()
    if segment and cond.where:
        mask &= evaluate(cond.where, columns, n).fillna(False).astype(bool).to_numpy()
    return mask


def _scenarios_for(spec: ChallengeSpec, table: str) -> list[ScenarioSpec]:
    return [s for s in spec.scenarios if s.table == table]


def apply_column_scenarios(ctx, column: ColumnSpec, values: pd.Series) -> pd.Series:
    """Scale or re-weight ``values`` where a scenario on this column applies."""
    for scenario in _scenarios_for(ctx.spec, ctx.table.name):
        effect = scenario.effect
        if getattr(effect, "column", None) != column.name:
            continue
        mask = scenario_mask(scenario, ctx.columns, ctx.n)
        if not mask.any():
            continue
        if effect.kind == "scale":
            x = values.to_numpy(dtype=float, na_value=np.nan).copy()
            scaled = x[mask] * effect.factor
            decimals = getattr(column.generator, "decimals", None)
            if column.type == "int":
                scaled = np.round(scaled)
            elif column.type == "decimal":
                # stored rounded, so what derives from it must see the rounded value too
                scaled = np.round(scaled, declared_decimals(column))
            elif decimals is not None:
                scaled = np.round(scaled, decimals)
            x[mask] = scaled
            values = pd.Series(x)
        elif effect.kind == "shift_weights":
            values = values.copy().astype(object)
            values[mask] = _reweighted(ctx.subset(mask, f"scenario={scenario.name}"), column, scenario)
            if column.type in ("int", "float", "decimal"):
                # a numeric category (a fee of 0.0 / 1.99) stays a number, so expressions can add it
                values = pd.to_numeric(values)
    return values


def _reweighted(ctx, column: ColumnSpec, scenario: ScenarioSpec, gen=None) -> np.ndarray:
    """Values drawn again with the scenario's weight multipliers; a conditional column (trial outcome by whether
    the trial was activated) is re-drawn case by case, each case with its own weights."""
    gen = gen or column.generator
    if isinstance(gen, ConditionalGenerator):
        from tasks.engine.columns import conditional_cases  # local: columns imports this module

        out = np.full(ctx.n, None, dtype=object)
        for mask, label, case in conditional_cases(ctx, gen):
            out[mask] = _reweighted(ctx.subset(mask, label), column, scenario, case)
        return out
    base = np.asarray(gen.weights if gen.weights is not None else np.ones(len(gen.values)), dtype=float)
    multipliers = np.array([scenario.effect.multipliers.get(str(v), 1.0) for v in gen.values])
    weights = base * multipliers
    rng = ctx.rng(column.name, "scenario", scenario.name)
    return np.array(gen.values, dtype=object)[rng.choice(len(gen.values), ctx.n, p=weights / weights.sum())]


def volume_keep(ctx, plan) -> np.ndarray:
    """Which candidate rows survive: inside a volume scenario with probability factor / oversample."""
    factor = np.ones(ctx.n)
    for scenario in _scenarios_for(ctx.spec, ctx.table.name):
        if scenario.effect.kind == "volume":
            mask = scenario_mask(scenario, ctx.columns, ctx.n)
            factor[mask] *= scenario.effect.factor
    u = ctx.rng("volume").random(ctx.n)
    return u < factor / plan.oversample


# --------------------------------------------------------------------------- measurement


@dataclass
class ScenarioStats:
    """Additive counts for one scenario; chunks add theirs, ``measured`` reads the result."""

    counts: dict[str, float] = field(default_factory=dict)

    def add(self, other: ScenarioStats) -> None:
        for key, value in other.counts.items():
            if key in ("first_day", "last_day"):
                pick = min if key == "first_day" else max
                self.counts[key] = pick(self.counts.get(key, value), value)
            else:
                self.counts[key] = self.counts.get(key, 0.0) + value


def scenario_stats(scenario: ScenarioSpec, columns: dict[str, pd.Series], n: int) -> ScenarioStats:
    """One chunk's counts for ``scenario`` (final values, after thinning and nulls)."""
    cond, effect = scenario.condition, scenario.effect
    mask = scenario_mask(scenario, columns, n)
    counts: dict[str, float] = {"in": float(mask.sum()), "rows": float(n)}
    if effect.kind == "volume":
        window = scenario_mask(scenario, columns, n, segment=False)
        seg = scenario_mask(scenario, columns, n, window=False)
        counts |= {
            "seg_win": float((seg & window).sum()),
            "rest_win": float((~seg & window).sum()),
            "seg_out": float((seg & ~window).sum()),
            "rest_out": float((~seg & ~window).sum()),
        }
        if cond.date_column and n:
            days = as_dates(columns[cond.date_column]).dropna()
            if len(days):
                counts["first_day"] = float(days.min().value // 86_400_000_000_000)
                counts["last_day"] = float(days.max().value // 86_400_000_000_000)
    elif effect.kind == "scale":
        x = pd.to_numeric(columns[effect.column].reset_index(drop=True)).to_numpy(dtype=float, na_value=np.nan)
        ok = ~np.isnan(x)
        counts |= {
            "sum_in": float(x[mask & ok].sum()),
            "n_in": float((mask & ok).sum()),
            "sum_out": float(x[~mask & ok].sum()),
            "n_out": float((~mask & ok).sum()),
        }
    else:
        top = max(effect.multipliers, key=lambda k: effect.multipliers[k])
        hit = _text_equals(columns[effect.column].reset_index(drop=True), top)
        counts |= {
            "top_in": float((hit & mask).sum()),
            "other_in": float((~hit & mask).sum()),
            "top_out": float((hit & ~mask).sum()),
            "other_out": float((~hit & ~mask).sum()),
        }
    return ScenarioStats(counts)


def _text_equals(values: pd.Series, text: str) -> np.ndarray:
    """``values.astype(str) == text`` per row; a Categorical compares its categories once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = np.asarray([*values.cat.categories.astype(str), str(np.nan)], dtype=object)
        codes = values.cat.codes.to_numpy()
        return (labels == text)[np.where(codes < 0, len(labels) - 1, codes)]
    if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_string(values.dtype.pyarrow_dtype):
        # compared in Arrow: converting a million Arrow strings to Python objects costs a third of a second
        return pc.fill_null(pc.equal(pa.array(values.array), text), False).to_numpy(zero_copy_only=False)
    return (values.astype(str) == text).to_numpy()


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def measured_effect(scenario: ScenarioSpec, stats: ScenarioStats) -> dict:
    """Stated vs measured effect of one scenario, for the answer key."""
    c, effect, cond = stats.counts, scenario.effect, scenario.condition
    stated = getattr(effect, "factor", None)
    measured, method = None, ""
    if effect.kind == "volume":
        if cond.where and cond.date_column:
            inside, outside = _ratio(c["seg_win"], c["rest_win"]), _ratio(c["seg_out"], c["rest_out"])
            measured = _ratio(inside, outside) if inside is not None and outside is not None else None
            method = "odds ratio of the segment inside vs outside the window"
        elif cond.date_column and cond.start and cond.end and "first_day" in c:
            days_in = (pd.Timestamp(cond.end) - pd.Timestamp(cond.start)).days + 1
            days_out = c["last_day"] - c["first_day"] + 1 - days_in
            if days_out > 0:
                measured = _ratio(c["in"] / days_in, (c["rows"] - c["in"]) / days_out)
            method = "rows per day inside vs outside the window"
    elif effect.kind == "scale":
        mean_in, mean_out = _ratio(c["sum_in"], c["n_in"]), _ratio(c["sum_out"], c["n_out"])
        measured = _ratio(mean_in, mean_out) if mean_in is not None and mean_out else None
        method = f"mean {effect.column} inside vs outside"
    else:
        top = max(effect.multipliers, key=lambda k: effect.multipliers[k])
        stated = effect.multipliers[top]
        inside, outside = _ratio(c["top_in"], c["other_in"]), _ratio(c["top_out"], c["other_out"])
        measured = _ratio(inside, outside) if inside is not None and outside else None
        method = f"odds ratio of '{top}' inside vs outside"
    return {
        "scenario": scenario.name,
        "table": scenario.table,
        "effect": effect.kind,
        "stated": stated,
        "measured": None if measured is None else round(float(measured), 4),
        "method": method,
        "rows_in_scope": int(c.get("in", 0)),
    }


def measure_scenarios(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> list[dict]:
    """Stated vs measured size of every scenario over whole tables (see the module docstring)."""
    results = []
    for scenario in spec.scenarios:
        frame = tables[scenario.table]
        columns = {c: frame[c].reset_index(drop=True) for c in frame.columns}
        results.append(measured_effect(scenario, scenario_stats(scenario, columns, len(frame))))
    return results
