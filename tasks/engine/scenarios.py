"""Planted scenarios as vectorised masks: scale a measure, shift category weights, change volume.

A scenario's mask is its time window on ``date_column`` and its segment expression ``where``,
both evaluated on whole columns. ``measure_scenarios`` reports stated vs measured effect sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from schemas.spec import CategoricalGenerator, ChallengeSpec, ColumnSpec, ScenarioSpec
from tasks.engine.evaluate import evaluate


def scenario_mask(scenario: ScenarioSpec, columns: dict[str, pd.Series], n: int) -> np.ndarray:
    cond = scenario.condition
    mask = np.ones(n, dtype=bool)
    if cond.date_column:
        dates = pd.to_datetime(columns[cond.date_column]).reset_index(drop=True)
        if cond.start:
            mask &= (dates >= pd.Timestamp(cond.start)).to_numpy()
        if cond.end:
            mask &= (dates < pd.Timestamp(cond.end) + pd.Timedelta(days=1)).to_numpy()
    if cond.where:
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
        values = values.copy()
        if effect.kind == "scale":
            scaled = values[mask].astype(float) * effect.factor
            decimals = getattr(column.generator, "decimals", None)
            if column.type == "int":
                scaled = scaled.round()
            elif decimals is not None:
                scaled = scaled.round(decimals)
            values = values.astype(float) if column.type != "int" else values
            values[mask] = scaled.to_numpy()
        elif effect.kind == "shift_weights":
            values[mask] = _reweighted(ctx, column, scenario, int(mask.sum()))
    return values


def _reweighted(ctx, column: ColumnSpec, scenario: ScenarioSpec, n: int) -> np.ndarray:
    gen: CategoricalGenerator = column.generator
    base = np.asarray(gen.weights if gen.weights is not None else np.ones(len(gen.values)), dtype=float)
    multipliers = np.array([scenario.effect.multipliers.get(str(v), 1.0) for v in gen.values])
    weights = base * multipliers
    rng = ctx.rng(column.name, "scenario", scenario.name)
    return np.array(gen.values, dtype=object)[rng.choice(len(gen.values), size=n, p=weights / weights.sum())]


def apply_volume_scenarios(ctx, plan, extra_rows: Callable[[int], pd.DataFrame]) -> pd.DataFrame:
    """Thin or add rows inside each volume scenario's mask; returns the new frame."""
    frame = pd.DataFrame({c: ctx.columns[c] for c in plan.column_order})
    for scenario in _scenarios_for(ctx.spec, ctx.table.name):
        if scenario.effect.kind != "volume":
            continue
        columns = {c: frame[c] for c in frame.columns}
        mask = scenario_mask(scenario, columns, len(frame))
        factor = scenario.effect.factor
        rng = ctx.rng("volume", scenario.name)
        if factor < 1:
            drop = mask & (rng.random(len(frame)) >= factor)
            frame = frame[~drop].reset_index(drop=True)
        elif factor > 1 and mask.any():
            wanted = round((factor - 1) * mask.sum())
            share = max(mask.mean(), 1e-3)
            extra = extra_rows(int(wanted / share * 1.3) + 16)
            extra_mask = scenario_mask(scenario, {c: extra[c] for c in extra.columns}, len(extra))
            frame = pd.concat([frame, extra[extra_mask].head(wanted)], ignore_index=True)
        date_column = scenario.condition.date_column
        if date_column:
            frame = frame.sort_values(date_column, kind="stable").reset_index(drop=True)
    return frame


def measure_scenarios(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> list[dict]:
    """Stated vs measured size of every scenario, comparing the window to the rows outside it."""
    results = []
    for scenario in spec.scenarios:
        frame = tables[scenario.table]
        mask = scenario_mask(scenario, {c: frame[c] for c in frame.columns}, len(frame))
        effect = scenario.effect
        stated = getattr(effect, "factor", None)
        measured = None
        if effect.kind == "volume":
            measured = _measure_volume(scenario, frame, mask)
        elif effect.kind == "scale" and mask.any() and (~mask).any():
            inside, outside = frame[effect.column][mask].mean(), frame[effect.column][~mask].mean()
            measured = float(inside / outside) if outside else None
        elif effect.kind == "shift_weights" and mask.any() and (~mask).any():
            top = max(effect.multipliers, key=lambda k: effect.multipliers[k])
            column = frame[effect.column].astype(str)
            share_in, share_out = (column[mask] == top).mean(), (column[~mask] == top).mean()
            # a weight multiplier m on a category of share p gives a share ratio of m / (m p + 1 - p)
            multiplier = effect.multipliers[top]
            stated = multiplier / (multiplier * share_out + 1 - share_out) if share_out else None
            measured = float(share_in / share_out) if share_out else None
        results.append(
            {
                "scenario": scenario.name,
                "table": scenario.table,
                "effect": effect.kind,
                "stated": stated,
                "measured": None if measured is None else round(measured, 4),
                "rows_in_scope": int(mask.sum()),
            }
        )
    return results


def _measure_volume(scenario: ScenarioSpec, frame: pd.DataFrame, mask: np.ndarray) -> float | None:
    """Segment share inside the window vs outside it; or rows per day inside vs outside without a segment."""
    cond = scenario.condition
    if cond.where and cond.date_column:
        columns = {c: frame[c] for c in frame.columns}
        segment = evaluate(cond.where, columns, len(frame)).fillna(False).astype(bool).to_numpy()
        window = scenario_mask(
            scenario.model_copy(update={"condition": cond.model_copy(update={"where": None})}), columns, len(frame)
        )
        inside, outside = (
            segment[window].mean() if window.any() else 0,
            segment[~window].mean() if (~window).any() else 0,
        )
        return float(inside / outside) if outside else None
    if cond.date_column and cond.start and cond.end:
        dates = pd.to_datetime(frame[cond.date_column])
        first, last = dates.min(), dates.max()
        days_in = (pd.Timestamp(cond.end) - pd.Timestamp(cond.start)).days + 1
        days_out = (last - first).days + 1 - days_in
        if days_out <= 0:
            return None
        return float((mask.sum() / days_in) / ((~mask).sum() / days_out))
    return None
