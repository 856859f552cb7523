"""Pre-aggregated tables (``aggregate_of``) computed from their detailed source, chunk by chunk.

Each source chunk yields partial aggregates per group (sums in fixed-point integers, counts, mins,
maxes, distinct pairs); combining them gives exactly what one pass over the whole source gives,
whatever the chunking, so the aggregate and the detail tell the same story.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.spec import TableSpec
from tasks.engine.evaluate import evaluate
from tasks.engine.relations import FIXED_POINT


def _keys(table: TableSpec) -> list[str]:
    return [c.name for c in table.columns if c.generator.kind == "group_key"]


def aggregate_partial(table: TableSpec, columns: dict[str, pd.Series], n: int) -> pd.DataFrame:
    """One chunk's partial aggregates: one row per group (or per group and value for count_distinct)."""
    keys = _keys(table)
    data = {k: evaluate(table.column(k).generator.expression, columns, n) for k in keys}
    for column in table.columns:
        gen = column.generator
        if gen.kind != "measure":
            continue
        raw = pd.Series(np.ones(n)) if gen.expression is None else evaluate(gen.expression, columns, n)
        if gen.function == "count_distinct":
            # the keys themselves, not numbers: ids such as 'SUB-00000042' are strings
            data[f"{column.name}__value"] = _plain_values(raw)
            continue
        values = pd.to_numeric(raw, errors="coerce")
        x = values.to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(x)
        data[f"{column.name}__sum"] = np.where(present, np.round(np.nan_to_num(x) * FIXED_POINT), 0).astype(np.int64)
        data[f"{column.name}__count"] = present.astype(np.int64)
        data[f"{column.name}__min"] = np.where(present, x, np.inf)
        data[f"{column.name}__max"] = np.where(present, x, -np.inf)
    frame = pd.DataFrame(data)
    distinct = [c for c in frame.columns if c.endswith("__value")]
    plain = [c for c in frame.columns if c not in keys and c not in distinct]
    parts = []
    if plain:
        parts.append(_reduce(frame[keys + plain], keys))
    for column in distinct:
        parts.append(frame[keys + [column]].drop_duplicates())
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _plain_values(values: pd.Series) -> pd.Series:
    """``values`` as plain Python objects (or numbers), so keys from different chunks compare equal."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(object)
    return values.reset_index(drop=True)


def _reduce(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    how = {c: ("sum" if c.endswith(("__sum", "__count")) else "min" if c.endswith("__min") else "max") for c in frame}
    for key in keys:
        how.pop(key, None)
    return frame.groupby(keys, dropna=False, sort=False, observed=True).agg(how).reset_index()


def combine_aggregate(table: TableSpec, partials: list[pd.DataFrame]) -> pd.DataFrame:
    """The aggregate table's group keys and measures, one row per group, sorted by the keys."""
    keys = _keys(table)
    frame = pd.concat(partials, ignore_index=True) if partials else pd.DataFrame(columns=keys)
    out = None
    plain = [c for c in frame.columns if "__" in c and not c.endswith("__value")]
    if plain:
        rows = frame[frame[plain[0]].notna()] if any(c.endswith("__value") for c in frame.columns) else frame
        out = _reduce(rows[keys + plain], keys)
    for column in table.columns:
        gen = column.generator
        if gen.kind != "measure":
            continue
        if gen.function == "count_distinct":
            value = f"{column.name}__value"
            pairs = frame[frame[value].notna()][keys + [value]].drop_duplicates()
            counted = pairs.groupby(keys, dropna=False, observed=True).size().rename(column.name).reset_index()
            out = counted if out is None else out.merge(counted, on=keys, how="left")
            out[column.name] = out[column.name].fillna(0)
            continue
        s, c = out[f"{column.name}__sum"], out[f"{column.name}__count"]
        match gen.function:
            case "sum":
                out[column.name] = s / FIXED_POINT
            case "count":
                out[column.name] = c.astype(float)
            case "mean":
                out[column.name] = (s / FIXED_POINT / c.where(c > 0)).astype(float)
            case "min":
                out[column.name] = out[f"{column.name}__min"].replace(np.inf, np.nan)
            case "max":
                out[column.name] = out[f"{column.name}__max"].replace(-np.inf, np.nan)
    if out is None:
        return pd.DataFrame({k: [] for k in keys})
    out = out[[c for c in out.columns if "__" not in c]]
    return out.sort_values(keys, kind="stable").reset_index(drop=True)
