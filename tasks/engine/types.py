"""Final column types: the spec's logical types as Arrow types (files) and pandas dtypes (frames).

``to_arrow`` is the one place values get their final type; it works on whole columns (no per-row
Python), so it is also what chunked generation uses before writing Parquet and CSV parts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.spec import ColumnSpec, TableSpec

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.float64(),
    "string": pa.string(),
    "category": pa.string(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("s"),
}


def as_dates(values) -> pd.Series:
    """``pd.to_datetime(values)``, skipped when ``values`` already is a Series of naive datetimes.

    (pandas scans a sample of the rows as Python objects on every call, even on datetime columns.)
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":
        return values
    return pd.to_datetime(values)


def arrow_schema(table: TableSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in table.columns])


def column_to_arrow(values: pd.Series, column: ColumnSpec) -> pa.Array:
    """One column with its spec type; NaN/NaT/None become nulls, decimals are rounded."""
    match column.type:
        case "int" | "float" | "decimal":
            numbers = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values)
            x = np.asarray(numbers.to_numpy(dtype=float, na_value=np.nan), dtype=float)
            missing = np.isnan(x)
            if column.type == "int":
                ints = np.where(missing, 0, np.round(x)).astype(np.int64)
                return pa.array(ints, type=pa.int64(), mask=missing if missing.any() else None)
            if column.type == "decimal":
                x = np.round(x, declared_decimals(column))
            return pa.array(x, type=pa.float64(), from_pandas=True)
        case "bool":
            return pa.array(pd.array(values, dtype="boolean"), type=pa.bool_())
        case "date" | "datetime":
            stamps = values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values)
            unit = "datetime64[D]" if column.type == "date" else "datetime64[s]"
            x = stamps.to_numpy(dtype="datetime64[ns]").astype(unit)
            return pa.array(x, type=ARROW_TYPES[column.type], from_pandas=True)
        case _:
            return _text_to_arrow(values)


def _text_to_arrow(values: pd.Series) -> pa.Array:
    if isinstance(values.dtype, pd.ArrowDtype):
        arr = pa.chunked_array(values.array._pa_array).combine_chunks()  # noqa: SLF001 - zero-copy access
    elif isinstance(values.dtype, pd.CategoricalDtype):
        arr = pa.array(values).dictionary_decode()
    else:
        try:
            arr = pa.array(values.to_numpy(dtype=object), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            text = values.astype(str).where(values.notna(), None)
            arr = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if arr.type != pa.string():
        if pa.types.is_floating(arr.type):  # 4.0 -> '4', not '4.0', when every value is whole
            x = arr.to_numpy(zero_copy_only=False)
            if np.all(np.isnan(x) | (x == np.round(x))):
                arr = pa.array(np.where(np.isnan(x), 0, x).astype(np.int64), mask=np.isnan(x))
        arr = arr.cast(pa.string())
    return arr


def to_arrow(frame: pd.DataFrame, table: TableSpec) -> pa.Table:
    """The spec columns of ``frame`` (extra helper columns are left out) as a typed Arrow table."""
    arrays = [column_to_arrow(frame[c.name].reset_index(drop=True), c) for c in table.columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))


def arrow_to_frame(data: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas: nullable Int64/boolean, datetime64[s] dates, text as objects."""
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    frame = data.to_pandas(types_mapper=mapping.get, date_as_object=False)
    for field in data.schema:
        if pa.types.is_date32(field.type) or pa.types.is_timestamp(field.type):
            frame[field.name] = frame[field.name].astype("datetime64[s]")
    return frame


def cast_table(frame: pd.DataFrame, table: TableSpec) -> pd.DataFrame:
    """Give every column its spec type (nullable ints stay ints, dates become dates)."""
    return arrow_to_frame(to_arrow(frame, table))


def declared_decimals(column: ColumnSpec) -> int:
    """Decimals a decimal column is stored with: its generator's (the widest case of a conditional), else 2."""
    gen = column.generator
    if gen.kind == "conditional":
        found = [c.decimals for c in [*gen.cases.values(), gen.default] if getattr(c, "decimals", None) is not None]
        return max(found) if found else 2
    decimals = getattr(gen, "decimals", None)
    return 2 if decimals is None else decimals
